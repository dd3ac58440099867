//! `GET /api/v1/upstreams`: each upstream's circuit, requests in flight and queued, recent
//! error rate, retries and shed requests, and the gateway's retry budget. The figures are
//! this replica's: the traffic policy's state lives in process.

use axum::extract::State;
use axum::Json;

use super::ApiState;
use crate::upstream::UpstreamsView;

/// The upstreams' traffic state.
#[utoipa::path(get, path = "/upstreams", tag = "gateway",
    responses((status = 200, description = "Each upstream's circuit, load and recent errors, and the retry budget", body = UpstreamsView)))]
pub async fn list(State(s): State<ApiState>) -> Json<UpstreamsView> {
    Json(s.upstreams.view())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::config::{BreakerConfig, BulkheadConfig, UpstreamConfig, UpstreamKind};
    use crate::upstream::Upstreams;

    #[tokio::test]
    async fn shows_each_upstream_and_the_budget() {
        let store = Arc::new(tracegate_store::SqliteStore::open_in_memory().unwrap());
        let mut state = ApiState::for_tests(store);
        let mut a = UpstreamConfig::new("a", UpstreamKind::Anthropic, "http://127.0.0.1:1");
        a.bulkhead = Some(BulkheadConfig {
            max_concurrent: 4,
            max_queue: 8,
            max_queue_wait_ms: 100,
        });
        a.breaker = Some(BreakerConfig::default());
        a.fallbacks = vec!["b".into()];
        let b = UpstreamConfig::new("b", UpstreamKind::Anthropic, "http://127.0.0.1:1");
        state.upstreams = Upstreams::build(&[a, b]).unwrap();
        let app = crate::api::router(
            state,
            crate::api::auth::AdminAuth::new(None),
            Default::default(),
        );
        let resp = app
            .oneshot(
                Request::get("/api/v1/upstreams")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let a = &v["upstreams"][0];
        assert_eq!(a["name"], "a");
        assert_eq!(a["circuit"], "closed");
        assert_eq!(a["in_flight"], 0);
        assert_eq!(a["queued"], 0);
        assert_eq!(a["max_concurrent"], 4);
        assert_eq!(a["fallbacks"], serde_json::json!(["b"]));
        assert_eq!(v["upstreams"][1]["max_concurrent"], serde_json::Value::Null);
        assert!(v["retry_budget"]["tokens"].as_f64().unwrap() > 0.0);
    }
}
