//! The gateway-wide retry budget, a token bucket: every first attempt at an upstream that
//! retries puts `ratio` of a token in, time adds `min_per_sec` tokens a second, a retry
//! takes one out, and the bucket holds at most `max_tokens`. Retries thus add at most about
//! `ratio` of the recent load plus a small floor, however many upstreams fail at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use crate::config::RetryBudgetConfig;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The retry budget shared by every upstream of a gateway.
#[derive(Debug)]
pub struct RetryBudget {
    cfg: RetryBudgetConfig,
    bucket: Mutex<Bucket>,
    granted: AtomicU64,
    denied: AtomicU64,
}

/// The budget as shown on `/api/v1/upstreams`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    /// Retries that may be made now.
    pub tokens: f64,
    pub ratio: f64,
    pub min_per_sec: f64,
    pub max_tokens: f64,
    /// Retries made since start.
    pub granted: u64,
    /// Retries refused because the budget was spent, since start.
    pub denied: u64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new(RetryBudgetConfig::default(), Instant::now())
    }
}

impl RetryBudget {
    /// A full bucket.
    pub fn new(cfg: RetryBudgetConfig, now: Instant) -> Self {
        RetryBudget {
            bucket: Mutex::new(Bucket {
                tokens: cfg.max_tokens,
                at: now,
            }),
            cfg,
            granted: AtomicU64::new(0),
            denied: AtomicU64::new(0),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let secs = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + secs * self.cfg.min_per_sec).min(self.cfg.max_tokens);
        b.at = b.at.max(now);
    }

    /// A first attempt was made.
    pub fn deposit(&self, now: Instant) {
        let mut b = self.bucket.lock();
        self.refill(&mut b, now);
        b.tokens = (b.tokens + self.cfg.ratio).min(self.cfg.max_tokens);
    }

    /// Takes a token for one retry; false when none is left.
    pub fn withdraw(&self, now: Instant) -> bool {
        let mut b = self.bucket.lock();
        self.refill(&mut b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            self.granted.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            self.denied.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    pub fn view(&self, now: Instant) -> BudgetView {
        let tokens = {
            let mut b = self.bucket.lock();
            self.refill(&mut b, now);
            b.tokens
        };
        BudgetView {
            tokens: (tokens * 100.0).floor() / 100.0,
            ratio: self.cfg.ratio,
            min_per_sec: self.cfg.min_per_sec,
            max_tokens: self.cfg.max_tokens,
            granted: self.granted.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn budget(ratio: f64, min_per_sec: f64, max_tokens: f64, now: Instant) -> RetryBudget {
        RetryBudget::new(
            RetryBudgetConfig {
                ratio,
                min_per_sec,
                max_tokens,
            },
            now,
        )
    }

    #[test]
    fn a_full_bucket_is_spent_then_refused() {
        let t0 = Instant::now();
        let b = budget(0.2, 0.0, 3.0, t0);
        assert!(b.withdraw(t0) && b.withdraw(t0) && b.withdraw(t0));
        assert!(!b.withdraw(t0));
        let v = b.view(t0);
        assert_eq!((v.granted, v.denied), (3, 1));
    }

    #[test]
    fn retries_are_a_fifth_of_first_attempts() {
        let t0 = Instant::now();
        let b = budget(0.2, 0.0, 10.0, t0);
        while b.withdraw(t0) {}
        let mut retries = 0;
        for _ in 0..100 {
            b.deposit(t0);
            if b.withdraw(t0) {
                retries += 1;
            }
        }
        assert!((19..=20).contains(&retries), "{retries}");
    }

    #[test]
    fn the_floor_refills_with_time_up_to_the_cap() {
        let t0 = Instant::now();
        let b = budget(0.0, 2.0, 5.0, t0);
        while b.withdraw(t0) {}
        assert!(!b.withdraw(t0));
        let t1 = t0 + Duration::from_secs(1);
        assert!(b.withdraw(t1) && b.withdraw(t1));
        assert!(!b.withdraw(t1));
        assert_eq!(b.view(t1 + Duration::from_secs(100)).tokens, 5.0);
    }
}
