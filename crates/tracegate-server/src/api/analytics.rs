//! Conversations, token usage and statistics routes. Handlers parse and check
//! their parameters, ask the store, and answer JSON; usage and statistics
//! answers go through the response cache.

mod conversations;
mod params;
mod stats;
mod usage;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;

pub(crate) use params::CACHE_HEADER;

/// The analytics routes, to be nested under `/api/v1`.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::get_one))
        .routes(routes!(usage::window))
        .routes(routes!(usage::daily))
        .routes(routes!(usage::accounts))
        .routes(routes!(stats::stats))
        .routes(routes!(stats::slowest))
}

#[cfg(test)]
mod tests;
