//! Request statistics: what is asked ([`StatsQuery`], [`SlowestQuery`]), what
//! comes back ([`StatsReport`], [`Slowest`]) and how rollup rows and trace
//! rows merge into it ([`Agg`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracegate_core::sketch::LatencySketch;

use super::usage::Tokens;
use super::window::{bucket_count, floor, to_time, Bucket, TimeRange, DAY_MS, MAX_BUCKETS};
use super::QueryError;

/// The longest range `slowest` accepts.
pub const MAX_SLOWEST_RANGE_MS: i64 = 366 * DAY_MS;
/// The most rows per list `slowest` returns.
pub const MAX_SLOWEST_LIMIT: u32 = 100;

/// A dimension statistics can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The model that answered.
    Model,
    /// `anthropic` or `openai`.
    Provider,
    /// The configured upstream.
    Upstream,
    /// The request path.
    Endpoint,
    /// The credential fingerprint.
    Account,
    /// How the request ended.
    Outcome,
}

impl GroupBy {
    /// Every dimension.
    pub const ALL: [GroupBy; 6] = [
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Upstream,
        GroupBy::Endpoint,
        GroupBy::Account,
        GroupBy::Outcome,
    ];

    /// The name used in the API and in the rollups' `dim` column.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Provider => "provider",
            GroupBy::Upstream => "upstream",
            GroupBy::Endpoint => "endpoint",
            GroupBy::Account => "account",
            GroupBy::Outcome => "outcome",
        }
    }

    /// Parses a name written by [`GroupBy::as_str`].
    pub fn parse(s: &str) -> Result<GroupBy, QueryError> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| QueryError::BadGroupBy(s.to_owned()))
    }
}

/// Statistics over a range in buckets, optionally grouped, optionally of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    range: TimeRange,
    bucket: Bucket,
    group_by: Option<GroupBy>,
    account: Option<String>,
}

impl StatsQuery {
    /// A query over `range` in `bucket` steps: at most 10,000 buckets.
    pub fn new(
        range: TimeRange,
        bucket: Bucket,
        group_by: Option<GroupBy>,
    ) -> Result<StatsQuery, QueryError> {
        let n = bucket_count(range, bucket.ms());
        if n > MAX_BUCKETS {
            return Err(QueryError::TooManyBuckets(n));
        }
        Ok(StatsQuery {
            range,
            bucket,
            group_by,
            account: None,
        })
    }

    /// The same query over the traces of `account` only.
    pub fn of_account(mut self, account: Option<String>) -> StatsQuery {
        self.account = account;
        self
    }

    /// The account the figures are limited to, `None` for all.
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

    /// The grouping, `None` for one group of everything.
    pub fn group_by(&self) -> Option<GroupBy> {
        self.group_by
    }
}

/// Quantiles of a latency distribution in milliseconds (within 2%); `None`
/// when there were no values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl Percentiles {
    fn of(s: &LatencySketch) -> Percentiles {
        Percentiles {
            p50: s.quantile(0.5),
            p90: s.quantile(0.9),
            p95: s.quantile(0.95),
            p99: s.quantile(0.99),
        }
    }
}

/// Statistics of one group (in one bucket, or over the whole range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupStats {
    /// The group's value; `None` for "no grouping" and for an unknown value.
    pub key: Option<String>,
    /// Requests, tokens and cost.
    #[serde(flatten)]
    pub usage: Tokens,
    /// Requests that failed (outcome other than `ok` and `cache_hit`).
    pub errors: u64,
    /// `errors / requests`, 0 without requests.
    pub error_rate: f64,
    /// Total duration.
    pub duration_ms: Percentiles,
    /// Time to first token, over the requests that had one.
    pub ttft_ms: Percentiles,
    /// Requests answered from the response cache (outcome `cache_hit`).
    pub cache_hits: u64,
    /// `cache_hits / requests`, 0 without requests.
    pub cache_hit_rate: f64,
    /// What the cache hits would have cost upstream.
    pub cache_saved_usd: f64,
}

/// The groups of one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatsBucket {
    /// Bucket start, aligned to the bucket width.
    pub start: DateTime<Utc>,
    /// Groups with requests in the bucket, by key.
    pub groups: Vec<GroupStats>,
}

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatsReport {
    /// Range start, inclusive.
    pub from: DateTime<Utc>,
    /// Range end, exclusive.
    pub to: DateTime<Utc>,
    /// The bucket width.
    pub bucket: Bucket,
    /// The grouping, `None` for none.
    pub group_by: Option<GroupBy>,
    /// Every bucket of the range, in order (empty ones with no groups).
    pub buckets: Vec<StatsBucket>,
    /// Each group over the whole range, most requests first.
    pub totals: Vec<GroupStats>,
}

/// The slowest endpoints, models and upstreams over a range, optionally of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowestQuery {
    range: TimeRange,
    limit: u32,
    account: Option<String>,
}

impl SlowestQuery {
    /// A query over `range` (at most 366 days), `limit` rows per list (1..=100).
    pub fn new(range: TimeRange, limit: u32) -> Result<SlowestQuery, QueryError> {
        if range.to_ms() - range.from_ms() > MAX_SLOWEST_RANGE_MS {
            return Err(QueryError::RangeTooLong(MAX_SLOWEST_RANGE_MS / DAY_MS));
        }
        if !(1..=MAX_SLOWEST_LIMIT).contains(&limit) {
            return Err(QueryError::BadLimit {
                got: limit,
                max: MAX_SLOWEST_LIMIT,
            });
        }
        Ok(SlowestQuery {
            range,
            limit,
            account: None,
        })
    }

    /// The same query over the traces of `account` only.
    pub fn of_account(mut self, account: Option<String>) -> SlowestQuery {
        self.account = account;
        self
    }

    /// The account the figures are limited to, `None` for all.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The range.
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// Rows per list.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

/// One ranked endpoint, model or upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlowRow {
    /// Its value; `None` when unknown.
    pub key: Option<String>,
    /// Number of requests.
    pub requests: u64,
    /// Requests whose outcome was not `ok`.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Total duration.
    pub duration_ms: Percentiles,
}

/// The answer to a [`SlowestQuery`]: each list by p95 duration, slowest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slowest {
    /// Range start, inclusive.
    pub from: DateTime<Utc>,
    /// Range end, exclusive.
    pub to: DateTime<Utc>,
    /// Request paths.
    pub endpoints: Vec<SlowRow>,
    /// Models that answered.
    pub models: Vec<SlowRow>,
    /// Configured upstreams.
    pub upstreams: Vec<SlowRow>,
}

/// Mergeable figures of some requests: a rollup row, or trace rows summed.
#[derive(Debug, Clone, Default)]
pub struct Agg {
    /// Requests, tokens and cost.
    pub tokens: Tokens,
    /// Requests that failed (outcome other than `ok` and `cache_hit`).
    pub errors: u64,
    /// Durations.
    pub duration: LatencySketch,
    /// Times to first token.
    pub ttft: LatencySketch,
    /// Requests answered from the response cache.
    pub cache_hits: u64,
    /// What those hits would have cost upstream.
    pub cache_saved_usd: f64,
}

impl Agg {
    /// Adds one request.
    pub fn add_request(
        &mut self,
        tokens: &Tokens,
        error: bool,
        duration_ms: f64,
        ttft_ms: Option<f64>,
    ) {
        self.tokens.add(tokens);
        self.errors = self.errors.saturating_add(u64::from(error));
        self.duration.add(duration_ms);
        if let Some(t) = ttft_ms {
            self.ttft.add(t);
        }
    }

    /// Merges `other` in.
    pub fn merge(&mut self, other: &Agg) {
        self.tokens.add(&other.tokens);
        self.errors = self.errors.saturating_add(other.errors);
        self.duration.merge(&other.duration);
        self.ttft.merge(&other.ttft);
        self.cache_hits = self.cache_hits.saturating_add(other.cache_hits);
        self.cache_saved_usd += other.cache_saved_usd;
    }

    /// Adds one request answered from the response cache, saving `saved_usd`.
    pub fn add_cache_hit(&mut self, saved_usd: f64) {
        self.cache_hits = self.cache_hits.saturating_add(1);
        if saved_usd.is_finite() {
            self.cache_saved_usd += saved_usd;
        }
    }

    fn error_rate(&self) -> f64 {
        if self.tokens.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.tokens.requests as f64
        }
    }

    fn group(&self, key: String) -> GroupStats {
        GroupStats {
            key: (!key.is_empty()).then_some(key),
            usage: self.tokens,
            errors: self.errors,
            error_rate: self.error_rate(),
            duration_ms: Percentiles::of(&self.duration),
            ttft_ms: Percentiles::of(&self.ttft),
            cache_hits: self.cache_hits,
            cache_hit_rate: if self.tokens.requests == 0 {
                0.0
            } else {
                self.cache_hits as f64 / self.tokens.requests as f64
            },
            cache_saved_usd: self.cache_saved_usd,
        }
    }

    fn slow_row(&self, key: String) -> SlowRow {
        SlowRow {
            key: (!key.is_empty()).then_some(key),
            requests: self.tokens.requests,
            errors: self.errors,
            error_rate: self.error_rate(),
            duration_ms: Percentiles::of(&self.duration),
        }
    }
}

/// Merges rows (bucket start or trace time, group key, figures) into a report.
pub(crate) struct StatsSum {
    query: StatsQuery,
    first: i64,
    buckets: Vec<BTreeMap<String, Agg>>,
}

impl StatsSum {
    /// An empty sum with every bucket of the query present.
    pub(crate) fn new(query: StatsQuery) -> StatsSum {
        let width = query.bucket.ms();
        let n = bucket_count(query.range, width).clamp(0, MAX_BUCKETS);
        StatsSum {
            first: floor(query.range.from_ms(), width),
            buckets: vec![BTreeMap::new(); usize::try_from(n).unwrap_or(0)],
            query,
        }
    }

    /// Merges figures at time `ts` (inside the range) for group `key`.
    pub(crate) fn add(&mut self, ts: i64, key: &str, agg: &Agg) {
        if !self.query.range.contains(ts) {
            return;
        }
        let i = (ts - self.first) / self.query.bucket.ms();
        let Some(groups) = usize::try_from(i)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        else {
            return;
        };
        // The first figures of a group are copied, not merged into an empty one.
        match groups.get_mut(key) {
            Some(group) => group.merge(agg),
            None => {
                groups.insert(key.to_owned(), agg.clone());
            }
        }
    }

    /// The finished report. Totals merge the buckets' groups (a few per
    /// bucket), not every row again.
    pub(crate) fn finish(self) -> StatsReport {
        let width = self.query.bucket.ms();
        let mut totals: BTreeMap<&str, Agg> = BTreeMap::new();
        for groups in &self.buckets {
            for (key, agg) in groups {
                match totals.get_mut(key.as_str()) {
                    Some(total) => total.merge(agg),
                    None => {
                        totals.insert(key, agg.clone());
                    }
                }
            }
        }
        let mut totals: Vec<GroupStats> = totals
            .into_iter()
            .map(|(k, a)| a.group(k.to_owned()))
            .collect();
        totals.sort_by_key(|g| std::cmp::Reverse(g.usage.requests));
        let buckets = self
            .buckets
            .into_iter()
            .enumerate()
            .map(|(i, groups)| StatsBucket {
                start: to_time(self.first + i as i64 * width),
                groups: groups.into_iter().map(|(k, a)| a.group(k)).collect(),
            })
            .collect();
        StatsReport {
            from: self.query.range.from_time(),
            to: self.query.range.to_time(),
            bucket: self.query.bucket,
            group_by: self.query.group_by,
            buckets,
            totals,
        }
    }
}

/// Ranks groups by p95 duration, slowest first (then by requests), keeping `limit`.
pub(crate) fn rank_slowest(groups: BTreeMap<String, Agg>, limit: u32) -> Vec<SlowRow> {
    let mut rows: Vec<SlowRow> = groups
        .into_iter()
        .filter(|(_, a)| a.tokens.requests > 0)
        .map(|(k, a)| a.slow_row(k))
        .collect();
    rows.sort_by(|a, b| {
        let p95 = |r: &SlowRow| r.duration_ms.p95.unwrap_or(f64::NEG_INFINITY);
        p95(b)
            .total_cmp(&p95(a))
            .then(b.requests.cmp(&a.requests))
            .then_with(|| a.key.cmp(&b.key))
    });
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    rows
}

#[cfg(test)]
mod tests;
