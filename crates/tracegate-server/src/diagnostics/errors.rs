//! Errors by upstream and status: what failed, where, and what it means.

use std::collections::BTreeMap;

use tracegate_store::health::ErrorCount;

use super::format::{key, pct, window};
use super::latency::SlowestSection;
use super::severity::missed_error_rate;
use super::{Finding, Section};

/// Rows of the error table in the report.
pub const ROWS: usize = 20;

/// What a status or outcome usually means, and what to do.
fn advice(e: &ErrorCount) -> &'static str {
    match (e.status, e.outcome.as_str()) {
        (_, "rate_limited") => "rate_limited: the gateway refused requests over a key's or account's limit or budget. The trace's `error` names the limit; raise it (`tracegate keys`, `[limits]`) or spread the load.",
        (_, "overloaded") => "overloaded: the gateway shed requests because an upstream's bulkhead was full, its queue wait expired or its circuit was open. See GET /api/v1/upstreams; raise `max_concurrent`/`max_queue`, or add a fallback upstream.",
        (Some(429), _) => "429: the provider rate-limits these requests. Spread the load (fewer concurrent clients), ask the provider for a higher limit, and let clients honour retry-after.",
        (_, "unauthorized") => "unauthorized: the gateway refused a virtual key (unknown, expired or revoked, or none sent with auth = keys). List them with GET /api/v1/traces?outcome=unauthorized; `tracegate keys list` shows each key's state.",
        (Some(401 | 403), _) => "401/403: the provider refuses the credential. Check the key the clients send, or the upstream's `api_key_env`.",
        (Some(500..=599), _) => "5xx: the provider is failing. Check its status page; retry with backoff, or route the models to another upstream.",
        (_, "timeout") => "timeout: an upstream timeout fired (each trace's error names it: connect, headers, idle or total `timeout_secs`). The provider hangs or the answers are very long; see the slowest upstreams.",
        (_, "gateway_error") => "gateway_error: the gateway could not reach the upstream. Check its `base_url`, DNS and the network from the gateway's host.",
        (_, "client_error") => "client_error: the gateway refused the requests (malformed body, too large, unknown model). List them with GET /api/v1/traces?outcome=client_error.",
        (_, "cancelled") => "cancelled: clients gave up before the answer ended, usually after a slow first token. See the ttft rows of the SLO table.",
        (Some(200..=299), _) => "an error inside a 2xx answer: the stream started, then carried an error event (overloaded, cut off mid-answer). The trace's `error` says which; such requests can be retried, and the provider's status page tells whether it is overloaded.",
        (Some(400..=499), _) => "4xx: the provider refused the requests as invalid. Read one with GET /api/v1/traces?outcome=upstream_error.",
        (Some(_), _) => "The provider answered with an unexpected status. Read one with GET /api/v1/traces?outcome=upstream_error.",
        (None, _) => "Read one with GET /api/v1/traces?outcome=upstream_error.",
    }
}

fn label(e: &ErrorCount) -> String {
    match e.status {
        Some(s) => format!("{s} {}", e.outcome),
        None => e.outcome.clone(),
    }
}

/// The table, and one finding per upstream whose error rate misses the target.
pub fn section(
    mut errors: Vec<ErrorCount>,
    slowest: Option<&SlowestSection>,
    total_requests: u64,
    target: f64,
    since_ms: i64,
    findings: &mut Vec<Finding>,
) -> Vec<ErrorCount> {
    let mut by_upstream: BTreeMap<Option<String>, Vec<&ErrorCount>> = BTreeMap::new();
    for e in &errors {
        by_upstream.entry(e.upstream.clone()).or_default().push(e);
    }
    let span = window(since_ms);
    for (upstream, rows) in by_upstream {
        let failed: u64 = rows.iter().map(|e| e.count).sum();
        let requests = slowest
            .and_then(|s| s.upstreams.iter().find(|r| r.key == upstream))
            .map_or(total_requests, |r| r.requests)
            .max(failed);
        let rate = failed as f64 / requests.max(1) as f64;
        let Some(sev) = missed_error_rate(rate, target) else {
            continue;
        };
        // Rows come most first: the first is the main cause.
        let main = rows[0];
        let name = key(&upstream);
        let evidence = rows
            .iter()
            .map(|e| format!("{}: {} request(s)", label(e), e.count))
            .chain(std::iter::once(format!(
                "{failed} of {requests} requests in the last {span} failed"
            )))
            .collect();
        findings.push(Finding::new(
            sev,
            Section::Errors,
            format!(
                "upstream {name:?} fails {} of requests, mostly {} ({} of them)",
                pct(rate),
                label(main),
                main.count
            ),
            evidence,
            advice(main),
        ));
    }
    errors.truncate(ROWS);
    errors
}
