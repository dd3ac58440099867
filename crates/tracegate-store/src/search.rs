//! Searching traces: filters, full text, sorting and keyset pagination.

use crate::store::TraceStore;

/// Trace search. Every backend implements it and passes the same tests.
#[async_trait::async_trait]
pub trait SearchStore: TraceStore {}
