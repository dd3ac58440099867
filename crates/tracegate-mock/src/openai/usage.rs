//! OpenAI usage objects and simulated automatic prompt caching.

use serde::Serialize;
use serde_json::value::RawValue;

use super::ChatRequest;
use crate::cache::{Breakpoint, PrefixCache};
use crate::ids::Fnv;

/// Prompts shorter than this many tokens are never cached.
pub(crate) const MIN_CACHED_PROMPT: u32 = 1024;
/// Cached prefixes grow in steps of this many tokens.
const CACHE_STEP: u32 = 128;

/// The `usage` object of a completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct PromptDetails {
    pub cached_tokens: u32,
    pub audio_tokens: u32,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CompletionDetails {
    pub reasoning_tokens: u32,
    pub audio_tokens: u32,
    pub accepted_prediction_tokens: u32,
    pub rejected_prediction_tokens: u32,
}

impl Usage {
    /// Usage of a completion with these token counts.
    pub fn new(prompt_tokens: u32, cached_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            prompt_tokens_details: PromptDetails {
                cached_tokens,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails::default(),
        }
    }
}

/// Cached prompt tokens of `req`, as the API's automatic caching would report them:
/// prompts of at least 1,024 tokens whose prefix (at a message boundary) was seen
/// before get that prefix, rounded down to a multiple of 128, reported as cached.
pub(crate) fn cached_tokens(req: &ChatRequest<'_>, prompt_tokens: u32, cache: &PrefixCache) -> u32 {
    if prompt_tokens < MIN_CACHED_PROMPT {
        return 0;
    }
    let Some(messages) = req.messages else {
        return 0;
    };
    let Ok(messages) = serde_json::from_str::<Vec<&RawValue>>(messages.get()) else {
        return 0;
    };
    let mut hash = Fnv::new();
    hash.write_piece(req.model().as_bytes());
    let mut bytes = 0;
    if let Some(tools) = req.tools {
        hash.write_piece(tools.get().as_bytes());
        bytes += tools.get().len();
    }
    let mut points = Vec::new();
    for message in messages {
        hash.write_piece(message.get().as_bytes());
        bytes += message.get().len();
        if bytes / 4 >= MIN_CACHED_PROMPT as usize {
            points.push(Breakpoint {
                hash: hash.finish(),
                bytes,
            });
        }
    }
    cache.observe(&points).map_or(0, |hit| {
        let tokens = u32::try_from(hit.bytes / 4).unwrap_or(u32::MAX);
        (tokens / CACHE_STEP * CACHE_STEP).min(prompt_tokens)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn body(turns: usize, words: usize) -> String {
        let msgs: Vec<String> = (0..turns)
            .map(|i| {
                format!(
                    r#"{{"role":"user","content":"turn {i} {}"}}"#,
                    "word ".repeat(words)
                )
            })
            .collect();
        format!(r#"{{"model":"gpt-x","messages":[{}]}}"#, msgs.join(","))
    }

    fn cached(body: &str, cache: &PrefixCache) -> (u32, u32) {
        let req = ChatRequest::parse(body.as_bytes()).unwrap();
        let prompt = req.prompt_tokens();
        (cached_tokens(&req, prompt, cache), prompt)
    }

    #[test]
    fn short_prompts_are_never_cached() {
        let cache = PrefixCache::new(64);
        let b = body(1, 10);
        assert_eq!(cached(&b, &cache).0, 0);
        assert_eq!(cached(&b, &cache).0, 0);
    }

    #[test]
    fn long_prompts_are_cached_on_repeat_in_steps() {
        let cache = PrefixCache::new(64);
        let b = body(2, 1200);
        let (first, prompt) = cached(&b, &cache);
        assert_eq!(first, 0);
        let (second, _) = cached(&b, &cache);
        assert!(
            second >= MIN_CACHED_PROMPT && second <= prompt,
            "{second} {prompt}"
        );
        assert_eq!(second % CACHE_STEP, 0);
        let (longer, longer_prompt) = cached(&body(3, 1200), &cache);
        assert_eq!(longer, second);
        assert!(longer_prompt > prompt);
    }

    #[test]
    fn usage_totals_add_up() {
        let u = Usage::new(10, 4, 5);
        assert_eq!(u.total_tokens, 15);
        let v = serde_json::to_value(u).unwrap();
        assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 4);
        assert_eq!(v["completion_tokens_details"]["reasoning_tokens"], 0);
    }
}
