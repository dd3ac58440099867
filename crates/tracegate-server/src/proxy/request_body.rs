//! Reading and inspecting the client's request body.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;

use crate::error::ProxyError;

/// Reads the whole body, refusing more than `limit` bytes (checked against
/// `Content-Length` first, so an oversize upload is refused without reading it) and a body
/// not complete `within` (408).
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    within: Duration,
) -> Result<Bytes, ProxyError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ProxyError::too_large(limit));
    }
    let read = tokio::time::timeout(within, Limited::new(body, limit).collect()).await;
    let Ok(read) = read else {
        return Err(ProxyError::client_timeout(format!(
            "timeout: the client did not send the whole request body within {}s",
            within.as_secs()
        )));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ProxyError::too_large(limit))
        }
        Err(e) => Err(ProxyError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// The few fields the proxy needs, read without building a JSON tree.
#[derive(Debug, Default, Deserialize)]
pub struct Peek {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl Peek {
    /// Validates that `body` is one JSON object and reads `model` and `stream`.
    pub fn parse(body: &[u8]) -> Result<Peek, ProxyError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ProxyError::bad_request(
                "request body is empty; expected a JSON object",
            ));
        }
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ProxyError::bad_request(
                "request body must be a JSON object",
            ));
        }
        serde_json::from_slice::<Peek>(body)
            .map_err(|e| ProxyError::bad_request(format!("request body is not valid JSON: {e}")))
    }

    /// Best effort for endpoints where JSON is optional: never an error.
    pub fn lenient(body: &[u8]) -> Peek {
        if body.first() == Some(&b'{') {
            serde_json::from_slice(body).unwrap_or_default()
        } else {
            Peek::default()
        }
    }

    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    pub fn asked_for_usage(&self) -> bool {
        self.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true)
    }
}

/// Adds `stream_options.include_usage = true` to an OpenAI chat request body.
pub fn with_include_usage(body: &[u8]) -> Result<Bytes, ProxyError> {
    let mut v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ProxyError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(ProxyError::bad_request(
            "request body must be a JSON object",
        ));
    };
    let opts = obj
        .entry("stream_options")
        .or_insert_with(|| serde_json::json!({}));
    if !opts.is_object() {
        *opts = serde_json::json!({});
    }
    if let Some(o) = opts.as_object_mut() {
        o.insert("include_usage".into(), serde_json::Value::Bool(true));
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| ProxyError::internal(format!("could not re-encode the request: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_model_and_stream_and_rejects_non_objects() {
        let p = Peek::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        )
        .unwrap();
        assert_eq!(p.model.as_deref(), Some("m"));
        assert!(p.is_stream() && !p.asked_for_usage());
        let p = Peek::parse(br#"{"stream":true,"stream_options":{"include_usage":true,"x":1}}"#)
            .unwrap();
        assert!(p.asked_for_usage());
        for bad in [
            &b""[..],
            b"  ",
            b"[1]",
            b"{\"model\":",
            b"not json",
            b"{\"model\":5}",
        ] {
            let e = Peek::parse(bad).unwrap_err();
            assert_eq!(
                e.status,
                http::StatusCode::BAD_REQUEST,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn include_usage_is_added_without_losing_fields() {
        let out = with_include_usage(
            br#"{"model":"m","stream":true,"stream_options":{"include_obfuscation":false}}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["include_obfuscation"], false);
        assert_eq!(v["model"], "m");
        let out = with_include_usage(br#"{"stream":true}"#).unwrap();
        assert!(Peek::parse(&out).unwrap().asked_for_usage());
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_body_that_stalls_is_a_408() {
        use futures_util::StreamExt;
        let half = Ok::<_, std::io::Error>(Bytes::from_static(b"{\"model\""));
        let stalled = futures_util::stream::iter([half]).chain(futures_util::stream::pending());
        let body = Body::from_stream(stalled);
        let err = read_limited(&HeaderMap::new(), body, 100, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(err.status, http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(err.outcome, tracegate_core::Outcome::ClientError);
        assert!(err.message.starts_with("timeout: "), "{}", err.message);
    }

    #[tokio::test]
    async fn oversize_bodies_are_refused() {
        let err = read_limited(&HeaderMap::new(), Body::from(vec![b'x'; 11]), 10, SECOND)
            .await
            .unwrap_err();
        assert_eq!(err.status, http::StatusCode::PAYLOAD_TOO_LARGE);
        let ok = read_limited(&HeaderMap::new(), Body::from(vec![b'x'; 10]), 10, SECOND)
            .await
            .unwrap();
        assert_eq!(ok.len(), 10);
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("999"),
        );
        let err = read_limited(&h, Body::empty(), 10, SECOND)
            .await
            .unwrap_err();
        assert_eq!(err.status, http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
