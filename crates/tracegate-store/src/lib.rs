//! Trace storage for tracegate: the [`TraceStore`] trait and its embedded
//! SQLite backend, which keeps request and response bodies content-addressed
//! so that resent conversations cost little more than their final transcript.

pub mod analytics;
mod body;
pub mod error;
pub mod export;
pub mod health;
pub mod keys;
pub mod model;
pub mod search;
pub mod sqlite;
pub mod store;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;

pub use error::StoreError;
pub use model::{RelinkReport, StorageStats, TraceDetail, TraceSummary};
pub use sqlite::{SqliteStore, WriterPriority};
pub use store::TraceStore;

pub use analytics::AnalyticsStore;
pub use health::HealthStore;
pub use keys::KeyStore;
pub use search::SearchStore;

/// Everything the gateway needs from a store.
pub trait Store: TraceStore + SearchStore + AnalyticsStore + HealthStore + KeyStore {}

impl<T: TraceStore + SearchStore + AnalyticsStore + HealthStore + KeyStore> Store for T {}
