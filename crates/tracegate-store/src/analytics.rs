//! Analytics reads: conversations, token usage and latency statistics.
//!
//! Usage and statistics read the rollups the writer keeps per minute, hour
//! and day, so their cost grows with the number of buckets, not of traces; the
//! partial minutes at a range's edges are read from trace rows, so edges are
//! exact to the millisecond.

mod conversation;
mod stats;
mod usage;
pub mod window;

pub use conversation::{
    ConversationCursor, ConversationPage, ConversationQuery, ConversationSummary,
    ConversationTrace, ConversationTree, LatestTrace, TreeNode, MAX_CONVERSATION_LIMIT,
};
pub use stats::{
    GroupBy, GroupStats, Percentiles, SlowRow, Slowest, SlowestQuery, StatsBucket, StatsQuery,
    StatsReport, MAX_SLOWEST_LIMIT, MAX_SLOWEST_RANGE_MS,
};
pub use usage::{AccountUsage, ModelUsage, Tokens, UsageBucket, UsageQuery, UsageReport};

pub(crate) use conversation::build_tree;
pub(crate) use stats::{rank_slowest, Agg, StatsSum};
pub(crate) use usage::{rank_accounts, UsageSum};
pub use window::{Bucket, ReadPlan, TimeRange};

use tracegate_core::TraceId;

use crate::error::StoreError;
use crate::store::TraceStore;

/// A query the analytics reads refuse, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not a window such as `90m`, `5h` or `7d`.
    #[error("window must be a whole number followed by m, h or d (e.g. 5h), got {0:?}")]
    BadWindow(String),
    /// A window shorter than a minute or longer than 31 days.
    #[error("window must be from 1m to 31d, got {0:?}")]
    WindowOutOfRange(String),
    /// Not a bucket width.
    #[error("bucket must be one of 1m, 5m, 1h, 1d; got {0:?}")]
    BadBucket(String),
    /// Not a dimension to group by.
    #[error(
        "group_by must be one of model, provider, upstream, endpoint, account, outcome; got {0:?}"
    )]
    BadGroupBy(String),
    /// Neither RFC 3339 nor epoch milliseconds.
    #[error("{0:?} is neither an RFC 3339 time nor epoch milliseconds")]
    BadTime(String),
    /// Before 1970 or after 9999.
    #[error("time {0} (epoch ms) is out of range: 1970 to 9999")]
    TimeOutOfRange(i64),
    /// `from` is not before `to`.
    #[error("from ({from_ms}) must be before to ({to_ms})")]
    EmptyRange {
        /// The start asked for.
        from_ms: i64,
        /// The end asked for.
        to_ms: i64,
    },
    /// The range is too long for the bucket width.
    #[error("that range has {0} buckets; at most 10000 are allowed: widen the bucket or shorten the range")]
    TooManyBuckets(i64),
    /// The range is longer than allowed.
    #[error("the range is too long: at most {0} days")]
    RangeTooLong(i64),
    /// A day count outside 1..=366.
    #[error("days must be from 1 to 366, got {0}")]
    DaysOutOfRange(u32),
    /// A limit outside what is allowed.
    #[error("limit must be from 1 to {max}, got {got}")]
    BadLimit {
        /// The limit asked for.
        got: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A cursor this store did not hand out.
    #[error("cursor {0:?} is not one this API returned")]
    BadCursor(String),
}

/// Analytics over stored traces and rollups. Every backend implements it.
#[async_trait::async_trait]
pub trait AnalyticsStore: TraceStore {
    /// Conversations by most recent activity, newest first, one page.
    async fn conversations(&self, q: ConversationQuery) -> Result<ConversationPage, StoreError>;

    /// One conversation with its traces as a tree (and the sub-task
    /// conversations its traces started), or `None` for an unknown id.
    async fn conversation(&self, id: TraceId) -> Result<Option<ConversationTree>, StoreError>;

    /// Tokens, requests and cost over a range, per model and per bucket.
    async fn usage(&self, q: UsageQuery) -> Result<UsageReport, StoreError>;

    /// Every account active in `range`, most tokens first.
    async fn usage_by_account(&self, range: TimeRange) -> Result<Vec<AccountUsage>, StoreError>;

    /// Requests, errors, latency percentiles, tokens and cost per bucket and group.
    async fn request_stats(&self, q: StatsQuery) -> Result<StatsReport, StoreError>;

    /// Endpoints, models and upstreams ranked by p95 duration.
    async fn slowest(&self, q: SlowestQuery) -> Result<Slowest, StoreError>;
}
