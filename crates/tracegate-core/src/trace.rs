//! The trace: one record per request that passed through the gateway.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::attempt::Attempt;

/// A trace id: a UUIDv7, so ids sort by creation time.
pub type TraceId = Uuid;

/// Makes a new time-ordered trace id.
pub fn new_trace_id() -> TraceId {
    Uuid::now_v7()
}

/// Which API family a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Anthropic,
    Openai,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::Openai),
            _ => None,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The upstream answered with a 2xx (or 1xx/3xx) and the whole body reached the client.
    Ok,
    /// The upstream answered with an error status, or sent an error event mid-stream.
    UpstreamError,
    /// The gateway refused the request (malformed, oversize, no route).
    ClientError,
    /// The upstream did not answer within the configured timeout.
    Timeout,
    /// The client went away before the response was complete.
    Cancelled,
    /// The gateway could not reach the upstream or failed itself.
    GatewayError,
    /// Answered from the gateway's response cache, without an upstream call. Not an error.
    CacheHit,
    /// The gateway refused the request's credential: a virtual key that is unknown,
    /// expired or revoked, or none where one is required.
    Unauthorized,
    /// The gateway refused the request because a rate limit or budget was used up (429).
    RateLimited,
    /// The gateway shed the request: an upstream's bulkhead was full or its queue wait
    /// expired, or its circuit was open with no fallback (503).
    Overloaded,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::UpstreamError,
        Outcome::ClientError,
        Outcome::Timeout,
        Outcome::Cancelled,
        Outcome::GatewayError,
        Outcome::CacheHit,
        Outcome::Unauthorized,
        Outcome::RateLimited,
        Outcome::Overloaded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::ClientError => "client_error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::GatewayError => "gateway_error",
            Outcome::CacheHit => "cache_hit",
            Outcome::Unauthorized => "unauthorized",
            Outcome::RateLimited => "rate_limited",
            Outcome::Overloaded => "overloaded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the request failed: every outcome but `ok` and `cache_hit`.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::CacheHit)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token usage as the provider reported it. `None` means the provider did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
}

impl Usage {
    /// Input + output + cache tokens, counting a missing figure as zero.
    pub fn total(&self) -> u64 {
        [
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
        ]
        .into_iter()
        .flatten()
        .fold(0u64, u64::saturating_add)
    }

    pub fn is_empty(&self) -> bool {
        self.input_tokens.is_none()
            && self.output_tokens.is_none()
            && self.cache_read_tokens.is_none()
            && self.cache_write_tokens.is_none()
    }
}

/// One finished request, as the proxy hands it to the recorder.
///
/// Bodies are kept as the raw bytes that crossed the gateway (a streamed
/// response is reassembled into the final message first); the store decides
/// how to keep them compactly. Secrets are never part of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub id: TraceId,
    pub started_at: DateTime<Utc>,
    /// Name of the configured upstream the request went to, if routing got that far.
    pub upstream: Option<String>,
    pub provider: Provider,
    /// Path of the request without the query string, e.g. `/v1/messages`.
    pub endpoint: String,
    pub method: String,
    /// The model the client asked for.
    pub model_requested: Option<String>,
    /// The model the provider said answered.
    pub model: Option<String>,
    pub stream: bool,
    /// HTTP status sent to the client; `None` when the client left before any.
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub duration_ms: f64,
    /// Time to the first content token (streams) or to the response headers.
    pub ttft_ms: Option<f64>,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    /// For a `cache_hit`: what the cached answer would have cost from the upstream
    /// (its usage at today's prices); `cost_usd` is then 0.
    pub cache_saved_usd: Option<f64>,
    pub account: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// A JSON object from the `X-Tracegate-Metadata` header.
    pub metadata: Option<serde_json::Value>,
    /// Every try at an upstream when there was more than one (retries, fallbacks, a
    /// refusal by an upstream's circuit or bulkhead); empty for a single plain attempt.
    pub attempts: Vec<Attempt>,
    pub request_body: Bytes,
    pub response_body: Bytes,
}

impl Trace {
    /// A trace with every optional field empty: the proxy fills it in as the request goes.
    pub fn begin(
        provider: Provider,
        method: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Self {
        Trace {
            id: new_trace_id(),
            started_at: Utc::now(),
            upstream: None,
            provider,
            endpoint: endpoint.into(),
            method: method.into(),
            model_requested: None,
            model: None,
            stream: false,
            status: None,
            outcome: Outcome::Ok,
            error: None,
            duration_ms: 0.0,
            ttft_ms: None,
            usage: Usage::default(),
            cost_usd: None,
            cache_saved_usd: None,
            account: None,
            client_ip: None,
            user_agent: None,
            metadata: None,
            attempts: Vec::new(),
            request_body: Bytes::new(),
            response_body: Bytes::new(),
        }
    }

    /// The model the trace counts under in filters, statistics and usage: the model
    /// that answered, else (a request that failed before any answer) the model asked for.
    pub fn effective_model(&self) -> Option<&str> {
        self.model.as_deref().or(self.model_requested.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_round_trips_through_its_name() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("fine"), None);
    }

    #[test]
    fn effective_model_is_the_answering_one_else_the_requested_one() {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        assert_eq!(t.effective_model(), None);
        t.model_requested = Some("claude-sonnet-4-5".into());
        assert_eq!(t.effective_model(), Some("claude-sonnet-4-5"));
        t.model = Some("claude-sonnet-4-5-20250929".into());
        assert_eq!(t.effective_model(), Some("claude-sonnet-4-5-20250929"));
    }

    #[test]
    fn a_cache_hit_is_not_an_error() {
        assert!(!Outcome::CacheHit.is_error());
        assert!(!Outcome::Ok.is_error());
        assert!(Outcome::ALL
            .iter()
            .filter(|o| !matches!(o, Outcome::Ok | Outcome::CacheHit))
            .all(|o| o.is_error()));
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = new_trace_id();
        let b = new_trace_id();
        assert!(a < b);
    }

    #[test]
    fn usage_total_counts_missing_as_zero() {
        let u = Usage {
            input_tokens: Some(10),
            output_tokens: None,
            cache_read_tokens: Some(5),
            cache_write_tokens: None,
        };
        assert_eq!(u.total(), 15);
        assert!(!u.is_empty());
        assert!(Usage::default().is_empty());
    }
}
