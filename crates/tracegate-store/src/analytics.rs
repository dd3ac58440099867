//! Analytics reads: conversations, token usage and latency statistics.

use crate::store::TraceStore;

/// Analytics over stored traces and rollups. Every backend implements it.
#[async_trait::async_trait]
pub trait AnalyticsStore: TraceStore {}
