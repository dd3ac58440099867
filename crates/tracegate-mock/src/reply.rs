//! Response builders shared by the provider handlers.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use crate::state::Shared;

/// Content type of JSON answers.
pub(crate) const JSON: &str = "application/json";
/// Content type of event streams, as the real providers send it.
pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// Which provider's conventions a response follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions API.
    OpenAi,
}

impl Provider {
    /// The provider a request is addressed to: by path, else by Anthropic headers.
    pub fn detect(path: &str, headers: &axum::http::HeaderMap) -> Self {
        if path.starts_with("/v1/messages") {
            Self::Anthropic
        } else if path.starts_with("/v1/chat/") {
            Self::OpenAi
        } else if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
            Self::Anthropic
        } else {
            Self::OpenAi
        }
    }
}

/// Compact JSON of `value`.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|err| {
        tracing::error!(%err, "serialising a mock response failed");
        b"{}".to_vec()
    })
}

/// A response with `status`, `content_type` and `body`.
pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    with_body(status, JSON, Body::from(body))
}

/// An event-stream response around a streaming `body`.
pub(crate) fn event_stream(body: Body) -> Response {
    let mut resp = with_body(StatusCode::OK, EVENT_STREAM, body);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Sets header `name` to `value`, skipping values that are not valid header text.
pub(crate) fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        resp.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Adds the request id header the provider sends with every answer.
pub(crate) fn add_request_id(resp: &mut Response, provider: Provider, st: &Shared) {
    match provider {
        Provider::Anthropic => set_header(resp, "request-id", &st.ids.anthropic_request_id()),
        Provider::OpenAi => {
            set_header(resp, "x-request-id", &st.ids.openai_request_id());
            set_header(resp, "openai-version", "2020-10-01");
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn provider_detection() {
        let none = HeaderMap::new();
        let mut anthropic = HeaderMap::new();
        anthropic.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        let mut key = HeaderMap::new();
        key.insert("x-api-key", HeaderValue::from_static("k"));
        assert_eq!(Provider::detect("/v1/messages", &none), Provider::Anthropic);
        assert_eq!(
            Provider::detect("/v1/messages/count_tokens", &none),
            Provider::Anthropic
        );
        assert_eq!(
            Provider::detect("/v1/chat/completions", &anthropic),
            Provider::OpenAi
        );
        assert_eq!(Provider::detect("/v1/models", &none), Provider::OpenAi);
        assert_eq!(
            Provider::detect("/v1/models", &anthropic),
            Provider::Anthropic
        );
        assert_eq!(Provider::detect("/nope", &key), Provider::Anthropic);
    }
}
