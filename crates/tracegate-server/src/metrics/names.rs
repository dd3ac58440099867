//! The metric families: names, help texts, units and histogram buckets. Names follow
//! Prometheus conventions: a `tracegate_` prefix, base units (seconds, bytes) in the name,
//! `_total` on counters.

use metrics::{Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusRecorder};

pub const REQUEST_DURATION: &str = "tracegate_request_duration_seconds";
pub const TTFT: &str = "tracegate_ttft_seconds";
pub const UPSTREAM_LATENCY: &str = "tracegate_upstream_latency_seconds";
pub const OVERHEAD: &str = "tracegate_gateway_overhead_seconds";
pub const REQUESTS: &str = "tracegate_requests_total";
pub const IN_FLIGHT: &str = "tracegate_requests_in_flight";
pub const TOKENS: &str = "tracegate_tokens_total";
pub const COST: &str = "tracegate_request_cost_usd";
pub const QUEUE_DEPTH: &str = "tracegate_recorder_queue_depth";
pub const QUEUE_BYTES: &str = "tracegate_recorder_queue_bytes";
pub const BATCH_DURATION: &str = "tracegate_recorder_batch_duration_seconds";
pub const WRITTEN: &str = "tracegate_recorder_traces_written_total";
pub const LOST: &str = "tracegate_recorder_traces_lost_total";
pub const QUERY_DURATION: &str = "tracegate_store_query_duration_seconds";
pub const SLOW_QUERIES: &str = "tracegate_store_slow_queries_total";
pub const CACHE_HITS: &str = "tracegate_cache_hits_total";
pub const CACHE_MISSES: &str = "tracegate_cache_misses_total";
pub const CACHE_ENTRIES: &str = "tracegate_cache_entries";
pub const BUILD_INFO: &str = "tracegate_build_info";
pub const LIVE_SUBSCRIBERS: &str = "tracegate_live_subscribers";
pub const LIVE_EVENTS_SENT: &str = "tracegate_live_events_sent_total";
pub const LIVE_LAGGED_SKIPPED: &str = "tracegate_live_lagged_skipped_total";
pub const LIVE_REFUSED: &str = "tracegate_live_subscribers_refused_total";

/// Whole requests, time to first token, upstream latency: up to the 600 s upstream timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];
/// The gateway's own time per request: microseconds to milliseconds.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.1,
];
/// Store queries and batch writes.
const STORE_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Cost of one request in USD.
const COST_BUCKETS: &[f64] = &[0.000_1, 0.001, 0.01, 0.1, 1.0, 10.0];

/// A recorder of its own (not the process-wide one), with the buckets above.
pub fn build_recorder() -> Result<PrometheusRecorder, BuildError> {
    let buckets: [(&str, &[f64]); 7] = [
        (REQUEST_DURATION, LATENCY_BUCKETS),
        (TTFT, LATENCY_BUCKETS),
        (UPSTREAM_LATENCY, LATENCY_BUCKETS),
        (OVERHEAD, OVERHEAD_BUCKETS),
        (BATCH_DURATION, STORE_BUCKETS),
        (QUERY_DURATION, STORE_BUCKETS),
        (COST, COST_BUCKETS),
    ];
    let mut builder = PrometheusBuilder::new();
    for (name, values) in buckets {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), values)?;
    }
    let recorder = builder.build_recorder();
    describe(&recorder);
    Ok(recorder)
}

/// Help texts and units.
fn describe(r: &PrometheusRecorder) {
    let h = |name: &'static str, unit: Unit, help: &'static str| {
        r.describe_histogram(name.into(), Some(unit), SharedString::const_str(help));
    };
    h(
        REQUEST_DURATION,
        Unit::Seconds,
        "Proxied requests, arrival to the last byte of the response.",
    );
    h(
        TTFT,
        Unit::Seconds,
        "Streamed requests, arrival to the first content token.",
    );
    h(
        UPSTREAM_LATENCY,
        Unit::Seconds,
        "Time from sending a request upstream to the upstream's response headers.",
    );
    h(OVERHEAD, Unit::Seconds, "Time the gateway's own code spent on a request: before the upstream call, between the upstream's response headers and the client's, and reading the response body on the side.");
    h(
        COST,
        Unit::Count,
        "Cost of each priced request in USD (the _sum is the total cost).",
    );
    h(
        BATCH_DURATION,
        Unit::Seconds,
        "Writing one batch of traces to the store.",
    );
    h(
        QUERY_DURATION,
        Unit::Seconds,
        "Store queries made by the read API, by class.",
    );
    let c = |name: &'static str, help: &'static str| {
        r.describe_counter(
            name.into(),
            Some(Unit::Count),
            SharedString::const_str(help),
        );
    };
    c(REQUESTS, "Proxied requests by outcome (ok, upstream_error, client_error, timeout, cancelled, gateway_error, cache_hit, unauthorized).");
    c(
        TOKENS,
        "Tokens reported by the providers, by type (input, output, cache_read, cache_write).",
    );
    c(WRITTEN, "Traces written to the store.");
    c(
        LOST,
        "Traces lost before reaching the store, by cause (queue_full, store_error).",
    );
    c(
        SLOW_QUERIES,
        "Store queries slower than slow_query_ms, by class.",
    );
    c(CACHE_HITS, "Answers served from a cache, by cache.");
    c(CACHE_MISSES, "Lookups that missed a cache, by cache.");
    c(
        LIVE_EVENTS_SENT,
        "Events sent to live feed subscribers (GET /api/v1/live).",
    );
    c(
        LIVE_LAGGED_SKIPPED,
        "Live feed events subscribers lost by falling behind (each told `lagged`).",
    );
    c(
        LIVE_REFUSED,
        "Live feed subscriptions refused at live_max_subscribers (503).",
    );
    let g = |name: &'static str, unit: Unit, help: &'static str| {
        r.describe_gauge(name.into(), Some(unit), SharedString::const_str(help));
    };
    g(IN_FLIGHT, Unit::Count, "Proxied requests in flight now.");
    g(
        LIVE_SUBSCRIBERS,
        Unit::Count,
        "Clients reading the live feed now.",
    );
    g(
        QUEUE_DEPTH,
        Unit::Count,
        "Traces waiting for the writer or being written.",
    );
    g(
        QUEUE_BYTES,
        Unit::Bytes,
        "Bytes the traces waiting for the writer or being written hold.",
    );
    g(
        CACHE_ENTRIES,
        Unit::Count,
        "Entries a cache holds now, by cache.",
    );
    g(
        BUILD_INFO,
        Unit::Count,
        "Always 1; the labels say the version and the store backend.",
    );
}
