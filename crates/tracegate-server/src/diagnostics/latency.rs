//! The slowest endpoints, models and upstreams of the window, each beside its
//! own figures for the previous window of the same length.

use serde::{Deserialize, Serialize};
use tracegate_store::analytics::{Percentiles, SlowRow, Slowest};

use super::format::{key, ms, pct, window};
use super::severity::{missed_latency, Severity};
use super::{Finding, Section};

/// Rows per list in the report.
pub const ROWS: usize = 5;
/// A p95 this many times the previous window's is a regression worth a look.
const REGRESSION_FACTOR: f64 = 2.0;
/// Requests both windows need before a regression is believed.
const REGRESSION_MIN_REQUESTS: u64 = 5;
/// Below this p95 a regression is not worth a finding.
const REGRESSION_MIN_MS: f64 = 1_000.0;

/// One endpoint, model or upstream, now and in the previous window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    /// Its name; `None` when unknown.
    pub key: Option<String>,
    /// Requests in the window.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Duration percentiles in the window.
    pub duration_ms: Percentiles,
    /// Requests in the previous window.
    pub previous_requests: u64,
    /// p95 duration in the previous window.
    pub previous_p95_ms: Option<f64>,
    /// `p95 / previous p95 - 1` (0.5 is 50% slower).
    pub p95_change: Option<f64>,
}

/// The three lists.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SlowestSection {
    /// Request paths.
    pub endpoints: Vec<Compared>,
    /// Models that answered.
    pub models: Vec<Compared>,
    /// Configured upstreams.
    pub upstreams: Vec<Compared>,
}

fn compare(now: &[SlowRow], before: &[SlowRow]) -> Vec<Compared> {
    now.iter()
        .take(ROWS)
        .map(|r| {
            let prev = before.iter().find(|p| p.key == r.key);
            let previous_p95_ms = prev.and_then(|p| p.duration_ms.p95);
            Compared {
                key: r.key.clone(),
                requests: r.requests,
                errors: r.errors,
                error_rate: r.error_rate,
                duration_ms: r.duration_ms,
                previous_requests: prev.map_or(0, |p| p.requests),
                previous_p95_ms,
                p95_change: r
                    .duration_ms
                    .p95
                    .zip(previous_p95_ms)
                    .filter(|(_, b)| *b > 0.0)
                    .map(|(a, b)| a / b - 1.0),
            }
        })
        .collect()
}

/// The lists compared, and findings for the rows over the duration p95 target
/// (at most three per list) or twice as slow as in the previous window.
pub fn section(
    now: &Slowest,
    before: Option<&Slowest>,
    p95_target_ms: f64,
    since_ms: i64,
    findings: &mut Vec<Finding>,
) -> SlowestSection {
    let empty: &[SlowRow] = &[];
    let prev = |f: fn(&Slowest) -> &Vec<SlowRow>| before.map_or(empty, |b| f(b).as_slice());
    let section = SlowestSection {
        endpoints: compare(&now.endpoints, prev(|s| &s.endpoints)),
        models: compare(&now.models, prev(|s| &s.models)),
        upstreams: compare(&now.upstreams, prev(|s| &s.upstreams)),
    };
    let span = window(since_ms);
    for (kind, rows) in [
        ("upstream", &section.upstreams),
        ("model", &section.models),
        ("endpoint", &section.endpoints),
    ] {
        for row in rows.iter().take(3) {
            if let Some(f) = finding(kind, row, p95_target_ms, &span) {
                findings.push(f);
            }
        }
    }
    section
}

fn finding(kind: &str, row: &Compared, target_ms: f64, span: &str) -> Option<Finding> {
    let p95 = row.duration_ms.p95?;
    let name = key(&row.key);
    let over = missed_latency(p95, target_ms);
    let regressed = row.p95_change.is_some_and(|c| c + 1.0 >= REGRESSION_FACTOR)
        && row.requests >= REGRESSION_MIN_REQUESTS
        && row.previous_requests >= REGRESSION_MIN_REQUESTS
        && p95 > REGRESSION_MIN_MS;
    let (severity, title) = match (over, regressed) {
        (Some(sev), _) => (
            sev,
            format!(
                "slow {kind} {name:?}: p95 {} (target {})",
                ms(p95),
                ms(target_ms)
            ),
        ),
        (None, true) => (
            Severity::P3,
            format!("{kind} {name:?} got slower: p95 {}", ms(p95)),
        ),
        (None, false) => return None,
    };
    let p = row.duration_ms;
    let shown = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), ms);
    let evidence = vec![
        format!(
            "{} requests in the last {span}: p50 {}, p95 {}, p99 {}; error rate {}",
            row.requests,
            shown(p.p50),
            shown(p.p95),
            shown(p.p99),
            pct(row.error_rate)
        ),
        match (row.previous_p95_ms, row.p95_change) {
            (Some(b), Some(c)) => format!(
                "previous {span}: p95 {} over {} requests ({}{})",
                ms(b),
                row.previous_requests,
                if c >= 0.0 { "+" } else { "" },
                pct(c)
            ),
            _ => format!("previous {span}: no requests to compare with"),
        },
    ];
    let recommendation = match kind {
        "upstream" => format!("Upstream {name:?} answers slowly: check the provider's status page; if only this upstream is slow, route its models to another one (`models` globs of [[upstreams]]), and lower its `timeout_secs` so hung requests end early."),
        "model" => format!("Requests to {name:?} are slow: compare its output tokens per request (GET /api/v1/stats?group_by=model); long answers take long. Latency-sensitive callers can use a smaller model or lower max_tokens."),
        _ => format!("Requests to {name:?} are slow: look at the slowest ones (GET /api/v1/traces?sort=duration_ms) for their model, upstream and size."),
    };
    Some(Finding::new(
        severity,
        Section::Latency,
        title,
        evidence,
        recommendation,
    ))
}
