//! A finished trace as one OTLP span that follows the OpenTelemetry GenAI semantic
//! conventions. Bodies, metadata, client address and user agent are never part of it.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span, Status};
use tracegate_core::{Outcome, Provider, Trace};

/// Longest status message (the trace's error text) exported, in bytes.
const MAX_STATUS_MESSAGE: usize = 512;

/// The GenAI operation a request endpoint performs (`gen_ai.operation.name`). Endpoints
/// without a semantic-conventions name count as `other`: span names stay few.
pub fn operation(endpoint: &str) -> &'static str {
    let path = endpoint.trim_end_matches('/');
    match path {
        "/v1/messages" | "/v1/chat/completions" | "/v1/responses" => "chat",
        "/v1/completions" => "text_completion",
        "/v1/embeddings" => "embeddings",
        _ => "other",
    }
}

/// The span name: `{operation} {model}`, or the operation alone when no model is known.
pub fn span_name(trace: &Trace) -> String {
    let op = operation(&trace.endpoint);
    match trace.effective_model() {
        Some(model) => format!("{op} {model}"),
        None => op.to_owned(),
    }
}

/// The OTLP trace id: the 16 bytes of the trace's UUIDv7, so the span is found by
/// the id tracegate shows (`0190a5c4-7d3e-...` is trace id `0190a5c47d3e...`).
pub fn trace_id(trace: &Trace) -> [u8; 16] {
    *trace.id.as_bytes()
}

/// The span id: the UUID's last 8 bytes (its random part), never all zero.
pub fn span_id(trace: &Trace) -> [u8; 8] {
    let b = trace.id.as_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&b[8..]);
    if id == [0u8; 8] {
        id[7] = 1;
    }
    id
}

/// `error.type` for a failed request: the HTTP status for an error answer, else the
/// outcome (`timeout`, `cancelled`, `gateway_error`, ...). `None` when it did not fail.
pub fn error_type(trace: &Trace) -> Option<String> {
    if !trace.outcome.is_error() {
        return None;
    }
    match trace.status {
        Some(s) if s >= 400 && trace.outcome != Outcome::Cancelled => Some(s.to_string()),
        _ => Some(trace.outcome.as_str().to_owned()),
    }
}

/// Builds the span. Start and end come from `started_at` and `duration_ms`.
pub fn from_trace(trace: &Trace) -> Span {
    let start = trace
        .started_at
        .timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    let duration_ns = if trace.duration_ms.is_finite() && trace.duration_ms > 0.0 {
        (trace.duration_ms * 1e6) as u64
    } else {
        0
    };
    let status = match error_type(trace) {
        Some(_) => Status {
            code: StatusCode::Error as i32,
            message: truncate(trace.error.as_deref().unwrap_or(trace.outcome.as_str())),
        },
        None => Status {
            code: StatusCode::Unset as i32,
            message: String::new(),
        },
    };
    Span {
        trace_id: trace_id(trace).to_vec(),
        span_id: span_id(trace).to_vec(),
        name: span_name(trace),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(duration_ns),
        attributes: attributes(trace),
        status: Some(status),
        ..Span::default()
    }
}

fn attributes(t: &Trace) -> Vec<KeyValue> {
    let mut a = Attrs(Vec::with_capacity(24));
    let provider = match t.provider {
        Provider::Anthropic => "anthropic",
        Provider::Openai => "openai",
    };
    a.str("gen_ai.provider.name", provider);
    a.str("gen_ai.system", provider);
    a.str("gen_ai.operation.name", operation(&t.endpoint));
    a.opt_str("gen_ai.request.model", t.model_requested.as_deref());
    a.opt_str("gen_ai.response.model", t.model.as_deref());
    // The conventions count cache reads and writes inside the input tokens; tracegate
    // keeps the three apart, so the input figure is their sum.
    let u = &t.usage;
    let input = [u.input_tokens, u.cache_read_tokens, u.cache_write_tokens];
    if input.iter().any(Option::is_some) {
        let sum = input
            .iter()
            .flatten()
            .fold(0u64, |s, n| s.saturating_add(*n));
        a.int("gen_ai.usage.input_tokens", sum);
    }
    a.opt_int("gen_ai.usage.output_tokens", u.output_tokens);
    a.opt_int("gen_ai.usage.cache_read.input_tokens", u.cache_read_tokens);
    a.opt_int(
        "gen_ai.usage.cache_creation.input_tokens",
        u.cache_write_tokens,
    );
    if let Some(s) = t.status {
        a.int("http.response.status_code", u64::from(s));
    }
    a.opt_str("error.type", error_type(t).as_deref());
    a.str("http.request.method", &t.method);
    a.str("url.path", &t.endpoint);
    a.str("tracegate.trace_id", &t.id.to_string());
    a.str("tracegate.outcome", t.outcome.as_str());
    a.opt_str("tracegate.account", t.account.as_deref());
    a.opt_str("tracegate.upstream", t.upstream.as_deref());
    a.bool("tracegate.stream", t.stream);
    a.opt_f64("tracegate.cost_usd", t.cost_usd);
    a.opt_f64("tracegate.cache_saved_usd", t.cache_saved_usd);
    a.opt_f64("tracegate.ttft_ms", t.ttft_ms);
    a.opt_f64("tracegate.duration_ms", Some(t.duration_ms));
    a.0
}

/// `s` cut to at most [`MAX_STATUS_MESSAGE`] bytes on a character boundary.
fn truncate(s: &str) -> String {
    if s.len() <= MAX_STATUS_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_STATUS_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

struct Attrs(Vec<KeyValue>);

impl Attrs {
    fn push(&mut self, key: &str, value: any_value::Value) {
        self.0.push(KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        });
    }
    fn str(&mut self, key: &str, v: &str) {
        self.push(key, any_value::Value::StringValue(v.to_owned()));
    }
    fn opt_str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(key, v);
        }
    }
    fn int(&mut self, key: &str, v: u64) {
        self.push(
            key,
            any_value::Value::IntValue(i64::try_from(v).unwrap_or(i64::MAX)),
        );
    }
    fn opt_int(&mut self, key: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.int(key, v);
        }
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.push(key, any_value::Value::BoolValue(v));
    }
    fn opt_f64(&mut self, key: &str, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.push(key, any_value::Value::DoubleValue(v));
        }
    }
}

#[cfg(test)]
#[path = "span_tests.rs"]
mod tests;
