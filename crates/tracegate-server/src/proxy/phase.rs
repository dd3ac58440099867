//! The proxy's request path, one phase a file, run in this order by `proxy::forward`:
//!
//! 1. [`auth`]: who is asking and whether they may (today: the account);
//! 2. [`read`]: admission of the head (origin, path, content type), the body, its metadata
//!    and the JSON peek;
//! 3. [`limits`]: rate limits and budgets of the key and the account (`crate::limits`);
//! 4. [`route`]: the upstream for the request, and the response cache lookup;
//! 5. [`upstream`]: the upstream call, through `Upstreams::send` (bulkhead, retries,
//!    circuit breaker, fallbacks);
//! 6. [`respond`]: the client's response head and the body that tees the answer;
//! 7. recording (`proxy/recording.rs`): the trace is recorded once, when the body ends or
//!    when a phase refuses.
//!
//! A phase either goes on or stops the request: a refusal is an `Err(ProxyError)`, which
//! `proxy::reject` answers in the provider's error format and records; an answer the
//! gateway gives itself (a cache hit) is a [`Flow::Answer`], recorded by [`Answer::send`].

pub mod auth;
pub mod limits;
pub mod read;
pub mod respond;
pub mod route;
pub mod upstream;

use std::sync::Arc;

use axum::response::Response;

use super::cache;
use super::recording::Recording;
use super::ProxyState;
use crate::response_cache::CachedResponse;

/// What a phase decided, besides refusing.
#[derive(Debug)]
pub enum Flow<T> {
    /// Go on to the next phase with this.
    Continue(T),
    /// Answer now, without going upstream.
    Answer(Answer),
}

/// An answer the gateway gives without an upstream call.
#[derive(Debug)]
pub enum Answer {
    /// A response-cache hit.
    Cached(Arc<CachedResponse>),
}

impl Answer {
    /// Records the request and builds the client's response.
    pub fn send(self, state: &ProxyState, rec: Recording) -> Response {
        match self {
            Answer::Cached(hit) => cache::answer(rec, state.sink.prices.table(), &hit),
        }
    }
}

#[cfg(test)]
mod tests;
