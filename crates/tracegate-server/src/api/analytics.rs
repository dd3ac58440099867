//! Conversations, token usage and statistics routes. Handlers parse and check
//! their parameters, ask the store, and answer JSON; usage and statistics
//! answers go through the response cache.

mod conversations;
mod params;
mod stats;
mod usage;

use axum::routing::get;
use axum::Router;

use super::ApiState;

pub(crate) use params::CACHE_HEADER;

/// The analytics routes, to be nested under `/api/v1`.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get_one))
        .route("/usage/window", get(usage::window))
        .route("/usage/daily", get(usage::daily))
        .route("/usage/accounts", get(usage::accounts))
        .route("/stats", get(stats::stats))
        .route("/stats/slowest", get(stats::slowest))
}

#[cfg(test)]
mod tests;
