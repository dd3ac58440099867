//! The performance runbook, automated: `GET /api/v1/diagnostics` and
//! `tracegate diagnose` build this report. Each finding says what is wrong,
//! the evidence, and what to do, with a severity from P0 (unusable) to P3
//! (worth a look) on the scales of [`severity`].
//!
//! Building happens in two steps: [`gather`] reads the store, the live state
//! and the host into [`Inputs`]; [`build`] turns inputs into a [`Report`]
//! without any I/O, so every rule can be tested on synthetic inputs.

pub mod accounts;
pub mod errors;
pub mod format;
mod gather;
pub mod host;
pub mod latency;
pub mod live;
pub mod severity;
pub mod slo;
mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracegate_store::analytics::window::to_time;
use tracegate_store::health::{ErrorCount, StoreHealth};

pub use gather::{diagnose, gather, parse_since, Inputs, Live, LiveSources, Sources};
pub use severity::Severity;

use crate::query_timings::QueryClass;

/// Where a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// By a running gateway: every section.
    Gateway,
    /// From the store file alone: no live state.
    Store,
}

/// The part of the report a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The SLO table.
    Slo,
    /// Slowest endpoints, models and upstreams.
    Latency,
    /// Requests in flight too long.
    Stuck,
    /// Top token consumers.
    Accounts,
    /// Errors by upstream and status.
    Errors,
    /// The trace recorder.
    Recorder,
    /// The store's health.
    Store,
    /// Store query latency.
    Queries,
    /// CPU, memory, file descriptors, disk.
    Host,
}

/// One thing found, with its evidence and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// How urgent.
    pub severity: Severity,
    /// Where in the report.
    pub section: Section,
    /// What is wrong, in one line.
    pub finding: String,
    /// The figures behind it.
    pub evidence: Vec<String>,
    /// What to do.
    pub recommendation: String,
    /// Traces concerned (stuck requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_ids: Vec<String>,
}

impl Finding {
    /// A finding without trace ids.
    pub fn new(
        severity: Severity,
        section: Section,
        finding: String,
        evidence: Vec<String>,
        recommendation: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            section,
            finding,
            evidence,
            recommendation: recommendation.into(),
            trace_ids: Vec::new(),
        }
    }
}

/// A section the report could not fill, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// The section.
    pub section: Section,
    /// Why: needs a running gateway, or the error met.
    pub reason: String,
}

/// The whole report, as `GET /api/v1/diagnostics` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// The window looked at, as given (`1h`).
    pub since: String,
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end (now).
    pub to: DateTime<Utc>,
    /// By a running gateway, or from the store alone.
    pub source: Source,
    /// The most urgent finding's severity (`info` when nothing is wrong).
    pub worst: Severity,
    /// Every finding, most urgent first.
    pub findings: Vec<Finding>,
    /// Each figure against its target.
    pub slo: Vec<slo::SloRow>,
    /// Slowest endpoints, models and upstreams against the previous window.
    pub slowest: Option<latency::SlowestSection>,
    /// Requests in flight (running gateway only).
    pub inflight: Option<live::InflightSection>,
    /// Top token consumers.
    pub accounts: Option<accounts::AccountsSection>,
    /// Failed requests by upstream, status and outcome, most first.
    pub errors: Option<Vec<ErrorCount>>,
    /// The trace recorder (running gateway only).
    pub recorder: Option<live::RecorderSection>,
    /// The store's health.
    pub store: Option<StoreHealth>,
    /// Store query classes, slowest p95 first (running gateway only).
    pub queries: Option<Vec<QueryClass>>,
    /// The threshold a query class is slow above, ms.
    pub slow_query_ms: f64,
    /// The host.
    pub host: host::HostSection,
    /// Sections left empty, and why.
    pub unavailable: Vec<Unavailable>,
}

impl Report {
    /// Whether a P0 or P1 finding is present: `diagnose` then exits with 1.
    pub fn is_failing(&self) -> bool {
        self.worst.is_blocking()
    }
}

/// Why live sections are missing from a report made from the store alone.
pub const NEEDS_GATEWAY: &str = "needs a running gateway (--url): only the gateway knows this";

/// The report from `inputs`. Pure: no I/O, no clock.
pub fn build(inputs: Inputs) -> Report {
    let Inputs {
        now_ms,
        since_ms,
        since,
        source,
        slo: targets,
        totals,
        slowest,
        previous,
        accounts_24h,
        accounts_5h,
        errors,
        store,
        live,
        host,
    } = inputs;
    let mut findings = Vec::new();
    let mut unavailable = Vec::new();
    let mut missing = |section: Section, reason: String| {
        unavailable.push(Unavailable { section, reason });
    };

    let totals = match totals {
        Ok(t) => t,
        Err(e) => {
            missing(Section::Slo, e);
            None
        }
    };
    let slowest_now = match slowest {
        Ok(s) => Some(s),
        Err(e) => {
            missing(Section::Latency, e);
            None
        }
    };
    let slo = slo::section(
        totals.as_ref(),
        slowest_now.as_ref(),
        &targets,
        since_ms,
        &mut findings,
    );
    let slowest = slowest_now.as_ref().map(|now| {
        latency::section(
            now,
            previous.as_ref().ok(),
            targets.duration_p95_ms,
            since_ms,
            &mut findings,
        )
    });
    let accounts = match (accounts_24h, accounts_5h) {
        (Ok(day), Ok(five)) => Some(accounts::section(day, five, &mut findings)),
        (Err(e), _) | (_, Err(e)) => {
            missing(Section::Accounts, e);
            None
        }
    };
    let errors = match errors {
        Ok(rows) => Some(errors::section(
            rows,
            slowest.as_ref(),
            totals.as_ref().map_or(0, |t| t.usage.requests),
            targets.error_rate,
            since_ms,
            &mut findings,
        )),
        Err(e) => {
            missing(Section::Errors, e);
            None
        }
    };
    let store = match store {
        Ok(h) => {
            store::findings(&h, &mut findings);
            Some(h)
        }
        Err(e) => {
            missing(Section::Store, e);
            None
        }
    };
    let (inflight, recorder, queries) = match live {
        Some(l) => {
            let inflight = live::inflight(&l.inflight, l.stuck_after_ms, &mut findings);
            let recorder = live::recorder(&l.recorder, l.queue_limits, &mut findings);
            live::queries(&l.queries, targets.slow_query_ms, &mut findings);
            (Some(inflight), Some(recorder), Some(l.queries))
        }
        None => {
            for section in [Section::Stuck, Section::Recorder, Section::Queries] {
                missing(section, NEEDS_GATEWAY.to_owned());
            }
            (None, None, None)
        }
    };
    if host.process.is_none() {
        missing(
            Section::Host,
            format!("the gateway process's memory and open files: {NEEDS_GATEWAY}"),
        );
    }
    host::findings(&host, &mut findings);

    findings.sort_by_key(|f| (f.severity, f.section));
    let worst = findings.first().map_or(Severity::Info, |f| f.severity);
    Report {
        generated_at: to_time(now_ms),
        since,
        from: to_time(now_ms.saturating_sub(since_ms)),
        to: to_time(now_ms),
        source,
        worst,
        findings,
        slo,
        slowest,
        inflight,
        accounts,
        errors,
        recorder,
        store,
        queries,
        slow_query_ms: targets.slow_query_ms,
        host,
        unavailable,
    }
}

#[cfg(test)]
mod tests;
