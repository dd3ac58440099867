//! Normalisation of request messages into a provider-neutral form that hashes the
//! same across the noise clients add between turns.
//!
//! What is removed: `<system-reminder>` blocks (whole blocks or inside text),
//! `cache_control` members, thinking blocks, tool call ids, whitespace
//! differences, system/developer messages (OpenAI) and empty messages. A tool
//! call or tool result whose id was already seen earlier in the same request
//! (a client resending a tool exchange) is dropped, for Anthropic
//! `tool_use`/`tool_result` and OpenAI `tool_calls`/`tool_call_id` alike. A string
//! `content` and a list of text blocks normalise alike, and consecutive messages
//! of one role are merged (OpenAI `tool` messages count as user messages), so a
//! turn is always one assistant message followed by one user message.

use std::collections::HashSet;

use serde_json::Value;

use crate::Provider;

const REMINDER_OPEN: &str = "<system-reminder>";
const REMINDER_CLOSE: &str = "</system-reminder>";

/// Who said a normalised message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
}

/// One piece of a normalised message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text with reminders removed and whitespace runs collapsed to one space.
    Text(String),
    /// A tool call: tool name and canonical JSON of its input (the call id is left out).
    ToolUse { name: String, input: String },
    /// A tool's answer (the call id is left out).
    ToolResult { is_error: bool, content: Vec<Part> },
    /// An image, document or other media: canonical JSON of its source.
    Media(String),
    /// Any other block: canonical JSON without `cache_control`.
    Other(String),
}

/// A normalised message: never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

/// Tool call and tool result ids seen so far in one request.
#[derive(Default)]
struct Seen {
    calls: HashSet<String>,
    results: HashSet<String>,
}

impl Seen {
    /// False when `id` is a tool call id already seen (no id is never a repeat).
    fn first_call(&mut self, id: Option<&Value>) -> bool {
        match id.and_then(Value::as_str) {
            Some(id) if !id.is_empty() => self.calls.insert(id.to_owned()),
            _ => true,
        }
    }

    /// False when `id` is a tool result id already seen.
    fn first_result(&mut self, id: Option<&Value>) -> bool {
        match id.and_then(Value::as_str) {
            Some(id) if !id.is_empty() => self.results.insert(id.to_owned()),
            _ => true,
        }
    }
}

/// Normalised messages of a request body; empty when it has none.
pub(crate) fn messages(provider: Provider, body: &Value) -> Vec<Message> {
    let raw = body.get("messages").and_then(Value::as_array);
    let mut out: Vec<Message> = Vec::new();
    let mut seen = Seen::default();
    for msg in raw.into_iter().flatten() {
        let parsed = match provider {
            Provider::Anthropic => anthropic_message(msg, &mut seen),
            Provider::Openai => openai_message(msg, &mut seen),
        };
        let Some(m) = parsed else { continue };
        if m.parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == m.role => last.parts.extend(m.parts),
            _ => out.push(m),
        }
    }
    out
}

fn anthropic_message(msg: &Value, seen: &mut Seen) -> Option<Message> {
    let role = match msg.get("role").and_then(Value::as_str)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    let parts = match msg.get("content") {
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| match b.get("type").and_then(Value::as_str) {
                Some("tool_use" | "server_tool_use") => seen.first_call(b.get("id")),
                Some("tool_result") => seen.first_result(b.get("tool_use_id")),
                _ => true,
            })
            .filter_map(anthropic_block)
            .collect(),
        other => anthropic_content(other),
    };
    Some(Message { role, parts })
}

/// Parts of an Anthropic `content`: a string or a list of blocks.
fn anthropic_content(content: Option<&Value>) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => text_part(s).into_iter().collect(),
        Some(Value::Array(blocks)) => blocks.iter().filter_map(anthropic_block).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![Part::Other(canonical_json(other, true))],
    }
}

fn anthropic_block(block: &Value) -> Option<Part> {
    let Some(kind) = block.get("type").and_then(Value::as_str) else {
        return match block {
            Value::String(s) => text_part(s),
            other => Some(Part::Other(canonical_json(other, true))),
        };
    };
    match kind {
        "text" => text_part(block.get("text").and_then(Value::as_str).unwrap_or("")),
        "thinking" | "redacted_thinking" => None,
        "tool_use" | "server_tool_use" => Some(Part::ToolUse {
            name: str_field(block, "name"),
            input: canonical_json(block.get("input").unwrap_or(&Value::Null), false),
        }),
        "tool_result" => Some(Part::ToolResult {
            is_error: block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            content: anthropic_content(block.get("content")),
        }),
        "image" | "document" => Some(Part::Media(canonical_json(
            block.get("source").unwrap_or(block),
            true,
        ))),
        _ => Some(Part::Other(canonical_json(block, true))),
    }
}

fn openai_message(msg: &Value, seen: &mut Seen) -> Option<Message> {
    let role = msg.get("role").and_then(Value::as_str)?;
    match role {
        "user" => Some(Message {
            role: Role::User,
            parts: openai_content(msg.get("content")),
        }),
        "assistant" => {
            let mut parts = openai_content(msg.get("content"));
            if let Some(refusal) = msg.get("refusal").and_then(Value::as_str) {
                parts.extend(text_part(refusal));
            }
            let calls = msg.get("tool_calls").and_then(Value::as_array);
            for call in calls.into_iter().flatten() {
                if seen.first_call(call.get("id")) {
                    parts.push(openai_call(call.get("function").unwrap_or(call)));
                }
            }
            if let Some(call) = msg.get("function_call").filter(|v| v.is_object()) {
                parts.push(openai_call(call));
            }
            Some(Message {
                role: Role::Assistant,
                parts,
            })
        }
        "tool" | "function" => Some(Message {
            role: Role::User,
            parts: if seen.first_result(msg.get("tool_call_id")) {
                vec![Part::ToolResult {
                    is_error: false,
                    content: openai_content(msg.get("content")),
                }]
            } else {
                Vec::new()
            },
        }),
        _ => None,
    }
}

/// A `function` object of an OpenAI tool call: `name` and `arguments` (a JSON string).
fn openai_call(function: &Value) -> Part {
    let input = match function.get("arguments") {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v) => canonical_json(&v, false),
            Err(_) => s.trim().to_owned(),
        },
        Some(v) => canonical_json(v, false),
        None => String::from("null"),
    };
    Part::ToolUse {
        name: str_field(function, "name"),
        input,
    }
}

/// Parts of an OpenAI `content`: a string, null, or a list of typed parts.
fn openai_content(content: Option<&Value>) -> Vec<Part> {
    let parts = match content {
        Some(Value::String(s)) => return text_part(s).into_iter().collect(),
        Some(Value::Array(parts)) => parts,
        Some(Value::Null) | None => return Vec::new(),
        Some(other) => return vec![Part::Other(canonical_json(other, true))],
    };
    parts
        .iter()
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") | Some("input_text") | Some("output_text") => {
                text_part(p.get("text").and_then(Value::as_str).unwrap_or(""))
            }
            Some("refusal") => text_part(p.get("refusal").and_then(Value::as_str).unwrap_or("")),
            Some(kind @ ("image_url" | "input_audio" | "file")) => {
                Some(Part::Media(canonical_json(p.get(kind).unwrap_or(p), true)))
            }
            _ => match p {
                Value::String(s) => text_part(s),
                other => Some(Part::Other(canonical_json(other, true))),
            },
        })
        .collect()
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn text_part(text: &str) -> Option<Part> {
    let t = hash_form(text);
    (!t.is_empty()).then_some(Part::Text(t))
}

/// Text as it is hashed: reminders removed, whitespace runs collapsed to one space.
pub(crate) fn hash_form(text: &str) -> String {
    let stripped = strip_reminders(text);
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes every complete `<system-reminder>...</system-reminder>` block and trims
/// the result. An opening tag without a closing one is left alone.
pub fn strip_reminders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(REMINDER_OPEN) {
        let after_open = &rest[open + REMINDER_OPEN.len()..];
        let Some(close) = after_open.find(REMINDER_CLOSE) else {
            break;
        };
        let left = rest[..open].trim_end();
        if !left.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(left);
        }
        rest = after_open[close + REMINDER_CLOSE.len()..].trim_start();
    }
    let rest = rest.trim_end();
    if !rest.is_empty() {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(rest);
    }
    out.trim().replace("\r\n", "\n")
}

/// Compact JSON with object keys sorted and integral floats written as integers.
/// With `drop_cache_control`, `cache_control` members are left out at every depth.
pub(crate) fn canonical_json(v: &Value, drop_cache_control: bool) -> String {
    let mut out = String::new();
    write_canonical(v, drop_cache_control, &mut out);
    out
}

fn write_canonical(v: &Value, drop_cc: bool, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .keys()
                .filter(|k| !(drop_cc && k.as_str() == "cache_control"))
                .collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_canonical(item, drop_cc, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, drop_cc, out);
            }
            out.push(']');
        }
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.push_str(&(f as i64).to_string());
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests;
