//! When a failed attempt is tried again, and after how long. Only the response head is
//! looked at: a retry happens before any byte reached the client, never after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderMap;

use crate::config::RetryConfig;

/// What an attempt's result means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answered: hand it to the client.
    Done,
    /// Failed in a way another try may not: a connection error, 429, 5xx, Anthropic's 529.
    /// `breaker` says whether it counts as a failure of the upstream (429 does not).
    Retryable { breaker: bool },
}

/// The verdict on a response head's status.
pub fn verdict_of_status(status: u16) -> Verdict {
    match status {
        429 => Verdict::Retryable { breaker: false },
        // Not implemented and version not supported will not change on a retry.
        501 | 505 => Verdict::Done,
        500..=599 => Verdict::Retryable { breaker: true },
        _ => Verdict::Done,
    }
}

/// How long the upstream asked to wait: `retry-after-ms` (OpenAI), else `retry-after` in
/// seconds. An HTTP date is not honoured (the backoff applies).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    number("retry-after").map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// The wait before retry number `retry` (1 for the first retry): a random time below
/// `base * 2^(retry-1)` capped at `max` (full jitter), but at least what the upstream
/// asked for. `None` when the upstream asked for longer than `max_retry_after_ms`.
pub fn backoff(cfg: &RetryConfig, retry: u32, asked: Option<Duration>) -> Option<Duration> {
    let asked = match asked {
        Some(a) if a > Duration::from_millis(cfg.max_retry_after_ms) => return None,
        other => other.unwrap_or_default(),
    };
    let exp = retry.saturating_sub(1).min(30);
    let ceiling = cfg
        .base_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.max_backoff_ms);
    let jitter = Duration::from_millis(random_below(ceiling.saturating_add(1)));
    Some(jitter.max(asked))
}

/// A number in `0..n` (n > 0), from a process-wide splitmix64 sequence seeded by the clock:
/// spreading retries needs no better randomness.
fn random_below(n: u64) -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64)
    };
    let mut s = STATE.load(Ordering::Relaxed);
    if s == 0 {
        s = seed();
    }
    s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    STATE.store(s, Ordering::Relaxed);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % n.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cfg() -> RetryConfig {
        RetryConfig {
            max_attempts: 5,
            base_backoff_ms: 100,
            max_backoff_ms: 1_000,
            max_retry_after_ms: 3_000,
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504, 529] {
            assert!(
                matches!(verdict_of_status(s), Verdict::Retryable { .. }),
                "{s}"
            );
        }
        for s in [200, 400, 401, 404, 413, 501] {
            assert_eq!(verdict_of_status(s), Verdict::Done, "{s}");
        }
        assert_eq!(
            verdict_of_status(429),
            Verdict::Retryable { breaker: false }
        );
        assert_eq!(verdict_of_status(529), Verdict::Retryable { breaker: true });
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_a_cap() {
        for retry in 1..=6 {
            let ceiling = (100u64 << (retry - 1)).min(1_000);
            for _ in 0..200 {
                let d = backoff(&cfg(), retry, None).unwrap();
                assert!(d <= Duration::from_millis(ceiling), "{retry}: {d:?}");
            }
        }
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| backoff(&cfg(), 4, None).unwrap()).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }

    #[test]
    fn retry_after_is_honoured_up_to_its_cap() {
        let two = Some(Duration::from_secs(2));
        assert!(backoff(&cfg(), 1, two).unwrap() >= Duration::from_secs(2));
        assert_eq!(backoff(&cfg(), 1, Some(Duration::from_secs(4))), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut date = HeaderMap::new();
        date.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&date), None);
    }
}
