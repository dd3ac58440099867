//! Anthropic usage, including simulated prompt caching at `cache_control` breakpoints.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::MessagesRequest;
use crate::cache::{Breakpoint, PrefixCache};
use crate::ids::Fnv;

/// The `usage` object of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    pub input_tokens: u32,
    pub cache_creation_input_tokens: u32,
    pub cache_read_input_tokens: u32,
    pub output_tokens: u32,
}

/// Input side of the usage of `req` (output tokens left at 0).
///
/// Without `cache_control` everything is `input_tokens`. With it, the prompt up to the
/// last breakpoint is cache creation the first time; on a later request the longest
/// already seen breakpoint prefix is a cache read and the rest up to the last
/// breakpoint is creation. The three counts always add up to the token estimate.
pub(crate) fn input_usage(req: &MessagesRequest<'_>, cache: &PrefixCache) -> Usage {
    let total = req.input_tokens();
    let mut usage = Usage {
        input_tokens: total,
        ..Usage::default()
    };
    let raws = [req.tools, req.system, req.messages];
    if !raws
        .iter()
        .flatten()
        .any(|raw| raw.get().contains("\"cache_control\""))
    {
        return usage;
    }
    let points = breakpoints(req);
    let Some(last) = points.last().copied() else {
        return usage;
    };
    let hit = cache.observe(&points);
    let read_bytes = hit.map_or(0, |b| b.bytes);
    let budget = total.saturating_sub(1);
    let read = tokens(read_bytes).min(budget);
    let creation = tokens(last.bytes.saturating_sub(read_bytes)).min(budget - read);
    usage.cache_read_input_tokens = read;
    usage.cache_creation_input_tokens = creation;
    usage.input_tokens = total - read - creation;
    usage
}

fn tokens(bytes: usize) -> u32 {
    u32::try_from(bytes / 4).unwrap_or(u32::MAX)
}

/// Walks prompt blocks in cache order (tools, system, messages), hashing as it goes.
struct Walker {
    hash: Fnv,
    bytes: usize,
    points: Vec<Breakpoint>,
}

impl Walker {
    fn block(&mut self, block: &Value) {
        let text = block.to_string();
        self.hash.write_piece(text.as_bytes());
        self.bytes += text.len();
        let marked = block.get("cache_control").is_some_and(|c| !c.is_null());
        if marked {
            self.points.push(Breakpoint {
                hash: self.hash.finish(),
                bytes: self.bytes,
            });
        }
    }

    /// A string is one block; a list is a sequence of blocks.
    fn blocks(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|b| self.block(b)),
            other => self.block(other),
        }
    }
}

/// Hash and byte offset of every `cache_control` breakpoint of `req`.
fn breakpoints(req: &MessagesRequest<'_>) -> Vec<Breakpoint> {
    let parse =
        |raw: Option<&RawValue>| raw.and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
    let mut walker = Walker {
        hash: Fnv::new(),
        bytes: 0,
        points: Vec::new(),
    };
    walker.hash.write_piece(req.model().as_bytes());
    if let Some(tools) = parse(req.tools) {
        walker.blocks(&tools);
    }
    if let Some(system) = parse(req.system) {
        walker.blocks(&system);
    }
    if let Some(Value::Array(messages)) = parse(req.messages) {
        for message in &messages {
            let role = message.get("role").and_then(Value::as_str).unwrap_or("");
            walker.hash.write_piece(role.as_bytes());
            match message.get("content") {
                Some(content) => walker.blocks(content),
                None => walker.block(message),
            }
        }
    }
    walker.points
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn usage(body: &str, cache: &PrefixCache) -> Usage {
        let req = MessagesRequest::parse(body.as_bytes()).unwrap();
        let u = input_usage(&req, cache);
        let sum = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
        assert_eq!(sum, req.input_tokens(), "parts must add up to the estimate");
        u
    }

    fn body(system_marked: bool, turns: &[&str]) -> String {
        let cc = if system_marked {
            r#","cache_control":{"type":"ephemeral"}"#
        } else {
            ""
        };
        let sys = format!(
            r#"[{{"type":"text","text":"{}"{cc}}}]"#,
            "policy ".repeat(60)
        );
        let msgs: Vec<String> = turns
            .iter()
            .map(|t| {
                format!(
                    r#"{{"role":"user","content":[{{"type":"text","text":"{t}","cache_control":{{"type":"ephemeral"}}}}]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"model":"claude-x","max_tokens":10,"system":{sys},"messages":[{}]}}"#,
            msgs.join(",")
        )
    }

    #[test]
    fn no_cache_control_means_plain_input() {
        let cache = PrefixCache::new(64);
        let b =
            r#"{"model":"m","messages":[{"role":"user","content":"hello there, how are you"}]}"#;
        let first = usage(b, &cache);
        let second = usage(b, &cache);
        assert_eq!(first, second);
        assert_eq!(first.cache_creation_input_tokens, 0);
        assert_eq!(first.cache_read_input_tokens, 0);
        assert!(first.input_tokens > 0);
    }

    #[test]
    fn creation_first_then_read_on_repeat() {
        let cache = PrefixCache::new(64);
        let b = body(true, &["question one"]);
        let first = usage(&b, &cache);
        assert!(first.cache_creation_input_tokens > 100, "{first:?}");
        assert_eq!(first.cache_read_input_tokens, 0);
        let second = usage(&b, &cache);
        assert_eq!(second.cache_creation_input_tokens, 0);
        assert_eq!(
            second.cache_read_input_tokens,
            first.cache_creation_input_tokens
        );
        assert_eq!(second.input_tokens, first.input_tokens);
    }

    #[test]
    fn a_longer_conversation_reads_the_shared_prefix() {
        let cache = PrefixCache::new(64);
        let first = usage(&body(true, &["question one"]), &cache);
        let next = usage(&body(true, &["question one", "question two"]), &cache);
        assert_eq!(
            next.cache_read_input_tokens,
            first.cache_creation_input_tokens
        );
        assert!(next.cache_creation_input_tokens > 0);
        let other_model = body(true, &["question one"]).replace("claude-x", "claude-y");
        let fresh = usage(&other_model, &cache);
        assert_eq!(fresh.cache_read_input_tokens, 0);
    }
}
