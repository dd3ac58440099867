//! The error type shared by every store backend.

/// What can go wrong talking to a trace store.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// The record asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A write clashed with existing data (e.g. a trace id already stored).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached right now: connection, I/O, locked or busy.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data cannot be decoded.
    #[error("store data corrupt: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("store backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Builds a [`StoreError::Corrupt`] from anything printable.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        StoreError::Backend(format!("store task failed: {e}"))
    }
}
