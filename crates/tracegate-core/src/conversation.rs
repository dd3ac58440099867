//! Conversation linking keys: pure functions that hash a request's messages so
//! requests can be linked into conversations, branches and sub-tasks, plus the
//! text worth indexing for full-text search.
//!
//! Agent clients resend the whole conversation every request: request k's
//! messages are request k-1's messages plus the assistant reply and one new user
//! turn. So the parent of a request is the request whose normalised message list
//! hashes to this request's list minus its last two messages. The system prompt
//! and the tool definitions are not part of any hash (they change between turns
//! and client versions). Also normalised away: `<system-reminder>` blocks,
//! `cache_control`, thinking blocks, tool call ids, whitespace, string versus
//! text-block content, and OpenAI system/developer messages.
//!
//! A tool call or result repeated with an id already seen in the request is
//! dropped before hashing. A compacted continuation is linked by evidence: the
//! answer whose [fingerprint](answer_fingerprint) its summary repeats.
//!
//! [`Linker`] is the in-memory reference implementation of the linking rules.

mod fingerprint;
mod linker;
mod normalize;
mod text;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod scenarios;

use serde_json::Value;

use crate::Provider;
use normalize::{Message, Part, Role};

pub use fingerprint::{answer_fingerprint, summary_shingles, AnswerFingerprint, SummaryShingles};
pub use linker::{
    Evidence, LinkKind, LinkedTrace, Linker, TraceRef, CONTINUATION_WINDOW_MS, DEFAULT_MAX_AGE_MS,
    DEFAULT_MAX_TRACES, DEFAULT_TASK_WINDOW_MS, RETRY_WINDOW_MS,
};
pub use normalize::strip_reminders;
pub use text::{new_user_text, response_text};

/// A content hash: blake3 truncated to 16 bytes.
pub type Hash = [u8; 16];

/// How the first user message of a compacted (summarised) continuation begins.
pub const CONTINUATION_MARKER: &str =
    "This session is being continued from a previous conversation";

/// Tool names whose `prompt` input starts a sub-task.
pub const TASK_TOOL_NAMES: [&str; 2] = ["Task", "Agent"];

const LIST_DOMAIN: &[u8] = b"tracegate.conversation.list.v1";
const MESSAGE_DOMAIN: &[u8] = b"tracegate.conversation.message.v1";
const TEXT_DOMAIN: &[u8] = b"tracegate.conversation.text.v1";

/// The keys of one request that conversation linking works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkKeys {
    /// Hash of the normalised full message list.
    pub self_hash: Hash,
    /// Hash of the list minus the last two messages (`None` if fewer than 3 messages).
    pub parent_hash: Option<Hash>,
    /// Number of normalised messages.
    pub prefix_len: usize,
    /// The first user message marks a compacted continuation of an earlier conversation.
    pub continuation: bool,
    /// Hash of the normalised text of the first user message, for sub-task matching.
    pub first_user_text_hash: Option<Hash>,
    /// The request holds exactly one (normalised) message, from the user.
    pub single_user_message: bool,
}

/// The linking keys of a request body; `None` if it has no messages left after
/// normalisation.
pub fn link_keys(provider: Provider, request_body: &Value) -> Option<LinkKeys> {
    let messages = normalize::messages(provider, request_body);
    let n = messages.len();
    if n == 0 {
        return None;
    }
    let mut list = blake3::Hasher::new();
    list.update(LIST_DOMAIN);
    let mut parent_hash = None;
    for (i, m) in messages.iter().enumerate() {
        if n >= 3 && i == n - 2 {
            parent_hash = Some(truncate(&list));
        }
        list.update(message_digest(m).as_bytes());
    }
    let first_user = messages.first().filter(|m| m.role == Role::User);
    let first_text = first_user.map(first_text_of).unwrap_or_default();
    Some(LinkKeys {
        self_hash: truncate(&list),
        parent_hash,
        prefix_len: n,
        continuation: first_text.starts_with(CONTINUATION_MARKER),
        first_user_text_hash: (!first_text.is_empty()).then(|| text_hash(&first_text)),
        single_user_message: n == 1 && messages[0].role == Role::User,
    })
}

/// The shingles of a compacted continuation's summary: of its first user
/// message, when the request is a continuation candidate (it carries the
/// continuation marker and has no parent of its own); `None` otherwise.
pub fn continuation_summary(provider: Provider, request_body: &Value) -> Option<SummaryShingles> {
    let messages = normalize::messages(provider, request_body);
    if messages.len() >= 3 {
        return None;
    }
    let first = messages.first().filter(|m| m.role == Role::User)?;
    let text = first_text_of(first);
    text.starts_with(CONTINUATION_MARKER)
        .then(|| summary_shingles(&text))
}

/// Hashes of the `prompt` inputs of Task/Agent tool calls in a (reassembled)
/// response body, hashed like [`LinkKeys::first_user_text_hash`].
pub fn task_prompt_hashes(provider: Provider, response_body: &Value) -> Vec<Hash> {
    let mut calls: Vec<(&str, Value)> = Vec::new();
    match provider {
        Provider::Anthropic => {
            let blocks = response_body.get("content").and_then(Value::as_array);
            for b in blocks.into_iter().flatten() {
                if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                    calls.push((name, b.get("input").cloned().unwrap_or(Value::Null)));
                }
            }
        }
        Provider::Openai => {
            for function in text::openai_functions(response_body) {
                let name = function.get("name").and_then(Value::as_str).unwrap_or("");
                let args = match function.get("arguments") {
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                    Some(v) => v.clone(),
                    None => Value::Null,
                };
                calls.push((name, args));
            }
        }
    }
    calls
        .into_iter()
        .filter(|(name, _)| TASK_TOOL_NAMES.contains(name))
        .filter_map(|(_, input)| {
            let prompt = normalize::hash_form(input.get("prompt")?.as_str()?);
            (!prompt.is_empty()).then(|| text_hash(&prompt))
        })
        .collect()
}

/// The text of the first user message as hashed: its text parts, in order.
fn first_text_of(m: &Message) -> String {
    let texts: Vec<&str> = m
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    texts.join(" ")
}

/// Hash of an already normalised text (see `normalize::hash_form`).
fn text_hash(normalised: &str) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(TEXT_DOMAIN);
    h.update(normalised.as_bytes());
    truncate(&h)
}

fn truncate(h: &blake3::Hasher) -> Hash {
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

fn message_digest(m: &Message) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(MESSAGE_DOMAIN);
    h.update(match m.role {
        Role::User => b"u",
        Role::Assistant => b"a",
    });
    encode_parts(&m.parts, &mut h);
    h.finalize()
}

/// Unambiguous encoding: a tag byte per part and length-prefixed strings.
fn encode_parts(parts: &[Part], h: &mut blake3::Hasher) {
    fn s(h: &mut blake3::Hasher, v: &str) {
        h.update(&(v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    h.update(&(parts.len() as u64).to_le_bytes());
    for p in parts {
        match p {
            Part::Text(t) => {
                h.update(b"T");
                s(h, t);
            }
            Part::ToolUse { name, input } => {
                h.update(b"U");
                s(h, name);
                s(h, input);
            }
            Part::ToolResult { is_error, content } => {
                h.update(if *is_error { b"E" } else { b"R" });
                encode_parts(content, h);
            }
            Part::Media(m) => {
                h.update(b"M");
                s(h, m);
            }
            Part::Other(o) => {
                h.update(b"O");
                s(h, o);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn body(messages: Value) -> Value {
        json!({ "model": "m", "messages": messages })
    }

    #[test]
    fn no_messages_means_no_keys() {
        assert_eq!(
            link_keys(Provider::Anthropic, &json!({ "prompt": "x" })),
            None
        );
        assert_eq!(link_keys(Provider::Anthropic, &body(json!([]))), None);
        let only_system = body(json!([{ "role": "system", "content": "s" }]));
        assert_eq!(link_keys(Provider::Openai, &only_system), None);
        let only_reminder =
            body(json!([{ "role": "user", "content": "<system-reminder>x</system-reminder>" }]));
        assert_eq!(link_keys(Provider::Anthropic, &only_reminder), None);
    }

    #[test]
    fn parent_hash_is_the_list_without_the_last_two() {
        let one = body(json!([{ "role": "user", "content": "a" }]));
        let two = body(
            json!([{ "role": "user", "content": "a" }, { "role": "assistant", "content": "b" }]),
        );
        let three = body(json!([
            { "role": "user", "content": "a" }, { "role": "assistant", "content": "b" }, { "role": "user", "content": "c" }
        ]));
        let k1 = link_keys(Provider::Anthropic, &one).unwrap();
        let k2 = link_keys(Provider::Anthropic, &two).unwrap();
        let k3 = link_keys(Provider::Anthropic, &three).unwrap();
        assert_eq!((k1.prefix_len, k2.prefix_len, k3.prefix_len), (1, 2, 3));
        assert_eq!((k1.parent_hash, k2.parent_hash), (None, None));
        assert_eq!(k3.parent_hash, Some(k1.self_hash));
        assert!(k1.single_user_message && !k2.single_user_message);
        assert_ne!(k1.self_hash, k2.self_hash);
        // Roles matter: the same text said by the other side is another message.
        let swapped = body(json!([{ "role": "assistant", "content": "a" }]));
        assert_ne!(
            link_keys(Provider::Anthropic, &swapped).unwrap().self_hash,
            k1.self_hash
        );
        assert!(
            !link_keys(Provider::Anthropic, &swapped)
                .unwrap()
                .single_user_message
        );
    }

    #[test]
    fn continuation_marker_is_found_behind_reminders() {
        let b = body(json!([{ "role": "user", "content": [
            { "type": "text", "text": "<system-reminder>ctx</system-reminder>" },
            { "type": "text", "text": "This session is being continued from a previous conversation that ran out of context." }
        ] }]));
        assert!(link_keys(Provider::Anthropic, &b).unwrap().continuation);
        let quoted = body(
            json!([{ "role": "user", "content": "Why does it say: This session is being continued from a previous conversation?" }]),
        );
        assert!(
            !link_keys(Provider::Anthropic, &quoted)
                .unwrap()
                .continuation
        );
    }

    #[test]
    fn task_prompt_matches_first_user_text_up_to_whitespace() {
        let response = json!({ "content": [
            { "type": "tool_use", "id": "t1", "name": "Task", "input": { "prompt": "Find  the bug\r\nin cart.rs " } },
            { "type": "tool_use", "id": "t2", "name": "Agent", "input": { "prompt": "Second" } },
            { "type": "tool_use", "id": "t3", "name": "Bash", "input": { "prompt": "not a task" } },
            { "type": "tool_use", "id": "t4", "name": "Task", "input": { "description": "no prompt" } }
        ] });
        let hashes = task_prompt_hashes(Provider::Anthropic, &response);
        assert_eq!(hashes.len(), 2);
        let sub = body(json!([{ "role": "user", "content": "Find the bug\nin cart.rs" }]));
        assert_eq!(
            link_keys(Provider::Anthropic, &sub)
                .unwrap()
                .first_user_text_hash,
            Some(hashes[0])
        );
        assert_ne!(hashes[0], hashes[1]);
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("user"),
                Just("assistant"),
                Just("tool"),
                Just("text"),
                Just("tool_use"),
                Just("tool_result"),
                Just("<system-reminder>x</system-reminder>"),
                Just("Task"),
            ]
            .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let keys = prop_oneof![
                Just("role".to_owned()),
                Just("content".to_owned()),
                Just("type".to_owned()),
                Just("text".to_owned()),
                Just("messages".to_owned()),
                Just("input".to_owned()),
                Just("prompt".to_owned()),
                Just("name".to_owned()),
                Just("choices".to_owned()),
                Just("message".to_owned()),
                Just("tool_calls".to_owned()),
                Just("function".to_owned()),
                Just("arguments".to_owned()),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((keys, inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn no_input_panics(v in any_json()) {
            for p in [Provider::Anthropic, Provider::Openai] {
                let keys = link_keys(p, &v);
                if let Some(k) = keys {
                    prop_assert!(k.prefix_len > 0);
                    prop_assert_eq!(k.parent_hash.is_some(), k.prefix_len >= 3);
                }
                let _ = task_prompt_hashes(p, &v);
                let _ = new_user_text(p, &v);
                let _ = response_text(p, &v);
            }
        }
    }
}
