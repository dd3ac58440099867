//! The store the read API talks to, measured: each query's duration goes to
//! `tracegate_store_query_duration_seconds{class}`; a query slower than `slow_query_ms` is
//! logged at warn with the shape of its parameters (never their values) and counted; with
//! `debug_sql` every query is logged at info (else at debug, target `tracegate::sql`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracegate_core::feedback::Feedback;
use tracegate_core::filter::Filter;
use tracegate_core::keys::{KeyHash, VirtualKey};
use tracegate_core::{Trace, TraceId};
use tracegate_store::analytics::{
    AccountUsage, ConversationPage, ConversationQuery, ConversationTree, Slowest, SlowestQuery,
    StatsQuery, StatsReport, TimeRange, UsageQuery, UsageReport,
};
use tracegate_store::health::{ErrorCount, StoreHealth};
use tracegate_store::search::{SearchPage, SearchQuery};
use tracegate_store::{
    AnalyticsStore, HealthStore, KeyStore, SearchStore, StorageStats, Store, StoreError,
    TraceDetail, TraceStore, TraceSummary,
};

use super::Metrics;

/// The log target of store query lines.
pub const SQL_TARGET: &str = "tracegate::sql";

/// How queries are logged.
#[derive(Debug, Clone, Copy)]
pub struct QueryLog {
    /// Queries slower than this are logged at warn and counted.
    pub slow: Duration,
    /// Log every query at info.
    pub every: bool,
}

/// A store whose read queries are timed, logged when slow, and counted.
pub struct MeasuredStore {
    inner: Arc<dyn Store>,
    metrics: Metrics,
    log: QueryLog,
}

impl MeasuredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics, log: QueryLog) -> Self {
        MeasuredStore {
            inner,
            metrics,
            log,
        }
    }

    async fn timed<T>(
        &self,
        class: &'static str,
        shape: impl FnOnce() -> String,
        query: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = query.await;
        let took = started.elapsed();
        let slow = took >= self.log.slow;
        self.metrics.store_query(class, took, slow);
        let ms = (took.as_secs_f64() * 1e6).round() / 1e3;
        let ok = result.is_ok();
        if slow {
            tracing::warn!(target: SQL_TARGET, class, took_ms = ms, ok, params = %shape(), "slow store query");
        } else if self.log.every {
            tracing::info!(target: SQL_TARGET, class, took_ms = ms, ok, params = %shape(), "store query");
        } else {
            tracing::debug!(target: SQL_TARGET, class, took_ms = ms, ok, params = %shape(), "store query");
        }
        result
    }
}

/// The shape of a search: filter fields and operators, whether there is text, the sort,
/// whether it continues a cursor, and the limit.
pub fn search_shape(q: &SearchQuery) -> String {
    let mut filter = String::new();
    if let Some(f) = &q.filter {
        filter_shape(f, &mut filter);
    }
    format!(
        "filter={} has_q={} sort={} order={} has_cursor={} limit={}",
        if filter.is_empty() { "-" } else { &filter },
        q.text.is_some(),
        q.sort.name(),
        q.order.name(),
        q.after.is_some(),
        q.limit
    )
}

fn filter_shape(f: &Filter, out: &mut String) {
    let list = |name: &str, children: &[Filter], out: &mut String| {
        out.push_str(name);
        out.push('(');
        for (i, c) in children.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            filter_shape(c, out);
        }
        out.push(')');
    };
    match f {
        Filter::And(c) => list("and", c, out),
        Filter::Or(c) => list("or", c, out),
        Filter::Not(c) => list("not", std::slice::from_ref(&**c), out),
        Filter::Leaf(p) => {
            out.push_str(&p.field.name());
            out.push(' ');
            out.push_str(p.op.name());
        }
    }
}

fn range_shape(r: TimeRange) -> String {
    format!("range_s={}", (r.to_ms() - r.from_ms()) / 1000)
}

#[async_trait::async_trait]
impl TraceStore for MeasuredStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn insert_batch(&self, traces: Vec<Trace>) -> Result<(), StoreError> {
        self.inner.insert_batch(traces).await
    }
    async fn recent(&self, limit: u32) -> Result<Vec<TraceSummary>, StoreError> {
        self.timed(
            "search",
            || format!("recent limit={limit}"),
            self.inner.recent(limit),
        )
        .await
    }
    async fn get(&self, id: TraceId) -> Result<Option<TraceDetail>, StoreError> {
        self.timed("trace", String::new, self.inner.get(id)).await
    }
    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        self.inner.add_feedback(feedback).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn stats(&self) -> Result<StorageStats, StoreError> {
        self.inner.stats().await
    }
}

#[async_trait::async_trait]
impl SearchStore for MeasuredStore {
    async fn search(&self, req: &SearchQuery) -> Result<SearchPage, StoreError> {
        self.timed("search", || search_shape(req), self.inner.search(req))
            .await
    }
}

#[async_trait::async_trait]
impl AnalyticsStore for MeasuredStore {
    async fn conversations(&self, q: ConversationQuery) -> Result<ConversationPage, StoreError> {
        let shape = format!(
            "list has_account={} has_from={} has_to={} has_cursor={} limit={}",
            q.account().is_some(),
            q.from_ms().is_some(),
            q.to_ms().is_some(),
            q.cursor().is_some(),
            q.limit()
        );
        self.timed("conversations", || shape, self.inner.conversations(q))
            .await
    }
    async fn conversation(&self, id: TraceId) -> Result<Option<ConversationTree>, StoreError> {
        self.timed(
            "conversations",
            || "tree".to_owned(),
            self.inner.conversation(id),
        )
        .await
    }
    async fn usage(&self, q: UsageQuery) -> Result<UsageReport, StoreError> {
        let shape = format!(
            "{} bucket={} has_account={}",
            range_shape(q.range()),
            q.bucket().as_str(),
            q.account().is_some()
        );
        self.timed("usage", || shape, self.inner.usage(q)).await
    }
    async fn usage_by_account(&self, range: TimeRange) -> Result<Vec<AccountUsage>, StoreError> {
        self.timed(
            "usage",
            || format!("by_account {}", range_shape(range)),
            self.inner.usage_by_account(range),
        )
        .await
    }
    async fn request_stats(&self, q: StatsQuery) -> Result<StatsReport, StoreError> {
        let shape = format!(
            "{} bucket={} group_by={}",
            range_shape(q.range()),
            q.bucket().as_str(),
            q.group_by().map_or("-", |g| g.as_str())
        );
        self.timed("stats", || shape, self.inner.request_stats(q))
            .await
    }
    async fn slowest(&self, q: SlowestQuery) -> Result<Slowest, StoreError> {
        let shape = format!("slowest {} limit={}", range_shape(q.range()), q.limit());
        self.timed("stats", || shape, self.inner.slowest(q)).await
    }
}

#[async_trait::async_trait]
impl KeyStore for MeasuredStore {
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError> {
        self.inner.create_key(key).await
    }
    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        self.inner.list_keys().await
    }
    async fn key_by_hash(&self, hash: KeyHash) -> Result<Option<VirtualKey>, StoreError> {
        self.inner.key_by_hash(hash).await
    }
    async fn key_by_id(&self, id: uuid::Uuid) -> Result<Option<VirtualKey>, StoreError> {
        self.inner.key_by_id(id).await
    }
    async fn revoke_key(
        &self,
        id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<VirtualKey, StoreError> {
        self.inner.revoke_key(id, at).await
    }
}

#[async_trait::async_trait]
impl HealthStore for MeasuredStore {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        self.inner.health().await
    }
    async fn errors_by_status(
        &self,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorCount>, StoreError> {
        self.timed(
            "stats",
            || format!("errors_by_status {} limit={limit}", range_shape(range)),
            self.inner.errors_by_status(range, limit),
        )
        .await
    }
}
