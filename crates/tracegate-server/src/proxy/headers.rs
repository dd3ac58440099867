//! Header rules: what is forwarded upstream, what comes back, and what is never kept.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};
use tracegate_core::Provider;

use crate::config::Secret;

pub const ACCOUNT_HEADER: &str = "x-tracegate-account";
pub const METADATA_HEADER: &str = "x-tracegate-metadata";
pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const UPSTREAM_REQUEST_ID_HEADER: &str = "x-upstream-request-id";

/// Largest `X-Tracegate-Metadata` accepted (400 above it): it is kept with the trace.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest `User-Agent` kept in a trace; a longer one is cut.
pub const MAX_USER_AGENT_BYTES: usize = 1024;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including any named by `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
}

/// Turns the client's headers into the upstream request's headers.
/// Body-framing headers are dropped (the client library sets them again), compression is
/// not requested (so the recorder sees plain bytes), and an injected key replaces the client's.
pub fn upstream_request_headers(
    mut headers: HeaderMap,
    provider: Provider,
    api_key: Option<&Secret>,
) -> HeaderMap {
    strip_hop_by_hop(&mut headers);
    for h in [
        header::HOST,
        header::CONTENT_LENGTH,
        header::ACCEPT_ENCODING,
        HeaderName::from_static(ACCOUNT_HEADER),
        HeaderName::from_static(METADATA_HEADER),
    ] {
        headers.remove(h);
    }
    if let Some(key) = api_key {
        headers.remove(header::AUTHORIZATION);
        headers.remove("x-api-key");
        let (name, value) = match provider {
            Provider::Anthropic => (
                HeaderName::from_static("x-api-key"),
                key.expose().to_string(),
            ),
            Provider::Openai => (header::AUTHORIZATION, format!("Bearer {}", key.expose())),
        };
        if let Ok(mut v) = HeaderValue::from_str(&value) {
            v.set_sensitive(true);
            headers.insert(name, v);
        }
    }
    headers
}

/// Turns the upstream's response headers into the client's: hop-by-hop removed, the trace id
/// in `x-request-id` (an upstream `x-request-id` moves to `x-upstream-request-id`).
pub fn client_response_headers(headers: &mut HeaderMap, trace_id: &str, body_rewritten: bool) {
    strip_hop_by_hop(headers);
    if body_rewritten {
        headers.remove(header::CONTENT_LENGTH);
    }
    if let Some(upstream_id) = headers.remove(REQUEST_ID_HEADER) {
        headers.insert(UPSTREAM_REQUEST_ID_HEADER, upstream_id);
    }
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
}

/// The credential the client sent, for fingerprinting (never stored).
pub fn client_credential(headers: &HeaderMap) -> Option<&str> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(tracegate_core::account::bearer_token);
    key.or(bearer).filter(|k| !k.is_empty())
}

/// The account a request belongs to: the explicit header, else a credential fingerprint.
pub fn account(headers: &HeaderMap) -> Option<String> {
    if let Some(a) = headers.get(ACCOUNT_HEADER).and_then(|v| v.to_str().ok()) {
        let a = a.trim();
        if !a.is_empty() {
            return Some(a.chars().take(200).collect());
        }
    }
    client_credential(headers).map(tracegate_core::account::credential_fingerprint)
}

/// The `User-Agent` to keep in the trace, cut to [`MAX_USER_AGENT_BYTES`] on a character
/// boundary.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let mut end = ua.len().min(MAX_USER_AGENT_BYTES);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    Some(ua[..end].to_string())
}

/// The `X-Tracegate-Metadata` header: absent is fine; anything but a JSON object of at most
/// [`MAX_METADATA_BYTES`] is an error.
pub fn metadata(headers: &HeaderMap) -> Result<Option<serde_json::Value>, String> {
    let Some(raw) = headers.get(METADATA_HEADER) else {
        return Ok(None);
    };
    if raw.len() > MAX_METADATA_BYTES {
        return Err(format!(
            "{METADATA_HEADER} is {} bytes; the gateway keeps at most {MAX_METADATA_BYTES}",
            raw.len()
        ));
    }
    let text = raw
        .to_str()
        .map_err(|_| format!("{METADATA_HEADER} must be ASCII JSON"))?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(Some(v)),
        Ok(_) => Err(format!("{METADATA_HEADER} must be a JSON object")),
        Err(e) => Err(format!("{METADATA_HEADER} is not valid JSON: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = map(&[
            ("connection", "x-foo, keep-alive"),
            ("x-foo", "1"),
            ("keep-alive", "5"),
            ("x-bar", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert!(h.get("x-foo").is_none() && h.get("connection").is_none());
        assert_eq!(h.get("x-bar").unwrap(), "2");
    }

    #[test]
    fn injected_key_replaces_the_clients() {
        let h = map(&[
            ("x-api-key", "client"),
            ("authorization", "Bearer client"),
            ("host", "x"),
            (ACCOUNT_HEADER, "a"),
        ]);
        let key = Secret::new("server-key");
        let out = upstream_request_headers(h.clone(), Provider::Anthropic, Some(&key));
        assert_eq!(out.get("x-api-key").unwrap(), "server-key");
        assert!(
            out.get("authorization").is_none()
                && out.get("host").is_none()
                && out.get(ACCOUNT_HEADER).is_none()
        );
        let out = upstream_request_headers(h.clone(), Provider::Openai, Some(&key));
        assert_eq!(out.get("authorization").unwrap(), "Bearer server-key");
        let out = upstream_request_headers(h, Provider::Openai, None);
        assert_eq!(out.get("x-api-key").unwrap(), "client");
    }

    #[test]
    fn response_gets_the_trace_id_and_keeps_the_upstream_one() {
        let mut h = map(&[("x-request-id", "req_up"), ("content-length", "10")]);
        client_response_headers(&mut h, "trace-1", true);
        assert_eq!(h.get(REQUEST_ID_HEADER).unwrap(), "trace-1");
        assert_eq!(h.get(UPSTREAM_REQUEST_ID_HEADER).unwrap(), "req_up");
        assert!(h.get("content-length").is_none());
    }

    #[test]
    fn account_prefers_the_header_then_fingerprints() {
        assert_eq!(
            account(&map(&[(ACCOUNT_HEADER, "team-a"), ("x-api-key", "k")])).unwrap(),
            "team-a"
        );
        let a = account(&map(&[("authorization", "Bearer sk-123")])).unwrap();
        assert_eq!(a, tracegate_core::account::credential_fingerprint("sk-123"));
        assert!(account(&HeaderMap::new()).is_none());
    }

    #[test]
    fn metadata_must_be_an_object() {
        assert!(metadata(&HeaderMap::new()).unwrap().is_none());
        assert_eq!(
            metadata(&map(&[(METADATA_HEADER, r#"{"run":"a"}"#)]))
                .unwrap()
                .unwrap()["run"],
            "a"
        );
        assert!(metadata(&map(&[(METADATA_HEADER, "[1]")])).is_err());
        assert!(metadata(&map(&[(METADATA_HEADER, "{oops")])).is_err());
    }

    #[test]
    fn metadata_and_user_agent_are_bounded() {
        let fits = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_METADATA_BYTES - 8));
        assert_eq!(fits.len(), MAX_METADATA_BYTES);
        let mut h = HeaderMap::new();
        h.insert(METADATA_HEADER, HeaderValue::from_str(&fits).unwrap());
        assert!(metadata(&h).unwrap().is_some());
        let over = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_METADATA_BYTES - 7));
        h.insert(METADATA_HEADER, HeaderValue::from_str(&over).unwrap());
        let err = metadata(&h).unwrap_err();
        assert!(err.contains("16384"), "{err}");

        assert_eq!(user_agent(&HeaderMap::new()), None);
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, HeaderValue::from_static("curl/8.5.0"));
        assert_eq!(user_agent(&h).unwrap(), "curl/8.5.0");
        let long = "a".repeat(5000);
        h.insert(header::USER_AGENT, HeaderValue::from_str(&long).unwrap());
        assert_eq!(user_agent(&h).unwrap().len(), MAX_USER_AGENT_BYTES);
        // Bytes beyond ASCII are not text to `to_str`: such a header is not kept at all.
        let utf8 = format!("{}é", "a".repeat(MAX_USER_AGENT_BYTES - 1));
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(utf8.as_bytes()).unwrap(),
        );
        assert_eq!(user_agent(&h), None);
    }
}
