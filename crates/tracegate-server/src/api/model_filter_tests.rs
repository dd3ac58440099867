//! Through the API: a request that failed upstream, with no answering model, is
//! found and counted under the model it asked for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::{Outcome, Provider, Trace, Usage};
use tracegate_store::{SqliteStore, TraceStore};

use crate::api::auth::AdminAuth;
use crate::api::{router, ApiState};

const MODEL: &str = "claude-sonnet-4-5";

/// An answered request and one that failed upstream, a minute apart, ten minutes ago.
fn traces() -> (Trace, Trace) {
    let at = Utc::now() - Duration::minutes(10);
    let mut answered = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    answered.started_at = at;
    answered.model_requested = Some(MODEL.into());
    answered.model = Some(format!("{MODEL}-20250929"));
    answered.status = Some(200);
    answered.usage = Usage {
        input_tokens: Some(10),
        output_tokens: Some(5),
        ..Usage::default()
    };
    let mut failed = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    failed.started_at = at + Duration::minutes(1);
    failed.model_requested = Some(MODEL.into());
    failed.status = Some(529);
    failed.outcome = Outcome::UpstreamError;
    failed.error = Some("overloaded_error: Overloaded".into());
    (answered, failed)
}

async fn app(traces: Vec<Trace>) -> Router {
    let store = SqliteStore::open_in_memory().unwrap();
    store.insert_batch(traces).await.unwrap();
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let state = ApiState::for_tests(store);
    router(state, AdminAuth::new(None), Default::default())
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let uri = req.uri().to_string();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn get(app: &Router, uri: &str) -> Value {
    let (status, body) = call(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn ids(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_failed_request_is_found_and_counted_under_the_model_it_asked_for() {
    let (answered, failed) = traces();
    let (answered_id, failed_id) = (answered.id.to_string(), failed.id.to_string());
    let app = app(vec![answered, failed]).await;

    let page = get(
        &app,
        &format!("/api/v1/traces?model={MODEL}&outcome=upstream_error"),
    )
    .await;
    assert_eq!(ids(&page), [failed_id.as_str()]);
    assert_eq!(page["data"][0]["model"], Value::Null, "{page}");
    assert_eq!(page["data"][0]["model_requested"], MODEL);

    let page = get(&app, &format!("/api/v1/traces?model_requested={MODEL}")).await;
    assert_eq!(ids(&page), [failed_id.as_str(), answered_id.as_str()]);
    let page = get(&app, "/api/v1/traces?model_requested=nothing-like-it").await;
    assert!(ids(&page).is_empty());

    let body = json!({"filter": {"and": [
        {"field": "model", "op": "starts_with", "value": MODEL},
        {"field": "outcome", "op": "ne", "value": "ok"}]}});
    let req = Request::post("/api/v1/traces/search")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, page) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), [failed_id.as_str()]);

    let stats = get(&app, "/api/v1/stats?bucket=1h&group_by=model").await;
    let totals = stats["totals"].as_array().unwrap();
    let sonnet = totals
        .iter()
        .find(|g| g["key"] == MODEL)
        .unwrap_or_else(|| panic!("no group {MODEL}: {stats}"));
    assert_eq!(
        (&sonnet["requests"], &sonnet["errors"]),
        (&json!(1), &json!(1))
    );

    let usage = get(&app, "/api/v1/usage/window?window=1h").await;
    let by_model = usage["by_model"].as_array().unwrap();
    assert!(
        by_model
            .iter()
            .any(|m| m["model"] == MODEL && m["requests"] == 1),
        "{usage}"
    );
}
