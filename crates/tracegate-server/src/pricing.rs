//! Pricing traces as they are recorded: the price table in effect, and a warning the first
//! time each model without a price is seen.

use std::collections::HashSet;

use parking_lot::Mutex;
use tracegate_core::pricing::PriceTable;
use tracegate_core::Usage;

/// How many distinct unpriced model names are remembered for the warn-once log. Model
/// names come from clients, so the set is bounded; past it, new names are not logged.
pub const MAX_REMEMBERED_UNPRICED: usize = 1000;

/// Longest model name kept in the set and the log; longer names are cut.
const MAX_NAME_CHARS: usize = 200;

/// The price table and what it has warned about.
#[derive(Debug)]
pub struct Pricing {
    table: PriceTable,
    warned: Mutex<HashSet<String>>,
}

impl Pricing {
    pub fn new(table: PriceTable) -> Self {
        Pricing {
            table,
            warned: Mutex::new(HashSet::new()),
        }
    }

    pub fn table(&self) -> &PriceTable {
        &self.table
    }

    /// Cost in USD of `usage` on `model`. `Ok(None)` when there is no usage to price;
    /// `Err(Unpriced)` when there is usage but no price for the model (logged once per model).
    pub fn cost(&self, model: Option<&str>, usage: &Usage) -> Result<Option<f64>, Unpriced> {
        if usage.is_empty() {
            return Ok(None);
        }
        match model.and_then(|m| self.table.cost(m, usage)) {
            Some(c) => Ok(Some(c)),
            None => {
                self.warn_once(model.unwrap_or(""));
                Err(Unpriced)
            }
        }
    }

    fn warn_once(&self, model: &str) {
        let name: String = model.chars().take(MAX_NAME_CHARS).collect();
        let mut warned = self.warned.lock();
        if warned.contains(&name) {
            return;
        }
        if warned.len() >= MAX_REMEMBERED_UNPRICED {
            return;
        }
        warned.insert(name.clone());
        let full = warned.len() == MAX_REMEMBERED_UNPRICED;
        drop(warned);
        tracing::warn!(
            model = ?name,
            "no price for this model: its traces are recorded with cost_usd null; add [prices.\"model\"] to the config to price it"
        );
        if full {
            tracing::warn!(
                limit = MAX_REMEMBERED_UNPRICED,
                "that many unpriced model names seen: further ones are no longer logged (still counted in /api/v1/recorder `unpriced`)"
            );
        }
    }

    /// Names already warned about (for tests).
    #[cfg(test)]
    fn warned_len(&self) -> usize {
        self.warned.lock().len()
    }
}

/// A trace with usage whose model has no price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unpriced;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            input_tokens: Some(1000),
            output_tokens: Some(10),
            ..Usage::default()
        }
    }

    #[test]
    fn known_models_are_priced_and_unknown_ones_remembered_once() {
        let p = Pricing::new(PriceTable::builtin());
        assert!(p.cost(Some("claude-opus-5-5"), &usage()).unwrap().unwrap() > 0.0);
        assert_eq!(p.cost(Some("gpt-4o"), &Usage::default()), Ok(None));
        assert_eq!(p.cost(Some("llama-9"), &usage()), Err(Unpriced));
        assert_eq!(p.cost(Some("llama-9"), &usage()), Err(Unpriced));
        assert_eq!(p.cost(None, &usage()), Err(Unpriced));
        assert_eq!(p.warned_len(), 2);
        // No usage is not "unpriced".
        assert_eq!(p.cost(Some("llama-10"), &Usage::default()), Ok(None));
        assert_eq!(p.warned_len(), 2);
    }

    #[test]
    fn remembered_names_are_bounded() {
        let p = Pricing::new(PriceTable::builtin());
        for i in 0..MAX_REMEMBERED_UNPRICED + 50 {
            let long = format!("unknown-{i}-{}", "x".repeat(500));
            assert_eq!(p.cost(Some(&long), &usage()), Err(Unpriced));
        }
        assert_eq!(p.warned_len(), MAX_REMEMBERED_UNPRICED);
        assert!(p
            .warned
            .lock()
            .iter()
            .all(|n| n.chars().count() <= MAX_NAME_CHARS));
    }
}
