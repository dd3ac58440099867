//! Reassembly of an Anthropic `/v1/messages` stream.
//!
//! `message_start` carries the message shell (id, model, initial usage);
//! content blocks are opened by `content_block_start`, grown by
//! `content_block_delta` and closed by `content_block_stop`; `message_delta`
//! sets the stop reason and updates usage (later figures win);
//! `message_stop` ends the stream.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{append_str, error_text, event_json, EventInfo, StreamSummary};
use crate::sse::SseEvent;
use crate::usage::{model_from_response, usage_from_response};
use crate::Provider;

/// State of an Anthropic message stream being reassembled.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    message: Option<Map<String, Value>>,
    blocks: BTreeMap<u64, Block>,
    seen_content: bool,
    error: Option<String>,
    complete: bool,
}

/// One content block and, for tool use, its input JSON received so far.
#[derive(Debug, Default)]
struct Block {
    value: Map<String, Value>,
    partial_json: Option<String>,
}

impl Block {
    /// Turns the concatenated `partial_json` into `input`; text that does not
    /// parse is kept as a string so nothing is lost.
    fn close(&mut self) {
        let Some(json) = self.partial_json.take() else {
            return;
        };
        if json.trim().is_empty() {
            return;
        }
        let input = serde_json::from_str(&json).unwrap_or(Value::String(json));
        self.value.insert("input".to_owned(), input);
    }
}

impl AnthropicStream {
    /// A stream before its first event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one parsed event.
    pub fn on_event(&mut self, ev: &SseEvent) -> EventInfo {
        let mut info = EventInfo::default();
        let Some(mut v) = event_json(ev) else {
            if ev.has_data && ev.event.as_deref() == Some("error") {
                info.is_error = true;
                self.error.get_or_insert_with(|| ev.data.clone());
            }
            return info;
        };
        let kind = match v.get("type").and_then(Value::as_str) {
            Some(t) => t.to_owned(),
            None => ev.event.clone().unwrap_or_default(),
        };
        match kind.as_str() {
            "message_start" => {
                if let Some(Value::Object(mut m)) = v.get_mut("message").map(Value::take) {
                    if let Some(Value::Array(content)) = m.get_mut("content").map(Value::take) {
                        for (i, block) in (0u64..).zip(content) {
                            if let Value::Object(value) = block {
                                self.blocks.entry(i).or_insert(Block {
                                    value,
                                    partial_json: None,
                                });
                            }
                        }
                    }
                    self.message = Some(m);
                }
            }
            "content_block_start" => {
                if let Some(Value::Object(value)) = v.get_mut("content_block").map(Value::take) {
                    let index = self.index_of(&v);
                    self.blocks.insert(
                        index,
                        Block {
                            value,
                            partial_json: None,
                        },
                    );
                }
            }
            "content_block_delta" => {
                info.first_content = !self.seen_content;
                self.seen_content = true;
                let index = self.index_of(&v);
                if let Some(delta) = v.get("delta") {
                    self.apply_delta(index, delta);
                }
            }
            "content_block_stop" => {
                let index = self.index_of(&v);
                if let Some(block) = self.blocks.get_mut(&index) {
                    block.close();
                }
            }
            "message_delta" => self.apply_message_delta(&v),
            "message_stop" => self.complete = true,
            "error" => {
                info.is_error = true;
                let text = error_text(v.get("error").unwrap_or(&v));
                self.error.get_or_insert(text);
            }
            _ => {} // ping and event types added later
        }
        info
    }

    /// Ends the stream and builds the final message.
    pub fn finish(self) -> StreamSummary {
        let AnthropicStream {
            message,
            blocks,
            error,
            complete,
            ..
        } = self;
        let message = match message {
            Some(m) => Some(m),
            None if !blocks.is_empty() => Some(shell()),
            None => None,
        };
        let message = message.map(|mut m| {
            let content = blocks
                .into_values()
                .map(|mut b| {
                    b.close();
                    Value::Object(b.value)
                })
                .collect();
            m.insert("content".to_owned(), Value::Array(content));
            Value::Object(m)
        });
        let (usage, model) = match &message {
            Some(m) => (
                usage_from_response(Provider::Anthropic, m),
                model_from_response(m),
            ),
            None => Default::default(),
        };
        StreamSummary {
            message,
            usage,
            model,
            error,
            complete,
        }
    }

    /// The `index` member of an event; a missing one means the last block.
    fn index_of(&self, v: &Value) -> u64 {
        v.get("index")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| self.blocks.keys().next_back().copied().unwrap_or(0))
    }

    fn apply_delta(&mut self, index: u64, delta: &Value) {
        let kind = delta.get("type").and_then(Value::as_str).unwrap_or("");
        let block = self.blocks.entry(index).or_insert_with(|| Block {
            value: block_for_delta(kind),
            partial_json: None,
        });
        let text = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or("");
        match kind {
            "text_delta" => append_str(&mut block.value, "text", text("text")),
            "thinking_delta" => append_str(&mut block.value, "thinking", text("thinking")),
            "signature_delta" => {
                block
                    .value
                    .insert("signature".to_owned(), Value::from(text("signature")));
            }
            "input_json_delta" => block
                .partial_json
                .get_or_insert_with(String::new)
                .push_str(text("partial_json")),
            "citations_delta" => {
                if let Some(citation) = delta.get("citation") {
                    match block.value.get_mut("citations") {
                        Some(Value::Array(list)) => list.push(citation.clone()),
                        _ => {
                            block.value.insert(
                                "citations".to_owned(),
                                Value::Array(vec![citation.clone()]),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn apply_message_delta(&mut self, v: &Value) {
        let message = self.message.get_or_insert_with(shell);
        if let Some(Value::Object(delta)) = v.get("delta") {
            for (k, val) in delta {
                message.insert(k.clone(), val.clone());
            }
        }
        if let Some(Value::Object(update)) = v.get("usage") {
            let usage = message
                .entry("usage")
                .or_insert_with(|| Value::Object(Map::new()));
            if !usage.is_object() {
                *usage = Value::Object(Map::new());
            }
            if let Value::Object(usage) = usage {
                for (k, val) in update.iter().filter(|(_, val)| !val.is_null()) {
                    usage.insert(k.clone(), val.clone());
                }
            }
        }
    }
}

/// A message object for a stream whose `message_start` never came.
fn shell() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".to_owned(), Value::from("message"));
    m.insert("role".to_owned(), Value::from("assistant"));
    m
}

/// An empty block for a delta whose `content_block_start` never came.
fn block_for_delta(delta_type: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let (kind, empty) = match delta_type {
        "thinking_delta" | "signature_delta" => ("thinking", "thinking"),
        "input_json_delta" => ("tool_use", ""),
        _ => ("text", "text"),
    };
    m.insert("type".to_owned(), Value::from(kind));
    if !empty.is_empty() {
        m.insert(empty.to_owned(), Value::from(""));
    }
    m
}

#[cfg(test)]
mod tests;
