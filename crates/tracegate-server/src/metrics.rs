//! Prometheus metrics of the gateway, served as text on `GET /metrics`.
//!
//! Each [`crate::Gateway`] has a recorder of its own (no process-wide recorder), so tests
//! run gateways side by side. Values are recorded where they happen: a proxied request once,
//! when its trace is finished (`proxy/recording.rs`); a batch write in the recorder's writer;
//! a store query in [`store::MeasuredStore`]. Values that already live in counters elsewhere
//! (recorder queue, caches, requests in flight) are read when `/metrics` is scraped.
//! Label values come from bounded sets only (see [`labels`]).

pub mod labels;
mod names;
pub mod route;
pub mod store;
pub mod timing;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use metrics::{Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use parking_lot::Mutex;
use tracegate_core::pricing::PriceTable;
use tracegate_core::Trace;

use crate::analytics_cache::AnalyticsCacheStats as CacheStats;
use crate::inflight::Inflight;
use crate::live::LiveStats;
use crate::recorder::RecorderStats;
pub use labels::ModelLabels;
pub use names::*;
pub use timing::RequestTiming;

/// Reads a cache's counters when `/metrics` is scraped.
pub type CacheStatsFn = Arc<dyn Fn() -> CacheStats + Send + Sync>;

/// The gateway's metrics. Cheap to clone; a disabled one records nothing.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    models: ModelLabels,
    watched: Mutex<Watched>,
}

/// What is read at scrape time.
#[derive(Default)]
struct Watched {
    recorder: Option<Arc<RecorderStats>>,
    inflight: Option<Inflight>,
    live: Option<Arc<LiveStats>>,
    caches: Vec<(&'static str, CacheStatsFn)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    /// Metrics that record nothing (`metrics = false`).
    pub fn disabled() -> Self {
        Metrics { inner: None }
    }

    /// Metrics with their own recorder; `prices` and `metric_models` bound the model label.
    pub fn new(
        prices: Arc<PriceTable>,
        metric_models: &[String],
        store_backend: &'static str,
    ) -> Result<Self, metrics_exporter_prometheus::BuildError> {
        let recorder = names::build_recorder()?;
        let handle = recorder.handle();
        let m = Metrics {
            inner: Some(Arc::new(Inner {
                recorder,
                handle,
                models: ModelLabels::new(prices, metric_models),
                watched: Mutex::default(),
            })),
        };
        m.gauge(
            BUILD_INFO,
            vec![
                Label::new("version", env!("CARGO_PKG_VERSION")),
                Label::new("store", store_backend),
            ],
        )
        .set(1.0);
        Ok(m)
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The most distinct `model` label values, `None` when metrics are off.
    pub fn model_label_bound(&self) -> Option<usize> {
        self.inner.as_ref().map(|i| i.models.bound())
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> metrics::Counter {
        match &self.inner {
            Some(i) => i
                .recorder
                .register_counter(&Key::from_parts(name, labels), &METADATA),
            None => metrics::Counter::noop(),
        }
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> metrics::Gauge {
        match &self.inner {
            Some(i) => i
                .recorder
                .register_gauge(&Key::from_parts(name, labels), &METADATA),
            None => metrics::Gauge::noop(),
        }
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> metrics::Histogram {
        match &self.inner {
            Some(i) => i
                .recorder
                .register_histogram(&Key::from_parts(name, labels), &METADATA),
            None => metrics::Histogram::noop(),
        }
    }

    /// The histogram of batch write durations, for the recorder's writer.
    pub fn batch_duration(&self) -> metrics::Histogram {
        self.histogram(BATCH_DURATION, Vec::new())
    }

    /// Reads the recorder's counters at scrape time.
    pub fn watch_recorder(&self, stats: Arc<RecorderStats>) {
        if let Some(i) = &self.inner {
            i.watched.lock().recorder = Some(stats);
        }
    }

    /// Reads the number of requests in flight at scrape time.
    pub fn watch_inflight(&self, inflight: Inflight) {
        if let Some(i) = &self.inner {
            i.watched.lock().inflight = Some(inflight);
        }
    }

    /// Reads the live feed's subscribers and counters at scrape time.
    pub fn watch_live(&self, stats: Arc<LiveStats>) {
        if let Some(i) = &self.inner {
            i.watched.lock().live = Some(stats);
        }
    }

    /// Reads a cache's hits, misses and entries at scrape time, labelled `cache = name`.
    /// The analytics cache is `analytics`; a proxy response cache registers itself here
    /// as `proxy`.
    pub fn watch_cache(&self, name: &'static str, stats: CacheStatsFn) {
        if let Some(i) = &self.inner {
            i.watched.lock().caches.push((name, stats));
        }
    }

    /// One finished proxied request.
    pub fn request(&self, t: &Trace, timing: &RequestTiming) {
        let Some(inner) = &self.inner else { return };
        let model = inner
            .models
            .label(t.model.as_deref().or(t.model_requested.as_deref()));
        let provider = t.provider.as_str();
        let endpoint = labels::endpoint(&t.endpoint);
        let base = || {
            vec![
                Label::new("provider", provider),
                Label::new("model", model.clone()),
                Label::new("endpoint", endpoint),
            ]
        };
        let mut with_status = base();
        with_status.push(Label::new("status_class", labels::status_class(t.status)));
        if t.stream {
            if let Some(ttft) = t.ttft_ms.filter(|v| v.is_finite()) {
                self.histogram(TTFT, with_status.clone())
                    .record(ttft / 1000.0);
            }
        }
        self.histogram(REQUEST_DURATION, with_status)
            .record(seconds_of_ms(t.duration_ms));
        let mut with_outcome = base();
        with_outcome.push(Label::new("outcome", t.outcome.as_str()));
        self.counter(REQUESTS, with_outcome).increment(1);
        if let (Some(up), Some(name)) = (timing.upstream(), t.upstream.as_deref()) {
            self.histogram(
                UPSTREAM_LATENCY,
                vec![Label::new("upstream", name.to_owned())],
            )
            .record(up.as_secs_f64());
        }
        if timing.was_sent() {
            self.histogram(
                OVERHEAD,
                vec![
                    Label::new("provider", provider),
                    Label::new("endpoint", endpoint),
                ],
            )
            .record(timing.overhead().as_secs_f64());
        }
        let u = &t.usage;
        for (kind, n) in [
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cache_read", u.cache_read_tokens),
            ("cache_write", u.cache_write_tokens),
        ] {
            if let Some(n) = n.filter(|n| *n > 0) {
                let labels = vec![
                    Label::new("provider", provider),
                    Label::new("model", model.clone()),
                    Label::new("type", kind),
                ];
                self.counter(TOKENS, labels).increment(n);
            }
        }
        if let Some(cost) = t.cost_usd.filter(|c| c.is_finite() && *c >= 0.0) {
            let labels = vec![
                Label::new("provider", provider),
                Label::new("model", model.clone()),
            ];
            self.histogram(COST, labels).record(cost);
        }
    }

    /// One store query of `class` that took `took`.
    pub fn store_query(&self, class: &'static str, took: Duration, slow: bool) {
        if self.inner.is_none() {
            return;
        }
        let labels = || vec![Label::new("class", class)];
        self.histogram(QUERY_DURATION, labels())
            .record(took.as_secs_f64());
        if slow {
            self.counter(SLOW_QUERIES, labels()).increment(1);
        }
    }

    /// Drains histogram samples into their buckets; run every few seconds so memory stays
    /// bounded between scrapes.
    pub fn upkeep(&self) {
        if let Some(i) = &self.inner {
            i.handle.run_upkeep();
        }
    }

    /// The exposition text, `None` when metrics are off.
    pub fn render(&self) -> Option<String> {
        let inner = self.inner.as_ref()?;
        self.read_watched(inner);
        Some(inner.handle.render())
    }

    /// Copies the values kept elsewhere into their gauges and counters.
    fn read_watched(&self, inner: &Inner) {
        let watched = inner.watched.lock();
        if let Some(stats) = &watched.recorder {
            let s = stats.snapshot();
            let waiting = s
                .queued
                .saturating_sub(s.written)
                .saturating_sub(s.dropped_store_error);
            self.gauge(QUEUE_DEPTH, Vec::new()).set(waiting as f64);
            self.gauge(QUEUE_BYTES, Vec::new())
                .set(s.queue_bytes as f64);
            self.counter(WRITTEN, Vec::new()).absolute(s.written);
            for (cause, n) in [
                ("queue_full", s.dropped_queue_full),
                ("store_error", s.dropped_store_error),
            ] {
                self.counter(LOST, vec![Label::new("cause", cause)])
                    .absolute(n);
            }
        }
        if let Some(inflight) = &watched.inflight {
            self.gauge(IN_FLIGHT, Vec::new()).set(inflight.len() as f64);
        }
        if let Some(live) = &watched.live {
            let s = live.snapshot();
            self.gauge(LIVE_SUBSCRIBERS, Vec::new())
                .set(s.subscribers as f64);
            self.counter(LIVE_EVENTS_SENT, Vec::new()).absolute(s.sent);
            self.counter(LIVE_LAGGED_SKIPPED, Vec::new())
                .absolute(s.lagged_skipped);
            self.counter(LIVE_REFUSED, Vec::new()).absolute(s.refused);
        }
        for (name, read) in &watched.caches {
            let s = read();
            let labels = || vec![Label::new("cache", *name)];
            self.counter(CACHE_HITS, labels()).absolute(s.hits);
            self.counter(CACHE_MISSES, labels()).absolute(s.misses);
            self.gauge(CACHE_ENTRIES, labels()).set(s.entries as f64);
        }
    }
}

fn seconds_of_ms(ms: f64) -> f64 {
    if ms.is_finite() && ms > 0.0 {
        ms / 1000.0
    } else {
        0.0
    }
}
