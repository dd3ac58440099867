//! Token usage: what is asked ([`UsageQuery`]), what comes back
//! ([`UsageReport`], [`AccountUsage`]) and how rows are summed into it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::window::{bucket_count, floor, to_time, Bucket, TimeRange, MAX_BUCKETS};
use super::QueryError;

/// Requests, tokens and cost summed over some traces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tokens {
    /// Number of requests.
    pub requests: u64,
    /// Input tokens (not counting cache reads and writes).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// The four token figures together.
    pub total_tokens: u64,
    /// Cost in US dollars; requests without a known cost count as zero.
    pub cost_usd: f64,
}

impl Tokens {
    /// Figures from stored columns: counts are clamped at zero, a missing or
    /// non-finite cost counts as zero.
    pub fn from_columns(requests: i64, tokens: [i64; 4], cost_usd: Option<f64>) -> Tokens {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let [input, output, cache_read, cache_write] = tokens.map(n);
        Tokens {
            requests: n(requests),
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            total_tokens: [input, output, cache_read, cache_write]
                .into_iter()
                .fold(0u64, u64::saturating_add),
            cost_usd: cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0),
        }
    }

    /// Adds `other` in, saturating.
    pub fn add(&mut self, other: &Tokens) {
        self.requests = self.requests.saturating_add(other.requests);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.cost_usd += other.cost_usd;
    }
}

/// Usage over a range, optionally of one account, split into buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    account: Option<String>,
    range: TimeRange,
    bucket: Bucket,
    models_per_bucket: bool,
}

impl UsageQuery {
    /// A query over `range` in `bucket` steps (at most 10,000 buckets); an
    /// empty account means every account. With `models_per_bucket`, each
    /// bucket also carries its split by model.
    pub fn new(
        account: Option<String>,
        range: TimeRange,
        bucket: Bucket,
        models_per_bucket: bool,
    ) -> Result<UsageQuery, QueryError> {
        let n = bucket_count(range, bucket.ms());
        if n > MAX_BUCKETS {
            return Err(QueryError::TooManyBuckets(n));
        }
        Ok(UsageQuery {
            account: account.filter(|a| !a.is_empty()),
            range,
            bucket,
            models_per_bucket,
        })
    }

    /// The account asked for, `None` for all.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The range.
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// The bucket width.
    pub fn bucket(&self) -> Bucket {
        self.bucket
    }
}

/// Usage of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelUsage {
    /// The model that answered; `None` when unknown.
    pub model: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub usage: Tokens,
}

/// Usage in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageBucket {
    /// Bucket start (aligned to the bucket width; may precede the range's start).
    pub start: DateTime<Utc>,
    /// Figures of the part of the bucket inside the range.
    #[serde(flatten)]
    pub usage: Tokens,
    /// Split by model, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_model: Option<Vec<ModelUsage>>,
}

/// The answer to a [`UsageQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// Range start, inclusive.
    pub from: DateTime<Utc>,
    /// Range end, exclusive.
    pub to: DateTime<Utc>,
    /// The account asked for, `None` for all.
    pub account: Option<String>,
    /// The bucket width.
    pub bucket: Bucket,
    /// Figures over the whole range.
    pub totals: Tokens,
    /// Split by model over the whole range, most tokens first.
    pub by_model: Vec<ModelUsage>,
    /// Every bucket of the range, in order, empty ones as zeros.
    pub buckets: Vec<UsageBucket>,
}

/// Usage of one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountUsage {
    /// The account (a credential fingerprint); `None` for unattributed requests.
    pub account: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub usage: Tokens,
}

/// Sums usage rows (bucket start or trace time, model, figures) into a report.
pub(crate) struct UsageSum {
    query: UsageQuery,
    first: i64,
    buckets: Vec<(Tokens, BTreeMap<String, Tokens>)>,
    models: BTreeMap<String, Tokens>,
}

impl UsageSum {
    /// An empty sum with every bucket of the query present.
    pub(crate) fn new(query: UsageQuery) -> UsageSum {
        let width = query.bucket.ms();
        let n = bucket_count(query.range, width).clamp(0, MAX_BUCKETS);
        UsageSum {
            first: floor(query.range.from_ms(), width),
            buckets: vec![Default::default(); usize::try_from(n).unwrap_or(0)],
            models: BTreeMap::new(),
            query,
        }
    }

    /// Adds figures at time `ts` (inside the range) for `model` ('' = unknown).
    pub(crate) fn add(&mut self, ts: i64, model: &str, t: &Tokens) {
        if !self.query.range.contains(ts) {
            return;
        }
        let i = (ts - self.first) / self.query.bucket.ms();
        let Some((total, by_model)) = usize::try_from(i)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        else {
            return;
        };
        total.add(t);
        if self.query.models_per_bucket {
            by_model.entry(model.to_owned()).or_default().add(t);
        }
        self.models.entry(model.to_owned()).or_default().add(t);
    }

    /// The finished report.
    pub(crate) fn finish(self) -> UsageReport {
        let width = self.query.bucket.ms();
        let per_bucket = self.query.models_per_bucket;
        let buckets = self
            .buckets
            .into_iter()
            .enumerate()
            .map(|(i, (usage, by_model))| UsageBucket {
                start: to_time(self.first + i as i64 * width),
                usage,
                by_model: per_bucket.then(|| ranked(by_model)),
            })
            .collect();
        let mut totals = Tokens::default();
        for t in self.models.values() {
            totals.add(t);
        }
        UsageReport {
            from: self.query.range.from_time(),
            to: self.query.range.to_time(),
            account: self.query.account,
            bucket: self.query.bucket,
            totals,
            by_model: ranked(self.models),
            buckets,
        }
    }
}

/// Models by total tokens, then cost, most first; '' becomes `None`.
fn ranked(models: BTreeMap<String, Tokens>) -> Vec<ModelUsage> {
    let mut out: Vec<ModelUsage> = models
        .into_iter()
        .map(|(model, usage)| ModelUsage {
            model: (!model.is_empty()).then_some(model),
            usage,
        })
        .collect();
    out.sort_by(|a, b| by_tokens_then_cost(&b.usage, &a.usage));
    out
}

/// Orders by total tokens, then cost.
pub(crate) fn by_tokens_then_cost(a: &Tokens, b: &Tokens) -> std::cmp::Ordering {
    a.total_tokens
        .cmp(&b.total_tokens)
        .then(a.cost_usd.total_cmp(&b.cost_usd))
}

/// Sorts accounts by total tokens, then cost, most first; '' becomes `None`.
pub(crate) fn rank_accounts(accounts: BTreeMap<String, Tokens>) -> Vec<AccountUsage> {
    let mut out: Vec<AccountUsage> = accounts
        .into_iter()
        .map(|(account, usage)| AccountUsage {
            account: (!account.is_empty()).then_some(account),
            usage,
        })
        .collect();
    out.sort_by(|a, b| by_tokens_then_cost(&b.usage, &a.usage));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::window::{DAY_MS, MINUTE_MS};
    use super::*;

    fn t(requests: i64, input: i64, cost: f64) -> Tokens {
        Tokens::from_columns(requests, [input, 1, 2, 3], Some(cost))
    }

    #[test]
    fn figures_add_up_and_bad_columns_count_as_zero() {
        let mut a = t(1, 10, 0.5);
        assert_eq!(a.total_tokens, 16);
        a.add(&t(2, 5, 0.25));
        assert_eq!((a.requests, a.input_tokens, a.total_tokens), (3, 15, 27));
        assert_eq!(a.cost_usd, 0.75);
        let odd = Tokens::from_columns(-1, [-5, 0, 0, 0], Some(f64::NAN));
        assert_eq!(odd, Tokens::default());
    }

    #[test]
    fn every_bucket_is_present_and_rows_outside_the_range_are_ignored() {
        let range = TimeRange::new(DAY_MS + 30_000, DAY_MS + 16 * MINUTE_MS).unwrap();
        let q = UsageQuery::new(None, range, Bucket::FiveMinutes, true).unwrap();
        let mut sum = UsageSum::new(q);
        sum.add(DAY_MS + 30_000, "a", &t(1, 10, 0.1));
        sum.add(DAY_MS + 29_999, "a", &t(1, 1000, 0.0));
        sum.add(DAY_MS + 11 * MINUTE_MS, "", &t(2, 20, 0.2));
        sum.add(DAY_MS + 16 * MINUTE_MS, "a", &t(1, 1000, 0.0));
        let r = sum.finish();
        assert_eq!(r.buckets.len(), 4);
        let requests: Vec<u64> = r.buckets.iter().map(|b| b.usage.requests).collect();
        assert_eq!(requests, vec![1, 0, 2, 0]);
        assert_eq!(r.buckets[0].start, to_time(DAY_MS));
        assert_eq!(r.totals.requests, 3);
        assert_eq!(r.totals.input_tokens, 30);
        assert_eq!(r.by_model.len(), 2);
        assert_eq!(r.by_model[0].model, None, "most tokens first");
        assert_eq!(r.buckets[2].by_model.as_ref().unwrap()[0].usage.requests, 2);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["buckets"][1]["requests"], 0);
        assert_eq!(json["bucket"], "5m");
    }

    #[test]
    fn too_many_buckets_are_refused() {
        let range = TimeRange::new(0, 10_001 * MINUTE_MS).unwrap();
        assert_eq!(
            UsageQuery::new(None, range, Bucket::Minute, false),
            Err(QueryError::TooManyBuckets(10_001))
        );
        let q = UsageQuery::new(Some(String::new()), range, Bucket::Hour, false).unwrap();
        assert_eq!(q.account(), None);
    }
}
