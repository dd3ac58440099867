//! `POST /api/v1/traces/search` and the query-parameter form of `GET /api/v1/traces`.

use axum::Router;

use super::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
}
