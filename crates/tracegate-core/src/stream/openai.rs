//! Reassembly of an OpenAI `/v1/chat/completions` stream.
//!
//! Each `chat.completion.chunk` carries fragments per choice (`delta.content`,
//! `delta.refusal`, `delta.tool_calls[k]` with `function.arguments` pieces,
//! `finish_reason`); with `stream_options.include_usage` a last chunk with
//! `"choices": []` carries the usage. `data: [DONE]` ends the stream and a
//! mid-stream failure is a chunk with an `error` member.

mod strip;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{error_text, event_json, EventInfo, StreamSummary};
use crate::sse::SseEvent;
use crate::usage::{model_from_response, usage_from_response};
use crate::Provider;

pub use strip::strip_injected_usage;

/// Top-level chunk members copied to the final message, in output order.
const HEAD_KEYS: [&str; 3] = ["id", "created", "model"];
const TAIL_KEYS: [&str; 2] = ["service_tier", "system_fingerprint"];

/// State of an OpenAI chat completion stream being reassembled.
#[derive(Debug, Default)]
pub struct OpenaiStream {
    /// Latest non-null values of the members in `HEAD_KEYS` and `TAIL_KEYS`.
    head: Map<String, Value>,
    choices: BTreeMap<u64, Choice>,
    usage: Option<Value>,
    seen_chunk: bool,
    seen_content: bool,
    done: bool,
    finished: bool,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct Choice {
    role: Option<String>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    tool_calls: BTreeMap<u64, ToolCall>,
    logprobs: Option<Map<String, Value>>,
    finish_reason: Option<Value>,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: String,
}

impl OpenaiStream {
    /// A stream before its first chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one parsed event.
    pub fn on_event(&mut self, ev: &SseEvent) -> EventInfo {
        let mut info = EventInfo::default();
        if ev.has_data && ev.data.trim() == "[DONE]" {
            self.done = true;
            return info;
        }
        let Some(Value::Object(chunk)) = event_json(ev) else {
            if ev.has_data && ev.event.as_deref() == Some("error") {
                info.is_error = true;
                self.error.get_or_insert_with(|| ev.data.clone());
            }
            return info;
        };
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            info.is_error = true;
            self.error.get_or_insert_with(|| error_text(err));
            return info;
        }
        self.seen_chunk = true;
        for key in HEAD_KEYS.iter().chain(&TAIL_KEYS) {
            if let Some(v) = chunk.get(*key).filter(|v| !v.is_null()) {
                self.head.insert((*key).to_owned(), v.clone());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let mut content = false;
        if let Some(Value::Array(choices)) = chunk.get("choices") {
            for (pos, choice) in (0u64..).zip(choices) {
                let index = choice.get("index").and_then(Value::as_u64).unwrap_or(pos);
                content |= self.apply_choice(index, choice);
            }
        }
        if content && !self.seen_content {
            self.seen_content = true;
            info.first_content = true;
        }
        info
    }

    /// Applies one choice fragment; returns whether it carried content.
    fn apply_choice(&mut self, index: u64, fragment: &Value) -> bool {
        let choice = self.choices.entry(index).or_default();
        let mut content = false;
        if let Some(delta) = fragment.get("delta") {
            if let Some(role) = delta.get("role").and_then(Value::as_str) {
                choice.role = Some(role.to_owned());
            }
            for (key, slot) in [
                ("content", &mut choice.content),
                ("refusal", &mut choice.refusal),
                ("reasoning_content", &mut choice.reasoning_content),
            ] {
                if let Some(text) = delta.get(key).and_then(Value::as_str) {
                    slot.get_or_insert_with(String::new).push_str(text);
                    content |= !text.is_empty();
                }
            }
            if let Some(Value::Array(calls)) = delta.get("tool_calls") {
                for (pos, call) in (0u64..).zip(calls) {
                    content = true;
                    let k = call.get("index").and_then(Value::as_u64).unwrap_or(pos);
                    let acc = choice.tool_calls.entry(k).or_default();
                    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
                    if let Some(id) = text(call.get("id")).filter(|s| !s.is_empty()) {
                        acc.id = Some(id);
                    }
                    if let Some(kind) = text(call.get("type")).filter(|s| !s.is_empty()) {
                        acc.kind = Some(kind);
                    }
                    if let Some(function) = call.get("function") {
                        acc.name
                            .push_str(&text(function.get("name")).unwrap_or_default());
                        acc.arguments
                            .push_str(&text(function.get("arguments")).unwrap_or_default());
                    }
                }
            }
        }
        if let Some(Value::Object(logprobs)) = fragment.get("logprobs") {
            let acc = choice.logprobs.get_or_insert_with(Map::new);
            for (key, value) in logprobs {
                match (acc.get_mut(key), value) {
                    (Some(Value::Array(have)), Value::Array(more)) => {
                        have.extend(more.iter().cloned())
                    }
                    (_, v) if v.is_null() => {}
                    _ => {
                        acc.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        if let Some(reason) = fragment.get("finish_reason").filter(|r| !r.is_null()) {
            choice.finish_reason = Some(reason.clone());
            self.finished = true;
        }
        content
    }

    /// Ends the stream and builds the final `chat.completion` object.
    pub fn finish(self) -> StreamSummary {
        let message = self.seen_chunk.then(|| self.final_message());
        let (usage, model) = match &message {
            Some(m) => (
                usage_from_response(Provider::Openai, m),
                model_from_response(m),
            ),
            None => Default::default(),
        };
        StreamSummary {
            message,
            usage,
            model,
            error: self.error,
            complete: self.done || self.finished,
        }
    }

    fn final_message(&self) -> Value {
        let mut m = Map::new();
        let head = |m: &mut Map<String, Value>, key: &str| {
            if let Some(v) = self.head.get(key) {
                m.insert(key.to_owned(), v.clone());
            }
        };
        head(&mut m, "id");
        m.insert("object".to_owned(), Value::from("chat.completion"));
        head(&mut m, "created");
        head(&mut m, "model");
        let choices = self
            .choices
            .iter()
            .map(|(index, c)| c.to_json(*index))
            .collect();
        m.insert("choices".to_owned(), Value::Array(choices));
        if let Some(usage) = &self.usage {
            m.insert("usage".to_owned(), usage.clone());
        }
        for key in TAIL_KEYS {
            head(&mut m, key);
        }
        Value::Object(m)
    }
}

impl Choice {
    fn to_json(&self, index: u64) -> Value {
        let mut msg = Map::new();
        let role = self.role.as_deref().unwrap_or("assistant");
        msg.insert("role".to_owned(), Value::from(role));
        msg.insert("content".to_owned(), self.content.clone().into());
        if let Some(refusal) = &self.refusal {
            msg.insert("refusal".to_owned(), Value::from(refusal.as_str()));
        }
        if let Some(reasoning) = &self.reasoning_content {
            msg.insert(
                "reasoning_content".to_owned(),
                Value::from(reasoning.as_str()),
            );
        }
        if !self.tool_calls.is_empty() {
            let calls = self.tool_calls.values().map(ToolCall::to_json).collect();
            msg.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        let mut choice = Map::new();
        choice.insert("index".to_owned(), Value::from(index));
        choice.insert("message".to_owned(), Value::Object(msg));
        choice.insert(
            "logprobs".to_owned(),
            self.logprobs.clone().map_or(Value::Null, Value::Object),
        );
        choice.insert(
            "finish_reason".to_owned(),
            self.finish_reason.clone().unwrap_or(Value::Null),
        );
        Value::Object(choice)
    }
}

impl ToolCall {
    fn to_json(&self) -> Value {
        let mut call = Map::new();
        if let Some(id) = &self.id {
            call.insert("id".to_owned(), Value::from(id.as_str()));
        }
        let kind = self.kind.as_deref().unwrap_or("function");
        call.insert("type".to_owned(), Value::from(kind));
        let mut function = Map::new();
        function.insert("name".to_owned(), Value::from(self.name.as_str()));
        function.insert("arguments".to_owned(), Value::from(self.arguments.as_str()));
        call.insert("function".to_owned(), Value::Object(function));
        Value::Object(call)
    }
}

#[cfg(test)]
mod tests;
