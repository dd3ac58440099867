//! Searching traces: filters, full text, sorting and keyset pagination.
//!
//! A [`SearchQuery`] is checked before it reaches a backend: every part of a
//! request that can be wrong (sort, order, limit, text, fields, cursor) is
//! refused here with a [`SearchError`] that points at the bad part, so a
//! backend only ever sees valid queries.
//!
//! Matching rules: a predicate on a missing (null) field is false, except
//! `ne` and `not_in`, which hold for it (`ne` is exactly `not eq`);
//! `contains` and `starts_with` ignore ASCII case. Sorting puts traces
//! without a value for the sort key last, in either order; ties are broken
//! by insertion order, in the direction of the sort.

mod cursor;
mod error;
mod fields;
mod text;

#[cfg(test)]
mod tests;

use tracegate_core::filter::Filter;

use crate::error::StoreError;
use crate::model::TraceSummary;
use crate::store::TraceStore;

pub use cursor::{Position, SortValue};
pub use error::{SearchError, SearchErrorKind};
pub use fields::{parse_fields, project, SUMMARY_FIELDS};
pub use text::{Term, TextQuery, MAX_TERMS, MAX_TEXT_BYTES, MIN_PREFIX_CHARS};

/// Page size when none is given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// Trace search. Every backend implements it and passes the same tests.
#[async_trait::async_trait]
pub trait SearchStore: TraceStore {
    /// One page of traces matching `req`, in its order, with the cursor of the next page.
    async fn search(&self, req: &SearchQuery) -> Result<SearchPage, StoreError>;
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// At most `limit` traces.
    pub data: Vec<TraceSummary>,
    /// Opaque cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Whether more traces follow this page.
    pub has_more: bool,
}

/// What results are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    /// Start time (`started_at`), the default.
    #[default]
    Ts,
    DurationMs,
    TtftMs,
    CostUsd,
    TotalTokens,
}

impl SortKey {
    /// Every sort key.
    pub const ALL: [SortKey; 5] = [
        SortKey::Ts,
        SortKey::DurationMs,
        SortKey::TtftMs,
        SortKey::CostUsd,
        SortKey::TotalTokens,
    ];

    /// The name used in requests.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Ts => "ts",
            SortKey::DurationMs => "duration_ms",
            SortKey::TtftMs => "ttft_ms",
            SortKey::CostUsd => "cost_usd",
            SortKey::TotalTokens => "total_tokens",
        }
    }

    /// Whether some traces have no value for this key.
    pub fn nullable(self) -> bool {
        matches!(self, SortKey::TtftMs | SortKey::CostUsd)
    }

    /// Parses a sort name (`started_at` is an alias of `ts`); `pointer` locates it.
    pub fn parse(name: &str, pointer: &str) -> Result<SortKey, SearchError> {
        if name == "started_at" {
            return Ok(SortKey::Ts);
        }
        SortKey::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
                SearchError::new(
                    SearchErrorKind::BadSort,
                    pointer,
                    format!(
                        "cannot sort by {}; sort is one of: {}",
                        error::quote(name),
                        known.join(", ")
                    ),
                )
            })
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// Largest (newest) first, the default.
    #[default]
    Desc,
    Asc,
}

impl SortOrder {
    /// The name used in requests.
    pub fn name(self) -> &'static str {
        match self {
            SortOrder::Desc => "desc",
            SortOrder::Asc => "asc",
        }
    }

    /// Parses `asc` or `desc`; `pointer` locates the value.
    pub fn parse(name: &str, pointer: &str) -> Result<SortOrder, SearchError> {
        match name {
            "desc" => Ok(SortOrder::Desc),
            "asc" => Ok(SortOrder::Asc),
            other => Err(SearchError::new(
                SearchErrorKind::BadOrder,
                pointer,
                format!("order is \"asc\" or \"desc\", got {}", error::quote(other)),
            )),
        }
    }
}

/// Checks a page size: 1 to [`MAX_LIMIT`].
pub fn check_limit(limit: i64, pointer: &str) -> Result<u32, SearchError> {
    u32::try_from(limit)
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            SearchError::new(
                SearchErrorKind::BadLimit,
                pointer,
                format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {limit}"),
            )
        })
}

/// A checked search: what to match, in which order, from where, how many.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Structured filter; `None` matches every trace.
    pub filter: Option<Filter>,
    /// Full-text terms, all of which must match; `None` for no text search.
    pub text: Option<TextQuery>,
    pub sort: SortKey,
    pub order: SortOrder,
    /// Start after this position (from a cursor); `None` for the first page.
    pub after: Option<Position>,
    /// Page size, 1 to [`MAX_LIMIT`]; backends clamp anything else.
    pub limit: u32,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            filter: None,
            text: None,
            sort: SortKey::Ts,
            order: SortOrder::Desc,
            after: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl SearchQuery {
    /// Continues after `cursor`, which must come from a page of this same
    /// query (same filter, text, sort and order); `pointer` locates it.
    pub fn with_cursor(mut self, cursor: &str, pointer: &str) -> Result<Self, SearchError> {
        self.after = Some(cursor::decode(cursor, &self.fingerprint(), pointer)?);
        Ok(self)
    }

    /// The cursor that continues after `pos`.
    pub fn cursor_after(&self, pos: &Position) -> String {
        cursor::encode(pos, &self.fingerprint())
    }

    /// The limit a backend uses: [`SearchQuery::limit`] clamped to 1..=[`MAX_LIMIT`].
    pub fn page_size(&self) -> u32 {
        self.limit.clamp(1, MAX_LIMIT)
    }

    /// A stable text form of everything that decides which traces match and in
    /// what order (not the limit or the position): the identity of a query.
    pub fn canonical(&self) -> String {
        let filter = self
            .filter
            .as_ref()
            .map(|f| f.to_json().to_string())
            .unwrap_or_default();
        let text = self
            .text
            .as_ref()
            .map(TextQuery::canonical)
            .unwrap_or_default();
        serde_json::json!([self.sort.name(), self.order.name(), filter, text]).to_string()
    }

    fn fingerprint(&self) -> [u8; 32] {
        *blake3::hash(self.canonical().as_bytes()).as_bytes()
    }
}
