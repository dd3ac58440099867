//! Optional export of every finished trace as an OpenTelemetry span (OTLP over HTTP with
//! protobuf bodies), independent of the store.
//!
//! The recorder hands each finished trace to [`OtlpSink::send`], which builds the span
//! (no bodies, see [`span`]) and puts it in a bounded queue without waiting: a full queue
//! drops the span and counts it. An exporter task owned by the gateway's tracker sends
//! the queue in batches, retries a failed batch a bounded number of times with backoff,
//! then drops and counts it. A collector that is down or slow never holds up a request
//! nor keeps a trace from the store.

mod export;
pub mod span;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_core::Trace;

use crate::config::Config;
pub use export::RetryPolicy;

/// Spans waiting for the exporter; beyond it new spans are dropped and counted.
pub const QUEUE: usize = 8192;
/// Most spans per export request.
pub const BATCH: usize = 512;

/// What happened to the spans. All zero when no collector is configured.
#[derive(Debug, Default)]
pub struct OtlpStats {
    pub queued: AtomicU64,
    pub exported: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_export_error: AtomicU64,
    pub retries: AtomicU64,
}

/// [`OtlpStats`] as `GET /api/v1/recorder` shows them (prefixed `otlp_`).
#[derive(Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OtlpSnapshot {
    /// Spans handed to the exporter's queue.
    pub otlp_queued: u64,
    /// Spans the collector accepted.
    pub otlp_exported: u64,
    /// Spans dropped because the export queue was full.
    pub otlp_dropped_queue_full: u64,
    /// Spans dropped after the collector refused them or every retry failed.
    pub otlp_dropped_export_error: u64,
    /// Export requests sent again after a failure.
    pub otlp_retries: u64,
}

impl OtlpStats {
    pub fn snapshot(&self) -> OtlpSnapshot {
        OtlpSnapshot {
            otlp_queued: self.queued.load(Ordering::Relaxed),
            otlp_exported: self.exported.load(Ordering::Relaxed),
            otlp_dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            otlp_dropped_export_error: self.dropped_export_error.load(Ordering::Relaxed),
            otlp_retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// Where and how spans are sent, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct OtlpTarget {
    /// The full URL spans are posted to (`.../v1/traces`).
    pub url: http::Uri,
    pub headers: HeaderMap,
    /// `url` as logged: without user info or query.
    pub shown: String,
}

impl OtlpTarget {
    /// The target `config` asks for, if any. `otlp_endpoint` is the collector's base URL
    /// (`http://localhost:4318`); `/v1/traces` is appended unless it is already there.
    pub fn from_config(config: &Config) -> Result<Option<OtlpTarget>, String> {
        let Some(endpoint) = config
            .otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        else {
            return Ok(None);
        };
        let not_url = || format!("otlp_endpoint: {endpoint:?} must be an http:// or https:// URL");
        let base: http::Uri = endpoint.parse().map_err(|_| not_url())?;
        if !matches!(base.scheme_str(), Some("http" | "https")) || base.host().is_none() {
            return Err(not_url());
        }
        let path = base.path().trim_end_matches('/');
        let path = if path.ends_with("/v1/traces") {
            path.to_owned()
        } else {
            format!("{path}/v1/traces")
        };
        let path_and_query = match base.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = base.into_parts();
        parts.path_and_query = Some(path_and_query.parse().map_err(|_| not_url())?);
        let url = http::Uri::from_parts(parts).map_err(|_| not_url())?;
        let full = url.to_string();
        let mut headers = HeaderMap::new();
        for (name, value) in &config.otlp_headers {
            let n = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| format!("otlp_headers: {name:?} is not a header name"))?;
            let mut v = HeaderValue::from_str(value.expose().trim())
                .map_err(|_| format!("otlp_headers.{name}: the value is not a header value"))?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        let shown = crate::startup::redact_url(&full);
        Ok(Some(OtlpTarget {
            url,
            headers,
            shown,
        }))
    }
}

/// The recorder's handle on the export queue: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct OtlpSink {
    tx: mpsc::Sender<Span>,
    stats: Arc<OtlpStats>,
}

impl OtlpSink {
    /// Starts the exporter on `tracker`. It runs until every sink clone is dropped or
    /// `stop` is cancelled, then sends what is queued (one attempt per batch) and ends.
    pub fn start(
        target: OtlpTarget,
        retry: RetryPolicy,
        stats: Arc<OtlpStats>,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> OtlpSink {
        let (tx, rx) = mpsc::channel(QUEUE);
        let exporter = export::Exporter::new(target, retry, stats.clone());
        tracker.spawn(exporter.run(rx, stop));
        OtlpSink { tx, stats }
    }

    /// Queues `trace` as a span. A full queue drops it (counted); the caller never waits.
    pub fn send(&self, trace: &Trace) {
        match self.tx.try_send(span::from_trace(trace)) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let n = self
                    .stats
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                // One line per power of two: a collector down for hours does not flood the log.
                if n.is_power_of_two() {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "OTLP export queue full",
                        mpsc::error::TrySendError::Closed(_) => "OTLP exporter stopped",
                    };
                    tracing::warn!(trace_id = %trace.id, dropped_total = n, "{why}; span dropped (logged at 1, 2, 4, 8, ... drops)");
                }
            }
        }
    }
}

/// The default retry policy: 3 retries after 1, 2 and 4 seconds, 10 s per request.
pub fn default_retry() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        first_backoff: Duration::from_secs(1),
        timeout: Duration::from_secs(10),
    }
}
