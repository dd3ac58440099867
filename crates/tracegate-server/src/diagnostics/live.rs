//! What only a running gateway knows: requests in flight, the recorder's
//! queue and write latency, and the store queries the API made.

use serde::{Deserialize, Serialize};

use super::format::{bytes, key, ms, pct};
use super::severity::{latency, missed_latency, usage_share, worst, Severity};
use super::{Finding, Section};
use crate::inflight::InflightRequest;
use crate::query_timings::QueryClass;
use crate::recorder::{QueueLimits, RecorderSnapshot};

/// Stuck requests listed at most.
pub const MAX_STUCK: usize = 20;

/// Requests in flight now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InflightSection {
    /// Requests in flight.
    pub in_flight: usize,
    /// In flight longer than this is stuck (`stuck_after_secs`).
    pub stuck_after_ms: f64,
    /// The stuck ones, longest first (at most [`MAX_STUCK`]).
    pub stuck: Vec<StuckRequest>,
    /// How many are stuck in all.
    pub stuck_count: usize,
}

/// One stuck request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StuckRequest {
    /// Its trace id (the `x-request-id` its client got).
    pub trace_id: String,
    /// When it arrived.
    pub started_at: String,
    /// How long it has been in flight, ms.
    pub elapsed_ms: f64,
    /// The request path.
    pub endpoint: String,
    /// The model asked for.
    pub model: Option<String>,
    /// Where it went.
    pub upstream: Option<String>,
    /// Who sent it.
    pub account: Option<String>,
    /// Whether it streams.
    pub stream: bool,
}

/// Stuck requests: one finding naming their trace ids.
pub fn inflight(
    requests: &[InflightRequest],
    stuck_after_ms: f64,
    findings: &mut Vec<Finding>,
) -> InflightSection {
    let stuck: Vec<StuckRequest> = requests
        .iter()
        .filter(|r| r.stuck)
        .map(|r| StuckRequest {
            trace_id: r.id.clone(),
            started_at: r.started_at.clone(),
            elapsed_ms: r.elapsed_ms,
            endpoint: r.endpoint.clone(),
            model: r.model.clone(),
            upstream: r.upstream.clone(),
            account: r.account.clone(),
            stream: r.stream,
        })
        .collect();
    let stuck_count = stuck.len();
    if let Some(longest) = stuck.first() {
        // At least P2: the request has outlived what this gateway calls normal.
        let sev = worst(
            Severity::P2,
            latency(longest.elapsed_ms).unwrap_or(Severity::P2),
        );
        let evidence = stuck
            .iter()
            .take(MAX_STUCK)
            .map(|r| {
                format!(
                    "trace {} in flight {}: {} on upstream {}, model {}, account {}{}",
                    r.trace_id,
                    ms(r.elapsed_ms),
                    r.endpoint,
                    key(&r.upstream),
                    key(&r.model),
                    key(&r.account),
                    if r.stream { ", streaming" } else { "" }
                )
            })
            .collect();
        let mut f = Finding::new(
            sev,
            Section::Stuck,
            format!(
                "{stuck_count} request(s) stuck: in flight longer than {} (longest {})",
                ms(stuck_after_ms),
                ms(longest.elapsed_ms)
            ),
            evidence,
            "A request in flight this long waits on its upstream (or on a client reading slowly). If they share an upstream, that provider is hanging: lower that upstream's `timeout_secs` so such requests end with a 504 instead. Each trace is readable at GET /api/v1/traces/{id} once it ends.",
        );
        f.trace_ids = stuck
            .iter()
            .take(MAX_STUCK)
            .map(|r| r.trace_id.clone())
            .collect();
        findings.push(f);
    }
    InflightSection {
        in_flight: requests.len(),
        stuck_after_ms,
        stuck: stuck.into_iter().take(MAX_STUCK).collect(),
        stuck_count,
    }
}

/// The recorder: queue, lost traces, write latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecorderSection {
    /// Traces waiting for the writer now.
    pub waiting: u64,
    /// The most that may wait (`record_queue`).
    pub queue_capacity: u64,
    /// Bytes the waiting traces and the batch being written hold.
    pub queue_bytes: u64,
    /// The most they may hold (`record_queue_bytes`).
    pub queue_bytes_limit: u64,
    /// Traces written since start.
    pub written: u64,
    /// Traces lost because the queue was full.
    pub dropped_queue_full: u64,
    /// Traces lost because the store failed.
    pub dropped_store_error: u64,
    /// Write latency of the last batch, ms.
    pub last_batch_ms: f64,
    /// Mean batch write latency, ms.
    pub avg_batch_ms: f64,
    /// Longest batch write, ms.
    pub max_batch_ms: f64,
}

/// The recorder's figures; findings for lost traces, a filling queue and slow writes.
pub fn recorder(
    s: &RecorderSnapshot,
    limits: QueueLimits,
    findings: &mut Vec<Finding>,
) -> RecorderSection {
    let section = RecorderSection {
        waiting: s
            .queued
            .saturating_sub(s.written)
            .saturating_sub(s.dropped_store_error),
        queue_capacity: limits.traces as u64,
        queue_bytes: s.queue_bytes,
        queue_bytes_limit: limits.bytes,
        written: s.written,
        dropped_queue_full: s.dropped_queue_full,
        dropped_store_error: s.dropped_store_error,
        last_batch_ms: s.last_batch_us as f64 / 1000.0,
        avg_batch_ms: s.avg_batch_us as f64 / 1000.0,
        max_batch_ms: s.max_batch_us as f64 / 1000.0,
    };
    let lost = s.dropped_queue_full.saturating_add(s.dropped_store_error);
    if lost > 0 {
        let cause = if s.dropped_store_error >= s.dropped_queue_full {
            "Most were lost because the store failed to write them: the gateway log names the error (disk full, permissions, a locked database); see the host's disk space below."
        } else {
            "Most were lost because the queue was full: the writer could not keep up. Raise `record_queue` / `record_queue_bytes`; if the machine's cores are busy with other work, set `writer_priority = \"normal\"`."
        };
        findings.push(Finding::new(
            Severity::P1,
            Section::Recorder,
            format!("{lost} trace(s) lost since the gateway started"),
            vec![
                format!("dropped with the queue full: {}", s.dropped_queue_full),
                format!("dropped on store errors: {}", s.dropped_store_error),
                format!("written: {}", s.written),
            ],
            cause,
        ));
    }
    let fill = [
        section.waiting as f64 / section.queue_capacity.max(1) as f64,
        section.queue_bytes as f64 / section.queue_bytes_limit.max(1) as f64,
    ]
    .into_iter()
    .fold(0.0, f64::max);
    if let Some(sev) = usage_share(fill, 0.9, 0.5, 0.25) {
        findings.push(Finding::new(
            sev,
            Section::Recorder,
            format!("the trace queue is {} full", pct(fill)),
            vec![
                format!("{} of {} traces waiting", section.waiting, section.queue_capacity),
                format!(
                    "{} of {} held",
                    bytes(section.queue_bytes),
                    bytes(section.queue_bytes_limit)
                ),
            ],
            "The writer is behind; a full queue drops traces. See the write latency and the store's health; on a busy machine set `writer_priority = \"normal\"`.",
        ));
    }
    if let Some(sev) = latency(section.avg_batch_ms) {
        findings.push(Finding::new(
            sev,
            Section::Recorder,
            format!("trace batches take {} to write on average", ms(section.avg_batch_ms)),
            vec![format!(
                "last {}, longest {}",
                ms(section.last_batch_ms),
                ms(section.max_batch_ms)
            )],
            "Slow writes fill the queue: check the disk (space and latency) where the store lives and the store's health below (WAL size, free pages).",
        ));
    }
    section
}

/// Store query classes over `slow_ms`: one finding listing them.
pub fn queries(classes: &[QueryClass], slow_ms: f64, findings: &mut Vec<Finding>) {
    let slow: Vec<&QueryClass> = classes.iter().filter(|c| c.p95_ms > slow_ms).collect();
    let Some(sev) = slow
        .iter()
        .filter_map(|c| missed_latency(c.p95_ms, slow_ms))
        .min()
    else {
        return;
    };
    let evidence = slow
        .iter()
        .map(|c| {
            format!(
                "{}: p95 {}, p50 {}, slowest {} over the last {} of {} queries",
                c.class,
                ms(c.p95_ms),
                ms(c.p50_ms),
                ms(c.max_ms),
                c.recent,
                c.count
            )
        })
        .collect();
    findings.push(Finding::new(
        sev,
        Section::Queries,
        format!(
            "{} store query class(es) slower than {} at p95, slowest {}",
            slow.len(),
            ms(slow_ms),
            slow.first().map_or(String::new(), |c| c.class.clone())
        ),
        evidence,
        "Narrow the time range and filter on indexed fields (started_at, model, account, provider, outcome); a full-text `q` over a long range reads many rows. If every class is slow, the store file is not cached in memory (see the host's memory) or needs maintenance (see the store's health).",
    ));
}
