//! List prices, USD per million tokens, as published by Anthropic and OpenAI.
//!
//! Keys are model names without a date suffix; dated, `-latest`, `@date` and `-vN` ids
//! find them through [`super::name`]. A variant that would otherwise fall back by prefix
//! to a base model priced differently (`o3-pro` -> `o3`, `gpt-5-pro` -> `gpt-5`,
//! `claude-opus-4-5` -> `claude-opus-4`, ...) has its own entry.
//!
//! Anthropic cache writes are priced at the 5-minute rate (1.25x input), cache reads at
//! 0.1x input. Long-context (over 200k tokens) surcharges are not modelled.
//!
//! Generations whose list price was not known when this table was written carry the
//! price of the latest known generation of the same tier; each such block says so.

use super::ModelPrice;

/// Anthropic: input, output, cache read, cache write.
const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read: Some(cache_read),
        cache_write: Some(cache_write),
    }
}

/// OpenAI: cached input only; cache writes are not billed separately.
const fn o(input: f64, output: f64, cache_read: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read: Some(cache_read),
        cache_write: None,
    }
}

/// No cached-input discount.
const fn n(input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read: None,
        cache_write: None,
    }
}

// Anthropic tiers.
const OPUS_3: ModelPrice = p(15.0, 75.0, 1.5, 18.75);
const OPUS_4_5: ModelPrice = p(5.0, 25.0, 0.5, 6.25);
const SONNET: ModelPrice = p(3.0, 15.0, 0.3, 3.75);
const HAIKU_4_5: ModelPrice = p(1.0, 5.0, 0.1, 1.25);

// OpenAI tiers.
const GPT_5: ModelPrice = o(1.25, 10.0, 0.125);
const GPT_5_MINI: ModelPrice = o(0.25, 2.0, 0.025);
const GPT_5_NANO: ModelPrice = o(0.05, 0.4, 0.005);
const GPT_5_2: ModelPrice = o(1.75, 14.0, 0.175);
const GPT_5_2_PRO: ModelPrice = n(21.0, 168.0);

/// Built-in (model, price) pairs.
pub(super) const BUILTIN: &[(&str, ModelPrice)] = &[
    // Anthropic, Claude 3.x.
    ("claude-3-haiku", p(0.25, 1.25, 0.03, 0.3)),
    ("claude-3-sonnet", SONNET),
    ("claude-3-opus", OPUS_3),
    ("claude-3-5-haiku", p(0.8, 4.0, 0.08, 1.0)),
    ("claude-3-5-sonnet", SONNET),
    ("claude-3-7-sonnet", SONNET),
    // Claude 4 and 4.1.
    ("claude-opus-4", OPUS_3),
    ("claude-opus-4-1", OPUS_3),
    ("claude-sonnet-4", SONNET),
    // Claude 4.5 and 4.6 (Opus 4.6 and Sonnet 4.6 are listed at the 4.5 prices).
    ("claude-opus-4-5", OPUS_4_5),
    ("claude-sonnet-4-5", SONNET),
    ("claude-haiku-4-5", HAIKU_4_5),
    ("claude-opus-4-6", OPUS_4_5),
    ("claude-sonnet-4-6", SONNET),
    // Not known: Haiku 4.6 and every tier of 4.7, 4.8, 5 and 5.5. They carry the latest
    // known price of their tier (Opus 4.6, Sonnet 4.6, Haiku 4.5); override in
    // `[prices."model"]` once the list price is published if it differs.
    ("claude-haiku-4-6", HAIKU_4_5),
    ("claude-opus-4-7", OPUS_4_5),
    ("claude-sonnet-4-7", SONNET),
    ("claude-haiku-4-7", HAIKU_4_5),
    ("claude-opus-4-8", OPUS_4_5),
    ("claude-sonnet-4-8", SONNET),
    ("claude-haiku-4-8", HAIKU_4_5),
    ("claude-opus-5", OPUS_4_5),
    ("claude-sonnet-5", SONNET),
    ("claude-haiku-5", HAIKU_4_5),
    ("claude-opus-5-5", OPUS_4_5),
    ("claude-sonnet-5-5", SONNET),
    ("claude-haiku-5-5", HAIKU_4_5),
    // OpenAI, GPT-3.5 and GPT-4.
    ("gpt-3.5-turbo", n(0.5, 1.5)),
    ("gpt-4", n(30.0, 60.0)),
    ("gpt-4-32k", n(60.0, 120.0)),
    ("gpt-4-turbo", n(10.0, 30.0)),
    ("gpt-4-1106-preview", n(10.0, 30.0)),
    ("gpt-4-0125-preview", n(10.0, 30.0)),
    ("gpt-4-vision-preview", n(10.0, 30.0)),
    // GPT-4o.
    ("gpt-4o", o(2.5, 10.0, 1.25)),
    ("gpt-4o-2024-05-13", n(5.0, 15.0)),
    ("chatgpt-4o-latest", n(5.0, 15.0)),
    ("gpt-4o-realtime-preview", o(5.0, 20.0, 2.5)),
    ("gpt-4o-mini", o(0.15, 0.6, 0.075)),
    ("gpt-4o-mini-realtime-preview", o(0.6, 2.4, 0.3)),
    // GPT-4.1 and 4.5.
    ("gpt-4.1", o(2.0, 8.0, 0.5)),
    ("gpt-4.1-mini", o(0.4, 1.6, 0.1)),
    ("gpt-4.1-nano", o(0.1, 0.4, 0.025)),
    ("gpt-4.5-preview", o(75.0, 150.0, 37.5)),
    // Reasoning models.
    ("o1", o(15.0, 60.0, 7.5)),
    ("o1-mini", o(1.1, 4.4, 0.55)),
    ("o1-pro", n(150.0, 600.0)),
    ("o3", o(2.0, 8.0, 0.5)),
    ("o3-mini", o(1.1, 4.4, 0.55)),
    ("o3-pro", n(20.0, 80.0)),
    ("o3-deep-research", o(10.0, 40.0, 2.5)),
    ("o4-mini", o(1.1, 4.4, 0.275)),
    ("o4-mini-deep-research", o(2.0, 8.0, 0.5)),
    ("codex-mini", o(1.5, 6.0, 0.375)),
    ("codex-mini-latest", o(1.5, 6.0, 0.375)),
    // GPT-5, 5.1 and 5.2 (`-codex`, `-chat-latest` and dated ids fall back by prefix).
    ("gpt-5", GPT_5),
    ("gpt-5-mini", GPT_5_MINI),
    ("gpt-5-nano", GPT_5_NANO),
    ("gpt-5-pro", n(15.0, 120.0)),
    ("gpt-5.1", GPT_5),
    ("gpt-5.1-codex-mini", GPT_5_MINI),
    ("gpt-5.2", GPT_5_2),
    ("gpt-5.2-pro", GPT_5_2_PRO),
    // Not known: GPT-5.3, 5.4 and 5.5. They carry the latest known price of their tier
    // (GPT-5.2, GPT-5.2 pro, GPT-5 mini, GPT-5 nano).
    ("gpt-5.3", GPT_5_2),
    ("gpt-5.3-pro", GPT_5_2_PRO),
    ("gpt-5.3-mini", GPT_5_MINI),
    ("gpt-5.3-nano", GPT_5_NANO),
    ("gpt-5.4", GPT_5_2),
    ("gpt-5.4-pro", GPT_5_2_PRO),
    ("gpt-5.4-mini", GPT_5_MINI),
    ("gpt-5.4-nano", GPT_5_NANO),
    ("gpt-5.5", GPT_5_2),
    ("gpt-5.5-pro", GPT_5_2_PRO),
    ("gpt-5.5-mini", GPT_5_MINI),
    ("gpt-5.5-nano", GPT_5_NANO),
];
