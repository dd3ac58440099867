//! The Anthropic Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

mod stream;
mod usage;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::config::RequestParams;
use crate::errors::{ApiError, BodyError};
use crate::reply::{self, Provider};
use crate::state::AppState;
use crate::text;
use crate::tool_use::ToolCall;

pub(crate) use usage::Usage;

/// The fields of a Messages request the mock looks at.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest<'a> {
    #[serde(default)]
    model: Option<String>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u64>,
}

impl<'a> MessagesRequest<'a> {
    /// Parses and checks `body`: `model` and a `messages` list are required.
    pub fn parse(body: &'a [u8]) -> Result<Self, BodyError> {
        let req: Self = serde_json::from_slice(body)?;
        if req.model.is_none() {
            return Err(BodyError::Missing("model"));
        }
        match req.messages {
            None => Err(BodyError::Missing("messages")),
            Some(raw) if !raw.get().starts_with('[') => Err(BodyError::NotAList("messages")),
            Some(_) => Ok(req),
        }
    }

    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or_default()
    }

    /// Seed of the generated text: the model and the prompt, not the other options.
    fn text_seed(&self, seed: Option<u64>) -> u64 {
        let raw = text::raw_bytes;
        let parts = [
            self.model().as_bytes(),
            raw(self.system),
            raw(self.messages),
            raw(self.tools),
        ];
        text::text_seed(&parts, seed)
    }

    /// Token estimate of the prompt (tools, system and messages).
    pub fn input_tokens(&self) -> u32 {
        let len = |raw: Option<&RawValue>| raw.map_or(0, |r| r.get().len());
        text::estimate_tokens(len(self.messages) + len(self.system) + len(self.tools))
    }
}

/// Everything needed to write one answer, streamed or not.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub id: String,
    pub model: String,
    pub usage: Usage,
    pub stop_reason: &'static str,
    pub text_seed: u64,
    /// A tool call that ends the answer (`x-mock-tool-use`).
    pub tool_call: Option<ToolCall>,
}

#[derive(Serialize)]
pub(crate) struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
pub(crate) struct ToolUseBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    name: &'a str,
    input: &'a Value,
}

impl<'a> ToolUseBlock<'a> {
    pub fn new(call: &'a ToolCall, input: &'a Value) -> Self {
        ToolUseBlock {
            kind: "tool_use",
            id: &call.id,
            name: &call.tool.name,
            input,
        }
    }
}

/// A content block of a message.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Block<'a> {
    Text(TextBlock<'a>),
    ToolUse(ToolUseBlock<'a>),
}

/// A `message` object, as returned whole or inside `message_start`.
#[derive(Serialize)]
pub(crate) struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'a [Block<'a>],
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: Usage,
}

impl Answer {
    /// The message object with `content`, `stop_reason` and `usage`.
    pub fn message<'a>(
        &'a self,
        content: &'a [Block<'a>],
        stop_reason: Option<&'a str>,
        usage: Usage,
    ) -> Message<'a> {
        Message {
            id: &self.id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content,
            stop_reason,
            stop_sequence: None,
            usage,
        }
    }
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = st.params(&headers);
    let req = match MessagesRequest::parse(&body) {
        Ok(req) => req,
        Err(err) => return reject(&st, &params, &err),
    };
    params.wait_latency().await;
    if let Some(status) = st.pick_error(&params) {
        return ApiError::new(status).response(Provider::Anthropic, &st, params.retry_after_secs);
    }
    let (output_tokens, stop_reason) = match req.max_tokens {
        Some(max) if max < u64::from(params.output_tokens) => (max as u32, "max_tokens"),
        _ if params.tool_use.is_some() => (params.output_tokens, "tool_use"),
        _ => (params.output_tokens, "end_turn"),
    };
    let tool_call = params
        .tool_use
        .clone()
        .map(|t| ToolCall::anthropic(t, &st.ids));
    let mut usage = usage::input_usage(&req, &st.cache);
    usage.output_tokens = output_tokens;
    let answer = Answer {
        id: st.ids.message_id(),
        model: req.model().to_owned(),
        usage,
        stop_reason,
        text_seed: req.text_seed(st.cfg.seed),
        tool_call,
    };
    let mut resp = if req.stream.unwrap_or(false) {
        stream::respond(&st, answer, &params)
    } else {
        let text = text::full_text(answer.text_seed, output_tokens);
        let mut content = vec![Block::Text(TextBlock {
            kind: "text",
            text: &text,
        })];
        if let Some(call) = &answer.tool_call {
            content.push(Block::ToolUse(ToolUseBlock::new(call, &call.tool.input)));
        }
        let message = answer.message(&content, Some(stop_reason), usage);
        let json = crate::usage_override::to_json(&message, params.usage_override.as_ref());
        reply::json(StatusCode::OK, json)
    };
    reply::add_request_id(&mut resp, Provider::Anthropic, &st);
    resp
}

#[derive(Serialize)]
struct TokenCount {
    input_tokens: u32,
}

/// `POST /v1/messages/count_tokens`.
pub(crate) async fn count_tokens(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = st.params(&headers);
    let req = match MessagesRequest::parse(&body) {
        Ok(req) => req,
        Err(err) => return reject(&st, &params, &err),
    };
    params.wait_latency().await;
    if let Some(status) = params.forced_status {
        return ApiError::new(status).response(Provider::Anthropic, &st, params.retry_after_secs);
    }
    let count = TokenCount {
        input_tokens: req.input_tokens(),
    };
    let mut resp = reply::json(StatusCode::OK, reply::to_json(&count));
    reply::add_request_id(&mut resp, Provider::Anthropic, &st);
    resp
}

fn reject(st: &AppState, params: &RequestParams, err: &BodyError) -> Response {
    err.api_error(Provider::Anthropic)
        .response(Provider::Anthropic, st, params.retry_after_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
