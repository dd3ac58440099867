//! Webhook notifications: one bounded queue per webhook that the evaluator never waits
//! on, each drained by its own sender task (a failing webhook does not hold up the
//! others), retrying failures with exponential backoff a bounded number of times.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::state::{Change, Notice};
use crate::config::{WebhookConfig, WebhookKind};
use crate::upstream::HttpClient;

/// Notices waiting for one webhook's sender; beyond it new ones are dropped and counted.
pub const QUEUE: usize = 256;
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// How failed posts are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per notice and webhook, the first included.
    pub attempts: u32,
    /// Wait after the first failure; doubled after each next one.
    pub first_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// The evaluator's handle on the queue.
#[derive(Debug, Clone)]
pub struct Notifier {
    queues: Vec<mpsc::Sender<Notice>>,
    dropped: Arc<AtomicU64>,
}

impl Notifier {
    /// Starts one sender per webhook on `tracker`; they end when `stop` is cancelled.
    pub fn start(
        webhooks: Vec<WebhookConfig>,
        retry: Retry,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> Notifier {
        let dropped = Arc::new(AtomicU64::new(0));
        let client = crate::upstream::http_client(Duration::from_secs(5));
        let queues = webhooks
            .into_iter()
            .map(|hook| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tracker.spawn(send_loop(client.clone(), hook, retry, rx, stop.clone()));
                tx
            })
            .collect();
        Notifier { queues, dropped }
    }

    /// Queues `notices`; never waits. A full queue drops the notice and logs it.
    pub fn send(&self, notices: Vec<Notice>) {
        for n in notices {
            for tx in &self.queues {
                if let Err(err) = tx.try_send(n.clone()) {
                    let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(%err, dropped_total = total, "alert notification dropped: the webhook queue is full");
                }
            }
        }
    }

    /// Notices dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn send_loop(
    client: HttpClient,
    hook: WebhookConfig,
    retry: Retry,
    mut rx: mpsc::Receiver<Notice>,
    stop: CancellationToken,
) {
    loop {
        let notice = tokio::select! {
            () = stop.cancelled() => return,
            n = rx.recv() => match n {
                Some(n) => n,
                None => return,
            },
        };
        let body = Bytes::from(payload(hook.kind, &notice).to_string());
        if !deliver(&client, &hook.url, body, retry, &stop).await {
            tracing::warn!(url = %hook.url, alert = %notice.alert.id, attempts = retry.attempts, "alert webhook failed; notification given up");
        }
    }
}

/// Posts `body` to `url` until it is accepted (2xx) or `retry.attempts` are spent.
async fn deliver(
    client: &HttpClient,
    url: &str,
    body: Bytes,
    retry: Retry,
    stop: &CancellationToken,
) -> bool {
    let mut backoff = retry.first_backoff;
    for attempt in 1..=retry.attempts.max(1) {
        let req = hyper::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "tracegate-alerts")
            .body(Full::new(body.clone()));
        let req = match req {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%url, %err, "alert webhook URL is unusable");
                return false;
            }
        };
        match tokio::time::timeout(POST_TIMEOUT, client.request(req)).await {
            Ok(Ok(resp)) if resp.status().is_success() => return true,
            Ok(Ok(resp)) => {
                tracing::warn!(%url, attempt, status = resp.status().as_u16(), "alert webhook refused the notification")
            }
            Ok(Err(err)) => tracing::warn!(%url, attempt, %err, "alert webhook unreachable"),
            Err(_) => tracing::warn!(%url, attempt, "alert webhook timed out"),
        }
        if attempt < retry.attempts {
            tokio::select! {
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = backoff.saturating_mul(2);
        }
    }
    false
}

/// The body posted for `notice`.
pub fn payload(kind: WebhookKind, notice: &Notice) -> serde_json::Value {
    match kind {
        WebhookKind::Json => json!({
            "change": notice.change,
            "alert": notice.alert,
        }),
        WebhookKind::Slack => {
            let text = slack_text(notice);
            let labels: Vec<String> = notice
                .alert
                .labels
                .iter()
                .map(|(k, v)| format!("{k}: `{v}`"))
                .collect();
            let mut detail = format!("*{}*", text);
            if !labels.is_empty() {
                detail.push('\n');
                detail.push_str(&labels.join(", "));
            }
            json!({
                "text": text,
                "blocks": [
                    { "type": "section", "text": { "type": "mrkdwn", "text": detail } }
                ]
            })
        }
    }
}

/// One line: `[FIRING P1] latency_p95: summary`.
pub fn slack_text(notice: &Notice) -> String {
    let change = match notice.change {
        Change::Firing => "FIRING",
        Change::Repeat => "STILL FIRING",
        Change::Resolved => "RESOLVED",
    };
    format!(
        "[{change} {}] {}: {}",
        notice.alert.severity.as_str(),
        notice.alert.rule.as_str(),
        notice.alert.summary
    )
}

#[cfg(test)]
mod tests;
