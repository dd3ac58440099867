//! How long the store queries behind the API take, per query class: a small
//! in-process record (the last [`RING`] durations of each class) that
//! `diagnose` reads to name the slow ones.
//!
//! A class is the route template of an `/api/v1` request (`GET /api/v1/stats`),
//! timed when the store answered it: answers from the response cache and
//! refused requests are not counted. The report's own store reads are timed
//! under `diagnostics: <read>`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::api::CACHE_HEADER;

/// Durations kept per class.
pub const RING: usize = 128;
/// Classes kept; further ones are not recorded (routes are a fixed set, so
/// this is only a bound).
pub const MAX_CLASSES: usize = 64;
/// Routes answered from memory, not the store: not query classes.
const NOT_STORE_QUERIES: [&str; 5] = [
    "/api/v1/stats/inflight",
    "/api/v1/live",
    "/api/v1/recorder",
    "/api/v1/cache",
    "/api/v1/diagnostics",
];

#[derive(Debug, Default)]
struct Ring {
    recent: VecDeque<f64>,
    count: u64,
    max_ms: f64,
}

/// The per-class record, shared by the API layer and the report.
#[derive(Debug, Clone, Default)]
pub struct QueryTimings {
    classes: Arc<Mutex<HashMap<String, Ring>>>,
}

/// One class as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryClass {
    /// `GET /api/v1/stats`, `diagnostics: slowest`, ...
    pub class: String,
    /// Queries timed since the gateway started.
    pub count: u64,
    /// Of which the last `recent` are summarised below.
    pub recent: usize,
    /// Median of the recent ones, ms.
    pub p50_ms: f64,
    /// 95th percentile of the recent ones, ms.
    pub p95_ms: f64,
    /// Slowest since the gateway started, ms.
    pub max_ms: f64,
    /// The last one, ms.
    pub last_ms: f64,
}

impl QueryTimings {
    /// Notes one query of `class` that took `took`.
    pub fn record(&self, class: &str, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let mut classes = self.classes.lock();
        if !classes.contains_key(class) && classes.len() >= MAX_CLASSES {
            return;
        }
        let ring = classes.entry(class.to_owned()).or_default();
        if ring.recent.len() == RING {
            ring.recent.pop_front();
        }
        ring.recent.push_back(ms);
        ring.count = ring.count.saturating_add(1);
        ring.max_ms = ring.max_ms.max(ms);
    }

    /// Every class timed so far, slowest p95 first.
    pub fn summary(&self) -> Vec<QueryClass> {
        let classes = self.classes.lock();
        let mut out: Vec<QueryClass> = classes
            .iter()
            .filter_map(|(class, ring)| {
                let last_ms = *ring.recent.back()?;
                let mut sorted: Vec<f64> = ring.recent.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                Some(QueryClass {
                    class: class.clone(),
                    count: ring.count,
                    recent: sorted.len(),
                    p50_ms: nearest_rank(&sorted, 0.5),
                    p95_ms: nearest_rank(&sorted, 0.95),
                    max_ms: ring.max_ms,
                    last_ms,
                })
            })
            .collect();
        out.sort_by(|a, b| b.p95_ms.total_cmp(&a.p95_ms).then(a.class.cmp(&b.class)));
        out
    }
}

/// The `q` quantile of sorted, non-empty `values` (nearest rank).
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let rank = (q * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Middleware on the `/api/v1` routes: times each request the store answered.
pub async fn time_api_queries(
    State(timings): State<QueryTimings>,
    request: Request,
    next: Next,
) -> Response {
    let class = request
        .extensions()
        .get::<MatchedPath>()
        .filter(|p| !NOT_STORE_QUERIES.contains(&p.as_str()))
        .map(|p| format!("{} {}", request.method(), p.as_str()));
    let started = Instant::now();
    let response = next.run(request).await;
    let Some(class) = class else {
        return response;
    };
    let from_cache = response
        .headers()
        .get(CACHE_HEADER)
        .is_some_and(|v| v.as_bytes() == b"hit");
    if response.status().is_success() && !from_cache {
        timings.record(&class, started.elapsed());
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn classes_keep_their_recent_durations_slowest_first() {
        let t = QueryTimings::default();
        for ms in 1..=200u64 {
            t.record("GET /a", Duration::from_millis(ms));
        }
        t.record("GET /b", Duration::from_millis(500));
        let s = t.summary();
        assert_eq!(s[0].class, "GET /b");
        assert_eq!((s[0].count, s[0].p95_ms, s[0].last_ms), (1, 500.0, 500.0));
        let a = &s[1];
        assert_eq!((a.count, a.recent), (200, RING));
        // The ring holds 73..=200: its median and p95 come from those.
        assert_eq!(a.p50_ms, 136.0);
        assert_eq!(a.p95_ms, 194.0);
        assert_eq!(a.max_ms, 200.0);
    }

    #[tokio::test]
    async fn only_answers_from_the_store_are_timed() {
        use axum::body::Body;
        use axum::http::StatusCode;
        use axum::routing::get;
        use axum::Router;
        use tower::ServiceExt;

        let t = QueryTimings::default();
        let app = Router::new()
            .route("/api/v1/x", get(|| async { "ok" }))
            .route(
                "/api/v1/hit",
                get(|| async { ([(CACHE_HEADER, "hit")], "ok") }),
            )
            .route("/api/v1/bad", get(|| async { StatusCode::BAD_REQUEST }))
            .route("/api/v1/recorder", get(|| async { "ok" }))
            .route_layer(axum::middleware::from_fn_with_state(
                t.clone(),
                time_api_queries,
            ));
        for uri in [
            "/api/v1/x",
            "/api/v1/hit",
            "/api/v1/bad",
            "/api/v1/recorder",
            "/nope",
        ] {
            let req = axum::http::Request::get(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(req).await.unwrap();
        }
        let classes: Vec<String> = t.summary().into_iter().map(|c| c.class).collect();
        assert_eq!(classes, vec!["GET /api/v1/x".to_owned()]);
    }

    #[test]
    fn the_number_of_classes_is_bounded() {
        let t = QueryTimings::default();
        for i in 0..MAX_CLASSES + 10 {
            t.record(&format!("GET /{i}"), Duration::from_millis(1));
        }
        assert_eq!(t.summary().len(), MAX_CLASSES);
    }
}
