//! Store health: what a backend knows about its own state (size, space it
//! could give back, maintenance that is due) and the error breakdown the
//! diagnostics report needs. Each backend answers with the backend-neutral
//! fields of [`StoreHealth`] plus its own [`BackendHealth`] details.

use serde::{Deserialize, Serialize};

use crate::analytics::TimeRange;
use crate::error::StoreError;
use crate::store::TraceStore;

/// The write-ahead log size past which a checkpoint is due (SQLite).
pub const CHECKPOINT_DUE_WAL_BYTES: u64 = 64 * 1024 * 1024;
/// The share of free pages past which a `VACUUM` is due.
pub const VACUUM_DUE_FREE_RATIO: f64 = 0.2;
/// The most rows [`HealthStore::errors_by_status`] returns.
pub const MAX_ERROR_ROWS: u32 = 100;

/// A backend's view of its own health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// `sqlite` (later `postgres`).
    pub backend: String,
    /// Where the data lives: a file path, `:memory:`, a host.
    pub location: String,
    /// Bytes the store takes on disk, every file counted; `None` when unknown.
    pub size_bytes: Option<u64>,
    /// Bytes held by free (reusable) pages.
    pub free_bytes: Option<u64>,
    /// `free_bytes` as a share of the data file.
    pub free_ratio: Option<f64>,
    /// Share of page reads answered from the page cache; `None` when the backend
    /// cannot tell (see `notes`).
    pub cache_hit_rate: Option<f64>,
    /// The write-ahead log should be checkpointed.
    pub checkpoint_due: bool,
    /// Free space should be given back (`VACUUM`).
    pub vacuum_due: bool,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
    /// Backend-specific figures.
    pub details: BackendHealth,
}

/// The figures only one backend has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum BackendHealth {
    /// The embedded SQLite store.
    Sqlite(SqliteHealth),
}

/// SQLite's own figures (`PRAGMA page_size`, `page_count`, `freelist_count`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteHealth {
    /// Bytes of the database file.
    pub file_bytes: u64,
    /// Bytes of the write-ahead log (`-wal` file).
    pub wal_bytes: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// Pages in the database.
    pub page_count: u64,
    /// Pages on the free list.
    pub freelist_count: u64,
    /// `wal` normally.
    pub journal_mode: String,
    /// `none`, `full` or `incremental`.
    pub auto_vacuum: String,
}

/// Failed requests of one upstream, status and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// The upstream; `None` when the request never reached one.
    pub upstream: Option<String>,
    /// The HTTP status answered; `None` when there was none (timeout, unreachable).
    pub status: Option<u16>,
    /// How the request ended (`upstream_error`, `timeout`, ...).
    pub outcome: String,
    /// Number of requests.
    pub count: u64,
}

/// Health checks every backend answers.
#[async_trait::async_trait]
pub trait HealthStore: TraceStore {
    /// Size, free space, cache figures and the maintenance that is due.
    async fn health(&self) -> Result<StoreHealth, StoreError>;

    /// Requests whose outcome was not `ok` in `range`, by upstream, status and
    /// outcome, most first, at most `limit` rows (1..=[`MAX_ERROR_ROWS`]).
    async fn errors_by_status(
        &self,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorCount>, StoreError>;
}

/// Whether a VACUUM is due for `free` free pages out of `total`.
pub fn vacuum_due(free: u64, total: u64) -> bool {
    total > 0 && free as f64 / total as f64 > VACUUM_DUE_FREE_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuum_is_due_past_a_fifth_of_free_pages() {
        assert!(!vacuum_due(0, 0));
        assert!(!vacuum_due(20, 100));
        assert!(vacuum_due(21, 100));
    }
}
