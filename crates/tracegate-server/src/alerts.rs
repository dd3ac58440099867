//! Built-in alerts: rules evaluated every `alerts.interval_secs` over the statistics
//! rollups and the live state ([`rules`]), an alert book that turns findings into firing
//! and resolved alerts ([`state`]), and webhook notifications sent off the request path
//! ([`notify`]). [`gather`] is the loop that collects the inputs.

pub mod gather;
pub mod notify;
pub mod rules;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

pub use rules::{evaluate, Evaluation, Finding, Inputs};
pub use state::{AlertBook, Change, Notice};

/// The built-in rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// p95 request duration above `alerts.p95_ms`, per upstream or model.
    LatencyP95,
    /// p95 time to first token above `alerts.ttft_p95_ms`, per upstream or model.
    TtftP95,
    /// Share of failed requests above `alerts.error_rate`, per upstream or model.
    ErrorRate,
    /// A request in flight longer than `alerts.stuck_after_secs`.
    StuckRequest,
    /// An account past `alerts.account_share` of its 5-hour token allowance.
    AccountAllowance,
    /// Traces dropped by the recorder within the window.
    TracesLost,
    /// The store's answers to the evaluator slower than `alerts.store_p95_ms` (p95).
    StoreSlow,
    /// The store does not answer a ping.
    StoreUnreachable,
}

impl Rule {
    /// The name used in identities, the API and notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::LatencyP95 => "latency_p95",
            Rule::TtftP95 => "ttft_p95",
            Rule::ErrorRate => "error_rate",
            Rule::StuckRequest => "stuck_request",
            Rule::AccountAllowance => "account_allowance",
            Rule::TracesLost => "traces_lost",
            Rule::StoreSlow => "store_slow",
            Rule::StoreUnreachable => "store_unreachable",
        }
    }
}

/// How urgent an alert is: P0 (unusable) to P3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
}

impl Severity {
    /// The runbook's latency scale: P0 over 10 s, P1 over 5 s, P2 over 2 s, else P3.
    pub fn of_latency_ms(ms: f64) -> Severity {
        if ms > 10_000.0 {
            Severity::P0
        } else if ms > 5_000.0 {
            Severity::P1
        } else if ms > 2_000.0 {
            Severity::P2
        } else {
            Severity::P3
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }
}

/// Whether an alert is firing or has resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// One alert as the API lists it and the webhooks receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The identity: the rule and its labels, e.g. `latency_p95{upstream="openai"}`.
    pub id: String,
    pub rule: Rule,
    pub severity: Severity,
    pub state: AlertState,
    /// When it began firing.
    pub since: DateTime<Utc>,
    /// When it resolved; `None` while firing.
    pub resolved_at: Option<DateTime<Utc>>,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    /// The measured value (milliseconds, a share, a count: see the rule).
    pub value: f64,
    pub threshold: f64,
}

/// The identity of an alert: its rule and labels.
pub fn identity(rule: Rule, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", rule.as_str(), inner.join(","))
}

/// The alerts firing now and those resolved lately, shared by the evaluator and the API.
#[derive(Clone, Default)]
pub struct Alerts {
    book: Arc<Mutex<Option<AlertBook>>>,
}

/// What `GET /api/v1/alerts` answers.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsReport {
    /// Whether the rules are evaluated (`alerts.enabled`).
    pub enabled: bool,
    /// Firing now, most severe first.
    pub firing: Vec<Alert>,
    /// Resolved lately, newest first.
    pub resolved: Vec<Alert>,
}

impl Alerts {
    pub fn new(book: AlertBook) -> Alerts {
        Alerts {
            book: Arc::new(Mutex::new(Some(book))),
        }
    }

    /// Runs `f` on the book, if alerts are enabled.
    pub fn with_book<T>(&self, f: impl FnOnce(&mut AlertBook) -> T) -> Option<T> {
        self.book.lock().as_mut().map(f)
    }

    pub fn report(&self) -> AlertsReport {
        let guard = self.book.lock();
        match guard.as_ref() {
            Some(book) => AlertsReport {
                enabled: true,
                firing: book.firing(),
                resolved: book.resolved(),
            },
            None => AlertsReport {
                enabled: false,
                firing: Vec::new(),
                resolved: Vec::new(),
            },
        }
    }
}
