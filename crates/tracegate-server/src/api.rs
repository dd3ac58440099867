//! The gateway's own HTTP API: health, readiness and the trace read API.

mod alerts;
mod analytics;
pub mod auth;
mod errors;
mod feedback;
pub mod host_guard;
mod search;
mod traces;

#[cfg(test)]
mod feedback_tests;
#[cfg(test)]
mod model_filter_tests;

use std::sync::Arc;

use axum::extract::State;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracegate_store::Store;

use crate::error::ApiError;
use crate::inflight::Inflight;
use crate::recorder::RecorderStats;

/// What the API handlers need.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub inflight: Inflight,
    pub recorder: Arc<RecorderStats>,
    pub stuck_after_ms: f64,
    /// Search, statistics and usage answers.
    pub analytics_cache: crate::analytics_cache::AnalyticsCache,
    /// Model answers the proxy serves again (reported by `/api/v1/cache`).
    pub response_cache: crate::response_cache::ResponseCache,
}

/// `/health`, `/ready` and the `/api/v1` routes (behind the host guard, then the admin
/// token check).
pub fn router(state: ApiState, auth: auth::AdminAuth, guard: host_guard::HostGuard) -> Router {
    let api = Router::new()
        .route("/traces/{id}", get(traces::get_one))
        .route("/traces/{id}/feedback", post(feedback::post))
        .route("/stats/inflight", get(traces::inflight))
        .route("/recorder", get(recorder))
        .route("/cache", get(cache))
        .route("/alerts", get(alerts::list))
        .merge(search::routes())
        .merge(analytics::routes())
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

/// Both in-process caches: `analytics` (search, statistics and usage answers) and
/// `responses` (model answers served again by the proxy).
#[derive(Debug, serde::Serialize)]
pub struct CachesReport {
    pub analytics: crate::analytics_cache::AnalyticsCacheStats,
    pub responses: crate::response_cache::ResponseCacheStats,
}

async fn cache(State(s): State<ApiState>) -> Json<CachesReport> {
    Json(CachesReport {
        analytics: s.analytics_cache.stats(),
        responses: s.response_cache.stats(),
    })
}

async fn recorder(State(s): State<ApiState>) -> Json<crate::recorder::RecorderSnapshot> {
    Json(s.recorder.snapshot())
}
