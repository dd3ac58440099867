//! Exporting every trace a search matches, one keyset page at a time.
//!
//! An [`Export`] walks a [`SearchQuery`] from its first page to its last with
//! the store's own cursors, so it holds one page of summaries at a time
//! however many traces match, and traces written while it runs never shift
//! what it has still to read. Each row is the JSON object a search returns
//! for a trace (only the chosen fields), plus `request_body` and
//! `response_body` when bodies are asked for; bodies are read one trace at a
//! time. The HTTP export endpoint and the `tracegate export` command both
//! read their rows from here.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use crate::error::StoreError;
use crate::model::TraceSummary;
use crate::search::{project, SearchQuery, SearchStore, SUMMARY_FIELDS};

/// Traces read from the store per page.
pub const EXPORT_PAGE_SIZE: u32 = 500;

/// The names of the two body columns, after the summary fields.
pub const BODY_FIELDS: [&str; 2] = ["request_body", "response_body"];

/// What to export: the traces a search matches, in its order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportQuery {
    /// Filter, text, sort, order and, to resume, the position to start after.
    /// Its `limit` is not used: pages are [`EXPORT_PAGE_SIZE`] traces.
    pub search: SearchQuery,
    /// Summary fields of each row, in [`SUMMARY_FIELDS`] order; `None` for all.
    pub fields: Option<Vec<&'static str>>,
    /// Whether each row carries `request_body` and `response_body`.
    pub bodies: bool,
    /// At most this many traces; `None` for every match.
    pub max_rows: Option<u64>,
}

impl ExportQuery {
    /// Every matching trace with all summary fields and no bodies.
    pub fn new(search: SearchQuery) -> Self {
        ExportQuery {
            search,
            fields: None,
            bodies: false,
            max_rows: None,
        }
    }

    /// The keys of each row, in order: the summary fields, then the bodies.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut columns = self
            .fields
            .clone()
            .unwrap_or_else(|| SUMMARY_FIELDS.to_vec());
        if self.bodies {
            columns.extend(BODY_FIELDS);
        }
        columns
    }
}

/// A running export: call [`Export::next_row`] until it returns `None`.
pub struct Export<S: ?Sized> {
    store: Arc<S>,
    /// The next page to read.
    search: SearchQuery,
    fields: Option<Vec<&'static str>>,
    bodies: bool,
    /// Rows still allowed; `None` for no limit.
    remaining: Option<u64>,
    /// Summaries of the page read last, not yet turned into rows.
    pending: VecDeque<TraceSummary>,
    /// Whether the last page has been read.
    last_page: bool,
    exported: u64,
}

impl<S: SearchStore + ?Sized> Export<S> {
    /// An export of `query` over `store`; nothing is read until the first call.
    pub fn new(store: Arc<S>, query: ExportQuery) -> Self {
        Export {
            store,
            search: query.search,
            fields: query.fields,
            bodies: query.bodies,
            remaining: query.max_rows,
            pending: VecDeque::new(),
            last_page: false,
            exported: 0,
        }
    }

    /// The next row, `None` when every matching trace has been returned.
    pub async fn next_row(&mut self) -> Result<Option<Value>, StoreError> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let Some(summary) = self.pending.pop_front() else {
                if self.last_page {
                    return Ok(None);
                }
                self.read_page().await?;
                continue;
            };
            let row = if self.bodies {
                match self.store.get(summary.id).await? {
                    Some(detail) => {
                        let mut row = project(&detail.summary, self.fields.as_deref());
                        if let Value::Object(obj) = &mut row {
                            obj.insert(BODY_FIELDS[0].into(), detail.request_body);
                            obj.insert(BODY_FIELDS[1].into(), detail.response_body);
                        }
                        row
                    }
                    // Removed since its page was read: it is no longer there to export.
                    None => continue,
                }
            } else {
                project(&summary, self.fields.as_deref())
            };
            if let Some(n) = &mut self.remaining {
                *n -= 1;
            }
            self.exported += 1;
            return Ok(Some(row));
        }
    }

    /// Reads the first page now, so that a store that cannot answer is
    /// known before anything has been written out. Does nothing after the
    /// first page.
    pub async fn start(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() && !self.last_page && self.exported == 0 {
            self.read_page().await?;
        }
        Ok(())
    }

    /// Whether rows of the current page are still held, so that the next
    /// call to [`Export::next_row`] does not wait for a new page.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Rows returned so far.
    pub fn exported(&self) -> u64 {
        self.exported
    }

    async fn read_page(&mut self) -> Result<(), StoreError> {
        let mut limit = EXPORT_PAGE_SIZE;
        if let Some(n) = self.remaining {
            limit = limit.min(u32::try_from(n).unwrap_or(u32::MAX)).max(1);
        }
        self.search.limit = limit;
        let page = self.store.search(&self.search).await?;
        self.pending.extend(page.data);
        match page.next_cursor {
            Some(cursor) if page.has_more => {
                let next = self.search.clone().with_cursor(&cursor, "/cursor");
                self.search = next.map_err(|e| {
                    self.last_page = true;
                    StoreError::Backend(format!("the store gave a cursor it cannot read: {e}"))
                })?;
            }
            _ => self.last_page = true,
        }
        Ok(())
    }
}
