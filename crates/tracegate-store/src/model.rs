//! What the store hands back: trace summaries, full traces and storage figures.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracegate_core::feedback::Feedback;
use tracegate_core::{Attempt, Outcome, Provider, Trace, TraceId, Usage};

/// Every scalar field of a trace, without the bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceSummary {
    /// The UUIDv7, as a string.
    #[schema(value_type = String, format = Uuid)]
    pub id: TraceId,
    /// RFC 3339 with milliseconds, UTC.
    #[serde(with = "tracegate_core::rfc3339_ms")]
    pub started_at: DateTime<Utc>,
    pub upstream: Option<String>,
    pub provider: Provider,
    pub endpoint: String,
    pub method: String,
    pub model_requested: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub duration_ms: f64,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    /// Input + output + cache tokens, a missing figure counted as zero.
    pub total_tokens: u64,
    pub cost_usd: Option<f64>,
    pub account: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// Id of the conversation the trace belongs to (its root trace), once linked.
    pub conversation_id: Option<String>,
    /// Id of the trace this one follows in its conversation.
    pub parent_id: Option<String>,
    /// Branch number within the conversation (0 is the first).
    pub branch: Option<u32>,
    /// How the trace was linked: root, turn, branch, continuation, sub_task or retry.
    pub link_kind: Option<String>,
    /// For a `cache_hit`: what the cached answer would have cost upstream (`cost_usd` is 0).
    pub cache_saved_usd: Option<f64>,
}

impl TraceSummary {
    /// The summary of an in-memory trace, `started_at` cut to milliseconds as stored;
    /// conversation links are left empty (the store computes them).
    pub fn from_trace(t: &Trace) -> Self {
        TraceSummary {
            id: t.id,
            started_at: truncate_to_ms(t.started_at),
            upstream: t.upstream.clone(),
            provider: t.provider,
            endpoint: t.endpoint.clone(),
            method: t.method.clone(),
            model_requested: t.model_requested.clone(),
            model: t.model.clone(),
            stream: t.stream,
            status: t.status,
            outcome: t.outcome,
            error: t.error.clone(),
            duration_ms: t.duration_ms,
            ttft_ms: t.ttft_ms,
            input_tokens: t.usage.input_tokens,
            output_tokens: t.usage.output_tokens,
            cache_read_tokens: t.usage.cache_read_tokens,
            cache_write_tokens: t.usage.cache_write_tokens,
            total_tokens: total_tokens(&t.usage),
            cost_usd: t.cost_usd,
            account: t.account.clone(),
            client_ip: t.client_ip.clone(),
            user_agent: t.user_agent.clone(),
            metadata: t.metadata.clone(),
            conversation_id: None,
            parent_id: None,
            branch: None,
            link_kind: None,
            cache_saved_usd: t.cache_saved_usd,
        }
    }
}

/// A whole trace: the summary plus both bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceDetail {
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// JSON when the body was JSON, a string when it was other text, null when empty.
    pub request_body: serde_json::Value,
    /// Same rules as `request_body`.
    pub response_body: serde_json::Value,
    /// Feedback entries given on the trace, oldest first.
    #[serde(default)]
    pub feedback: Vec<Feedback>,
    /// Each try at an upstream, in order, when there was more than one (retries,
    /// fallbacks) or the gateway refused the try itself (circuit open, bulkhead full);
    /// empty for a request its first attempt answered.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

impl TraceDetail {
    /// The detail view of an in-memory trace, as the store would return it.
    pub fn from_trace(t: &Trace) -> Self {
        TraceDetail {
            summary: TraceSummary::from_trace(t),
            request_body: body_value(&t.request_body),
            response_body: body_value(&t.response_body),
            feedback: Vec::new(),
            attempts: t.attempts.clone(),
        }
    }
}

/// How a body is shown: parsed JSON, else the text (lossy UTF-8), null when empty.
pub fn body_value(bytes: &[u8]) -> serde_json::Value {
    if bytes.is_empty() {
        return serde_json::Value::Null;
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Space a store takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    /// Bytes of the database files.
    pub total_bytes: u64,
    /// Bytes of the tables holding bodies (blobs, message chains, skeletons).
    pub body_bytes: u64,
    /// Number of stored traces.
    pub trace_count: u64,
}

/// Input + output + cache tokens, a missing figure counted as zero; saturates
/// instead of overflowing.
pub fn total_tokens(u: &Usage) -> u64 {
    [
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
    ]
    .into_iter()
    .flatten()
    .fold(0u64, u64::saturating_add)
}

/// Drops sub-millisecond precision: the store keeps epoch milliseconds.
pub fn truncate_to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tracegate_core::Provider;

    #[test]
    fn summary_serialises_times_with_milliseconds_and_ids_as_strings() {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.started_at = DateTime::parse_from_rfc3339("2025-03-04T05:06:07.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let json = serde_json::to_value(TraceSummary::from_trace(&t)).unwrap();
        assert_eq!(json["started_at"], "2025-03-04T05:06:07.123Z");
        assert_eq!(json["id"], t.id.to_string());
        assert_eq!(json["provider"], "anthropic");
        assert_eq!(json["outcome"], "ok");
        let back: TraceSummary = serde_json::from_value(json).unwrap();
        assert_eq!(
            back.started_at.timestamp_millis(),
            t.started_at.timestamp_millis()
        );
    }

    #[test]
    fn detail_flattens_the_summary_and_shows_bodies_by_kind() {
        let mut t = Trace::begin(Provider::Openai, "POST", "/v1/chat/completions");
        t.request_body = bytes::Bytes::from_static(br#"{"a":1}"#);
        t.response_body = bytes::Bytes::from_static(b"<html>oops</html>");
        let json = serde_json::to_value(TraceDetail::from_trace(&t)).unwrap();
        assert_eq!(json["endpoint"], "/v1/chat/completions");
        assert_eq!(json["request_body"], serde_json::json!({"a": 1}));
        assert_eq!(json["response_body"], "<html>oops</html>");
        assert_eq!(body_value(b""), serde_json::Value::Null);
    }
}

/// What `relink` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RelinkReport {
    /// Traces looked at.
    pub traces: u64,
    /// Traces whose link changed.
    pub changed: u64,
    /// Conversations recomputed.
    pub conversations: u64,
}
