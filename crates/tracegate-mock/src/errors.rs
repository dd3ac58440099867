//! Error bodies and error responses in each provider's format.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::reply::{self, Provider};
use crate::state::Shared;

/// An API error to report to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: Option<String>,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl ApiError {
    /// An error with the provider's default message for `status`.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            message: None,
            param: None,
            code: None,
        }
    }

    /// A 400 `invalid_request_error` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST).with_message(message)
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the OpenAI `param` and `code` fields.
    pub fn with_param(mut self, param: &'static str, code: &'static str) -> Self {
        self.param = Some(param);
        self.code = Some(code);
        self
    }

    /// The JSON body of this error for `provider`.
    pub fn body(&self, provider: Provider) -> Vec<u8> {
        match provider {
            Provider::Anthropic => {
                let (kind, default) = anthropic_kind(self.status);
                anthropic_body(kind, self.message.as_deref().unwrap_or(default))
            }
            Provider::OpenAi => {
                let d = openai_kind(self.status);
                reply::to_json(&OpenAiEnvelope {
                    error: OpenAiError {
                        message: self.message.as_deref().unwrap_or(d.message),
                        kind: d.kind,
                        param: self.param,
                        code: self.code.or(d.code),
                    },
                })
            }
        }
    }

    /// The full error response for `provider`, with the headers the provider sends.
    pub fn response(&self, provider: Provider, st: &Shared, retry_after_secs: u64) -> Response {
        let mut resp = reply::json(self.status, self.body(provider));
        reply::add_request_id(&mut resp, provider, st);
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            reply::set_header(&mut resp, "retry-after", &retry_after_secs.to_string());
        }
        if provider == Provider::Anthropic {
            let retry =
                matches!(self.status.as_u16(), 408 | 409 | 429) || self.status.is_server_error();
            reply::set_header(
                &mut resp,
                "x-should-retry",
                if retry { "true" } else { "false" },
            );
        }
        resp
    }
}

/// Why a request body was rejected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body is not a JSON object of the expected shape.
    #[error("The request body is not valid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    /// A required field is absent.
    #[error("{0}: Field required")]
    Missing(&'static str),
    /// A field that must be a list is something else.
    #[error("{0}: Input should be a valid list")]
    NotAList(&'static str),
}

impl BodyError {
    /// The 400 answer for this error, phrased as `provider` phrases it.
    pub fn api_error(&self, provider: Provider) -> ApiError {
        match (provider, self) {
            (Provider::Anthropic, _) => ApiError::invalid(self.to_string()),
            (Provider::OpenAi, Self::InvalidJson(_)) => ApiError::invalid(OPENAI_BAD_JSON),
            (Provider::OpenAi, Self::Missing("model")) => {
                ApiError::invalid("you must provide a model parameter")
            }
            (Provider::OpenAi, Self::Missing(field)) => {
                ApiError::invalid(format!("Missing required parameter: '{field}'."))
                    .with_param(field, "missing_required_parameter")
            }
            (Provider::OpenAi, Self::NotAList(field)) => ApiError::invalid(format!(
                "Invalid type for '{field}': expected an array of objects."
            ))
            .with_param(field, "invalid_type"),
        }
    }
}

const OPENAI_BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

#[derive(Serialize)]
struct AnthropicEnvelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: AnthropicError<'a>,
}

#[derive(Serialize)]
struct AnthropicError<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct OpenAiEnvelope<'a> {
    error: OpenAiError<'a>,
}

#[derive(Serialize)]
struct OpenAiError<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

/// `{"type":"error","error":{"type":kind,"message":message}}`.
pub(crate) fn anthropic_body(kind: &str, message: &str) -> Vec<u8> {
    reply::to_json(&AnthropicEnvelope {
        kind: "error",
        error: AnthropicError { kind, message },
    })
}

/// The OpenAI error object of a failure inside a stream.
pub(crate) fn openai_stream_error_body() -> Vec<u8> {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR).body(Provider::OpenAi)
}

/// Anthropic error type and default message of `status`.
fn anthropic_kind(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("invalid_request_error", "Invalid request"),
        401 => ("authentication_error", "invalid x-api-key"),
        402 => ("billing_error", "Your credit balance is too low to access the Anthropic API."),
        403 => ("permission_error", "Your API key does not have permission to use the specified resource."),
        404 => ("not_found_error", "Not found"),
        413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429 => ("rate_limit_error", "This request would exceed the rate limit for your organization. Please try again later."),
        504 => ("timeout_error", "Request timed out"),
        529 => ("overloaded_error", "Overloaded"),
        s if s >= 500 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Invalid request"),
    }
}

struct OpenAiDefaults {
    message: &'static str,
    kind: &'static str,
    code: Option<&'static str>,
}

/// OpenAI error type, default message and code of `status`.
fn openai_kind(status: StatusCode) -> OpenAiDefaults {
    let d = |message, kind, code| OpenAiDefaults {
        message,
        kind,
        code,
    };
    match status.as_u16() {
        401 => d(
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => d(
            "You are not allowed to access this resource.",
            "invalid_request_error",
            None,
        ),
        404 => d(
            "The requested resource does not exist.",
            "invalid_request_error",
            None,
        ),
        413 => d("Request too large.", "invalid_request_error", None),
        429 => d(
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 => d(
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
        ),
        s if s >= 500 => d(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        _ => d("Invalid request", "invalid_request_error", None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(body: Vec<u8>) -> Value {
        serde_json::from_slice(&body).unwrap()
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn anthropic_bodies_use_the_documented_types() {
        for (code, kind) in [
            (400, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (529, "overloaded_error"),
            (502, "api_error"),
            (418, "invalid_request_error"),
        ] {
            let v = parse(ApiError::new(status(code)).body(Provider::Anthropic));
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], kind, "{code}");
            assert!(v["error"]["message"].is_string());
        }
        let body = anthropic_body("overloaded_error", "Overloaded");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        );
    }

    #[test]
    fn openai_bodies_match_the_api() {
        let v = parse(ApiError::new(status(429)).body(Provider::OpenAi));
        assert_eq!(v["error"]["type"], "requests");
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert_eq!(v["error"]["param"], Value::Null);
        let v = parse(ApiError::new(status(500)).body(Provider::OpenAi));
        assert_eq!(v["error"]["type"], "server_error");
        assert_eq!(v["error"]["code"], Value::Null);
        let v = parse(
            ApiError::invalid("bad")
                .with_param("messages", "missing_required_parameter")
                .body(Provider::OpenAi),
        );
        assert_eq!(
            v,
            json!({"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":"missing_required_parameter"}})
        );
    }
}
