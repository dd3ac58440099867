//! The rate-limit headers a response carries when a gateway limit applies to it, in the
//! shapes the providers' clients read:
//!
//! - every route: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
//!   `x-ratelimit-reset-requests` and the `-tokens` ones (OpenAI's; the reset a duration
//!   such as `1s` or `6m0s`);
//! - Anthropic routes also: `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset`
//!   and the `anthropic-ratelimit-tokens-*` ones (the reset an RFC 3339 time).
//!
//! Requests are the tightest requests-per-minute limit; tokens the tightest token limit
//! (per minute or per 5 hours), tightest meaning the fewest remaining. Budgets have no
//! header. They replace the upstream's headers of the same names.

use chrono::{SecondsFormat, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use tracegate_core::Provider;

use super::counters::Standing;
use super::LimitKind;

const OPENAI_REQUESTS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
const OPENAI_TOKENS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];
const ANTHROPIC_REQUESTS: [HeaderName; 3] = [
    HeaderName::from_static("anthropic-ratelimit-requests-limit"),
    HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
    HeaderName::from_static("anthropic-ratelimit-requests-reset"),
];
const ANTHROPIC_TOKENS: [HeaderName; 3] = [
    HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
    HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
    HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
];

/// Sets the headers for `standings` at `now_ms` on a response of `provider`'s route.
pub fn apply(headers: &mut HeaderMap, provider: Provider, standings: &[Standing], now_ms: i64) {
    let requests = tightest(standings, |k| k == LimitKind::Rpm);
    let tokens = tightest(standings, |k| {
        matches!(k, LimitKind::Tpm | LimitKind::Tokens5h)
    });
    for (standing, openai, anthropic) in [
        (requests, &OPENAI_REQUESTS, &ANTHROPIC_REQUESTS),
        (tokens, &OPENAI_TOKENS, &ANTHROPIC_TOKENS),
    ] {
        let Some(s) = standing else { continue };
        let [limit, remaining, reset] = openai.clone();
        headers.insert(limit, HeaderValue::from(s.limit));
        headers.insert(remaining, HeaderValue::from(s.remaining));
        let wait_ms = s.whole_at_ms.saturating_sub(now_ms).max(0);
        if let Ok(v) = HeaderValue::from_str(&duration(wait_ms)) {
            headers.insert(reset, v);
        }
        if provider == Provider::Anthropic {
            let [limit, remaining, reset] = anthropic.clone();
            headers.insert(limit, HeaderValue::from(s.limit));
            headers.insert(remaining, HeaderValue::from(s.remaining));
            if let Ok(v) = HeaderValue::from_str(&rfc3339(s.whole_at_ms.max(now_ms))) {
                headers.insert(reset, v);
            }
        }
    }
}

fn tightest(standings: &[Standing], of: impl Fn(LimitKind) -> bool) -> Option<&Standing> {
    standings
        .iter()
        .filter(|s| of(s.kind))
        .min_by_key(|s| (s.remaining, std::cmp::Reverse(s.whole_at_ms)))
}

/// A duration as OpenAI writes it: `250ms`, `1s`, `6m0s`, `1h2m3s`; whole seconds
/// rounded up past one second.
pub fn duration(ms: i64) -> String {
    if ms <= 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = (ms + 999) / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Unix ms as RFC 3339 to the second, rounded up (the limit is whole by then).
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0);
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_openai_writes_them() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(20), "20ms");
        assert_eq!(duration(1000), "1s");
        assert_eq!(duration(1001), "2s");
        assert_eq!(duration(360_000), "6m0s");
        assert_eq!(duration(3_723_000), "1h2m3s");
    }

    #[test]
    fn the_tightest_limit_is_shown_and_upstream_values_are_replaced() {
        let now = 1_800_000_000_000;
        let s = |kind, limit, remaining, whole_at_ms| Standing {
            kind,
            limit,
            remaining,
            whole_at_ms,
        };
        let standings = [
            s(LimitKind::Rpm, 100, 90, now + 60_000),
            s(LimitKind::Rpm, 10, 3, now + 6_000),
            s(LimitKind::Tokens5h, 1_000_000, 999, now + 3_600_000),
            s(LimitKind::UsdDay, 5, 0, now + 1_000),
        ];
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-limit-requests",
            HeaderValue::from_static("9999"),
        );
        apply(&mut h, Provider::Anthropic, &standings, now);
        let get = |n: &str| h.get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h.get_all("x-ratelimit-limit-requests").iter().count(), 1);
        assert_eq!(get("x-ratelimit-limit-requests"), "10");
        assert_eq!(get("x-ratelimit-remaining-requests"), "3");
        assert_eq!(get("x-ratelimit-reset-requests"), "6s");
        assert_eq!(get("x-ratelimit-reset-tokens"), "1h0m0s");
        assert_eq!(get("anthropic-ratelimit-requests-limit"), "10");
        assert_eq!(
            get("anthropic-ratelimit-requests-reset"),
            "2027-01-15T08:00:06Z"
        );
        assert_eq!(get("anthropic-ratelimit-tokens-remaining"), "999");
        let mut h = HeaderMap::new();
        apply(&mut h, Provider::Openai, &standings[..1], now);
        assert!(h.get("anthropic-ratelimit-requests-limit").is_none());
        assert!(h.get("x-ratelimit-limit-tokens").is_none());
    }
}
