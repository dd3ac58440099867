//! Domain types of tracegate: what a trace is, how usage and cost are computed,
//! and how provider streams are parsed and reassembled. No HTTP server, no SQL.

pub mod account;
pub mod attempt;
pub mod trace;

pub use attempt::Attempt;
pub use trace::{Outcome, Provider, Trace, TraceId, Usage};
pub mod conversation;
pub mod feedback;
pub mod filter;
pub mod keys;
pub mod pricing;
pub mod rfc3339_ms;
pub mod sketch;
pub mod sse;
pub mod stream;
pub mod usage;
