//! The OpenAI Chat Completions API: `POST /v1/chat/completions`.

mod stream;
mod usage;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::errors::{ApiError, BodyError};
use crate::reply::{self, Provider};
use crate::state::AppState;
use crate::text;
use crate::tool_use::ToolCall;

pub(crate) use usage::Usage;

/// The fields of a chat completion request the mock looks at.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest<'a> {
    #[serde(default)]
    model: Option<String>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl<'a> ChatRequest<'a> {
    /// Parses and checks `body`: `model` and a `messages` list are required.
    pub fn parse(body: &'a [u8]) -> Result<Self, BodyError> {
        let req: Self = serde_json::from_slice(body)?;
        match req.messages {
            None => Err(BodyError::Missing("messages")),
            Some(raw) if !raw.get().starts_with('[') => Err(BodyError::NotAList("messages")),
            Some(_) if req.model.is_none() => Err(BodyError::Missing("model")),
            Some(_) => Ok(req),
        }
    }

    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or_default()
    }

    /// Seed of the generated text: the model and the prompt, not the other options.
    fn text_seed(&self, seed: Option<u64>) -> u64 {
        let raw = text::raw_bytes;
        let parts = [self.model().as_bytes(), raw(self.messages), raw(self.tools)];
        text::text_seed(&parts, seed)
    }

    /// Token estimate of the prompt (messages and tools).
    pub fn prompt_tokens(&self) -> u32 {
        let len = |raw: Option<&RawValue>| raw.map_or(0, |r| r.get().len());
        text::estimate_tokens(len(self.messages) + len(self.tools))
    }

    fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// Everything needed to write one answer, streamed or not.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub fingerprint: String,
    pub usage: Usage,
    pub finish_reason: &'static str,
    pub text_seed: u64,
    /// A tool call that ends the answer (`x-mock-tool-use`).
    pub tool_call: Option<ToolCall>,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: &'a Usage,
    service_tier: &'static str,
    system_fingerprint: &'a str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<&'a str>,
    annotations: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[Value; 1]>,
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = st.params(&headers);
    let req = match ChatRequest::parse(&body) {
        Ok(req) => req,
        Err(err) => {
            return err.api_error(Provider::OpenAi).response(
                Provider::OpenAi,
                &st,
                params.retry_after_secs,
            )
        }
    };
    params.wait_latency().await;
    if let Some(status) = st.pick_error(&params) {
        return ApiError::new(status).response(Provider::OpenAi, &st, params.retry_after_secs);
    }
    let limit = req.max_completion_tokens.or(req.max_tokens);
    let (completion_tokens, finish_reason) = match limit {
        Some(max) if max < u64::from(params.output_tokens) => (max as u32, "length"),
        _ if params.tool_use.is_some() => (params.output_tokens, "tool_calls"),
        _ => (params.output_tokens, "stop"),
    };
    let tool_call = params
        .tool_use
        .clone()
        .map(|t| ToolCall::openai(t, &st.ids));
    let prompt_tokens = req.prompt_tokens();
    let cached = usage::cached_tokens(&req, prompt_tokens, &st.cache);
    let answer = Answer {
        id: st.ids.completion_id(),
        created: reply::unix_now(),
        model: req.model().to_owned(),
        fingerprint: st.fingerprint.clone(),
        usage: Usage::new(prompt_tokens, cached, completion_tokens),
        finish_reason,
        text_seed: req.text_seed(st.cfg.seed),
        tool_call,
    };
    let mut resp = if req.stream.unwrap_or(false) {
        stream::respond(&st, answer, &params, req.include_usage())
    } else {
        let content = text::full_text(answer.text_seed, completion_tokens);
        let completion = Completion {
            id: &answer.id,
            object: "chat.completion",
            created: answer.created,
            model: &answer.model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: &content,
                    refusal: None,
                    annotations: [],
                    tool_calls: answer.tool_call.as_ref().map(|c| [c.openai_json()]),
                },
                logprobs: None,
                finish_reason,
            }],
            usage: &answer.usage,
            service_tier: "default",
            system_fingerprint: &answer.fingerprint,
        };
        let json = crate::usage_override::to_json(&completion, params.usage_override.as_ref());
        reply::json(StatusCode::OK, json)
    };
    reply::add_request_id(&mut resp, Provider::OpenAi, &st);
    reply::set_header(
        &mut resp,
        "openai-processing-ms",
        &params.latency.as_millis().to_string(),
    );
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
