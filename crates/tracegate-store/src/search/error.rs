//! Errors of a search request, located by a JSON pointer into the request.

use tracegate_core::filter::{FilterError, FilterErrorKind};

/// What is wrong with a search request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchErrorKind {
    /// The filter is wrong.
    Filter(FilterErrorKind),
    /// `q` has nothing to search for, or too much.
    BadText,
    /// Unknown sort key.
    BadSort,
    /// Order is not `asc` or `desc`.
    BadOrder,
    /// Limit out of range or not a number.
    BadLimit,
    /// The cursor is damaged or belongs to another query.
    BadCursor,
    /// Unknown name in `fields`.
    UnknownField,
    /// The request does not have the expected shape (wrong JSON type, unknown key).
    Malformed,
}

impl SearchErrorKind {
    /// Snake-case name for clients.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchErrorKind::Filter(kind) => kind.as_str(),
            SearchErrorKind::BadText => "bad_text",
            SearchErrorKind::BadSort => "bad_sort",
            SearchErrorKind::BadOrder => "bad_order",
            SearchErrorKind::BadLimit => "bad_limit",
            SearchErrorKind::BadCursor => "bad_cursor",
            SearchErrorKind::UnknownField => "unknown_field",
            SearchErrorKind::Malformed => "malformed",
        }
    }
}

/// A search request the API refuses; maps to an HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {pointer})")]
pub struct SearchError {
    /// Category of the problem.
    pub kind: SearchErrorKind,
    /// JSON pointer to the offending part of the request, e.g. `/cursor`.
    pub pointer: String,
    /// Plain description of the problem.
    pub message: String,
}

impl SearchError {
    /// Makes an error.
    pub fn new(
        kind: SearchErrorKind,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SearchError {
            kind,
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl From<FilterError> for SearchError {
    fn from(e: FilterError) -> Self {
        SearchError {
            kind: SearchErrorKind::Filter(e.kind),
            pointer: e.pointer,
            message: e.message,
        }
    }
}

/// Quotes a user-supplied string for a message, shortening long ones.
pub(crate) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    if s.chars().count() <= MAX_CHARS {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_CHARS).collect();
        format!("{head:?}...")
    }
}
