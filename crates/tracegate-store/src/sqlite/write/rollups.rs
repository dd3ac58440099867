//! Rollups per bucket and dimension. A batch is first summed in memory per
//! (granularity, dimension, bucket, key), outside the write lock; each group
//! is then merged into its stored row: one read and one upsert per group, so
//! the cost grows with the number of distinct groups, not of traces.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, OptionalExtension, Transaction};
use tracegate_core::sketch::LatencySketch;
use tracegate_core::{Outcome, Trace};

use super::bounded::DimensionBounds;
use super::{finite, int};
use crate::error::StoreError;

/// Bucket widths in ms: a minute, an hour and a (UTC) day. Day rows let a
/// month of statistics by day merge 30 rows per group instead of 720.
pub(crate) const GRANULARITIES: [i64; 3] = [60_000, 3_600_000, 86_400_000];

/// Joins account and model in an `account_model` key (`char(31)`).
pub(crate) const KEY_SEPARATOR: char = '\u{1f}';

/// (granularity, dimension, bucket start, key).
type GroupKey = (i64, &'static str, i64, String);

/// (granularity, dimension, bucket start): the groups of one bucket of a dimension.
type BucketKey = (i64, &'static str, i64);

/// Sums of one group.
#[derive(Debug, Default)]
struct Sums {
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_usd: f64,
    cache_hits: i64,
    cache_saved_usd: f64,
    duration: LatencySketch,
    ttft: Option<LatencySketch>,
}

impl Sums {
    fn add(&mut self, t: &Trace) {
        let tokens = |v: Option<u64>| v.map_or(0, int);
        self.requests += 1;
        self.errors += i64::from(t.outcome.is_error());
        self.input_tokens = self
            .input_tokens
            .saturating_add(tokens(t.usage.input_tokens));
        self.output_tokens = self
            .output_tokens
            .saturating_add(tokens(t.usage.output_tokens));
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(tokens(t.usage.cache_read_tokens));
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(tokens(t.usage.cache_write_tokens));
        self.cost_usd += t.cost_usd.and_then(finite).unwrap_or(0.0);
        if t.outcome == Outcome::CacheHit {
            self.cache_hits += 1;
            self.cache_saved_usd += t.cache_saved_usd.and_then(finite).unwrap_or(0.0);
        }
        self.duration.add(finite(t.duration_ms).unwrap_or(0.0));
        if let Some(ttft) = t.ttft_ms.and_then(finite) {
            self.ttft.get_or_insert_with(LatencySketch::new).add(ttft);
        }
    }
}

/// A batch's contribution to the rollups.
#[derive(Debug, Default)]
pub(super) struct Rollups {
    /// Keyed in two levels so that adding to an existing group allocates nothing.
    buckets: BTreeMap<BucketKey, HashMap<String, Sums>>,
}

impl Rollups {
    /// Adds one trace to every group it belongs to; client-chosen values are bounded.
    pub(super) fn add(&mut self, t: &Trace, bounds: &DimensionBounds) {
        let ts = t.started_at.timestamp_millis();
        let model = bounds.bound("model", t.effective_model().unwrap_or(""));
        let model = model.as_ref();
        let upstream = bounds.bound("upstream", t.upstream.as_deref().unwrap_or(""));
        let endpoint = bounds.bound("endpoint", &t.endpoint);
        let account = t.account.as_deref().unwrap_or("");
        let account_model = format!("{account}{KEY_SEPARATOR}{model}");
        let dims: [(&'static str, &str); 8] = [
            ("", ""),
            ("model", model),
            ("provider", t.provider.as_str()),
            ("upstream", &upstream),
            ("endpoint", &endpoint),
            ("account", account),
            ("outcome", t.outcome.as_str()),
            ("account_model", &account_model),
        ];
        for granularity in GRANULARITIES {
            let bucket = ts.div_euclid(granularity) * granularity;
            for (dim, key) in dims {
                let groups = self.buckets.entry((granularity, dim, bucket)).or_default();
                match groups.get_mut(key) {
                    Some(sums) => sums.add(t),
                    None => groups.entry(key.to_owned()).or_default().add(t),
                }
            }
        }
    }

    /// Every group of the batch, in key order.
    fn groups(&self) -> Vec<(GroupKey, &Sums)> {
        let mut out = Vec::new();
        for (&(granularity, dim, bucket), groups) in &self.buckets {
            let mut keys: Vec<(&String, &Sums)> = groups.iter().collect();
            keys.sort_unstable_by_key(|(k, _)| *k);
            out.extend(
                keys.into_iter()
                    .map(|(key, sums)| ((granularity, dim, bucket, key.clone()), sums)),
            );
        }
        out
    }

    /// Merges every group into its stored row, in key order.
    pub(super) fn flush(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut read = tx.prepare_cached(
            "SELECT requests, errors, input_tokens, output_tokens, cache_read_tokens,
                    cache_write_tokens, cost_usd, duration_sketch, ttft_sketch,
                    cache_hits, cache_saved_usd
             FROM rollups WHERE granularity = ?1 AND dim = ?2 AND bucket = ?3 AND key = ?4",
        )?;
        let mut write = tx.prepare_cached(
            "INSERT INTO rollups (granularity, dim, bucket, key, requests, errors, input_tokens,
                 output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
                 duration_sketch, ttft_sketch, cache_hits, cache_saved_usd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (granularity, dim, bucket, key) DO UPDATE SET
                 requests = excluded.requests, errors = excluded.errors,
                 input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                 cache_read_tokens = excluded.cache_read_tokens,
                 cache_write_tokens = excluded.cache_write_tokens,
                 cost_usd = excluded.cost_usd, duration_sketch = excluded.duration_sketch,
                 ttft_sketch = excluded.ttft_sketch, cache_hits = excluded.cache_hits,
                 cache_saved_usd = excluded.cache_saved_usd",
        )?;
        for (key, sums) in self.groups() {
            let (granularity, dim, bucket, value) = &key;
            let stored = read
                .query_row(params![granularity, dim, bucket, value], |r| {
                    Ok(Stored {
                        requests: r.get(0)?,
                        errors: r.get(1)?,
                        input_tokens: r.get(2)?,
                        output_tokens: r.get(3)?,
                        cache_read_tokens: r.get(4)?,
                        cache_write_tokens: r.get(5)?,
                        cost_usd: r.get(6)?,
                        duration: r.get(7)?,
                        ttft: r.get(8)?,
                        cache_hits: r.get(9)?,
                        cache_saved_usd: r.get(10)?,
                    })
                })
                .optional()?;
            let row = Row::merge(&key, sums, stored);
            write.execute(params![
                granularity,
                dim,
                bucket,
                value,
                row.requests,
                row.errors,
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
                row.cost_usd,
                row.duration,
                row.ttft,
                row.cache_hits,
                row.cache_saved_usd,
            ])?;
        }
        Ok(())
    }
}

/// A stored row, sketches still encoded.
struct Stored {
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_usd: f64,
    duration: Vec<u8>,
    ttft: Option<Vec<u8>>,
    cache_hits: i64,
    cache_saved_usd: f64,
}

/// The row to write.
type Row = Stored;

impl Row {
    /// The batch's sums added to the stored row, if any. A stored sketch that
    /// cannot be decoded is replaced by the batch's (and logged): the counts
    /// stay right and later batches are not held up.
    fn merge(key: &GroupKey, sums: &Sums, stored: Option<Stored>) -> Row {
        let Some(old) = stored else {
            return Row {
                requests: sums.requests,
                errors: sums.errors,
                input_tokens: sums.input_tokens,
                output_tokens: sums.output_tokens,
                cache_read_tokens: sums.cache_read_tokens,
                cache_write_tokens: sums.cache_write_tokens,
                cost_usd: sums.cost_usd,
                duration: sums.duration.encode(),
                ttft: sums.ttft.as_ref().map(LatencySketch::encode),
                cache_hits: sums.cache_hits,
                cache_saved_usd: sums.cache_saved_usd,
            };
        };
        let ttft = match (old.ttft, &sums.ttft) {
            (Some(old), Some(new)) => Some(merge_sketch(key, &old, new)),
            (Some(old), None) => Some(old),
            (None, new) => new.as_ref().map(LatencySketch::encode),
        };
        Row {
            requests: old.requests.saturating_add(sums.requests),
            errors: old.errors.saturating_add(sums.errors),
            input_tokens: old.input_tokens.saturating_add(sums.input_tokens),
            output_tokens: old.output_tokens.saturating_add(sums.output_tokens),
            cache_read_tokens: old.cache_read_tokens.saturating_add(sums.cache_read_tokens),
            cache_write_tokens: old
                .cache_write_tokens
                .saturating_add(sums.cache_write_tokens),
            cost_usd: old.cost_usd + sums.cost_usd,
            duration: merge_sketch(key, &old.duration, &sums.duration),
            ttft,
            cache_hits: old.cache_hits.saturating_add(sums.cache_hits),
            cache_saved_usd: old.cache_saved_usd + sums.cache_saved_usd,
        }
    }
}

/// The encoded union of a stored sketch and a new one.
fn merge_sketch(key: &GroupKey, stored: &[u8], new: &LatencySketch) -> Vec<u8> {
    match LatencySketch::decode(stored) {
        Ok(mut merged) => {
            merged.merge(new);
            merged.encode()
        }
        Err(e) => {
            tracing::warn!(?key, error = %e, "replacing an unreadable rollup sketch");
            new.encode()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tracegate_core::{Outcome, Provider};

    #[test]
    fn a_trace_counts_once_per_granularity_and_dimension() {
        let mut t = Trace::begin(Provider::Openai, "POST", "/v1/chat/completions");
        t.started_at = chrono::DateTime::from_timestamp_millis(3_600_000 * 5 + 61_234).unwrap();
        t.model_requested = Some("gpt-4.1".into());
        t.account = Some("cred:1".into());
        t.outcome = Outcome::Timeout;
        t.duration_ms = f64::NAN;
        t.usage.input_tokens = Some(7);
        t.cost_usd = Some(f64::INFINITY);
        let mut r = Rollups::default();
        let bounds = DimensionBounds::default();
        r.add(&t, &bounds);
        r.add(&t, &bounds);
        let groups: BTreeMap<GroupKey, &Sums> = r.groups().into_iter().collect();
        assert_eq!(groups.len(), 24);
        let minute = groups[&(
            60_000,
            "account_model",
            3_600_000 * 5 + 60_000,
            "cred:1\u{1f}gpt-4.1".into(),
        )];
        assert_eq!(
            (minute.requests, minute.errors, minute.input_tokens),
            (2, 2, 14)
        );
        assert_eq!(minute.cost_usd, 0.0);
        assert_eq!(minute.duration.count(), 2, "a NaN duration is stored as 0");
        assert!(minute.ttft.is_none());
        assert_eq!((minute.cache_hits, minute.cache_saved_usd), (0, 0.0));
        assert!(groups.contains_key(&(3_600_000, "upstream", 3_600_000 * 5, String::new())));
        assert!(groups.contains_key(&(3_600_000, "model", 3_600_000 * 5, "gpt-4.1".into())));
        let day = groups[&(86_400_000, "account_model", 0, "cred:1\u{1f}gpt-4.1".into())];
        assert_eq!((day.requests, day.errors, day.input_tokens), (2, 2, 14));
    }

    #[test]
    fn cache_hits_count_their_saved_cost_and_are_not_errors() {
        let mut hit = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        hit.started_at = chrono::DateTime::from_timestamp_millis(1_234).unwrap();
        hit.outcome = Outcome::CacheHit;
        hit.cost_usd = Some(0.0);
        hit.cache_saved_usd = Some(0.25);
        let mut miss = hit.clone();
        miss.outcome = Outcome::Ok;
        miss.cost_usd = Some(0.25);
        miss.cache_saved_usd = None;
        let mut r = Rollups::default();
        let bounds = DimensionBounds::default();
        r.add(&hit, &bounds);
        r.add(&hit, &bounds);
        r.add(&miss, &bounds);
        let groups: BTreeMap<GroupKey, &Sums> = r.groups().into_iter().collect();
        let all = groups[&(60_000, "", 0, String::new())];
        assert_eq!((all.requests, all.errors, all.cache_hits), (3, 0, 2));
        assert!((all.cache_saved_usd - 0.5).abs() < 1e-12);
        assert!((all.cost_usd - 0.25).abs() < 1e-12);
        let by_outcome = groups[&(60_000, "outcome", 0, "cache_hit".into())];
        assert_eq!(by_outcome.cache_hits, 2);
        let stored = Row::merge(&(60_000, "", 0, String::new()), all, None);
        let again = Row::merge(&(60_000, "", 0, String::new()), all, Some(stored));
        assert_eq!(again.cache_hits, 4);
        assert!((again.cache_saved_usd - 1.0).abs() < 1e-12);
    }

    #[test]
    fn buckets_before_1970_round_down() {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.started_at = chrono::DateTime::from_timestamp_millis(-1).unwrap();
        let mut r = Rollups::default();
        r.add(&t, &DimensionBounds::default());
        let groups: Vec<GroupKey> = r.groups().into_iter().map(|(k, _)| k).collect();
        assert!(groups.contains(&(60_000, "", -60_000, String::new())));
        assert!(groups.contains(&(86_400_000, "", -86_400_000, String::new())));
    }
}
