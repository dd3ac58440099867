//! Conversations, token usage and statistics routes.

use axum::Router;

use super::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
}
