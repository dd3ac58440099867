//! Cost of a request from its usage and a table of model prices.
//!
//! A model name is looked up as given (lower-cased), then with its hosting prefix and
//! version suffixes stripped one at a time (`claude-sonnet-4-5-20250929`,
//! `gpt-4o-2024-08-06`, `claude-3-5-haiku-latest`, `claude-opus-4-1@20250805`,
//! `anthropic.claude-3-5-sonnet-20241022-v2:0`; see [`name`]), then by the longest table
//! key that is a prefix of the stripped name ending at a `-` boundary, so
//! `gpt-4o-mini-search-preview` is `gpt-4o-mini`, never `gpt-4o`. Configured overrides
//! replace the built-in price of the same name, so they are found first at each step.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::Usage;

mod builtin;
mod name;

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
    /// Names whose price came from the configuration.
    overrides: HashSet<String>,
}

/// Where a price in the table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    Builtin,
    Override,
}

/// One row of the table, for listing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceEntry {
    pub model: String,
    #[serde(flatten)]
    pub price: ModelPrice,
    pub source: PriceSource,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PriceTable {
    /// The built-in list prices of Anthropic and OpenAI models.
    pub fn builtin() -> Self {
        let prices = builtin::BUILTIN
            .iter()
            .map(|(name, price)| ((*name).to_owned(), *price))
            .collect();
        PriceTable {
            prices,
            overrides: HashSet::new(),
        }
    }

    /// The same table with `overrides` added; an override replaces a built-in price.
    pub fn with_overrides(
        mut self,
        overrides: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Self {
        for (name, price) in overrides {
            let key = name.trim().to_ascii_lowercase();
            self.prices.insert(key.clone(), price);
            self.overrides.insert(key);
        }
        self
    }

    /// Every row, sorted by model name.
    pub fn entries(&self) -> Vec<PriceEntry> {
        let mut rows: Vec<PriceEntry> = self
            .prices
            .iter()
            .map(|(model, price)| PriceEntry {
                model: model.clone(),
                price: *price,
                source: if self.overrides.contains(model) {
                    PriceSource::Override
                } else {
                    PriceSource::Builtin
                },
            })
            .collect();
        rows.sort_by(|a, b| a.model.cmp(&b.model));
        rows
    }

    /// Prices of `model`, matched as the module doc describes.
    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        let lowered = model.trim().to_ascii_lowercase();
        let mut name = lowered.as_str();
        if let Some(p) = self.prices.get(name) {
            return Some(*p);
        }
        let unhosted = name::strip_host_prefix(name);
        if unhosted != name {
            name = unhosted;
            if let Some(p) = self.prices.get(name) {
                return Some(*p);
            }
        }
        while let Some(base) = name::strip_one_suffix(name) {
            name = base;
            if let Some(p) = self.prices.get(name) {
                return Some(*p);
            }
        }
        // The longest key that is a prefix of `name` ending at a `-`.
        let mut end = name.len();
        while let Some(i) = name[..end].rfind('-') {
            if i == 0 {
                break;
            }
            if let Some(p) = self.prices.get(&name[..i]) {
                return Some(*p);
            }
            end = i;
        }
        None
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

#[cfg(test)]
mod tests;
