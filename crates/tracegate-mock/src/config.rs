//! Mock configuration and the per-request settings derived from it.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

/// Upper bound on the tokens generated for one response.
pub const MAX_OUTPUT_TOKENS: u32 = 100_000;
/// Upper bound on any configured or requested delay, in milliseconds.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Header forcing an error status (`x-mock-status: 429`).
pub const HEADER_STATUS: &str = "x-mock-status";
/// Header overriding [`MockConfig::output_tokens`].
pub const HEADER_OUTPUT_TOKENS: &str = "x-mock-output-tokens";
/// Header overriding [`MockConfig::ttft_ms`].
pub const HEADER_TTFT_MS: &str = "x-mock-ttft-ms";
/// Header overriding [`MockConfig::inter_token_ms`].
pub const HEADER_INTER_TOKEN_MS: &str = "x-mock-inter-token-ms";
/// Header overriding [`MockConfig::latency_ms`].
pub const HEADER_LATENCY_MS: &str = "x-mock-latency-ms";
/// Header making a stream fail after that many content deltas.
pub const HEADER_ERROR_AFTER: &str = "x-mock-error-after";
/// Header overriding the `retry-after` seconds sent with 429 answers.
pub const HEADER_RETRY_AFTER: &str = "x-mock-retry-after";
/// Header limiting `x-mock-status` to the first N requests that carry the same
/// [`HEADER_FAIL_KEY`]: later ones are answered normally, as an SDK retry would be.
pub const HEADER_FAIL_FIRST: &str = "x-mock-fail-first";
/// Header naming the requests [`HEADER_FAIL_FIRST`] counts together (absent: one shared key).
pub const HEADER_FAIL_KEY: &str = "x-mock-fail-key";
/// Header making that fraction (0..1) of requests fail, with `x-mock-status` (else the
/// configured error status): a provider with an error rate.
pub const HEADER_ERROR_RATE: &str = "x-mock-error-rate";
/// Header closing a stream's connection after that many events, without the stream's end:
/// a connection dropped mid-stream.
pub const HEADER_ABORT_AFTER: &str = "x-mock-abort-after";
/// Header whose JSON object's members are written over the answer's `usage` object (in a
/// stream: the last usage an Anthropic `message_delta` or OpenAI usage chunk reports), to
/// play a provider that reports odd usage: `{"output_tokens": 18446744073709551615}`.
pub const HEADER_USAGE_OVERRIDE: &str = "x-mock-usage-override";

/// Behaviour of the mock provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MockConfig {
    /// Delay before the response headers are sent.
    pub latency_ms: u64,
    /// Streams: delay from the headers to the first content token.
    pub ttft_ms: u64,
    /// Streams: delay between two content deltas.
    pub inter_token_ms: u64,
    /// Tokens (words) generated per response.
    pub output_tokens: u32,
    /// Fraction (0..1) of generation requests answered with an error.
    pub error_rate: f64,
    /// Status of injected errors (429, 500 or 529); 429 carries `retry-after`.
    pub error_status: u16,
    /// Seed for error injection, ids and generated text; random when `None`.
    pub seed: Option<u64>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            ttft_ms: 0,
            inter_token_ms: 0,
            output_tokens: 16,
            error_rate: 0.0,
            error_status: 500,
            seed: None,
        }
    }
}

impl MockConfig {
    /// Status used for injected errors; anything that is not an error status becomes 500.
    pub(crate) fn injected_status(&self) -> StatusCode {
        error_status(u64::from(self.error_status)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Effective settings of one request: the config overridden by `x-mock-*` headers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RequestParams {
    pub latency: Duration,
    pub ttft: Duration,
    pub inter_token: Duration,
    pub output_tokens: u32,
    pub forced_status: Option<StatusCode>,
    /// With `forced_status`: only the first `n` requests of this key fail.
    pub fail_first: Option<(String, u64)>,
    pub error_after: Option<u32>,
    /// With `x-mock-error-rate`: the fraction of requests that fail.
    pub error_rate: Option<f64>,
    pub abort_after: Option<u32>,
    pub retry_after_secs: u64,
    pub tool_use: Option<crate::tool_use::ToolUse>,
    pub usage_override: Option<serde_json::Map<String, serde_json::Value>>,
}

impl RequestParams {
    /// Reads the overrides from `headers`; malformed values are ignored.
    pub fn new(cfg: &MockConfig, headers: &HeaderMap) -> Self {
        let delay = |name: &str, configured: u64| {
            let ms = header_u64(headers, name).unwrap_or(configured);
            Duration::from_millis(ms.min(MAX_DELAY_MS))
        };
        let output_tokens = header_u64(headers, HEADER_OUTPUT_TOKENS)
            .map_or(cfg.output_tokens, |n| u32::try_from(n).unwrap_or(u32::MAX))
            .min(MAX_OUTPUT_TOKENS);
        Self {
            latency: delay(HEADER_LATENCY_MS, cfg.latency_ms),
            ttft: delay(HEADER_TTFT_MS, cfg.ttft_ms),
            inter_token: delay(HEADER_INTER_TOKEN_MS, cfg.inter_token_ms),
            output_tokens,
            forced_status: header_u64(headers, HEADER_STATUS).and_then(error_status),
            fail_first: header_u64(headers, HEADER_FAIL_FIRST).map(|n| {
                let key = headers.get(HEADER_FAIL_KEY).and_then(|v| v.to_str().ok());
                (key.unwrap_or("").chars().take(128).collect(), n)
            }),
            error_after: header_u64(headers, HEADER_ERROR_AFTER)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            error_rate: headers
                .get(HEADER_ERROR_RATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|r| r.is_finite()),
            abort_after: header_u64(headers, HEADER_ABORT_AFTER)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            retry_after_secs: header_u64(headers, HEADER_RETRY_AFTER).unwrap_or(1),
            tool_use: crate::tool_use::ToolUse::from_headers(headers),
            usage_override: headers
                .get(HEADER_USAGE_OVERRIDE)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| serde_json::from_str(s).ok()),
        }
    }

    /// Sleeps for the configured latency (before the response headers).
    pub async fn wait_latency(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

/// A header parsed as an unsigned integer, if present and well formed.
fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `code` as a status code if it is an error status (400..=599).
fn error_status(code: u64) -> Option<StatusCode> {
    if !(400..=599).contains(&code) {
        return None;
    }
    StatusCode::from_u16(u16::try_from(code).ok()?).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn defaults_follow_the_config() {
        let cfg = MockConfig {
            latency_ms: 5,
            ttft_ms: 7,
            inter_token_ms: 3,
            output_tokens: 9,
            ..MockConfig::default()
        };
        let params = RequestParams::new(&cfg, &HeaderMap::new());
        assert_eq!(params.latency, Duration::from_millis(5));
        assert_eq!(params.ttft, Duration::from_millis(7));
        assert_eq!(params.inter_token, Duration::from_millis(3));
        assert_eq!(params.output_tokens, 9);
        assert_eq!(params.forced_status, None);
        assert_eq!(params.fail_first, None);
        assert_eq!(params.error_after, None);
        assert_eq!(params.retry_after_secs, 1);
        assert_eq!(params.usage_override, None);
    }

    #[test]
    fn usage_override_is_a_json_object_or_nothing() {
        let h = headers(&[(
            HEADER_USAGE_OVERRIDE,
            r#"{"output_tokens": 18446744073709551615}"#,
        )]);
        let over = RequestParams::new(&MockConfig::default(), &h)
            .usage_override
            .unwrap();
        assert_eq!(over["output_tokens"].as_u64(), Some(u64::MAX));
        for bad in ["[1]", "{oops", "7"] {
            let h = headers(&[(HEADER_USAGE_OVERRIDE, bad)]);
            assert_eq!(
                RequestParams::new(&MockConfig::default(), &h).usage_override,
                None
            );
        }
    }

    #[test]
    fn headers_override_and_are_clamped() {
        let h = headers(&[
            (HEADER_STATUS, "529"),
            (HEADER_OUTPUT_TOKENS, "99999999999"),
            (HEADER_TTFT_MS, " 12 "),
            (HEADER_LATENCY_MS, "999999999"),
            (HEADER_ERROR_AFTER, "3"),
            (HEADER_INTER_TOKEN_MS, "not a number"),
            (HEADER_ERROR_RATE, "0.25"),
            (HEADER_ABORT_AFTER, "4"),
        ]);
        let params = RequestParams::new(&MockConfig::default(), &h);
        assert_eq!(
            params.forced_status,
            Some(StatusCode::from_u16(529).unwrap())
        );
        assert_eq!(params.output_tokens, MAX_OUTPUT_TOKENS);
        assert_eq!(params.ttft, Duration::from_millis(12));
        assert_eq!(params.latency, Duration::from_millis(MAX_DELAY_MS));
        assert_eq!(params.inter_token, Duration::ZERO);
        assert_eq!(params.error_after, Some(3));
        assert_eq!(params.error_rate, Some(0.25));
        assert_eq!(params.abort_after, Some(4));
    }

    #[test]
    fn non_error_statuses_are_ignored() {
        for value in ["200", "302", "600", "abc", "-1"] {
            let mut h = HeaderMap::new();
            h.insert(HEADER_STATUS, HeaderValue::from_str(value).unwrap());
            assert_eq!(
                RequestParams::new(&MockConfig::default(), &h).forced_status,
                None
            );
        }
        let cfg = MockConfig {
            error_status: 200,
            ..MockConfig::default()
        };
        assert_eq!(cfg.injected_status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cfg = MockConfig {
            error_status: 429,
            ..MockConfig::default()
        };
        assert_eq!(cfg.injected_status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
