//! The OpenAI `chat.completion.chunk` stream.

use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Answer, Usage};
use crate::config::RequestParams;
use crate::errors;
use crate::reply;
use crate::sse::{self, Disconnected, EventSink, Pacer};
use crate::state::AppState;
use crate::text;
use crate::tool_use::ToolCall;
use crate::usage_override::UsageOverride;

const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'a str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`; `null` on ordinary chunks with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[Value; 1]>,
}

/// Writes chunks of one answer.
struct Writer {
    answer: Answer,
    include_usage: bool,
    usage_override: Option<UsageOverride>,
}

impl Writer {
    fn chunk(&self, choices: &[ChunkChoice<'_>], usage: Option<&Usage>) -> Vec<u8> {
        let chunk = Chunk {
            id: &self.answer.id,
            object: "chat.completion.chunk",
            created: self.answer.created,
            model: &self.answer.model,
            service_tier: "default",
            system_fingerprint: &self.answer.fingerprint,
            choices,
            usage: self.include_usage.then_some(usage),
        };
        let over = usage.and(self.usage_override.as_ref());
        sse::data_event(&crate::usage_override::to_json(&chunk, over))
    }

    fn choice_chunk(&self, delta: Delta<'_>, finish_reason: Option<&str>) -> Vec<u8> {
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        };
        self.chunk(std::slice::from_ref(&choice), None)
    }
}

/// Starts the stream of `answer` and returns its response (headers sent now, chunks as produced).
pub(crate) fn respond(
    st: &AppState,
    answer: Answer,
    params: &RequestParams,
    include_usage: bool,
) -> Response {
    let (ttft, inter_token, error_after) = (params.ttft, params.inter_token, params.error_after);
    let writer = Writer {
        answer,
        include_usage,
        usage_override: params.usage_override.clone(),
    };
    let body = sse::channel_body(st.stream_guard(), params.abort_after, move |sink| {
        run(sink, writer, ttft, inter_token, error_after)
    });
    reply::event_stream(body)
}

async fn run(
    sink: EventSink,
    writer: Writer,
    ttft: Duration,
    inter_token: Duration,
    error_after: Option<u32>,
) -> Result<(), Disconnected> {
    let pacer = Pacer::start(ttft, inter_token);
    let first = Delta {
        role: Some("assistant"),
        content: Some(""),
        refusal: Some(None),
        ..Delta::default()
    };
    sink.send(writer.choice_chunk(first, None)).await?;

    let count = writer.answer.usage.completion_tokens;
    let fail_at = error_after.map(|n| n.min(count));
    for (index, text) in (0..count).zip(text::deltas(writer.answer.text_seed, count)) {
        pacer.wait(index).await;
        if fail_at == Some(index) {
            return send_error(&sink).await;
        }
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        sink.send(writer.choice_chunk(delta, None)).await?;
    }
    if fail_at.is_some() {
        pacer.wait(count).await;
        return send_error(&sink).await;
    }

    if let Some(call) = &writer.answer.tool_call {
        for chunk in tool_call_chunks(&writer, call) {
            sink.send(chunk).await?;
        }
    }
    let finish = writer.choice_chunk(Delta::default(), Some(writer.answer.finish_reason));
    sink.send(finish).await?;
    if writer.include_usage {
        sink.send(writer.chunk(&[], Some(&writer.answer.usage)))
            .await?;
    }
    sink.send(Bytes::from_static(DONE)).await
}

/// The tool call: its id and name first, then its arguments in pieces.
fn tool_call_chunks(writer: &Writer, call: &ToolCall) -> Vec<Vec<u8>> {
    let first = json!({
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.tool.name, "arguments": ""},
    });
    let mut chunks = vec![writer.choice_chunk(
        Delta {
            tool_calls: Some([first]),
            ..Delta::default()
        },
        None,
    )];
    for piece in call.tool.argument_pieces() {
        let part = json!({"index": 0, "function": {"arguments": piece}});
        chunks.push(writer.choice_chunk(
            Delta {
                tool_calls: Some([part]),
                ..Delta::default()
            },
            None,
        ));
    }
    chunks
}

/// The mid-stream error object; the stream ends after it, without `[DONE]`.
async fn send_error(sink: &EventSink) -> Result<(), Disconnected> {
    sink.send(sse::data_event(&errors::openai_stream_error_body()))
        .await
}
