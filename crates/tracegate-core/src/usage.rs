//! Token usage and model name from a provider's final (non-streaming) response.
//!
//! Usage is normalised so that the four figures never overlap and can be
//! priced independently:
//!
//! - `input_tokens`: input tokens NOT read from or written to the prompt cache;
//! - `cache_read_tokens`: input tokens served from the cache;
//! - `cache_write_tokens`: input tokens written to the cache;
//! - `output_tokens`: generated tokens (reasoning/thinking included).
//!
//! Anthropic already reports it that way: `input_tokens`,
//! `cache_read_input_tokens`, `cache_creation_input_tokens` and
//! `output_tokens` are taken as given. OpenAI counts cached tokens inside
//! `prompt_tokens`, so `input = prompt_tokens - prompt_tokens_details.cached_tokens`,
//! `cache_read = cached_tokens`, `cache_write = None` (OpenAI does not report
//! cache writes) and `output = completion_tokens`. The Responses API spelling
//! (`input_tokens`, `input_tokens_details.cached_tokens`, `output_tokens`) is
//! read the same way.
//!
//! A reassembled stream goes through the same functions, so streamed and
//! non-streamed requests agree.

use serde_json::Value;

use crate::{Provider, Usage};

/// Reads the normalised usage from a final response body; figures the body
/// does not carry stay `None`.
pub fn usage_from_response(provider: Provider, body: &Value) -> Usage {
    let Some(usage) = body.get("usage").filter(|u| u.is_object()) else {
        return Usage::default();
    };
    match provider {
        Provider::Anthropic => Usage {
            input_tokens: count(usage, "input_tokens"),
            output_tokens: count(usage, "output_tokens"),
            cache_read_tokens: count(usage, "cache_read_input_tokens"),
            cache_write_tokens: count(usage, "cache_creation_input_tokens"),
        },
        Provider::Openai => openai_usage(usage),
    }
}

/// The most tokens one request is believed to report in one usage figure. Above it the figure
/// is taken for a broken or hostile upstream (`2^64 - 1`, say): kept, it would poison every
/// total, rollup and cost it is summed into.
pub const MAX_PLAUSIBLE_TOKENS: u64 = 1_000_000_000;

/// Sets the figures of `usage` above [`MAX_PLAUSIBLE_TOKENS`] to `None` (unknown) and returns
/// a note naming them, or `None` when every figure is plausible.
pub fn drop_implausible(usage: &mut Usage) -> Option<String> {
    let mut dropped = Vec::new();
    for (name, figure) in [
        ("input_tokens", &mut usage.input_tokens),
        ("output_tokens", &mut usage.output_tokens),
        ("cache_read_tokens", &mut usage.cache_read_tokens),
        ("cache_write_tokens", &mut usage.cache_write_tokens),
    ] {
        if let Some(n) = figure.filter(|&n| n > MAX_PLAUSIBLE_TOKENS) {
            dropped.push(format!("{name}={n}"));
            *figure = None;
        }
    }
    (!dropped.is_empty()).then(|| {
        format!(
            "upstream reported implausible usage: {} (over {MAX_PLAUSIBLE_TOKENS} tokens; not recorded)",
            dropped.join(", ")
        )
    })
}

/// The model the provider says answered, from the top-level `model` member.
pub fn model_from_response(body: &Value) -> Option<String> {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
}

fn openai_usage(usage: &Value) -> Usage {
    let (prompt, output, details) = if usage.get("prompt_tokens").is_some() {
        (
            count(usage, "prompt_tokens"),
            count(usage, "completion_tokens"),
            "prompt_tokens_details",
        )
    } else {
        (
            count(usage, "input_tokens"),
            count(usage, "output_tokens"),
            "input_tokens_details",
        )
    };
    let cached = usage.get(details).and_then(|d| count(d, "cached_tokens"));
    let input = match (prompt, cached) {
        (Some(p), Some(c)) => Some(p.saturating_sub(c)),
        (p, _) => p,
    };
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cached,
        cache_write_tokens: None,
    }
}

/// A non-negative integer member of `obj`.
fn count(obj: &Value, key: &str) -> Option<u64> {
    obj.get(key).and_then(Value::as_u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anthropic_usage_is_taken_as_given() {
        let body = json!({
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 100,
                      "cache_read_input_tokens": 2000, "output_tokens": 34}
        });
        let u = usage_from_response(Provider::Anthropic, &body);
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(12),
                output_tokens: Some(34),
                cache_read_tokens: Some(2000),
                cache_write_tokens: Some(100),
            }
        );
        assert_eq!(
            model_from_response(&body).as_deref(),
            Some("claude-sonnet-4-5-20250929")
        );
    }

    #[test]
    fn anthropic_without_cache_figures_leaves_them_unknown() {
        let body = json!({"usage": {"input_tokens": 5, "output_tokens": 6}});
        let u = usage_from_response(Provider::Anthropic, &body);
        assert_eq!(u.input_tokens, Some(5));
        assert_eq!(u.cache_read_tokens, None);
        assert_eq!(u.cache_write_tokens, None);
    }

    #[test]
    fn openai_cached_tokens_are_taken_out_of_the_input() {
        let body = json!({
            "usage": {"prompt_tokens": 1500, "completion_tokens": 80, "total_tokens": 1580,
                      "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 64}}
        });
        let u = usage_from_response(Provider::Openai, &body);
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(476),
                output_tokens: Some(80),
                cache_read_tokens: Some(1024),
                cache_write_tokens: None,
            }
        );
    }

    #[test]
    fn openai_without_details_counts_all_prompt_tokens_as_input() {
        let body = json!({"usage": {"prompt_tokens": 9, "completion_tokens": 1}});
        let u = usage_from_response(Provider::Openai, &body);
        assert_eq!(u.input_tokens, Some(9));
        assert_eq!(u.cache_read_tokens, None);
    }

    #[test]
    fn openai_responses_api_spelling_is_understood() {
        let body = json!({"usage": {"input_tokens": 300, "output_tokens": 7,
                                    "input_tokens_details": {"cached_tokens": 100}}});
        let u = usage_from_response(Provider::Openai, &body);
        assert_eq!(u.input_tokens, Some(200));
        assert_eq!(u.cache_read_tokens, Some(100));
        assert_eq!(u.output_tokens, Some(7));
    }

    #[test]
    fn missing_or_odd_usage_is_empty_not_an_error() {
        for body in [
            json!({}),
            json!({"usage": null}),
            json!({"usage": "lots"}),
            json!([1, 2]),
            json!({"usage": {"prompt_tokens": -1, "completion_tokens": 1.5}}),
        ] {
            assert!(
                usage_from_response(Provider::Openai, &body).is_empty(),
                "{body}"
            );
            assert!(
                usage_from_response(Provider::Anthropic, &body).is_empty(),
                "{body}"
            );
        }
        assert_eq!(model_from_response(&json!({"model": 3})), None);
        assert_eq!(model_from_response(&json!({"model": ""})), None);
    }

    #[test]
    fn implausible_figures_are_dropped_and_named() {
        let max = u64::MAX;
        let body = json!({"usage": {"input_tokens": max, "output_tokens": 7,
                                    "cache_read_input_tokens": MAX_PLAUSIBLE_TOKENS,
                                    "cache_creation_input_tokens": MAX_PLAUSIBLE_TOKENS + 1}});
        let mut u = usage_from_response(Provider::Anthropic, &body);
        let note = drop_implausible(&mut u).unwrap();
        assert_eq!(
            u,
            Usage {
                input_tokens: None,
                output_tokens: Some(7),
                cache_read_tokens: Some(MAX_PLAUSIBLE_TOKENS),
                cache_write_tokens: None,
            }
        );
        assert!(note.contains(&format!("input_tokens={max}")), "{note}");
        assert!(note.contains("cache_write_tokens=1000000001"), "{note}");
        assert!(!note.contains("output_tokens"), "{note}");
        assert_eq!(u.total(), 7 + MAX_PLAUSIBLE_TOKENS);

        let body = json!({"usage": {"prompt_tokens": max, "completion_tokens": max,
                                    "prompt_tokens_details": {"cached_tokens": 3}}});
        let mut u = usage_from_response(Provider::Openai, &body);
        assert!(drop_implausible(&mut u).is_some());
        assert_eq!(u.input_tokens, None);
        assert_eq!(u.output_tokens, None);
        assert_eq!(u.cache_read_tokens, Some(3));

        let mut fine =
            usage_from_response(Provider::Anthropic, &json!({"usage": {"input_tokens": 5}}));
        assert_eq!(drop_implausible(&mut fine), None);
        assert_eq!(fine.input_tokens, Some(5));
    }

    #[test]
    fn cached_above_prompt_does_not_underflow() {
        let body =
            json!({"usage": {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}}});
        assert_eq!(
            usage_from_response(Provider::Openai, &body).input_tokens,
            Some(0)
        );
    }
}
