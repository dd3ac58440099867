//! List prices of current models, USD per million tokens (late 2025).
//!
//! Keys are model names without a date suffix. A few variants that would
//! otherwise fall back to a cheaper base model by prefix (`o3-pro` -> `o3`,
//! `gpt-5-pro` -> `gpt-5`, `o1-mini` -> `o1`, ...) have their own entries.
//! Anthropic cache writes are priced at the 5-minute rate.

use super::ModelPrice;

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

/// Built-in (model, price) pairs.
pub(super) const BUILTIN: &[(&str, ModelPrice)] = &[
    // Anthropic
    ("claude-opus-4-5", p(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-1", p(15.0, 75.0, 1.5, 18.75)),
    ("claude-opus-4", p(15.0, 75.0, 1.5, 18.75)),
    ("claude-sonnet-4-5", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-4-5", p(1.0, 5.0, 0.1, 1.25)),
    ("claude-3-5-haiku", p(0.8, 4.0, 0.08, 1.0)),
    ("claude-3-haiku", p(0.25, 1.25, 0.03, 0.3)),
    // OpenAI
    ("gpt-5", o(1.25, 10.0, 0.125)),
    ("gpt-5-mini", o(0.25, 2.0, 0.025)),
    ("gpt-5-nano", o(0.05, 0.4, 0.005)),
    ("gpt-4.1", o(2.0, 8.0, 0.5)),
    ("gpt-4.1-mini", o(0.4, 1.6, 0.1)),
    ("gpt-4.1-nano", o(0.1, 0.4, 0.025)),
    ("gpt-4o", o(2.5, 10.0, 1.25)),
    ("gpt-4o-mini", o(0.15, 0.6, 0.075)),
    ("o3", o(2.0, 8.0, 0.5)),
    ("o4-mini", o(1.1, 4.4, 0.275)),
    ("o1", o(15.0, 60.0, 7.5)),
    ("o3-mini", o(1.1, 4.4, 0.55)),
    // Variants priced differently from the base model their name starts with.
    ("gpt-5-pro", n(15.0, 120.0)),
    ("o3-pro", n(20.0, 80.0)),
    ("o1-pro", n(150.0, 600.0)),
    ("o1-mini", o(1.1, 4.4, 0.55)),
    ("o3-deep-research", o(10.0, 40.0, 2.5)),
    ("o4-mini-deep-research", o(2.0, 8.0, 0.5)),
    ("gpt-4o-2024-05-13", n(5.0, 15.0)),
];
