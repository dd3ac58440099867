#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;

use axum::routing::post;
use chrono::Utc;
use parking_lot::Mutex;

use super::*;
use crate::alerts::{Alert, AlertState, Rule, Severity};

fn notice(change: Change) -> Notice {
    Notice {
        change,
        alert: Alert {
            id: "stuck_request{trace_id=\"t1\"}".into(),
            rule: Rule::StuckRequest,
            severity: Severity::P2,
            state: AlertState::Firing,
            since: Utc::now(),
            resolved_at: None,
            labels: BTreeMap::from([("trace_id".to_owned(), "t1".to_owned())]),
            summary: "request t1 has been in flight for 700 s".into(),
            value: 700_000.0,
            threshold: 600_000.0,
        },
    }
}

#[test]
fn json_and_slack_payloads() {
    let j = payload(WebhookKind::Json, &notice(Change::Firing));
    assert_eq!(j["change"], "firing");
    assert_eq!(j["alert"]["rule"], "stuck_request");
    assert_eq!(j["alert"]["severity"], "P2");
    assert_eq!(j["alert"]["state"], "firing");
    assert_eq!(j["alert"]["labels"]["trace_id"], "t1");
    assert_eq!(j["alert"]["threshold"], 600_000.0);
    let s = payload(WebhookKind::Slack, &notice(Change::Resolved));
    let text = s["text"].as_str().unwrap();
    assert!(
        text.starts_with("[RESOLVED P2] stuck_request: request t1"),
        "{text}"
    );
    assert_eq!(s["blocks"][0]["type"], "section");
    assert!(s["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("trace_id: `t1`"));
    let r = payload(WebhookKind::Slack, &notice(Change::Repeat));
    assert!(r["text"].as_str().unwrap().starts_with("[STILL FIRING P2]"));
}

/// A receiver that answers 500 to the first `fail` posts, then 200; it keeps every body.
async fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<serde_json::Value>>>, Arc<AtomicUsize>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (g, c) = (got.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<serde_json::Value>| {
            let (g, c) = (g.clone(), c.clone());
            async move {
                if c.fetch_add(1, Ordering::SeqCst) < fail {
                    return http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                g.lock().push(body.0);
                http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got, calls)
}

async fn wait_for(calls: &AtomicUsize, n: usize) {
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} calls, expected {n}", calls.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_failing_webhook_is_retried_until_it_accepts() {
    let (url, got, calls) = receiver(2).await;
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let retry = Retry {
        attempts: 5,
        first_backoff: Duration::from_millis(20),
    };
    let hooks = vec![WebhookConfig {
        url,
        kind: WebhookKind::Json,
    }];
    let n = Notifier::start(hooks, retry, &tracker, stop.clone());
    n.send(vec![notice(Change::Firing)]);
    wait_for(&calls, 3).await;
    // Accepted on the third attempt: no more posts after that.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(got.lock().len(), 1);
    assert_eq!(got.lock()[0]["change"], "firing");
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn attempts_are_bounded_and_the_next_notice_still_goes_out() {
    let (url, got, calls) = receiver(2).await;
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let retry = Retry {
        attempts: 2,
        first_backoff: Duration::from_millis(10),
    };
    let hooks = vec![WebhookConfig {
        url,
        kind: WebhookKind::Slack,
    }];
    let n = Notifier::start(hooks, retry, &tracker, stop.clone());
    n.send(vec![notice(Change::Firing), notice(Change::Resolved)]);
    wait_for(&calls, 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Two failed attempts for the first notice (given up), one for the second.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let got = got.lock().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0]["text"].as_str().unwrap().starts_with("[RESOLVED"));
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn a_full_queue_drops_without_waiting() {
    // An address nobody listens on: every post fails slowly enough to fill the queue.
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let retry = Retry {
        attempts: 3,
        first_backoff: Duration::from_secs(60),
    };
    let hooks = vec![WebhookConfig {
        url: "http://127.0.0.1:9/hook".into(),
        kind: WebhookKind::Json,
    }];
    let n = Notifier::start(hooks, retry, &tracker, stop.clone());
    let many: Vec<Notice> = (0..QUEUE + 50).map(|_| notice(Change::Firing)).collect();
    n.send(many);
    assert!(n.dropped() >= 49, "{}", n.dropped());
    stop.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dead_webhook_does_not_hold_up_the_others() {
    let (url, got, calls) = receiver(0).await;
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let retry = Retry {
        attempts: 5,
        first_backoff: Duration::from_secs(60),
    };
    let hooks = vec![
        WebhookConfig {
            url: "http://127.0.0.1:9/dead".into(),
            kind: WebhookKind::Json,
        },
        WebhookConfig {
            url,
            kind: WebhookKind::Json,
        },
    ];
    let n = Notifier::start(hooks, retry, &tracker, stop.clone());
    n.send(vec![notice(Change::Firing), notice(Change::Resolved)]);
    wait_for(&calls, 2).await;
    let changes: Vec<String> = got.lock().iter().map(|b| b["change"].to_string()).collect();
    assert_eq!(changes, ["\"firing\"", "\"resolved\""]);
    // Stopping cuts the dead webhook's backoff short.
    stop.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .unwrap();
}
