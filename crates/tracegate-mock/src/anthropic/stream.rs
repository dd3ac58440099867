//! The Anthropic streaming event sequence.

use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::{Answer, Usage};
use crate::config::RequestParams;
use crate::errors;
use crate::reply;
use crate::sse::{self, Disconnected, EventSink, Pacer};
use crate::state::AppState;
use crate::text;
use crate::tool_use::ToolCall;
use crate::usage_override::UsageOverride;

/// The ping event exactly as the API writes it.
const PING: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

#[derive(Serialize)]
struct MessageStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: super::Message<'a>,
}

#[derive(Serialize)]
struct ContentBlockStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    content_block: super::Block<'a>,
}

#[derive(Serialize)]
struct ContentBlockDelta<D> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    delta: D,
}

#[derive(Serialize)]
struct JsonDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    partial_json: &'a str,
}

#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct ContentBlockStop {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
}

#[derive(Serialize)]
struct MessageDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    delta: StopDelta<'a>,
    usage: OutputUsage,
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'a str,
    stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
struct OutputUsage {
    output_tokens: u32,
}

#[derive(Serialize)]
struct MessageStop {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Starts the stream of `answer` and returns its response (headers sent now, events as produced).
pub(crate) fn respond(st: &AppState, answer: Answer, params: &RequestParams) -> Response {
    let (ttft, inter_token, error_after) = (params.ttft, params.inter_token, params.error_after);
    let usage_override = params.usage_override.clone();
    let body = sse::channel_body(st.stream_guard(), params.abort_after, move |sink| {
        run(sink, answer, ttft, inter_token, error_after, usage_override)
    });
    reply::event_stream(body)
}

async fn run(
    sink: EventSink,
    answer: Answer,
    ttft: Duration,
    inter_token: Duration,
    error_after: Option<u32>,
    usage_override: Option<UsageOverride>,
) -> Result<(), Disconnected> {
    let pacer = Pacer::start(ttft, inter_token);
    let start_usage = Usage {
        output_tokens: 1,
        ..answer.usage
    };
    let start = MessageStart {
        kind: "message_start",
        message: answer.message(&[], None, start_usage),
    };
    sink.send(sse::named_event("message_start", &start)).await?;
    let block = ContentBlockStart {
        kind: "content_block_start",
        index: 0,
        content_block: super::Block::Text(super::TextBlock {
            kind: "text",
            text: "",
        }),
    };
    sink.send(sse::named_event("content_block_start", &block))
        .await?;
    sink.send(Bytes::from_static(PING)).await?;

    let count = answer.usage.output_tokens;
    let fail_at = error_after.map(|n| n.min(count));
    for (index, text) in (0..count).zip(text::deltas(answer.text_seed, count)) {
        pacer.wait(index).await;
        if fail_at == Some(index) {
            return send_error(&sink).await;
        }
        let delta = ContentBlockDelta {
            kind: "content_block_delta",
            index: 0,
            delta: TextDelta {
                kind: "text_delta",
                text,
            },
        };
        sink.send(sse::named_event("content_block_delta", &delta))
            .await?;
    }
    if fail_at.is_some() {
        pacer.wait(count).await;
        return send_error(&sink).await;
    }

    let stop = ContentBlockStop {
        kind: "content_block_stop",
        index: 0,
    };
    sink.send(sse::named_event("content_block_stop", &stop))
        .await?;
    if let Some(call) = &answer.tool_call {
        send_tool_use(&sink, call).await?;
    }
    let delta = MessageDelta {
        kind: "message_delta",
        delta: StopDelta {
            stop_reason: answer.stop_reason,
            stop_sequence: None,
        },
        usage: OutputUsage {
            output_tokens: count,
        },
    };
    let delta = crate::usage_override::to_json(&delta, usage_override.as_ref());
    sink.send(sse::named_raw_event("message_delta", &delta))
        .await?;
    let end = MessageStop {
        kind: "message_stop",
    };
    sink.send(sse::named_event("message_stop", &end)).await
}

/// Block 1: the tool call, its input streamed as `input_json_delta` pieces.
async fn send_tool_use(sink: &EventSink, call: &ToolCall) -> Result<(), Disconnected> {
    let empty = Value::Object(serde_json::Map::new());
    let start = ContentBlockStart {
        kind: "content_block_start",
        index: 1,
        content_block: super::Block::ToolUse(super::ToolUseBlock::new(call, &empty)),
    };
    sink.send(sse::named_event("content_block_start", &start))
        .await?;
    for piece in call.tool.argument_pieces() {
        let delta = ContentBlockDelta {
            kind: "content_block_delta",
            index: 1,
            delta: JsonDelta {
                kind: "input_json_delta",
                partial_json: &piece,
            },
        };
        sink.send(sse::named_event("content_block_delta", &delta))
            .await?;
    }
    let stop = ContentBlockStop {
        kind: "content_block_stop",
        index: 1,
    };
    sink.send(sse::named_event("content_block_stop", &stop))
        .await
}

/// The mid-stream `overloaded_error` event; the stream ends after it.
async fn send_error(sink: &EventSink) -> Result<(), Disconnected> {
    let json = errors::anthropic_body("overloaded_error", "Overloaded");
    sink.send(sse::named_raw_event("error", &json)).await
}
