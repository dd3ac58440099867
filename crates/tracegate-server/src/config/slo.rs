//! `[slo]`: the targets `tracegate diagnose` holds the gateway to.

use serde::{Deserialize, Serialize};

/// Service level targets. A figure that misses its target is a finding whose
/// severity comes from the latency or error-rate scale (see `diagnostics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloConfig {
    /// Median duration, arrival to last byte.
    pub duration_p50_ms: f64,
    /// 95th percentile of duration.
    pub duration_p95_ms: f64,
    /// 99th percentile of duration.
    pub duration_p99_ms: f64,
    /// Median time to first token.
    pub ttft_p50_ms: f64,
    /// 95th percentile of time to first token.
    pub ttft_p95_ms: f64,
    /// 99th percentile of time to first token.
    pub ttft_p99_ms: f64,
    /// Share of requests that may fail (outcome other than `ok`), 0 to 1.
    pub error_rate: f64,
    /// Requests per second the gateway should at least see; 0 means no target.
    pub min_throughput_rps: f64,
    /// A store query class whose p95 is above this is reported as slow.
    pub slow_query_ms: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            duration_p50_ms: 2_000.0,
            duration_p95_ms: 5_000.0,
            duration_p99_ms: 10_000.0,
            ttft_p50_ms: 1_000.0,
            ttft_p95_ms: 2_000.0,
            ttft_p99_ms: 5_000.0,
            error_rate: 0.01,
            min_throughput_rps: 0.0,
            slow_query_ms: 200.0,
        }
    }
}

impl SloConfig {
    /// Every figure a finite, non-negative number; `error_rate` at most 1. The
    /// error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let figures = [
            ("duration_p50_ms", self.duration_p50_ms),
            ("duration_p95_ms", self.duration_p95_ms),
            ("duration_p99_ms", self.duration_p99_ms),
            ("ttft_p50_ms", self.ttft_p50_ms),
            ("ttft_p95_ms", self.ttft_p95_ms),
            ("ttft_p99_ms", self.ttft_p99_ms),
            ("error_rate", self.error_rate),
            ("min_throughput_rps", self.min_throughput_rps),
            ("slow_query_ms", self.slow_query_ms),
        ];
        for (key, v) in figures {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("slo.{key} must be a non-negative number, got {v}"));
            }
        }
        if self.error_rate > 1.0 {
            return Err(format!(
                "slo.error_rate is a share from 0 to 1, got {}",
                self.error_rate
            ));
        }
        Ok(())
    }
}
