//! Conversation linking keys: pure functions that hash a request's messages so
//! requests can be linked into conversations, branches and sub-tasks, plus the
//! text worth indexing for full-text search.
//!
//! Agent clients resend the whole conversation every request: request k's
//! messages are request k-1's messages plus the assistant reply and one new user
//! turn. So the parent of a request is the request whose normalised message list
//! hashes to this request's list minus its last two messages. The system prompt
//! and the tool definitions are not part of any hash (they change between turns
//! and client versions); see [`normalize`] for what else is normalised away.
//!
//! [`Linker`] is the in-memory reference implementation of the linking rules.

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

pub use linker::{
    LinkKind, LinkedTrace, Linker, TraceRef, CONTINUATION_WINDOW_MS, DEFAULT_MAX_AGE_MS,
    DEFAULT_MAX_TRACES, RETRY_WINDOW_MS, TASK_WINDOW_MS,
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
