//! The bound on rollup keys. A client picks the model and the path it sends; taken as
//! given, 100,000 distinct names would make 100,000 rollup groups per bucket and every
//! statistics answer as long. So each bounded dimension keeps at most
//! [`MAX_DIMENSION_VALUES`] distinct values, first come (seeded at start from the values the
//! rollups already hold), plus the values always kept (the price table's models and the
//! configured ones); any other value is rolled up as [`OTHER`]. The traces themselves keep
//! the names as sent.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;
use rusqlite::{params, Connection};
use tracegate_core::pricing::PriceTable;

use super::rollups::GRANULARITIES;
use crate::error::StoreError;

/// Distinct values a bounded dimension keeps besides those always kept.
pub const MAX_DIMENSION_VALUES: usize = 1000;

/// The key values past the bound are rolled up under.
pub const OTHER: &str = "other";

/// The dimensions whose values come from clients and are bounded. (`account_model` keys
/// take the bounded model; accounts are not bounded: per-account usage must be exact.)
pub const BOUNDED_DIMENSIONS: [&str; 3] = ["model", "endpoint", "upstream"];

/// The values each bounded dimension keeps.
#[derive(Debug)]
pub struct DimensionBounds {
    max: usize,
    /// Values kept whatever the count, per dimension.
    always: Mutex<HashMap<&'static str, HashSet<String>>>,
    /// Values admitted first come, per dimension, at most `max` each.
    seen: Mutex<HashMap<&'static str, HashSet<String>>>,
}

impl DimensionBounds {
    /// Bounds of `max` values per dimension, none seen yet; the price table's models are
    /// always kept.
    pub fn new(max: usize) -> Self {
        let models = PriceTable::builtin().models().map(str::to_owned).collect();
        DimensionBounds {
            max,
            always: Mutex::new(HashMap::from([("model", models)])),
            seen: Mutex::default(),
        }
    }

    /// Bounds seeded with the values the rollups of `c` already hold.
    pub fn load(c: &Connection, max: usize) -> Result<Self, StoreError> {
        let bounds = DimensionBounds::new(max);
        // Every trace is in the day rollups, so their keys are all the keys there are.
        let day = GRANULARITIES[GRANULARITIES.len() - 1];
        let mut stmt = c.prepare(
            "SELECT DISTINCT key FROM rollups WHERE granularity = ?1 AND dim = ?2 LIMIT ?3",
        )?;
        {
            let mut seen = bounds.seen.lock();
            for dim in BOUNDED_DIMENSIONS {
                let limit = i64::try_from(max).unwrap_or(i64::MAX);
                let keys = stmt
                    .query_map(params![day, dim, limit], |r| r.get::<_, String>(0))?
                    .collect::<Result<HashSet<_>, _>>()?;
                seen.insert(dim, keys);
            }
        }
        Ok(bounds)
    }

    /// Values of `dim` always kept under their own name (configured models).
    pub fn keep(&self, dim: &'static str, values: impl IntoIterator<Item = String>) {
        self.always
            .lock()
            .entry(dim)
            .or_default()
            .extend(values.into_iter().map(|v| v.trim().to_ascii_lowercase()));
    }

    /// The rollup key of `value` in `dim`: itself, or [`OTHER`] past the bound.
    pub fn bound<'a>(&self, dim: &'static str, value: &'a str) -> Cow<'a, str> {
        if !BOUNDED_DIMENSIONS.contains(&dim) || value.is_empty() {
            return Cow::Borrowed(value);
        }
        let mut seen = self.seen.lock();
        let values = seen.entry(dim).or_default();
        if values.contains(value) {
            return Cow::Borrowed(value);
        }
        let always = self.always.lock();
        if always.get(dim).is_some_and(|a| {
            a.contains(value) || a.contains(value.trim().to_ascii_lowercase().as_str())
        }) {
            return Cow::Borrowed(value);
        }
        if values.len() < self.max {
            values.insert(value.to_owned());
            return Cow::Borrowed(value);
        }
        Cow::Borrowed(OTHER)
    }
}

impl Default for DimensionBounds {
    fn default() -> Self {
        DimensionBounds::new(MAX_DIMENSION_VALUES)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_values_are_other_except_those_always_kept() {
        let b = DimensionBounds::new(3);
        b.keep("model", ["My-Finetune".to_owned()]);
        for m in ["a", "b", "c"] {
            assert_eq!(b.bound("model", m), m);
        }
        assert_eq!(b.bound("model", "d"), OTHER);
        assert_eq!(b.bound("model", "a"), "a", "admitted values stay");
        assert_eq!(b.bound("model", "claude-sonnet-4-5"), "claude-sonnet-4-5");
        assert_eq!(b.bound("model", "my-finetune"), "my-finetune");
        assert_eq!(
            b.bound("endpoint", "/v1/x"),
            "/v1/x",
            "each dimension counts alone"
        );
        assert_eq!(
            b.bound("account", "anyone"),
            "anyone",
            "accounts are not bounded"
        );
        assert_eq!(b.bound("model", ""), "");
    }
}
