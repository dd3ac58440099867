//! When a request may be answered from the cache, and for how long its answer is kept.
//!
//! - Only `POST /v1/messages` and `POST /v1/chat/completions` are cached.
//! - `X-Tracegate-Cache: ttl=N` turns the cache on for this request, for N seconds, whatever
//!   its parameters: the client asked for this very request to be cached, sampled or not.
//! - `X-Tracegate-Cache: no-store` (or `off`) turns it off for this request: no lookup, no store.
//! - Without the header, an upstream's `cache_ttl_secs` turns it on for every request that
//!   does not ask for sampling itself. A request that sets `temperature` above 0 asked for
//!   varied answers, and a setting that applies to all traffic does not overrule that. A
//!   request without `temperature` is cached: the operator opted in, and Anthropic's current
//!   API (and its SDK) has no `temperature` at all.

use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::Value;

/// The request header that steers the cache, and the response header that tells hit or miss.
pub const CACHE_HEADER: &str = "x-tracegate-cache";

/// The longest time an answer is kept: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// What the request's `X-Tracegate-Cache` header asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    /// No header: the upstream's setting applies.
    Default,
    /// `ttl=N`: cache this request for N seconds.
    Ttl(Duration),
    /// `no-store` or `off`: neither look up nor store.
    Bypass,
}

/// Reads the header; a value that is not one of the three forms is the client's error.
pub fn directive(headers: &HeaderMap) -> Result<Directive, String> {
    let Some(raw) = headers.get(CACHE_HEADER) else {
        return Ok(Directive::Default);
    };
    let bad = || {
        format!(
            "{CACHE_HEADER} must be ttl=<seconds> (1 to {MAX_TTL_SECS}), no-store or off; got {:?}",
            String::from_utf8_lossy(raw.as_bytes())
                .chars()
                .take(64)
                .collect::<String>()
        )
    };
    let value = raw.to_str().map_err(|_| bad())?.trim().to_ascii_lowercase();
    match value.as_str() {
        "no-store" | "off" => return Ok(Directive::Bypass),
        _ => {}
    }
    let secs = value
        .strip_prefix("ttl=")
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u64>().ok())
        .filter(|s| (1..=MAX_TTL_SECS).contains(s))
        .ok_or_else(bad)?;
    Ok(Directive::Ttl(Duration::from_secs(secs)))
}

/// Why a request is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The request's own `X-Tracegate-Cache: ttl=N`.
    Header,
    /// The upstream's `cache_ttl_secs`.
    Upstream,
}

/// How long this request's answer would be kept, before looking at its body; `None`
/// when the cache does not apply (then nothing is parsed or hashed).
pub fn ttl(directive: Directive, upstream_ttl: Option<Duration>) -> Option<(Duration, Source)> {
    match directive {
        Directive::Bypass => None,
        Directive::Ttl(t) => Some((t, Source::Header)),
        Directive::Default => upstream_ttl
            .filter(|t| !t.is_zero())
            .map(|t| (t, Source::Upstream)),
    }
}

/// The endpoints whose answers are cached: the two generation endpoints.
pub fn cacheable_endpoint(method: &Method, path: &str) -> bool {
    method == Method::POST && (path == "/v1/messages" || path == "/v1/chat/completions")
}

/// Whether the body asks for sampling itself: a `temperature` other than 0.
pub fn asks_for_sampling(body: &Value) -> bool {
    match body.get("temperature") {
        None | Some(Value::Null) => false,
        Some(t) => t.as_f64() != Some(0.0),
    }
}

/// Whether a request with this body and source may be cached.
pub fn admits(source: Source, body: &Value) -> bool {
    match source {
        Source::Header => true,
        Source::Upstream => !asks_for_sampling(body),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_HEADER, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn the_header_takes_three_forms() {
        assert_eq!(directive(&HeaderMap::new()), Ok(Directive::Default));
        assert_eq!(
            directive(&with("ttl=600")),
            Ok(Directive::Ttl(Duration::from_secs(600)))
        );
        assert_eq!(
            directive(&with(" TTL=60 ")),
            Ok(Directive::Ttl(Duration::from_secs(60)))
        );
        assert_eq!(directive(&with("no-store")), Ok(Directive::Bypass));
        assert_eq!(directive(&with("Off")), Ok(Directive::Bypass));
        for bad in [
            "ttl=0",
            "ttl=-1",
            "ttl=",
            "ttl=1h",
            "ttl=99999999999",
            "yes",
            "",
        ] {
            let e = directive(&with(bad)).unwrap_err();
            assert!(e.contains(CACHE_HEADER), "{bad}: {e}");
        }
    }

    #[test]
    fn the_header_wins_over_the_upstream() {
        let five = Duration::from_secs(300);
        let up = Some(five);
        let ten = Duration::from_secs(10);
        assert_eq!(ttl(Directive::Default, up), Some((five, Source::Upstream)));
        assert_eq!(ttl(Directive::Ttl(ten), up), Some((ten, Source::Header)));
        assert_eq!(ttl(Directive::Ttl(ten), None), Some((ten, Source::Header)));
        assert_eq!(ttl(Directive::Bypass, up), None);
        assert_eq!(ttl(Directive::Default, None), None);
        assert_eq!(ttl(Directive::Default, Some(Duration::ZERO)), None);
    }

    #[test]
    fn the_upstream_setting_skips_requests_that_ask_for_sampling() {
        for (body, admitted) in [
            (json!({"temperature": 0}), true),
            (json!({"temperature": 0.0}), true),
            (json!({"temperature": null}), true),
            (json!({}), true),
            (json!({"temperature": 0.7}), false),
            (json!({"temperature": "0"}), false),
        ] {
            assert_eq!(admits(Source::Upstream, &body), admitted, "{body}");
            assert!(admits(Source::Header, &body), "{body}");
        }
    }

    #[test]
    fn only_generation_endpoints_are_cached() {
        assert!(cacheable_endpoint(&Method::POST, "/v1/messages"));
        assert!(cacheable_endpoint(&Method::POST, "/v1/chat/completions"));
        assert!(!cacheable_endpoint(
            &Method::POST,
            "/v1/messages/count_tokens"
        ));
        assert!(!cacheable_endpoint(&Method::GET, "/v1/messages"));
        assert!(!cacheable_endpoint(&Method::POST, "/v1/embeddings"));
    }
}
