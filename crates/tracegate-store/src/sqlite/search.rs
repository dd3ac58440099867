//! Trace search on SQLite.
//!
//! A page is found by keyset: `(sort value, rowid)` strictly after the
//! cursor, so traces written while a client pages through never shift what
//! it sees. Two plans:
//!
//! - Segments (any sort, see [`segments`]): traces with a sort value, then
//!   (nullable keys only) those without, each read in `(key, rowid)` order.
//! - Full text by start time (see [`by_time`]): FTS5 yields matches in
//!   rowid order, which is nearly start-time order, so the newest matches
//!   are read first and the scan stops early; the `ts` index then supplies
//!   the few traces written out of start-time order.

mod by_time;
mod filter;
mod fts;
mod page;
mod segments;
mod sql;

#[cfg(test)]
mod tests;

use super::SqliteStore;
use crate::error::StoreError;
use crate::search::{SearchPage, SearchQuery, SearchStore};

#[async_trait::async_trait]
impl SearchStore for SqliteStore {
    async fn search(&self, req: &SearchQuery) -> Result<SearchPage, StoreError> {
        let req = req.clone();
        self.with_reader(move |c| page::run(c, &req)).await
    }
}
