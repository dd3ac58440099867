//! The evaluation loop: every `alerts.interval_secs` it gathers the inputs (statistics
//! of the window by upstream and by model, token use per account, the requests in
//! flight, the recorder's counters, the store's answer times), applies the rules and
//! hands the notices to the notifier.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_store::analytics::{Bucket, GroupBy, GroupStats, StatsQuery, TimeRange};
use tracegate_store::Store;

use super::notify::{Notifier, Retry};
use super::rules::{evaluate, GroupFigures, Inputs, Running, ALLOWANCE_WINDOW_MS};
use super::state::AlertBook;
use super::Alerts;
use crate::config::AlertsConfig;
use crate::inflight::Inflight;
use crate::recorder::RecorderStats;

/// Store answer times kept for the slow-store rule.
const STORE_SAMPLES: usize = 32;
/// How long one store call may take before it counts as failed.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the evaluator reads.
#[derive(Clone)]
pub struct Sources {
    pub store: Arc<dyn Store>,
    pub inflight: Inflight,
    pub recorder: Arc<RecorderStats>,
}

/// Starts the evaluator (and the webhook sender) on `tracker`; both end when `stop` is
/// cancelled. With `alerts.enabled = false` nothing is started.
pub fn start(
    cfg: &AlertsConfig,
    sources: Sources,
    tracker: &TaskTracker,
    stop: CancellationToken,
) -> Alerts {
    if !cfg.enabled {
        return Alerts::default();
    }
    let alerts = Alerts::new(AlertBook::new(cfg));
    let notifier = Notifier::start(
        cfg.webhooks.clone(),
        Retry::default(),
        tracker,
        stop.clone(),
    );
    tracker.spawn(run(cfg.clone(), sources, alerts.clone(), notifier, stop));
    alerts
}

async fn run(
    cfg: AlertsConfig,
    sources: Sources,
    alerts: Alerts,
    notifier: Notifier,
    stop: CancellationToken,
) {
    let period = Duration::from_secs(cfg.interval_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut gatherer = Gatherer::new(sources);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let inputs = tokio::select! {
            () = stop.cancelled() => return,
            inputs = gatherer.gather(&cfg) => inputs,
        };
        let ev = evaluate(&inputs, &cfg);
        let notices = alerts
            .with_book(|b| b.apply(ev, Utc::now()))
            .unwrap_or_default();
        for n in &notices {
            tracing::info!(alert = %n.alert.id, change = ?n.change, severity = n.alert.severity.as_str(), summary = %n.alert.summary, "alert");
        }
        notifier.send(notices);
    }
}

/// Keeps what the rules need across evaluations: recent store answer times and the
/// recorder's drop counter over the window.
struct Gatherer {
    sources: Sources,
    store_ms: VecDeque<f64>,
    dropped: VecDeque<(Instant, u64)>,
}

impl Gatherer {
    fn new(sources: Sources) -> Gatherer {
        Gatherer {
            sources,
            store_ms: VecDeque::new(),
            // The counters start at zero with the gateway.
            dropped: VecDeque::from([(Instant::now(), 0)]),
        }
    }

    async fn gather(&mut self, cfg: &AlertsConfig) -> Inputs {
        let now_ms = Utc::now().timestamp_millis();
        let window_ms = i64::try_from(cfg.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let store = self.sources.store.clone();
        let store_error = match self.timed(store.ping()).await {
            Some(Ok(())) => None,
            Some(Err(err)) => Some(err.to_string()),
            None => Some(format!("no answer within {} s", STORE_TIMEOUT.as_secs())),
        };
        let mut by_upstream = None;
        let mut by_model = None;
        if let Ok(range) = TimeRange::ending_at(now_ms + 1, window_ms) {
            by_upstream = self.stats(range, GroupBy::Upstream).await;
            by_model = self.stats(range, GroupBy::Model).await;
        }
        let mut account_tokens = None;
        let limited = cfg.default_allowance.is_some() || !cfg.allowances.is_empty();
        if let (true, Ok(range)) = (
            limited,
            TimeRange::ending_at(now_ms + 1, ALLOWANCE_WINDOW_MS),
        ) {
            if let Some(Ok(rows)) = self.timed(store.usage_by_account(range)).await {
                let rows = rows
                    .into_iter()
                    .filter_map(|a| a.account.map(|name| (name, a.usage.total_tokens)))
                    .collect();
                account_tokens = Some(rows);
            }
        }
        let inflight = self
            .sources
            .inflight
            .snapshot(f64::INFINITY)
            .into_iter()
            .map(|r| Running {
                trace_id: r.id,
                elapsed_ms: r.elapsed_ms,
                upstream: r.upstream,
                model: r.model,
            })
            .collect();
        Inputs {
            by_upstream,
            by_model,
            inflight,
            dropped_in_window: self.dropped_in_window(Duration::from_secs(cfg.window_secs)),
            account_tokens,
            store_ms: self.store_ms.iter().copied().collect(),
            store_error,
        }
    }

    async fn stats(&mut self, range: TimeRange, by: GroupBy) -> Option<Vec<GroupFigures>> {
        let q = StatsQuery::new(range, Bucket::auto(range), Some(by)).ok()?;
        let store = self.sources.store.clone();
        match self.timed(store.request_stats(q)).await {
            Some(Ok(report)) => Some(report.totals.iter().map(figures).collect()),
            Some(Err(err)) => {
                tracing::warn!(%err, "alerts: statistics query failed");
                None
            }
            None => None,
        }
    }

    /// Awaits `fut` with a timeout and records how long the store took.
    async fn timed<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        let started = Instant::now();
        let out = tokio::time::timeout(STORE_TIMEOUT, fut).await.ok();
        self.store_ms
            .push_back(started.elapsed().as_secs_f64() * 1000.0);
        while self.store_ms.len() > STORE_SAMPLES {
            self.store_ms.pop_front();
        }
        out
    }

    /// Traces dropped since the oldest sample still inside `window`.
    fn dropped_in_window(&mut self, window: Duration) -> u64 {
        let s = self.sources.recorder.snapshot();
        let total = s.dropped_queue_full.saturating_add(s.dropped_store_error);
        let now = Instant::now();
        self.dropped.push_back((now, total));
        while self.dropped.len() > 1
            && self
                .dropped
                .get(1)
                .is_some_and(|(t, _)| now.duration_since(*t) >= window)
        {
            self.dropped.pop_front();
        }
        let first = self.dropped.front().map_or(total, |(_, n)| *n);
        total.saturating_sub(first)
    }
}

fn figures(g: &GroupStats) -> GroupFigures {
    GroupFigures {
        key: g.key.clone(),
        requests: g.usage.requests,
        errors: g.errors,
        p95_ms: g.duration_ms.p95,
        ttft_p95_ms: g.ttft_ms.p95,
    }
}

#[cfg(test)]
mod tests;
