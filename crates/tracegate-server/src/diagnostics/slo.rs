//! The SLO table: p50, p95 and p99 of duration and time to first token, error
//! rate and throughput over the window, each against its `[slo]` target.

use serde::{Deserialize, Serialize};
use tracegate_store::analytics::{GroupStats, Percentiles, Slowest};

use super::format::{ms, pct, window};
use super::severity::{missed_error_rate, missed_latency, Severity};
use super::{Finding, Section};
use crate::config::SloConfig;

/// One figure against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloRow {
    /// `duration p95`, `error rate`, ...
    pub metric: String,
    /// The figure over the window; `None` without requests.
    pub value: Option<f64>,
    /// The target; `None` when there is none.
    pub target: Option<f64>,
    /// `ms`, `share` or `req/s`.
    pub unit: String,
    /// Whether the target is met; `None` when either is missing.
    pub met: Option<bool>,
    /// How bad a miss is.
    pub severity: Option<Severity>,
}

impl SloRow {
    fn new(metric: &str, value: Option<f64>, target: Option<f64>, unit: &str) -> SloRow {
        SloRow {
            metric: metric.to_owned(),
            value,
            target,
            unit: unit.to_owned(),
            met: None,
            severity: None,
        }
    }

    fn shown(&self, v: f64) -> String {
        match self.unit.as_str() {
            "ms" => ms(v),
            "share" => pct(v),
            _ => format!("{v:.2} {}", self.unit),
        }
    }

    /// `p95 5.5 s (target 5.0 s)`: the figure without the group's name.
    fn short(&self) -> String {
        let q = self.metric.rsplit(' ').next().unwrap_or_default();
        let value = self.value.map_or_else(|| "-".to_owned(), |v| self.shown(v));
        let target = self
            .target
            .map_or_else(|| "-".to_owned(), |v| self.shown(v));
        if q == "rate" || q == self.metric {
            format!("{value} (target {target})")
        } else {
            format!("{q} {value} (target {target})")
        }
    }

    /// `duration p95: 5.5 s, target 5.0 s (P1)`.
    fn evidence(&self) -> String {
        let value = self.value.map_or_else(|| "-".to_owned(), |v| self.shown(v));
        let target = self
            .target
            .map_or_else(|| "-".to_owned(), |v| self.shown(v));
        let sev = self.severity.map_or(String::new(), |s| format!(" ({s})"));
        format!("{}: {value}, target {target}{sev}", self.metric)
    }
}

fn latency_rows(name: &str, p: &Percentiles, targets: [f64; 3]) -> Vec<SloRow> {
    [("p50", p.p50), ("p95", p.p95), ("p99", p.p99)]
        .into_iter()
        .zip(targets)
        .map(|((q, value), target)| {
            let mut row = SloRow::new(&format!("{name} {q}"), value, Some(target), "ms");
            if let Some(v) = value {
                row.severity = missed_latency(v, target);
                row.met = Some(row.severity.is_none());
            }
            row
        })
        .collect()
}

/// The table, and a finding for each group of missed targets.
pub fn section(
    totals: Option<&GroupStats>,
    slowest: Option<&Slowest>,
    slo: &SloConfig,
    since_ms: i64,
    findings: &mut Vec<Finding>,
) -> Vec<SloRow> {
    let empty = Percentiles::default();
    let requests = totals.map_or(0, |t| t.usage.requests);
    let duration = latency_rows(
        "duration",
        totals.map_or(&empty, |t| &t.duration_ms),
        [
            slo.duration_p50_ms,
            slo.duration_p95_ms,
            slo.duration_p99_ms,
        ],
    );
    let ttft = latency_rows(
        "ttft",
        totals.map_or(&empty, |t| &t.ttft_ms),
        [slo.ttft_p50_ms, slo.ttft_p95_ms, slo.ttft_p99_ms],
    );
    let mut errors = SloRow::new(
        "error rate",
        totals.filter(|_| requests > 0).map(|t| t.error_rate),
        Some(slo.error_rate),
        "share",
    );
    if let Some(v) = errors.value {
        errors.severity = missed_error_rate(v, slo.error_rate);
        errors.met = Some(errors.severity.is_none());
    }
    let rps = requests as f64 / (since_ms as f64 / 1000.0);
    let mut throughput = SloRow::new(
        "throughput",
        Some(rps),
        (slo.min_throughput_rps > 0.0).then_some(slo.min_throughput_rps),
        "req/s",
    );
    if let Some(target) = throughput.target {
        let low = rps < target;
        throughput.met = Some(!low);
        throughput.severity = low.then_some(Severity::P2);
    }

    let span = window(since_ms);
    if requests == 0 {
        findings.push(Finding::new(
            Severity::Info,
            Section::Slo,
            format!("no requests in the last {span}"),
            vec![],
            "Nothing to measure: send traffic through the gateway, or widen the window (--since 24h).",
        ));
    }
    let ttft_missed = ttft.iter().any(|r| r.severity.is_some());
    let slow = slowest_names(slowest);
    if let Some(f) = missed(
        &duration,
        Section::Slo,
        "request duration",
        requests,
        &span,
        || {
            if ttft_missed {
                format!("Most of the time passes before the first token, at the provider: {slow}. Large prompts raise time to first token; prompt caching lowers it.")
            } else {
                format!("Time to first token meets its target, so the time goes into generating long answers: check output tokens per request (GET /api/v1/stats?group_by=model) and max_tokens, and stream to the client. {slow}")
            }
        },
    ) {
        findings.push(f);
    }
    if let Some(f) = missed(
        &ttft,
        Section::Slo,
        "time to first token",
        requests,
        &span,
        || {
            format!("The provider is slow to start answering: {slow}. Large prompts raise time to first token (check input tokens per request); prompt caching (cache_control) lowers it.")
        },
    ) {
        findings.push(f);
    }
    if let Some(sev) = errors.severity {
        findings.push(Finding::new(
            sev,
            Section::Slo,
            format!("error rate misses its target: {}", errors.short()),
            vec![format!("{} of {requests} requests in the last {span} did not end ok", totals.map_or(0, |t| t.errors))],
            "See the errors by upstream and status below for the cause; list the failed requests with GET /api/v1/traces?outcome=upstream_error (or timeout, gateway_error, client_error, cancelled).",
        ));
    }
    if let Some(sev) = throughput.severity {
        findings.push(Finding::new(
            sev,
            Section::Slo,
            format!("throughput below its target: {}", throughput.short()),
            vec![format!("{requests} requests in the last {span}")],
            "Fewer requests than expected reach the gateway: check that clients point at it (base URL) and that nothing in front of it refuses them.",
        ));
    }
    let mut rows = duration;
    rows.extend(ttft);
    rows.push(errors);
    rows.push(throughput);
    rows
}

/// One finding for the missed rows of a latency group, titled by the worst.
fn missed(
    rows: &[SloRow],
    section: Section,
    what: &str,
    requests: u64,
    span: &str,
    recommendation: impl FnOnce() -> String,
) -> Option<Finding> {
    let worst = rows
        .iter()
        .filter(|r| r.severity.is_some())
        .min_by_key(|r| r.severity)?;
    let sev = worst.severity?;
    let mut evidence: Vec<String> = rows.iter().map(SloRow::evidence).collect();
    evidence.push(format!("{requests} requests in the last {span}"));
    Some(Finding::new(
        sev,
        section,
        format!("{what} misses its target: {}", worst.short()),
        evidence,
        recommendation(),
    ))
}

/// `the slowest upstream is "x" (p95 5.5 s), the slowest model "y" (p95 ...)`.
fn slowest_names(slowest: Option<&Slowest>) -> String {
    let Some(s) = slowest else {
        return "see the slowest upstreams and models".to_owned();
    };
    let name = |rows: &[tracegate_store::analytics::SlowRow], what: &str| {
        rows.first().map(|r| {
            format!(
                "the slowest {what} is {:?} (p95 {})",
                super::format::key(&r.key),
                r.duration_ms.p95.map_or_else(|| "-".to_owned(), ms)
            )
        })
    };
    let parts: Vec<String> = [name(&s.upstreams, "upstream"), name(&s.models, "model")]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        "see the slowest upstreams and models".to_owned()
    } else {
        parts.join(", ")
    }
}
