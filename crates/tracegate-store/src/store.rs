//! The storage interface the gateway records traces through.

use tracegate_core::feedback::Feedback;
use tracegate_core::{Trace, TraceId};

use crate::error::StoreError;
use crate::model::{StorageStats, TraceDetail, TraceSummary};

/// A place traces are written to and read back from.
///
/// Every backend must pass the shared conformance suite (`conformance` module,
/// built for tests and with the `testing` feature).
#[async_trait::async_trait]
pub trait TraceStore: Send + Sync + 'static {
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Inserts a batch of finished traces in ONE transaction.
    async fn insert_batch(&self, traces: Vec<Trace>) -> Result<(), StoreError>;
    /// Newest first, at most `limit`.
    async fn recent(&self, limit: u32) -> Result<Vec<TraceSummary>, StoreError>;
    /// The whole trace with bodies and feedback, or None.
    async fn get(&self, id: TraceId) -> Result<Option<TraceDetail>, StoreError>;
    /// Attaches a feedback entry (id and time already made) to its trace;
    /// [`StoreError::NotFound`] when no such trace is stored.
    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), StoreError>;
    /// Cheap reachability check for /ready.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Bytes used, for storage reports.
    async fn stats(&self) -> Result<StorageStats, StoreError>;
}
