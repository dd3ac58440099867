//! Cost of a request from its usage and a table of model prices.
//!
//! A model name is looked up as given (lower-cased), then with a date or
//! `-latest` suffix stripped (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`,
//! `claude-3-5-haiku-latest`, `claude-sonnet-4-5@20250929`), then by the
//! longest table key that is a prefix of it ending at a `-` boundary, so
//! `gpt-4o-mini-2024-07-18` is `gpt-4o-mini`, never `gpt-4o`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Usage;

mod builtin;

/// Prices of one model in USD per million tokens. A missing cache price
/// means cache tokens cost the same as plain input.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub struct ModelPrice {
    /// Plain (uncached) input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens read from the prompt cache.
    pub cache_read: Option<f64>,
    /// Input tokens written to the prompt cache.
    pub cache_write: Option<f64>,
}

impl ModelPrice {
    /// Cost in USD of `usage` at these prices; a missing figure counts as zero.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let part = |tokens: Option<u64>, per_million: f64| {
            // Token counts stay far below 2^53, so the conversion is exact.
            tokens.unwrap_or(0) as f64 * per_million
        };
        (part(usage.input_tokens, self.input)
            + part(usage.output_tokens, self.output)
            + part(
                usage.cache_read_tokens,
                self.cache_read.unwrap_or(self.input),
            )
            + part(
                usage.cache_write_tokens,
                self.cache_write.unwrap_or(self.input),
            ))
            / 1_000_000.0
    }
}

/// Model prices: the built-in list, possibly with configured overrides.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: HashMap<String, ModelPrice>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PriceTable {
    /// The built-in list prices of current Anthropic and OpenAI models.
    pub fn builtin() -> Self {
        let prices = builtin::BUILTIN
            .iter()
            .map(|(name, price)| ((*name).to_owned(), *price))
            .collect();
        PriceTable { prices }
    }

    /// The same table with `overrides` added; an override replaces a built-in price.
    pub fn with_overrides(
        mut self,
        overrides: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Self {
        for (name, price) in overrides {
            self.prices.insert(name.trim().to_ascii_lowercase(), price);
        }
        self
    }

    /// Prices of `model`, matched as the module doc describes.
    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        let name = model.trim().to_ascii_lowercase();
        if let Some(p) = self.prices.get(&name) {
            return Some(*p);
        }
        let base = strip_version_suffix(&name);
        if let Some(p) = self.prices.get(base) {
            return Some(*p);
        }
        self.prices
            .iter()
            .filter(|(key, _)| {
                base.len() > key.len()
                    && base.starts_with(key.as_str())
                    && base.as_bytes().get(key.len()) == Some(&b'-')
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(_, p)| *p)
    }

    /// The model names the table lists, lower-cased (built-in and overrides).
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.prices.keys().map(String::as_str)
    }

    /// Cost in USD of `usage` on `model`: `None` when the model is unknown or
    /// the provider reported no usage at all, never a made-up zero.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        if usage.is_empty() {
            return None;
        }
        self.price(model).map(|p| p.cost(usage))
    }
}

/// `name` without a trailing date (`-20250929`, `-2024-08-06`, `@20250929`)
/// or `-latest`.
fn strip_version_suffix(name: &str) -> &str {
    if let Some(base) = name.strip_suffix("-latest") {
        return base;
    }
    if let Some((base, date)) = name.rsplit_once('@') {
        if is_digits(date.as_bytes()) {
            return base;
        }
    }
    let bytes = name.as_bytes();
    let n = bytes.len();
    // -YYYYMMDD
    if n > 9 && bytes[n - 9] == b'-' && is_digits(&bytes[n - 8..]) {
        return &name[..n - 9];
    }
    // -YYYY-MM-DD
    if n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && is_digits(&bytes[n - 10..n - 6])
        && is_digits(&bytes[n - 5..n - 3])
        && is_digits(&bytes[n - 2..])
    {
        return &name[..n - 11];
    }
    name
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, read: u64, write: u64) -> Usage {
        Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            cache_read_tokens: Some(read),
            cache_write_tokens: Some(write),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn exact_names_match() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("claude-opus-4-5").unwrap().input, 5.0);
        assert_eq!(t.price("gpt-4o").unwrap().output, 10.0);
        assert_eq!(t.price("o3").unwrap().input, 2.0);
        assert_eq!(t.price("GPT-4o-Mini").unwrap().input, 0.15);
    }

    #[test]
    fn builtin_list_prices() {
        let t = PriceTable::builtin();
        let want: &[(&str, f64, f64, f64, Option<f64>)] = &[
            ("claude-opus-4-5", 5.0, 25.0, 0.5, Some(6.25)),
            ("claude-opus-4-1", 15.0, 75.0, 1.5, Some(18.75)),
            ("claude-opus-4", 15.0, 75.0, 1.5, Some(18.75)),
            ("claude-sonnet-4-5", 3.0, 15.0, 0.3, Some(3.75)),
            ("claude-sonnet-4", 3.0, 15.0, 0.3, Some(3.75)),
            ("claude-3-7-sonnet", 3.0, 15.0, 0.3, Some(3.75)),
            ("claude-haiku-4-5", 1.0, 5.0, 0.1, Some(1.25)),
            ("claude-3-5-haiku", 0.8, 4.0, 0.08, Some(1.0)),
            ("claude-3-haiku", 0.25, 1.25, 0.03, Some(0.3)),
            ("gpt-5", 1.25, 10.0, 0.125, None),
            ("gpt-5-mini", 0.25, 2.0, 0.025, None),
            ("gpt-5-nano", 0.05, 0.4, 0.005, None),
            ("gpt-4.1", 2.0, 8.0, 0.5, None),
            ("gpt-4.1-mini", 0.4, 1.6, 0.1, None),
            ("gpt-4.1-nano", 0.1, 0.4, 0.025, None),
            ("gpt-4o", 2.5, 10.0, 1.25, None),
            ("gpt-4o-mini", 0.15, 0.6, 0.075, None),
            ("o3", 2.0, 8.0, 0.5, None),
            ("o4-mini", 1.1, 4.4, 0.275, None),
            ("o1", 15.0, 60.0, 7.5, None),
            ("o3-mini", 1.1, 4.4, 0.55, None),
        ];
        for &(model, input, output, read, write) in want {
            let p = t.price(model).unwrap();
            assert_eq!(
                (p.input, p.output, p.cache_read, p.cache_write),
                (input, output, Some(read), write),
                "{model}"
            );
        }
    }

    #[test]
    fn dated_and_latest_names_match_their_base() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("claude-sonnet-4-5-20250929").unwrap().input, 3.0);
        assert_eq!(t.price("claude-opus-4-5-20251101").unwrap().input, 5.0);
        assert_eq!(t.price("claude-opus-4-1-20250805").unwrap().input, 15.0);
        assert_eq!(t.price("claude-3-5-haiku-latest").unwrap().input, 0.8);
        assert_eq!(t.price("claude-haiku-4-5@20251001").unwrap().input, 1.0);
        assert_eq!(t.price("gpt-4o-2024-08-06").unwrap().input, 2.5);
        assert_eq!(t.price("o3-mini-2025-01-31").unwrap().input, 1.1);
    }

    #[test]
    fn prefix_matches_only_at_a_dash_and_prefers_the_longest_key() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.price("gpt-4o-mini-search-preview").unwrap().input, 0.15);
        assert_eq!(t.price("gpt-5-chat-latest").unwrap().input, 1.25);
        assert_eq!(t.price("gpt-5-mini-2025-08-07").unwrap().input, 0.25);
        assert_eq!(t.price("o4-mini-high").unwrap().input, 1.1);
        assert_eq!(t.price("o3-pro-2025-06-10").unwrap().input, 20.0);
        // `gpt-4oo` must not be taken for `gpt-4o`, nor `o30` for `o3`.
        assert_eq!(t.price("gpt-4oo"), None);
        assert_eq!(t.price("o30"), None);
    }

    #[test]
    fn unknown_models_have_no_price_and_no_cost() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("llama-3-70b"), None);
        assert_eq!(t.price(""), None);
        assert_eq!(t.price("claude-3-5-sonnet-20241022"), None);
        assert_eq!(t.cost("llama-3-70b", &usage(1000, 1000, 0, 0)), None);
    }

    #[test]
    fn no_usage_means_no_cost() {
        let t = PriceTable::builtin();
        assert_eq!(t.cost("gpt-4o", &Usage::default()), None);
    }

    #[test]
    fn plain_tokens_are_priced() {
        let t = PriceTable::builtin();
        // 1M input at 3 + 1M output at 15.
        let c = t.cost("claude-sonnet-4-5", &usage(1_000_000, 1_000_000, 0, 0));
        assert!(close(c.unwrap(), 18.0), "{c:?}");
    }

    #[test]
    fn cache_tokens_are_priced_at_cache_rates() {
        let t = PriceTable::builtin();
        // sonnet: 1000 in * 3 + 500 out * 15 + 10_000 read * 0.3 + 2000 write * 3.75
        let c = t
            .cost(
                "claude-sonnet-4-5-20250929",
                &usage(1000, 500, 10_000, 2000),
            )
            .unwrap();
        assert!(close(c, (3000.0 + 7500.0 + 3000.0 + 7500.0) / 1e6), "{c}");
        // gpt-4o: cached at 1.25; no cache-write price, so writes fall back to input.
        let c = t
            .cost("gpt-4o", &usage(0, 0, 1_000_000, 1_000_000))
            .unwrap();
        assert!(close(c, 1.25 + 2.5), "{c}");
    }

    #[test]
    fn missing_cache_prices_fall_back_to_input() {
        let p = ModelPrice {
            input: 2.0,
            output: 4.0,
            cache_read: None,
            cache_write: None,
        };
        assert!(close(p.cost(&usage(0, 0, 1_000_000, 1_000_000)), 4.0));
    }

    #[test]
    fn overrides_win_over_builtin_and_add_models() {
        let cheap = ModelPrice {
            input: 0.01,
            output: 0.02,
            cache_read: None,
            cache_write: None,
        };
        let t = PriceTable::builtin().with_overrides([
            ("gpt-4o".to_owned(), cheap),
            ("My-Local-Model".to_owned(), cheap),
        ]);
        assert_eq!(t.price("gpt-4o"), Some(cheap));
        assert_eq!(t.price("gpt-4o-2024-08-06"), Some(cheap));
        assert_eq!(t.price("my-local-model-v2"), Some(cheap));
        assert_eq!(t.price("gpt-4o-mini").unwrap().input, 0.15);
    }

    #[test]
    fn model_price_reads_from_config_with_optional_cache_prices() {
        let p: ModelPrice = serde_json::from_str(r#"{"input": 1.5, "output": 2}"#).unwrap();
        assert_eq!(p.cache_read, None);
        assert_eq!(p.output, 2.0);
    }

    #[test]
    fn suffix_stripping_handles_short_and_odd_names() {
        assert_eq!(strip_version_suffix("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(
            strip_version_suffix("claude-3-haiku-20240307"),
            "claude-3-haiku"
        );
        assert_eq!(strip_version_suffix("o1"), "o1");
        assert_eq!(strip_version_suffix("-20240307"), "-20240307");
        assert_eq!(strip_version_suffix("x@"), "x@");
        assert_eq!(strip_version_suffix("é-2024-08-06"), "é");
    }
}
