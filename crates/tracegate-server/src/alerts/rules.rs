//! The rules: a plain function from a snapshot of inputs to findings, so that every rule
//! can be tested on synthetic data without time passing.

use std::collections::{BTreeMap, BTreeSet};

use super::{Rule, Severity};
use crate::config::AlertsConfig;

/// Figures of one upstream or model over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupFigures {
    /// The upstream or model name (`None` when unknown).
    pub key: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub p95_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
}

/// One request in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub trace_id: String,
    pub elapsed_ms: f64,
    pub upstream: Option<String>,
    pub model: Option<String>,
}

/// Everything the rules look at, gathered once per evaluation. A `None` means the input
/// could not be read (the store failed): the rules over it are skipped, and their alerts
/// keep their state.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub by_upstream: Option<Vec<GroupFigures>>,
    pub by_model: Option<Vec<GroupFigures>>,
    pub inflight: Vec<Running>,
    /// Traces the recorder dropped within the window.
    pub dropped_in_window: u64,
    /// Tokens per account over the last 5 hours.
    pub account_tokens: Option<Vec<(String, u64)>>,
    /// Recent durations of the store's answers to the evaluator, in milliseconds.
    pub store_ms: Vec<f64>,
    /// Why the store did not answer a ping; `None` when it did.
    pub store_error: Option<String>,
}

/// One condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub value: f64,
    pub threshold: f64,
}

/// The findings, and the rules that were evaluated (an alert of a rule evaluated without
/// a finding for it resolves; one of a rule skipped keeps its state).
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub evaluated: BTreeSet<Rule>,
}

impl Evaluation {
    fn push(
        &mut self,
        rule: Rule,
        severity: Severity,
        labels: &[(&str, &str)],
        summary: String,
        value: f64,
        threshold: f64,
    ) {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.chars().take(MAX_LABEL_CHARS).collect()))
            .collect();
        self.findings.push(Finding {
            rule,
            severity,
            labels,
            summary,
            value,
            threshold,
        });
    }
}

/// Label values (model names, accounts: client input) are cut to this many characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// The 5-hour window account allowances are measured over.
pub const ALLOWANCE_WINDOW_MS: i64 = 5 * 3_600_000;

/// Applies every rule to `inputs`.
pub fn evaluate(inputs: &Inputs, cfg: &AlertsConfig) -> Evaluation {
    let mut ev = Evaluation::default();
    let groups = [
        ("upstream", &inputs.by_upstream),
        ("model", &inputs.by_model),
    ];
    let window_min = cfg.window_secs / 60;
    if groups.iter().all(|(_, g)| g.is_some()) {
        ev.evaluated
            .extend([Rule::LatencyP95, Rule::TtftP95, Rule::ErrorRate]);
    }
    for (dim, rows) in groups {
        for g in rows.iter().flatten() {
            let name = g.key.as_deref().unwrap_or("unknown");
            let labels = [(dim, name)];
            if let Some(p95) = g.p95_ms.filter(|v| *v > cfg.p95_ms) {
                let summary = format!(
                    "p95 duration of {dim} {name} is {p95:.0} ms over the last {window_min} min (target {:.0} ms)",
                    cfg.p95_ms
                );
                let sev = Severity::of_latency_ms(p95);
                ev.push(Rule::LatencyP95, sev, &labels, summary, p95, cfg.p95_ms);
            }
            if let Some(p95) = g.ttft_p95_ms.filter(|v| *v > cfg.ttft_p95_ms) {
                let summary = format!(
                    "p95 time to first token of {dim} {name} is {p95:.0} ms over the last {window_min} min (target {:.0} ms)",
                    cfg.ttft_p95_ms
                );
                let sev = Severity::of_latency_ms(p95);
                ev.push(Rule::TtftP95, sev, &labels, summary, p95, cfg.ttft_p95_ms);
            }
            if g.requests >= cfg.min_requests.max(1) {
                let rate = g.errors as f64 / g.requests as f64;
                if rate > cfg.error_rate {
                    let summary = format!(
                        "{:.1}% of requests to {dim} {name} failed over the last {window_min} min ({} of {}; threshold {:.1}%)",
                        rate * 100.0,
                        g.errors,
                        g.requests,
                        cfg.error_rate * 100.0
                    );
                    let sev = error_severity(rate);
                    ev.push(Rule::ErrorRate, sev, &labels, summary, rate, cfg.error_rate);
                }
            }
        }
    }

    ev.evaluated.insert(Rule::StuckRequest);
    let stuck_ms = cfg.stuck_after_secs as f64 * 1000.0;
    for r in inputs.inflight.iter().filter(|r| r.elapsed_ms >= stuck_ms) {
        let upstream = r.upstream.as_deref().unwrap_or("unknown");
        let model = r.model.as_deref().unwrap_or("unknown");
        let summary = format!(
            "request {} to {upstream} ({model}) has been in flight for {:.0} s (stuck after {} s)",
            r.trace_id,
            r.elapsed_ms / 1000.0,
            cfg.stuck_after_secs
        );
        let labels = [
            ("trace_id", r.trace_id.as_str()),
            ("upstream", upstream),
            ("model", model),
        ];
        ev.push(
            Rule::StuckRequest,
            Severity::P2,
            &labels,
            summary,
            r.elapsed_ms,
            stuck_ms,
        );
    }

    if let Some(accounts) = &inputs.account_tokens {
        ev.evaluated.insert(Rule::AccountAllowance);
        for (account, tokens) in accounts {
            let Some(allowance) = cfg
                .allowances
                .get(account)
                .copied()
                .or(cfg.default_allowance)
            else {
                continue;
            };
            let share = if allowance == 0 {
                f64::INFINITY
            } else {
                *tokens as f64 / allowance as f64
            };
            if share >= cfg.account_share {
                let sev = if share >= 1.0 {
                    Severity::P1
                } else {
                    Severity::P2
                };
                let summary = format!(
                    "account {account} used {tokens} tokens in the last 5 h: {:.0}% of its allowance of {allowance} (alert at {:.0}%)",
                    share * 100.0,
                    cfg.account_share * 100.0
                );
                let value = if share.is_finite() {
                    share
                } else {
                    *tokens as f64
                };
                ev.push(
                    Rule::AccountAllowance,
                    sev,
                    &[("account", account)],
                    summary,
                    value,
                    cfg.account_share,
                );
            }
        }
    }

    ev.evaluated.insert(Rule::TracesLost);
    if inputs.dropped_in_window > 0 {
        let summary = format!(
            "the recorder dropped {} traces in the last {window_min} min (queue full or store errors): see /api/v1/recorder",
            inputs.dropped_in_window
        );
        let n = inputs.dropped_in_window as f64;
        ev.push(Rule::TracesLost, Severity::P1, &[], summary, n, 0.0);
    }

    ev.evaluated
        .extend([Rule::StoreSlow, Rule::StoreUnreachable]);
    if let Some(reason) = &inputs.store_error {
        let summary = format!("the store does not answer: {reason}");
        ev.push(Rule::StoreUnreachable, Severity::P0, &[], summary, 1.0, 0.0);
    }
    if let Some(p95) = p95(&inputs.store_ms).filter(|v| *v > cfg.store_p95_ms) {
        let summary = format!(
            "the store's p95 answer time is {p95:.0} ms over its last {} queries (target {:.0} ms)",
            inputs.store_ms.len(),
            cfg.store_p95_ms
        );
        let sev = Severity::of_latency_ms(p95);
        ev.push(Rule::StoreSlow, sev, &[], summary, p95, cfg.store_p95_ms);
    }
    ev
}

/// P0 when at least half the requests fail (unusable), P1 from 10%, else P2.
pub fn error_severity(rate: f64) -> Severity {
    if rate >= 0.5 {
        Severity::P0
    } else if rate >= 0.1 {
        Severity::P1
    } else {
        Severity::P2
    }
}

/// The 95th percentile (nearest rank) of `values`, `None` when empty.
pub fn p95(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() as f64) * 0.95).ceil() as usize;
    v.get(rank.saturating_sub(1)).copied()
}

#[cfg(test)]
mod tests;
