#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use chrono::{TimeZone, Utc};
use tracegate_core::Usage;

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attr(span, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        other => {
            assert!(other.is_none(), "{key} is not a string: {other:?}");
            None
        }
    }
}

fn int(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(any_value::Value::IntValue(n)) => Some(*n),
        other => {
            assert!(other.is_none(), "{key} is not an int: {other:?}");
            None
        }
    }
}

fn trace() -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.started_at = Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap();
    t.duration_ms = 1234.5;
    t.ttft_ms = Some(210.0);
    t.model_requested = Some("claude-sonnet-4-5".into());
    t.model = Some("claude-sonnet-4-5-20250929".into());
    t.status = Some(200);
    t.usage = Usage {
        input_tokens: Some(10),
        output_tokens: Some(20),
        cache_read_tokens: Some(100),
        cache_write_tokens: Some(5),
    };
    t.cost_usd = Some(0.0042);
    t.account = Some("team-a".into());
    t.upstream = Some("anthropic".into());
    t.request_body = bytes::Bytes::from_static(b"{\"secret\":\"prompt\"}");
    t.response_body = bytes::Bytes::from_static(b"{\"secret\":\"answer\"}");
    t.metadata = Some(serde_json::json!({"secret": "meta"}));
    t
}

#[test]
fn a_trace_becomes_a_genai_client_span() {
    let t = trace();
    let s = from_trace(&t);
    assert_eq!(s.name, "chat claude-sonnet-4-5-20250929");
    assert_eq!(s.kind, SpanKind::Client as i32);
    assert_eq!(s.trace_id, t.id.as_bytes().to_vec());
    assert_eq!(s.span_id, t.id.as_bytes()[8..].to_vec());
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(s.end_time_unix_nano, 1_700_000_001_484_500_000);
    assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Unset as i32);
    assert_eq!(
        text(&s, "gen_ai.provider.name").as_deref(),
        Some("anthropic")
    );
    assert_eq!(text(&s, "gen_ai.system").as_deref(), Some("anthropic"));
    assert_eq!(text(&s, "gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(
        text(&s, "gen_ai.request.model").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(
        text(&s, "gen_ai.response.model").as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(int(&s, "gen_ai.usage.input_tokens"), Some(115));
    assert_eq!(int(&s, "gen_ai.usage.output_tokens"), Some(20));
    assert_eq!(int(&s, "gen_ai.usage.cache_read.input_tokens"), Some(100));
    assert_eq!(int(&s, "gen_ai.usage.cache_creation.input_tokens"), Some(5));
    assert_eq!(int(&s, "http.response.status_code"), Some(200));
    assert_eq!(text(&s, "error.type"), None);
    assert_eq!(text(&s, "tracegate.trace_id"), Some(t.id.to_string()));
    assert_eq!(text(&s, "tracegate.account").as_deref(), Some("team-a"));
    assert_eq!(text(&s, "tracegate.outcome").as_deref(), Some("ok"));
    assert_eq!(text(&s, "tracegate.upstream").as_deref(), Some("anthropic"));
    assert_eq!(
        attr(&s, "tracegate.cost_usd"),
        Some(&any_value::Value::DoubleValue(0.0042))
    );
    assert_eq!(
        attr(&s, "tracegate.ttft_ms"),
        Some(&any_value::Value::DoubleValue(210.0))
    );
}

#[test]
fn no_body_metadata_or_client_detail_is_exported() {
    let mut t = trace();
    t.client_ip = Some("203.0.113.7".into());
    t.user_agent = Some("secret-agent/1.0".into());
    let encoded = format!("{:?}", from_trace(&t));
    for secret in ["secret", "prompt", "answer", "meta", "203.0.113.7"] {
        assert!(!encoded.contains(secret), "{secret} leaked: {encoded}");
    }
}

#[test]
fn failures_are_error_spans_with_an_error_type() {
    let mut t = trace();
    t.outcome = Outcome::UpstreamError;
    t.status = Some(529);
    t.error = Some("overloaded".into());
    let s = from_trace(&t);
    let status = s.status.unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "overloaded");
    assert_eq!(
        from_trace(&t)
            .attributes
            .iter()
            .find(|kv| kv.key == "error.type")
            .map(|kv| format!("{:?}", kv.value)),
        Some(format!(
            "{:?}",
            Some(AnyValue {
                value: Some(any_value::Value::StringValue("529".into()))
            })
        ))
    );

    t.outcome = Outcome::Timeout;
    t.status = Some(504);
    t.error = Some("x".repeat(2000));
    let s = from_trace(&t);
    assert_eq!(text(&s, "error.type").as_deref(), Some("504"));
    assert!(s.status.unwrap().message.len() <= MAX_STATUS_MESSAGE + 3);

    t.outcome = Outcome::Cancelled;
    t.status = Some(200);
    assert_eq!(error_type(&t).as_deref(), Some("cancelled"));
    t.status = None;
    t.outcome = Outcome::GatewayError;
    assert_eq!(error_type(&t).as_deref(), Some("gateway_error"));
    t.outcome = Outcome::CacheHit;
    assert_eq!(error_type(&t), None);
}

#[test]
fn operations_and_names_stay_few() {
    assert_eq!(operation("/v1/chat/completions"), "chat");
    assert_eq!(operation("/v1/responses"), "chat");
    assert_eq!(operation("/v1/embeddings"), "embeddings");
    assert_eq!(operation("/v1/completions"), "text_completion");
    assert_eq!(operation("/v1/messages/count_tokens"), "other");
    assert_eq!(operation("/v1/anything/at/all"), "other");
    let mut t = Trace::begin(Provider::Openai, "POST", "/v1/embeddings");
    assert_eq!(span_name(&t), "embeddings");
    t.model_requested = Some("text-embedding-3-small".into());
    assert_eq!(span_name(&t), "embeddings text-embedding-3-small");
    let s = from_trace(&t);
    assert_eq!(text(&s, "gen_ai.provider.name").as_deref(), Some("openai"));
    assert_eq!(int(&s, "gen_ai.usage.input_tokens"), None, "unknown, not 0");
}
