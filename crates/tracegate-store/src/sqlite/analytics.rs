//! Analytics reads on SQLite: conversations from the `conversations` table,
//! usage and statistics from `rollups` plus the trace rows of partial minutes.

mod conversations;
mod rows;
mod stats;
mod usage;

use tracegate_core::TraceId;

use super::SqliteStore;
use crate::analytics::{
    AccountUsage, AnalyticsStore, ConversationPage, ConversationQuery, ConversationTree, Slowest,
    SlowestQuery, StatsQuery, StatsReport, TimeRange, UsageQuery, UsageReport,
};
use crate::error::StoreError;

#[async_trait::async_trait]
impl AnalyticsStore for SqliteStore {
    async fn conversations(&self, q: ConversationQuery) -> Result<ConversationPage, StoreError> {
        self.with_reader(move |c| conversations::list(c, &q)).await
    }

    async fn conversation(&self, id: TraceId) -> Result<Option<ConversationTree>, StoreError> {
        self.with_reader(move |c| conversations::tree(c, id)).await
    }

    async fn usage(&self, q: UsageQuery) -> Result<UsageReport, StoreError> {
        self.with_reader(move |c| usage::usage(c, q)).await
    }

    async fn usage_by_account(&self, range: TimeRange) -> Result<Vec<AccountUsage>, StoreError> {
        self.with_reader(move |c| usage::by_account(c, range)).await
    }

    async fn request_stats(&self, q: StatsQuery) -> Result<StatsReport, StoreError> {
        self.with_reader(move |c| stats::request_stats(c, q)).await
    }

    async fn slowest(&self, q: SlowestQuery) -> Result<Slowest, StoreError> {
        self.with_reader(move |c| stats::slowest(c, q)).await
    }
}

#[cfg(test)]
mod tests;
