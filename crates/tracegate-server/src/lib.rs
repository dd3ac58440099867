//! The tracegate gateway: configuration, the proxy, the recorder and the HTTP API.

pub mod api;
pub mod app;
pub mod cache;
pub mod config;
pub mod diagnostics;
pub mod error;
pub mod inflight;
pub mod proxy;
pub mod query_timings;
pub mod recorder;
pub mod upstream;

pub use app::{open_store, serve, Gateway, ServeError};
pub use config::{Config, Overrides};
