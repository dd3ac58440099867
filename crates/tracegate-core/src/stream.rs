//! Reassembly of a streamed response into the message the non-streaming API
//! would have returned, plus what the proxy needs to know as events go by
//! (first content token, error events).
//!
//! The accumulators take parsed [`SseEvent`]s and never fail: events they do
//! not understand are skipped, so a new event type upstream costs nothing but
//! its contents.

pub mod anthropic;
pub mod openai;

use serde_json::Value;

use crate::sse::SseEvent;
use crate::{Provider, Usage};

/// Reassembles one streamed response of either provider.
#[derive(Debug)]
pub enum StreamAccumulator {
    /// A `/v1/messages` stream.
    Anthropic(anthropic::AnthropicStream),
    /// A `/v1/chat/completions` stream.
    Openai(openai::OpenaiStream),
}

/// What one event means for the proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventInfo {
    /// True exactly once per stream: on the event carrying the first content token.
    pub first_content: bool,
    /// The event reports an error from the provider.
    pub is_error: bool,
}

/// The outcome of a whole stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    /// The final message, as the non-streaming API would return it; `None`
    /// when the stream carried no message at all.
    pub message: Option<Value>,
    /// Usage of the final message, normalised as in [`crate::usage`].
    pub usage: Usage,
    /// The model the provider said answered.
    pub model: Option<String>,
    /// Text of the first error event (`type: message`), if any.
    pub error: Option<String>,
    /// The stream ended properly: `message_stop` (Anthropic), or `[DONE]` or
    /// a `finish_reason` (OpenAI).
    pub complete: bool,
}

impl StreamAccumulator {
    /// An accumulator for a stream of `provider`'s API.
    pub fn new(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => StreamAccumulator::Anthropic(Default::default()),
            Provider::Openai => StreamAccumulator::Openai(Default::default()),
        }
    }

    /// Feeds one parsed event. Returns what the proxy needs to know about it.
    pub fn on_event(&mut self, ev: &SseEvent) -> EventInfo {
        match self {
            StreamAccumulator::Anthropic(s) => s.on_event(ev),
            StreamAccumulator::Openai(s) => s.on_event(ev),
        }
    }

    /// Ends the stream and builds the final message.
    pub fn finish(self) -> StreamSummary {
        match self {
            StreamAccumulator::Anthropic(s) => s.finish(),
            StreamAccumulator::Openai(s) => s.finish(),
        }
    }
}

/// Human-readable text of a provider error object: `type: message`.
fn error_text(err: &Value) -> String {
    let kind = err.get("type").and_then(Value::as_str);
    let message = err.get("message").and_then(Value::as_str);
    match (kind, message) {
        (Some(k), Some(m)) => format!("{k}: {m}"),
        (None, Some(m)) => m.to_owned(),
        (Some(k), None) => k.to_owned(),
        (None, None) => match err {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

/// The event's data as JSON, if it has data and the data parses.
fn event_json(ev: &SseEvent) -> Option<Value> {
    if !ev.has_data {
        return None;
    }
    serde_json::from_str(&ev.data).ok()
}

/// Appends `fragment` to the string member `key` of `obj` (creating it).
fn append_str(obj: &mut serde_json::Map<String, Value>, key: &str, fragment: &str) {
    match obj.get_mut(key) {
        Some(Value::String(s)) => s.push_str(fragment),
        _ => {
            obj.insert(key.to_owned(), Value::String(fragment.to_owned()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use proptest::prelude::*;
    use serde_json::json;

    /// Parses a whole SSE body and feeds it to an accumulator.
    pub(crate) fn run(provider: Provider, body: &str) -> (Vec<EventInfo>, StreamSummary) {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        parser.push(body.as_bytes(), &mut events);
        parser.finish(&mut events);
        let mut acc = StreamAccumulator::new(provider);
        let infos = events.iter().map(|e| acc.on_event(e)).collect();
        (infos, acc.finish())
    }

    /// Arbitrary JSON built from the member names the accumulators look at.
    fn json_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0u64..4).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("message_start"),
                Just("content_block_start"),
                Just("content_block_delta"),
                Just("content_block_stop"),
                Just("message_delta"),
                Just("text_delta"),
                Just("input_json_delta"),
                Just("citations_delta"),
                Just("signature_delta"),
                Just("[DONE]"),
                Just("{\"a\":"),
                Just(""),
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("type"),
                Just("index"),
                Just("delta"),
                Just("message"),
                Just("content"),
                Just("content_block"),
                Just("usage"),
                Just("choices"),
                Just("tool_calls"),
                Just("function"),
                Just("arguments"),
                Just("text"),
                Just("partial_json"),
                Just("citation"),
                Just("citations"),
                Just("logprobs"),
                Just("finish_reason"),
                Just("error"),
                Just("model"),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..5).prop_map(|members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_events_never_panic(
            datas in prop::collection::vec(json_strategy(), 0..12),
            names in prop::collection::vec(prop::option::of("error|ping|message_stop"), 12),
        ) {
            for provider in [Provider::Anthropic, Provider::Openai] {
                let mut acc = StreamAccumulator::new(provider);
                let mut firsts = 0;
                for (data, name) in datas.iter().zip(&names) {
                    let ev = SseEvent {
                        raw: bytes::Bytes::from(format!("data: {data}\n\n")),
                        event: name.clone(),
                        data: data.to_string(),
                        id: None,
                        has_data: true,
                    };
                    firsts += usize::from(acc.on_event(&ev).first_content);
                    let _ = openai::strip_injected_usage(&ev);
                }
                prop_assert!(firsts <= 1);
                let summary = acc.finish();
                if let Some(m) = &summary.message {
                    prop_assert!(m.is_object());
                }
            }
        }
    }

    #[test]
    fn error_text_formats_type_and_message() {
        let e = json!({"type": "overloaded_error", "message": "Overloaded"});
        assert_eq!(error_text(&e), "overloaded_error: Overloaded");
        assert_eq!(error_text(&json!({"message": "boom"})), "boom");
        assert_eq!(error_text(&json!("plain")), "plain");
        assert_eq!(error_text(&json!({"code": 5})), r#"{"code":5}"#);
    }

    #[test]
    fn implausible_stream_usage_is_dropped_like_a_whole_responses() {
        let max = u64::MAX;
        let anthropic = format!(
            "event: message_start\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
            json!({"type": "message_start", "message": {"model": "claude-x", "content": [],
                   "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"output_tokens": max}}),
        );
        let openai = format!(
            "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
            json!({"model": "gpt-x", "choices": [{"index": 0, "delta": {"content": "hi"},
                   "finish_reason": "stop"}]}),
            json!({"model": "gpt-x", "choices": [],
                   "usage": {"prompt_tokens": 9, "completion_tokens": max}}),
        );
        for (provider, body) in [(Provider::Anthropic, anthropic), (Provider::Openai, openai)] {
            let (_, summary) = run(provider, &body);
            let mut usage = summary.usage;
            assert_eq!(usage.output_tokens, Some(max), "{provider}");
            let note = crate::usage::drop_implausible(&mut usage).unwrap();
            assert!(note.contains(&format!("output_tokens={max}")), "{note}");
            assert_eq!(usage.output_tokens, None);
            assert!(
                usage.input_tokens.is_some_and(|n| n < 100),
                "{provider}: {usage:?}"
            );
        }
    }

    #[test]
    fn empty_streams_have_no_message() {
        for provider in [Provider::Anthropic, Provider::Openai] {
            let (infos, summary) = run(provider, ": ping\n\n");
            assert_eq!(infos, vec![EventInfo::default()]);
            assert_eq!(summary, StreamSummary::default());
        }
    }

    #[test]
    fn garbage_data_is_skipped() {
        for provider in [Provider::Anthropic, Provider::Openai] {
            let (infos, summary) = run(provider, "data: {not json\n\ndata: [1,2]\n\ndata: 7\n\n");
            assert!(infos.iter().all(|i| *i == EventInfo::default()));
            assert!(!summary.complete);
            assert_eq!(summary.error, None);
        }
    }
}
