//! Trace search on SQLite.
//!
//! A page is found by keyset: `(sort value, rowid)` strictly after the
//! cursor, so traces written while a client pages through never shift what
//! it sees. Two plans:
//!
//! - Segments (any sort, see [`segments`]): traces with a sort value, then
//!   (nullable keys only) those without, each read in `(key, rowid)` order.
//! - Index covers by start time (see [`merge`]): when the filter limits a
//!   column with a `(column, ts)` index to a few values, the newest matches
//!   of each value's range, merged.
//! - Full text by start time (see [`by_time`]): FTS5 yields matches in
//!   rowid order, which is nearly start-time order, so the newest matches
//!   are read first and the scan stops early; the `ts` index then supplies
//!   the few traces written out of start-time order. Rare values of a
//!   numeric column (`duration_ms > 20000`) are read the same way, their
//!   rowids taken from the column's own index.

mod by_time;
mod cover;
mod filter;
mod fts;
mod merge;
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
        // One read transaction: every query of a page sees the same traces.
        self.with_reader(move |c| {
            let tx = c.unchecked_transaction()?;
            let page = page::run(&tx, &req)?;
            tx.commit()?;
            Ok(page)
        })
        .await
    }
}
