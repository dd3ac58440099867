//! The last phase of every proxied request: the trace is completed and handed to the
//! recorder exactly once, whether the request succeeded, failed, timed out or was cancelled.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracegate_core::{Outcome, Trace};

use crate::inflight::Inflight;
use crate::metrics::{Metrics, RequestTiming};
use crate::pricing::Pricing;
use crate::recorder::Recorder;
use crate::spool::acks::Durable;
use crate::upstream::bulkhead::Lease;

/// What a recording needs from the gateway.
#[derive(Debug)]
pub struct RecordSink {
    pub recorder: Recorder,
    /// Prices usage; traces with usage but no price are counted in the recorder's
    /// `unpriced`.
    pub prices: Arc<Pricing>,
    pub inflight: Inflight,
    /// Cancelled when shutdown's grace period is over: requests still running are cut and
    /// recorded as cancelled before the writer stops.
    pub cut: CancellationToken,
    /// Log one access line per finished request.
    pub access_log: bool,
    /// Where the finished request is counted and timed.
    pub metrics: Metrics,
}

/// A trace being built. Dropping it unfinished records the request as cancelled: that is
/// how a client that goes away (handler or body dropped by the server) is noticed.
#[derive(Debug)]
pub struct Recording {
    trace: Option<Box<Trace>>,
    started: Instant,
    sink: Arc<RecordSink>,
    timing: RequestTiming,
    /// Where the request's usage and cost are counted against its limits (phase 3).
    charge: Option<crate::limits::Charge>,
    /// The request's place at its upstream (in flight, bulkhead permit), given up when the
    /// recording ends: with the response body, streams included.
    lease: Option<Lease>,
}

impl Recording {
    pub fn begin(sink: Arc<RecordSink>, trace: Trace, started: Instant) -> Recording {
        Recording {
            trace: Some(Box::new(trace)),
            started,
            timing: RequestTiming::new(sink.metrics.is_enabled()),
            sink,
            charge: None,
            lease: None,
        }
    }

    /// Holds the request's place at its upstream until the recording ends.
    pub fn hold(&mut self, lease: Lease) {
        self.lease = Some(lease);
    }

    /// Lists the request among those in flight, once its model and upstream are known.
    pub fn mark_in_flight(&self) {
        if let Some(t) = self.trace.as_deref() {
            self.sink.inflight.begin(t.id, self.started, t);
        }
    }

    /// Counts the request's usage against its limits when it ends.
    pub fn charge_to(&mut self, charge: crate::limits::Charge) {
        self.charge = Some(charge);
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Where the request's time goes, for the metrics.
    pub fn timing(&mut self) -> &mut RequestTiming {
        &mut self.timing
    }

    /// Resolves when the gateway cuts the requests still running at shutdown.
    pub fn cut(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.sink.cut.clone().cancelled_owned()
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// The trace being built. Always present until `finish`.
    pub fn trace_mut(&mut self) -> Option<&mut Trace> {
        self.trace.as_deref_mut()
    }

    pub fn trace_id(&self) -> String {
        self.trace
            .as_ref()
            .map(|t| t.id.to_string())
            .unwrap_or_default()
    }

    /// Applies the last changes and records the trace. With `sync` durability, returns
    /// what resolves once the trace is on disk: the response must not complete before.
    pub fn finish(mut self, apply: impl FnOnce(&mut Trace)) -> Option<Durable> {
        let applying = self.timing.is_on().then(Instant::now);
        if let Some(t) = self.trace.as_deref_mut() {
            apply(t);
        }
        if let Some(since) = applying {
            self.timing.add(since.elapsed());
        }
        self.complete()
    }

    fn complete(&mut self) -> Option<Durable> {
        let mut trace = self.trace.take()?;
        trace.duration_ms = round_to(self.elapsed_ms(), 1e3);
        trace.ttft_ms = trace.ttft_ms.map(|t| round_to(t, 1e3));
        // Figures no request can have are unknown, and so is the cost: a partial price would
        // be a made-up one.
        let implausible = tracegate_core::usage::drop_implausible(&mut trace.usage);
        if let Some(note) = &implausible {
            trace.error = Some(match trace.error.take() {
                Some(e) => format!("{e}; {note}"),
                None => note.clone(),
            });
        }
        if trace.cost_usd.is_none() && !trace.usage.is_empty() && implausible.is_none() {
            let model = trace.model.as_deref().or(trace.model_requested.as_deref());
            match self.sink.prices.cost(model, &trace.usage) {
                Ok(cost) => trace.cost_usd = cost.map(|c| round_to(c, 1e12)),
                Err(_) => self.sink.recorder.count_unpriced(),
            }
        }
        // A cache hit cost no provider usage; every other end counts what was reported.
        if let Some(charge) = self.charge.take() {
            if trace.outcome != Outcome::CacheHit {
                charge.spend(&trace.usage, trace.cost_usd);
            }
        }
        self.sink.inflight.end(&trace.id);
        self.sink.metrics.request(&trace, &self.timing);
        if self.sink.access_log {
            crate::access_log::emit(&trace);
        }
        self.sink.recorder.record(*trace)
    }
}

/// Rounds to `1/scale` (microseconds for ms figures, 1e-12 USD for costs).
fn round_to(v: f64, scale: f64) -> f64 {
    (v * scale).round() / scale
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.outcome = Outcome::Cancelled;
            if t.error.is_none() {
                t.error = Some("client disconnected before the response was complete".into());
            }
            self.complete();
        }
    }
}
