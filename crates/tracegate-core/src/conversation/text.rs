//! Text for full-text indexing: what is new in a request, and what the answer said.

use serde_json::Value;

use super::normalize::strip_reminders;
use crate::Provider;

/// Normalised text of what is NEW in a request: the user turn(s) after the last
/// assistant message (typed text and tool results), with system reminders removed.
/// Only the new part is returned so the index does not grow with the square of
/// the conversation. System and developer messages are left out.
pub fn new_user_text(provider: Provider, request_body: &Value) -> String {
    let Some(messages) = request_body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let start = messages
        .iter()
        .rposition(|m| role(m) == Some("assistant"))
        .map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for m in &messages[start..] {
        match (provider, role(m)) {
            (Provider::Anthropic, Some("user")) => anthropic_texts(m.get("content"), &mut out),
            (Provider::Openai, Some("user" | "tool" | "function")) => {
                openai_texts(m.get("content"), &mut out)
            }
            _ => {}
        }
    }
    join(out)
}

/// Text of an answer, for full-text indexing: text blocks or message content,
/// and tool calls as `name arguments`. Thinking is left out.
pub fn response_text(provider: Provider, response_body: &Value) -> String {
    let mut out = Vec::new();
    match provider {
        Provider::Anthropic => {
            let blocks = response_body.get("content").and_then(Value::as_array);
            for b in blocks.into_iter().flatten() {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => push_text(b.get("text"), &mut out),
                    Some("tool_use" | "server_tool_use") => {
                        let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                        let input = b.get("input").map(Value::to_string).unwrap_or_default();
                        out.push(format!("{name} {input}").trim().to_owned());
                    }
                    _ => {}
                }
            }
        }
        Provider::Openai => {
            for message in openai_messages(response_body) {
                openai_texts(message.get("content"), &mut out);
                push_text(message.get("refusal"), &mut out);
            }
            for function in openai_functions(response_body) {
                let name = function.get("name").and_then(Value::as_str).unwrap_or("");
                let args = match function.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                out.push(format!("{name} {args}").trim().to_owned());
            }
        }
    }
    join(out)
}

/// The `message` objects of every choice of an OpenAI chat completion.
fn openai_messages(body: &Value) -> impl Iterator<Item = &Value> {
    let choices = body.get("choices").and_then(Value::as_array);
    choices
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("message").filter(|m| m.is_object()))
}

/// The `function` objects of the tool calls (and legacy `function_call`) of an
/// OpenAI chat completion, in order.
pub(crate) fn openai_functions(body: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for message in openai_messages(body) {
        let calls = message.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            out.push(call.get("function").unwrap_or(call));
        }
        if let Some(call) = message.get("function_call").filter(|v| v.is_object()) {
            out.push(call);
        }
    }
    out
}

fn role(m: &Value) -> Option<&str> {
    m.get("role").and_then(Value::as_str)
}

/// Texts of an Anthropic content: text blocks and the content of tool results.
fn anthropic_texts(content: Option<&Value>, out: &mut Vec<String>) {
    match content {
        Some(Value::String(_)) => push_text(content, out),
        Some(Value::Array(blocks)) => {
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => push_text(b.get("text"), out),
                    Some("tool_result") => anthropic_texts(b.get("content"), out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Texts of an OpenAI content: a string or a list of typed parts.
fn openai_texts(content: Option<&Value>, out: &mut Vec<String>) {
    match content {
        Some(Value::String(_)) => push_text(content, out),
        Some(Value::Array(parts)) => {
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text" | "input_text" | "output_text") => push_text(p.get("text"), out),
                    Some("refusal") => push_text(p.get("refusal"), out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn push_text(text: Option<&Value>, out: &mut Vec<String>) {
    if let Some(t) = text.and_then(Value::as_str) {
        let t = strip_reminders(t);
        if !t.is_empty() {
            out.push(t);
        }
    }
}

fn join(parts: Vec<String>) -> String {
    parts.join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_text_is_only_after_the_last_assistant_message() {
        let body = json!({ "system": [{ "type": "text", "text": "You are Claude Code" }], "messages": [
            { "role": "user", "content": "old question" },
            { "role": "assistant", "content": [{ "type": "text", "text": "old answer" }] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_1", "content": [{ "type": "text", "text": "file body" }] },
                { "type": "text", "text": "<system-reminder>\nThe TodoWrite list is empty.\n</system-reminder>" },
                { "type": "text", "text": "now fix it", "cache_control": { "type": "ephemeral" } }
            ] }
        ] });
        assert_eq!(
            new_user_text(Provider::Anthropic, &body),
            "file body\nnow fix it"
        );
    }

    #[test]
    fn first_request_indexes_every_user_message() {
        let body = json!({ "messages": [
            { "role": "user", "content": "<system-reminder>ctx</system-reminder>\nhello" },
            { "role": "user", "content": "world" }
        ] });
        assert_eq!(new_user_text(Provider::Anthropic, &body), "hello\nworld");
        assert_eq!(new_user_text(Provider::Anthropic, &json!({})), "");
    }

    #[test]
    fn openai_new_text_skips_system_and_keeps_tool_output() {
        let body = json!({ "messages": [
            { "role": "system", "content": "secret system prompt" },
            { "role": "user", "content": "weather in Paris?" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "c", "type": "function", "function": { "name": "w", "arguments": "{}" } }] },
            { "role": "tool", "tool_call_id": "c", "content": "sunny, 21C" },
            { "role": "developer", "content": "be terse" },
            { "role": "user", "content": [{ "type": "text", "text": "and tomorrow?" }, { "type": "image_url", "image_url": { "url": "x" } }] }
        ] });
        assert_eq!(
            new_user_text(Provider::Openai, &body),
            "sunny, 21C\nand tomorrow?"
        );
    }

    #[test]
    fn anthropic_response_text_has_text_and_tool_calls_but_no_thinking() {
        let body = json!({ "type": "message", "role": "assistant", "content": [
            { "type": "thinking", "thinking": "private musing", "signature": "sig" },
            { "type": "text", "text": "Let me look." },
            { "type": "tool_use", "id": "toolu_1", "name": "Read", "input": { "file_path": "/src/main.rs" } }
        ], "stop_reason": "tool_use" });
        assert_eq!(
            response_text(Provider::Anthropic, &body),
            "Let me look.\nRead {\"file_path\":\"/src/main.rs\"}"
        );
    }

    #[test]
    fn openai_response_text_has_content_and_tool_calls() {
        let body = json!({ "object": "chat.completion", "choices": [{ "index": 0, "message": {
            "role": "assistant", "content": "Checking.",
            "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }]
        }, "finish_reason": "tool_calls" }] });
        assert_eq!(
            response_text(Provider::Openai, &body),
            "Checking.\nget_weather {\"city\":\"Paris\"}"
        );
        let error = json!({ "type": "error", "error": { "message": "overloaded" } });
        assert_eq!(response_text(Provider::Anthropic, &error), "");
        assert_eq!(response_text(Provider::Openai, &error), "");
    }
}
