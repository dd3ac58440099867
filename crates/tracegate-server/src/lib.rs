//! The tracegate gateway: configuration, the proxy, the recorder and the HTTP API.

pub mod access_log;
pub mod alerts;
pub mod analytics_cache;
pub mod api;
pub mod app;
pub mod config;
pub mod dashboard;
pub mod diagnostics;
pub mod error;
pub mod inflight;
pub mod keys;
pub mod listen;
pub mod live;
pub mod metrics;
pub mod origin;
pub mod otlp;
pub mod pricing;
pub mod proxy;
pub mod query_timings;
pub mod recorder;
pub mod response_cache;
pub mod spool;
pub mod startup;
#[cfg(test)]
mod test_log;
pub mod upstream;

pub use app::{open_store, serve, Gateway, ServeError};
pub use config::{Config, Overrides};
