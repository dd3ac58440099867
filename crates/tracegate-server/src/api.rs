//! The gateway's own HTTP API: health, readiness and the trace read API.

mod analytics;
pub mod auth;
mod diagnostics;
mod errors;
pub mod host_guard;
mod search;
mod traces;

use std::sync::Arc;

use axum::extract::State;
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tracegate_store::Store;

use crate::error::ApiError;
use crate::inflight::Inflight;
use crate::recorder::RecorderStats;

pub(crate) use analytics::CACHE_HEADER;

/// What the API handlers need.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub inflight: Inflight,
    pub recorder: Arc<RecorderStats>,
    pub stuck_after_ms: f64,
    pub cache: crate::cache::ResponseCache,
    /// What `GET /diagnostics` reads.
    pub diagnostics: crate::diagnostics::Sources,
}

/// `/health`, `/ready` and the `/api/v1` routes (behind the host guard, then the admin
/// token check).
pub fn router(state: ApiState, auth: auth::AdminAuth, guard: host_guard::HostGuard) -> Router {
    let timings = state
        .diagnostics
        .live
        .as_ref()
        .map(|l| l.timings.clone())
        .unwrap_or_default();
    let api = Router::new()
        .route("/traces/{id}", get(traces::get_one))
        .route("/stats/inflight", get(traces::inflight))
        .route("/recorder", get(recorder))
        .route("/cache", get(cache))
        .merge(search::routes())
        .merge(analytics::routes())
        .route("/diagnostics", get(diagnostics::diagnostics))
        .route_layer(middleware::from_fn_with_state(
            timings,
            crate::query_timings::time_api_queries,
        ))
        .route_layer(middleware::from_fn_with_state(auth, auth::require_admin))
        .layer(middleware::from_fn_with_state(guard, host_guard::guard));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .nest("/api/v1", api)
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    s.store.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
}

async fn cache(State(s): State<ApiState>) -> Json<crate::cache::CacheStats> {
    Json(s.cache.stats())
}

async fn recorder(State(s): State<ApiState>) -> Json<crate::recorder::RecorderSnapshot> {
    Json(s.recorder.snapshot())
}
