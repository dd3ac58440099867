//! A tool call the mock answers with when the request asks for one: the
//! `x-mock-tool-use: {"name":"Task","input":{"prompt":"..."}}` header makes the answer end
//! with that call (Anthropic `tool_use` block, OpenAI `tool_calls`), streamed or not.

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ids::IdGen;

/// Header asking for a tool call in the answer.
pub const HEADER_TOOL_USE: &str = "x-mock-tool-use";

/// Pieces a streamed call's arguments are split into.
const STREAMED_PIECES: usize = 3;

/// The requested call: a tool name and its input object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolUse {
    pub name: String,
    pub input: Value,
}

#[derive(Deserialize)]
struct Wire {
    name: String,
    #[serde(default)]
    input: Option<Map<String, Value>>,
}

impl ToolUse {
    /// The call asked for in `headers`; a malformed value (not JSON, no name, an input that
    /// is not an object) is ignored like other malformed `x-mock-*` values.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let raw = headers.get(HEADER_TOOL_USE)?.as_bytes();
        let wire: Wire = serde_json::from_slice(raw).ok()?;
        if wire.name.trim().is_empty() {
            return None;
        }
        Some(ToolUse {
            name: wire.name,
            input: Value::Object(wire.input.unwrap_or_default()),
        })
    }

    /// The input as the compact JSON text OpenAI sends in `arguments`.
    pub fn arguments(&self) -> String {
        self.input.to_string()
    }

    /// [`Self::arguments`] cut into a few pieces on character boundaries, as streamed.
    pub fn argument_pieces(&self) -> Vec<String> {
        let args = self.arguments();
        let chars: Vec<char> = args.chars().collect();
        let size = chars.len().div_ceil(STREAMED_PIECES).max(1);
        chars.chunks(size).map(|c| c.iter().collect()).collect()
    }
}

/// A requested call with the id the provider gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    pub tool: ToolUse,
}

impl ToolCall {
    /// An Anthropic call (`toolu_01…`).
    pub fn anthropic(tool: ToolUse, ids: &IdGen) -> Self {
        ToolCall {
            id: ids.base62("toolu_01", 22),
            tool,
        }
    }

    /// An OpenAI call (`call_…`).
    pub fn openai(tool: ToolUse, ids: &IdGen) -> Self {
        ToolCall {
            id: ids.base62("call_", 24),
            tool,
        }
    }

    /// The whole OpenAI `tool_calls` entry.
    pub fn openai_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": {"name": self.tool.name, "arguments": self.tool.arguments()},
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
