//! Normalisation of request messages into a provider-neutral form that hashes the
//! same across the noise clients add between turns.
//!
//! What is removed: `<system-reminder>` blocks (whole blocks or inside text),
//! `cache_control` members, thinking blocks, tool call ids, whitespace
//! differences, system/developer messages (OpenAI) and empty messages. A string
//! `content` and a list of text blocks normalise alike, and consecutive messages
//! of one role are merged (OpenAI `tool` messages count as user messages), so a
//! turn is always one assistant message followed by one user message.

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

/// Normalised messages of a request body; empty when it has none.
pub(crate) fn messages(provider: Provider, body: &Value) -> Vec<Message> {
    let raw = body.get("messages").and_then(Value::as_array);
    let mut out: Vec<Message> = Vec::new();
    for msg in raw.into_iter().flatten() {
        let parsed = match provider {
            Provider::Anthropic => anthropic_message(msg),
            Provider::Openai => openai_message(msg),
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

fn anthropic_message(msg: &Value) -> Option<Message> {
    let role = match msg.get("role").and_then(Value::as_str)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    Some(Message {
        role,
        parts: anthropic_content(msg.get("content")),
    })
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
            is_error: block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            content: anthropic_content(block.get("content")),
        }),
        "image" | "document" => Some(Part::Media(canonical_json(
            block.get("source").unwrap_or(block),
            true,
        ))),
        _ => Some(Part::Other(canonical_json(block, true))),
    }
}

fn openai_message(msg: &Value) -> Option<Message> {
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
                parts.push(openai_call(call.get("function").unwrap_or(call)));
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
            parts: vec![Part::ToolResult {
                is_error: false,
                content: openai_content(msg.get("content")),
            }],
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
            Some(kind @ ("image_url" | "input_audio" | "file")) => Some(Part::Media(
                canonical_json(p.get(kind).unwrap_or(p), true),
            )),
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anthropic(messages: Value) -> Vec<Message> {
        super::messages(Provider::Anthropic, &json!({ "messages": messages }))
    }

    #[test]
    fn reminders_are_removed_as_blocks_and_inside_text() {
        let text = "<system-reminder>\nctx\n</system-reminder>\nFix the bug\n\n<system-reminder>todo list empty</system-reminder>";
        assert_eq!(strip_reminders(text), "Fix the bug");
        assert_eq!(strip_reminders("a <system-reminder>x</system-reminder> b"), "a\n\nb");
        assert_eq!(strip_reminders("<system-reminder>only</system-reminder>"), "");
        // An unterminated tag is user text, not a reminder.
        assert_eq!(strip_reminders("see <system-reminder> tag"), "see <system-reminder> tag");
        assert_eq!(strip_reminders("a\r\nb "), "a\nb");
    }

    #[test]
    fn hash_form_collapses_whitespace() {
        assert_eq!(hash_form("  a \n\n b\tc "), "a b c");
        assert_eq!(hash_form("a<system-reminder>x</system-reminder>b"), "a b");
    }

    #[test]
    fn string_and_block_content_are_the_same() {
        let a = anthropic(json!([{ "role": "user", "content": "hello there" }]));
        let b = anthropic(json!([{ "role": "user", "content": [
            { "type": "text", "text": "hello there", "cache_control": { "type": "ephemeral" } }
        ] }]));
        assert_eq!(a, b);
        assert_eq!(a[0].parts, vec![Part::Text("hello there".into())]);
    }

    #[test]
    fn reminder_only_blocks_vanish_and_same_roles_merge() {
        let m = anthropic(json!([
            { "role": "user", "content": [{ "type": "text", "text": "<system-reminder>x</system-reminder>" }] },
            { "role": "user", "content": "first" },
            { "role": "assistant", "content": [{ "type": "thinking", "thinking": "hm", "signature": "s" }, { "type": "text", "text": "ok" }] },
            { "role": "assistant", "content": [{ "type": "thinking", "thinking": "only", "signature": "s" }] },
            { "role": "user", "content": [] },
            { "role": "system", "content": "not an anthropic role" }
        ]));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].role, Role::User);
        assert_eq!(m[0].parts, vec![Part::Text("first".into())]);
        assert_eq!(m[1].parts, vec![Part::Text("ok".into())]);
    }

    #[test]
    fn tool_blocks_drop_ids_and_cache_control() {
        let a = anthropic(json!([
            { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": { "command": "ls", "timeout": 1.0 } }] },
            { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_1", "content": "out", "cache_control": { "type": "ephemeral" } }] }
        ]));
        let b = anthropic(json!([
            { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_2", "name": "Bash", "input": { "timeout": 1, "command": "ls" } }] },
            { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_2", "is_error": false, "content": [{ "type": "text", "text": "out" }] }] }
        ]));
        assert_eq!(a, b);
        assert_eq!(
            a[0].parts,
            vec![Part::ToolUse { name: "Bash".into(), input: r#"{"command":"ls","timeout":1}"#.into() }]
        );
        let err = anthropic(json!([{ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "is_error": true, "content": "out" }] }]));
        assert_ne!(err[0], b[1]);
    }

    #[test]
    fn openai_tool_messages_become_one_user_turn() {
        let m = super::messages(Provider::Openai, &json!({ "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [{ "type": "text", "text": "weather?" }] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_1", "type": "function", "function": { "name": "get", "arguments": "{\"b\": 2, \"a\": 1}" } },
                { "id": "call_2", "type": "function", "function": { "name": "get", "arguments": "not json" } }
            ] },
            { "role": "tool", "tool_call_id": "call_1", "content": "sunny" },
            { "role": "tool", "tool_call_id": "call_2", "content": "rain" },
            { "role": "developer", "content": "ignored" }
        ] }));
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].parts, vec![Part::Text("weather?".into())]);
        assert_eq!(
            m[1].parts,
            vec![
                Part::ToolUse { name: "get".into(), input: r#"{"a":1,"b":2}"#.into() },
                Part::ToolUse { name: "get".into(), input: "not json".into() },
            ]
        );
        assert_eq!(m[2].role, Role::User);
        assert_eq!(m[2].parts.len(), 2);
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_cache_control_when_asked() {
        let v = json!({ "b": [1, 2.5, { "z": null, "cache_control": 1 }], "a": "x\"" });
        assert_eq!(canonical_json(&v, true), r#"{"a":"x\"","b":[1,2.5,{"z":null}]}"#);
        assert_eq!(
            canonical_json(&v, false),
            r#"{"a":"x\"","b":[1,2.5,{"cache_control":1,"z":null}]}"#
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        for body in [
            json!(null),
            json!({ "messages": 3 }),
            json!({ "messages": [1, "x", null, { "role": 5 }, { "role": "user", "content": 7 }] }),
            json!({ "messages": [{ "role": "user", "content": [1, "raw", { "type": 2 }] }] }),
        ] {
            let _ = super::messages(Provider::Anthropic, &body);
            let _ = super::messages(Provider::Openai, &body);
        }
        let m = anthropic(json!([{ "role": "user", "content": [1, "raw"] }]));
        assert_eq!(m[0].parts, vec![Part::Other("1".into()), Part::Text("raw".into())]);
    }
}
