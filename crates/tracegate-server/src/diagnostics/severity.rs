//! How bad a finding is: the runbook's scales, from figures to P0..P3.
//!
//! Latency (any duration a person waits for): over 10 s is P0 (unusable),
//! over 5 s P1, over 2 s P2, over 1 s P3. Error rate: over 25% is P0, over 5%
//! P1, over 1% P2, any other rate above its target P3. A figure within its
//! target is no finding, whatever the scale says; a missed target is at least P3.

use serde::{Deserialize, Serialize};

/// Severity of a finding, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Unusable: act now.
    P0,
    /// Badly degraded: act today.
    P1,
    /// Degraded: plan a fix.
    P2,
    /// Worth a look.
    P3,
    /// For information; not a problem.
    #[serde(rename = "info")]
    Info,
}

impl Severity {
    /// Whether the finding fails `diagnose` (exit status 1): P0 and P1.
    pub fn is_blocking(self) -> bool {
        matches!(self, Severity::P0 | Severity::P1)
    }

    /// `P0` .. `P3`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latency scale, in milliseconds: above each bound, that severity.
pub const LATENCY_SCALE_MS: [(f64, Severity); 4] = [
    (10_000.0, Severity::P0),
    (5_000.0, Severity::P1),
    (2_000.0, Severity::P2),
    (1_000.0, Severity::P3),
];

/// The error-rate scale: above each share, that severity.
pub const ERROR_RATE_SCALE: [(f64, Severity); 3] = [
    (0.25, Severity::P0),
    (0.05, Severity::P1),
    (0.01, Severity::P2),
];

fn on_scale(value: f64, scale: &[(f64, Severity)]) -> Option<Severity> {
    scale
        .iter()
        .find(|(bound, _)| value > *bound)
        .map(|(_, s)| *s)
}

/// Where `ms` falls on the latency scale; `None` at 1 s or less.
pub fn latency(ms: f64) -> Option<Severity> {
    on_scale(ms, &LATENCY_SCALE_MS)
}

/// Where `rate` falls on the error-rate scale; `None` at 1% or less.
pub fn error_rate(rate: f64) -> Option<Severity> {
    on_scale(rate, &ERROR_RATE_SCALE)
}

/// A latency against its target: `None` when met, else its place on the scale,
/// at least P3.
pub fn missed_latency(ms: f64, target_ms: f64) -> Option<Severity> {
    (ms > target_ms).then(|| latency(ms).unwrap_or(Severity::P3))
}

/// An error rate against its target: `None` when met, else its place on the
/// scale, at least P3.
pub fn missed_error_rate(rate: f64, target: f64) -> Option<Severity> {
    (rate > target).then(|| error_rate(rate).unwrap_or(Severity::P3))
}

/// The more urgent of two severities.
pub fn worst(a: Severity, b: Severity) -> Severity {
    a.min(b)
}

/// A share of a limit: above `p1` is P1, above `p2` P2, above `p3` P3.
pub fn usage_share(share: f64, p1: f64, p2: f64, p3: f64) -> Option<Severity> {
    on_scale(
        share,
        &[(p1, Severity::P1), (p2, Severity::P2), (p3, Severity::P3)],
    )
}
