//! The gateway's own HTTP API: health, readiness and the trace read API.
//!
//! Every route is registered here, or in the `routes()` of its module, as
//! `.routes(routes!(handler))`: the path, the method and the OpenAPI
//! description all come from the handler's `#[utoipa::path]` (see `openapi.rs`).

mod alerts;
mod analytics;
pub mod auth;
pub mod csrf;
mod diagnostics;
mod errors;
pub mod export;
mod feedback;
pub mod host_guard;
mod keys;
pub mod live;
pub mod openapi;
pub mod principal;
pub mod schema;
mod search;
pub mod session;
mod traces;

#[cfg(test)]
mod feedback_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod model_filter_tests;
#[cfg(test)]
mod tenant_tests;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::middleware;
use axum::{Json, Router};
use tracegate_store::Store;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::inflight::Inflight;
use crate::recorder::RecorderStats;
use schema::StatusBody;

pub(crate) use analytics::CACHE_HEADER;

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
    /// What `GET /diagnostics` reads.
    pub diagnostics: crate::diagnostics::Sources,
    /// The proxy's virtual key cache, told of revocations.
    pub keys: crate::keys::KeyCache,
    /// The live feed `GET /api/v1/live` subscribes to.
    pub live: crate::live::LiveFeed,
}

impl ApiState {
    /// A state over `store` alone, for router tests: nothing in flight, an analytics cache
    /// of 100 entries, the response cache and diagnostics' live parts off.
    #[cfg(test)]
    pub(crate) fn for_tests(store: Arc<dyn Store>) -> Self {
        ApiState {
            diagnostics: crate::diagnostics::Sources::store_only(store.clone()),
            keys: crate::keys::KeyCache::new(store.clone()),
            store,
            inflight: Inflight::default(),
            recorder: Arc::default(),
            stuck_after_ms: 60_000.0,
            analytics_cache: crate::analytics_cache::AnalyticsCache::new(100),
            response_cache: Default::default(),
            live: crate::live::LiveFeed::new(8),
        }
    }
}

/// `/health`, `/ready` and the `/api/v1` routes (behind the host guard, then the admin
/// token check). Every route is registered with its OpenAPI description, here only.
pub fn router(state: ApiState, auth: auth::AdminAuth, guard: host_guard::HostGuard) -> Router {
    let timings = state
        .diagnostics
        .live
        .as_ref()
        .map(|l| l.timings.clone())
        .unwrap_or_default();
    let gate = auth::Gate {
        admin: auth,
        keys: state.keys.clone(),
    };
    let (open, _) = open_routes().split_for_parts();
    let (api, _) = api_routes().split_for_parts();
    let (session, _) = session::routes().split_for_parts();
    let api = api
        .route_layer(middleware::from_fn_with_state(
            timings,
            crate::query_timings::time_api_queries,
        ))
        .route_layer(middleware::from_fn_with_state(
            gate.clone(),
            auth::authenticate,
        ))
        .merge(session.layer(axum::Extension(gate)))
        .layer(middleware::from_fn_with_state(guard, host_guard::guard));
    open.nest("/api/v1", api)
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

/// Routes outside `/api/v1`, open without a token.
fn open_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// The routes under `/api/v1`, behind the admin token.
fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(traces::get_one))
        .routes(routes!(feedback::post))
        .routes(routes!(export::export))
        .routes(routes!(traces::inflight))
        .routes(routes!(recorder))
        .routes(routes!(cache))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(diagnostics::diagnostics))
        .routes(routes!(alerts::list))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(live::live))
        .merge(search::routes())
        .merge(analytics::routes())
}

/// Liveness: answers as long as the process serves requests.
#[utoipa::path(get, path = "/health", tag = "gateway", security(()),
    responses((status = 200, description = "Alive", body = StatusBody)))]
async fn health() -> Json<StatusBody> {
    Json(StatusBody { status: "ok" })
}

/// Readiness: 200 when the store answers and takes trace writes; 503 when it does not
/// answer or has refused writes for longer than `ready_write_timeout_secs`.
#[utoipa::path(get, path = "/ready", tag = "gateway", security(()),
    responses(
        (status = 200, description = "The store answers", body = StatusBody),
        (status = 503, description = "The store does not answer or refuses writes", body = ErrorBody),
    ))]
async fn ready(State(s): State<ApiState>) -> Result<Json<StatusBody>, ApiError> {
    s.store.ping().await?;
    let limit = s.recorder.ready_write_timeout_ms.load(Ordering::Relaxed);
    if let Some(failing) = s.recorder.write_failing_for() {
        if failing.as_millis() > u128::from(limit) {
            return Err(ApiError::unavailable(format!(
                "the store has refused trace writes for {} s; traces are kept in the spool",
                failing.as_secs()
            )));
        }
    }
    Ok(Json(StatusBody { status: "ready" }))
}

/// Both in-process caches: `analytics` (search, statistics and usage answers) and
/// `responses` (model answers served again by the proxy).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CachesReport {
    pub analytics: crate::analytics_cache::AnalyticsCacheStats,
    pub responses: crate::response_cache::ResponseCacheStats,
}

/// Both in-process caches' counters.
#[utoipa::path(get, path = "/cache", tag = "gateway",
    responses((status = 200, description = "Cache counters", body = CachesReport)))]
async fn cache(State(s): State<ApiState>) -> Json<CachesReport> {
    Json(CachesReport {
        analytics: s.analytics_cache.stats(),
        responses: s.response_cache.stats(),
    })
}

/// Traces queued, written and dropped by the recorder.
#[utoipa::path(get, path = "/recorder", tag = "gateway",
    responses((status = 200, description = "Recorder counters", body = crate::recorder::RecorderSnapshot)))]
async fn recorder(State(s): State<ApiState>) -> Json<crate::recorder::RecorderSnapshot> {
    Json(s.recorder.snapshot())
}
