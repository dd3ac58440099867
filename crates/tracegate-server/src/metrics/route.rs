//! `GET /metrics`: the exposition text. It follows the rule of `/api`: with an admin token
//! set, a scraper sends `Authorization: Bearer <token>`; without one it is open, which
//! `serve` allows only on loopback listeners.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Metrics;
use crate::api::auth::{require_admin, AdminAuth};
use crate::error::ApiError;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The `/metrics` route behind the admin token check.
pub fn router(metrics: Metrics, auth: AdminAuth) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route_layer(middleware::from_fn_with_state(auth, require_admin))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Some(text) => {
            let mut resp = text.into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            resp
        }
        None => ApiError {
            status: StatusCode::NOT_FOUND,
            message: "metrics are turned off (metrics = false)".into(),
            pointer: None,
        }
        .into_response(),
    }
}

/// Folds histogram samples into buckets every few seconds until `stop`.
pub fn spawn_upkeep(metrics: Metrics, tracker: &TaskTracker, stop: CancellationToken) {
    if !metrics.is_enabled() {
        return;
    }
    tracker.spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => metrics.upkeep(),
                () = stop.cancelled() => break,
            }
        }
    });
}

/// Connections the `/metrics` listener keeps open at once: scrapers, not clients.
const METRICS_CONNECTIONS: usize = 64;

/// Serves `router` (just `/metrics`) on its own listener, owned by `tracker`, until `stop`,
/// with the main listener's time limits (`server.rs`).
pub fn spawn_listener(
    listener: TcpListener,
    router: Router,
    limits: crate::server::ConnLimits,
    tracker: &TaskTracker,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let local = listener.local_addr()?;
    // The main listener's time limits; its own small connection count, not on /metrics.
    let limits = crate::server::ConnLimits {
        max_connections: limits.max_connections.min(METRICS_CONNECTIONS),
        ..limits
    };
    let stats = std::sync::Arc::new(crate::server::ConnStats::default());
    let server = crate::server::run(listener, router, limits, stats, stop);
    tracker.spawn(run(local, server));
    Ok(local)
}

async fn run(local: SocketAddr, server: impl Future<Output = std::io::Result<()>>) {
    tracing::info!(listen = %local, "serving /metrics");
    if let Err(error) = server.await {
        tracing::error!(%error, listen = %local, "metrics listener failed");
    }
}
