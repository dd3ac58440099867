//! Errors that reach a client, in the format that client expects.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tracegate_core::{Outcome, Provider};

/// Where a fault came from: it picks the status class and the trace outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    Client,
    Upstream,
    Internal,
}

/// A gateway error on a proxied route, rendered as the provider's own error JSON.
#[derive(Debug, Clone)]
pub struct ProxyError {
    pub status: StatusCode,
    pub source: ErrorSource,
    pub message: String,
    pub outcome: Outcome,
    /// Headers the answer carries besides `content-type` (`retry-after` on a 429); boxed
    /// so the error stays small on the common paths that have none.
    pub headers: Option<Box<HeaderMap>>,
    /// On a 429, OpenAI's error `type`: `requests` or `tokens`.
    pub limit_type: Option<&'static str>,
}

impl ProxyError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::BAD_REQUEST,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    pub fn too_large(limit: usize) -> Self {
        ProxyError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            source: ErrorSource::Client,
            message: format!("request body is larger than the gateway's limit of {limit} bytes"),
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    /// The client did not send its request in time.
    pub fn client_timeout(message: String) -> Self {
        ProxyError {
            status: StatusCode::REQUEST_TIMEOUT,
            source: ErrorSource::Client,
            message,
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::FORBIDDEN,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    /// A missing, unknown, expired or revoked virtual key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::UNAUTHORIZED,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::Unauthorized,
            headers: None,
            limit_type: None,
        }
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    pub fn no_route(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::NOT_FOUND,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::ClientError,
            headers: None,
            limit_type: None,
        }
    }

    pub fn shutting_down() -> Self {
        ProxyError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            source: ErrorSource::Internal,
            message: "the gateway is shutting down; retry the request".into(),
            outcome: Outcome::Cancelled,
            headers: None,
            limit_type: None,
        }
    }

    /// Something the gateway itself needs (the key store) cannot answer now: 503, retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            source: ErrorSource::Internal,
            message: message.into(),
            outcome: Outcome::GatewayError,
            headers: None,
            limit_type: None,
        }
    }

    /// The gateway shed the request to protect an upstream: its bulkhead was full or its
    /// circuit open, and no fallback answered. A fast 503 (Anthropic: `overloaded_error`).
    pub fn overloaded(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            source: ErrorSource::Upstream,
            message: message.into(),
            outcome: Outcome::Overloaded,
            headers: None,
            limit_type: None,
        }
    }

    pub fn unreachable(upstream: &str) -> Self {
        ProxyError {
            status: StatusCode::BAD_GATEWAY,
            source: ErrorSource::Upstream,
            message: format!("upstream {upstream:?} could not be reached"),
            outcome: Outcome::GatewayError,
            headers: None,
            limit_type: None,
        }
    }

    /// An upstream timeout before the response head; `message` names the timeout.
    pub fn timeout(message: String) -> Self {
        ProxyError {
            status: StatusCode::GATEWAY_TIMEOUT,
            source: ErrorSource::Upstream,
            message,
            outcome: Outcome::Timeout,
            headers: None,
            limit_type: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ProxyError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            source: ErrorSource::Internal,
            message: message.into(),
            outcome: Outcome::GatewayError,
            headers: None,
            limit_type: None,
        }
    }

    /// A rate limit or budget used up: 429 with `retry-after`, and `limit_type` (OpenAI's
    /// `requests` or `tokens`) in the OpenAI error body.
    pub fn rate_limited(
        message: impl Into<String>,
        limit_type: &'static str,
        retry_after_secs: u64,
    ) -> Self {
        let mut e = ProxyError {
            status: StatusCode::TOO_MANY_REQUESTS,
            source: ErrorSource::Client,
            message: message.into(),
            outcome: Outcome::RateLimited,
            headers: None,
            limit_type: Some(limit_type),
        };
        e.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        e
    }

    /// The headers the answer will carry, to add to.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(Box::default)
    }

    /// A short stable name, for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match (self.source, self.status.as_u16()) {
            (_, 413) => "too_large",
            (_, 408) => "client_timeout",
            (_, 404) => "no_route",
            (_, 403) => "forbidden",
            (_, 401) => "unauthorized",
            (_, 415) => "unsupported_media_type",
            (_, 429) => "rate_limited",
            (ErrorSource::Client, _) => "bad_request",
            (_, 504) => "timeout",
            (_, 503) if self.outcome == Outcome::Cancelled => "shutting_down",
            (_, 503) if self.outcome == Outcome::Overloaded => "overloaded",
            (_, 503) => "unavailable",
            (ErrorSource::Upstream, _) => "unreachable",
            (ErrorSource::Internal, _) => "internal",
        }
    }

    /// The error body in `provider`'s format.
    pub fn body(&self, provider: Provider) -> serde_json::Value {
        match provider {
            Provider::Anthropic => serde_json::json!({
                "type": "error",
                "error": { "type": self.anthropic_type(), "message": self.message },
            }),
            Provider::Openai => match self.limit_type {
                Some(limit_type) => serde_json::json!({
                    "error": {
                        "message": self.message,
                        "type": limit_type,
                        "param": null,
                        "code": "rate_limit_exceeded",
                    },
                }),
                None => serde_json::json!({
                    "error": {
                        "message": self.message,
                        "type": self.openai_type(),
                        "param": null,
                        "code": null,
                    },
                }),
            },
        }
    }

    fn anthropic_type(&self) -> &'static str {
        match self.status.as_u16() {
            413 => "request_too_large",
            404 => "not_found_error",
            403 => "permission_error",
            401 => "authentication_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            504 => "timeout_error",
            503 if self.outcome == Outcome::Overloaded => "overloaded_error",
            _ => "api_error",
        }
    }

    fn openai_type(&self) -> &'static str {
        match self.source {
            ErrorSource::Client => "invalid_request_error",
            _ => "server_error",
        }
    }

    pub fn into_response_for(self, provider: Provider) -> Response {
        let body = self.body(provider).to_string();
        let mut resp = (self.status, body).into_response();
        if let Some(headers) = self.headers {
            resp.headers_mut().extend(*headers);
        }
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// An error on the gateway's own API (`/api`, `/ready`), as `{"error": {...}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// A JSON pointer to the bad part of the request, when there is one.
    pub pointer: Option<String>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, pointer: Option<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            pointer,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            pointer: None,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message:
                "missing or wrong admin token: send Authorization: Bearer <TRACEGATE_ADMIN_TOKEN>"
                    .into(),
            pointer: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::with_status(StatusCode::FORBIDDEN, message)
    }

    /// An error with any status; its kind follows from the status.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            pointer: None,
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            pointer: None,
        }
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            400..=499 => "bad_request",
            503 => "unavailable",
            _ => "internal",
        }
    }
}

impl From<tracegate_store::StoreError> for ApiError {
    fn from(e: tracegate_store::StoreError) -> Self {
        tracing::error!(error = %e, "store query failed");
        ApiError::unavailable("the trace store is unavailable; try again shortly")
    }
}

impl ApiError {
    /// The JSON the client gets: `{"error": {"kind", "message", "pointer"}}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind().to_owned(),
                message: self.message.clone(),
                pointer: self.pointer.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// The body of every error of the gateway's own API.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, and where in the request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A short stable name: `bad_request`, `unauthorized`, `not_found`, `unavailable`, `internal`.
    pub kind: String,
    /// What is wrong, in words.
    pub message: String,
    /// A JSON pointer to the bad part of the request (`/filter/and/1/op`, `/query/limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_each_providers_format() {
        let e = ProxyError::too_large(10);
        let a = e.body(Provider::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "request_too_large");
        let o = e.body(Provider::Openai);
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert!(o["error"]["message"].as_str().unwrap().contains("10 bytes"));
        assert_eq!(
            ProxyError::timeout("x".into()).body(Provider::Anthropic)["error"]["type"],
            "timeout_error"
        );
        assert_eq!(ProxyError::unreachable("x").kind(), "unreachable");
        let e = ProxyError::forbidden("no");
        assert_eq!(
            (e.kind(), e.status.as_u16(), e.outcome),
            ("forbidden", 403, Outcome::ClientError)
        );
        assert_eq!(
            e.body(Provider::Anthropic)["error"]["type"],
            "permission_error"
        );
        assert_eq!(
            e.body(Provider::Openai)["error"]["type"],
            "invalid_request_error"
        );
        let e = ProxyError::unsupported_media_type("json please");
        assert_eq!(
            (e.kind(), e.status.as_u16()),
            ("unsupported_media_type", 415)
        );
        assert_eq!(
            e.body(Provider::Anthropic)["error"]["type"],
            "invalid_request_error"
        );
    }

    #[test]
    fn rate_limits_are_429s_with_retry_after_in_each_providers_format() {
        let e = ProxyError::rate_limited("rate limit: x", "tokens", 7);
        assert_eq!(
            (e.kind(), e.status.as_u16(), e.outcome),
            ("rate_limited", 429, Outcome::RateLimited)
        );
        let a = e.body(Provider::Anthropic);
        assert_eq!(a["error"]["type"], "rate_limit_error");
        let o = e.body(Provider::Openai);
        assert_eq!(o["error"]["type"], "tokens");
        assert_eq!(o["error"]["code"], "rate_limit_exceeded");
        let resp = e.into_response_for(Provider::Openai);
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }

    #[test]
    fn overloaded_is_a_503_in_each_providers_format() {
        let e = ProxyError::overloaded("upstream \"a\" is overloaded (circuit open)");
        assert_eq!(
            (e.kind(), e.status.as_u16(), e.outcome),
            ("overloaded", 503, Outcome::Overloaded)
        );
        let a = e.body(Provider::Anthropic);
        assert_eq!(a["error"]["type"], "overloaded_error");
        assert!(a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("circuit open"));
        assert_eq!(e.body(Provider::Openai)["error"]["type"], "server_error");
        assert_eq!(ProxyError::shutting_down().kind(), "shutting_down");
    }
}
