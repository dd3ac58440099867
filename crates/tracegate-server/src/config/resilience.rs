//! Traffic policy of an upstream: its bulkhead, retries and circuit breaker, and the
//! gateway-wide retry budget. Every mechanism is off unless configured.

use serde::{Deserialize, Serialize};

/// Most requests an upstream's bulkhead lets run or wait; a bound against typos.
const MAX_BULKHEAD: usize = 1_000_000;
/// Most attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 10;

/// `[upstreams.bulkhead]`: at most `max_concurrent` requests at the upstream at once (a
/// request holds its place until its response body ends), at most `max_queue` waiting for
/// a place, each at most `max_queue_wait_ms`; beyond, a fast 503.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkheadConfig {
    pub max_concurrent: usize,
    #[serde(default)]
    pub max_queue: usize,
    #[serde(default = "default_queue_wait_ms")]
    pub max_queue_wait_ms: u64,
}

fn default_queue_wait_ms() -> u64 {
    1_000
}

/// `[upstreams.retry]`: how a request that failed before any byte reached the client is
/// tried again. `max_attempts = 1` (the default) never retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per request at this upstream, the first included.
    pub max_attempts: u32,
    /// First backoff; each retry doubles it, and the wait is drawn at random below it
    /// (full jitter).
    pub base_backoff_ms: u64,
    /// Largest backoff.
    pub max_backoff_ms: u64,
    /// A `retry-after` longer than this is not waited for: the request goes to a fallback
    /// or fails with the upstream's answer.
    pub max_retry_after_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 1,
            base_backoff_ms: 100,
            max_backoff_ms: 5_000,
            max_retry_after_ms: 10_000,
        }
    }
}

/// `[upstreams.breaker]`: the circuit opens after `consecutive_failures` failures in a row,
/// or when at least `min_requests` requests in the last `window_secs` failed at a rate of
/// `error_rate` or more; it stays open `open_secs`, then lets one probe through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub consecutive_failures: u32,
    pub error_rate: f64,
    pub min_requests: u32,
    pub window_secs: u64,
    pub open_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window_secs: 30,
            open_secs: 30,
        }
    }
}

/// `[retry_budget]`, for the whole gateway: retries may add at most `ratio` of the recent
/// first attempts, plus `min_per_sec` retries a second, so a failing provider does not get
/// a retry storm on top of its load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryBudgetConfig {
    pub ratio: f64,
    pub min_per_sec: f64,
    /// Most retries saved up in quiet times.
    pub max_tokens: f64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            min_per_sec: 1.0,
            max_tokens: 10.0,
        }
    }
}

impl BulkheadConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_BULKHEAD).contains(&self.max_concurrent) {
            return Err(format!(
                "bulkhead.max_concurrent: must be between 1 and {MAX_BULKHEAD}"
            ));
        }
        if self.max_queue > MAX_BULKHEAD {
            return Err(format!(
                "bulkhead.max_queue: must be at most {MAX_BULKHEAD}"
            ));
        }
        if self.max_queue > 0 && self.max_queue_wait_ms == 0 {
            return Err(
                "bulkhead.max_queue_wait_ms: must be greater than 0 when max_queue is".into(),
            );
        }
        Ok(())
    }
}

impl RetryConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "retry.max_attempts: must be between 1 (no retries) and {MAX_ATTEMPTS}"
            ));
        }
        if self.base_backoff_ms == 0 || self.base_backoff_ms > self.max_backoff_ms {
            return Err(
                "retry.base_backoff_ms: must be greater than 0 and at most retry.max_backoff_ms"
                    .into(),
            );
        }
        if self.max_backoff_ms > 600_000 || self.max_retry_after_ms > 600_000 {
            return Err(
                "retry.max_backoff_ms and retry.max_retry_after_ms: must be at most 600000 (10 minutes)"
                    .into(),
            );
        }
        Ok(())
    }
}

impl BreakerConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.consecutive_failures == 0 {
            return Err("breaker.consecutive_failures: must be greater than 0".into());
        }
        if !(self.error_rate > 0.0 && self.error_rate <= 1.0) {
            return Err("breaker.error_rate: must be above 0 and at most 1".into());
        }
        if self.min_requests == 0 {
            return Err("breaker.min_requests: must be greater than 0".into());
        }
        if !(1..=3600).contains(&self.window_secs) {
            return Err("breaker.window_secs: must be between 1 and 3600".into());
        }
        if !(1..=3600).contains(&self.open_secs) {
            return Err("breaker.open_secs: must be between 1 and 3600".into());
        }
        Ok(())
    }
}

impl RetryBudgetConfig {
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(self.ratio) || self.ratio > 10.0 {
            return Err("retry_budget.ratio: must be between 0 and 10".into());
        }
        if !ok(self.min_per_sec) {
            return Err("retry_budget.min_per_sec: must be a non-negative number".into());
        }
        if !ok(self.max_tokens) || self.max_tokens < 1.0 {
            return Err("retry_budget.max_tokens: must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_retry_nothing() {
        assert_eq!(RetryConfig::default().max_attempts, 1);
        RetryConfig::default().validate().unwrap();
        BreakerConfig::default().validate().unwrap();
        RetryBudgetConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let b = BulkheadConfig {
            max_concurrent: 0,
            max_queue: 0,
            max_queue_wait_ms: 1,
        };
        assert!(b.validate().unwrap_err().contains("max_concurrent"));
        let r = RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        };
        assert!(r.validate().unwrap_err().contains("max_attempts"));
        let c = BreakerConfig {
            error_rate: 1.5,
            ..BreakerConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("error_rate"));
        let g = RetryBudgetConfig {
            ratio: f64::NAN,
            ..RetryBudgetConfig::default()
        };
        assert!(g.validate().unwrap_err().contains("ratio"));
    }
}
