//! `POST /api/v1/traces/{id}/feedback` through the whole API router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::{Provider, Trace};
use tracegate_store::{SqliteStore, TraceStore};

use crate::api::auth::AdminAuth;
use crate::api::{router, ApiState};

async fn app() -> (Router, String) {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.model = Some("claude-sonnet-4-5".into());
    let id = t.id.to_string();
    store.insert_batch(vec![t]).await.unwrap();
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let state = ApiState::for_tests(store);
    (router(state, AdminAuth::new(None), Default::default()), id)
}

async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

async fn post_feedback(app: &Router, id: &str, body: &str) -> (StatusCode, Value) {
    call(app, "POST", &format!("/api/v1/traces/{id}/feedback"), body).await
}

async fn search_ids(app: &Router, filter: Value) -> Vec<String> {
    let body = json!({"filter": filter}).to_string();
    let (status, page) = call(app, "POST", "/api/v1/traces/search", &body).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn feedback_is_kept_shown_with_the_trace_and_searchable_at_once() {
    let (app, id) = app().await;
    let high = json!({"field": "feedback.score", "op": "gte", "value": 4});
    // Asked before any feedback: an answer that must not be served again from the cache.
    assert!(search_ids(&app, high.clone()).await.is_empty());

    let (status, first) = post_feedback(
        &app,
        &id,
        r#"{"score": 5, "comment": "exactly right", "source": "user"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["trace_id"], id);
    assert_eq!(first["score"], 5.0);
    assert_eq!(first["source"], "user");
    let (status, second) = post_feedback(&app, &id, r#"{"score": -1}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["comment"], Value::Null);

    let (status, trace) = call(&app, "GET", &format!("/api/v1/traces/{id}"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace["feedback"], json!([first, second]));

    assert_eq!(search_ids(&app, high).await, [id.as_str()]);
    let low = json!({"field": "feedback.score", "op": "lt", "value": 0});
    assert_eq!(search_ids(&app, low).await, [id.as_str()]);
    let none = json!({"field": "feedback.score", "op": "exists", "value": false});
    assert!(search_ids(&app, none).await.is_empty());
}

#[tokio::test]
async fn unknown_traces_are_404_and_bad_bodies_400_with_a_pointer() {
    let (app, id) = app().await;
    let unknown = uuid::Uuid::now_v7();
    let (status, body) = post_feedback(&app, &unknown.to_string(), r#"{"score": 1}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["kind"], "not_found");

    let (status, body) = post_feedback(&app, "not-a-uuid", r#"{"score": 1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["pointer"], "/path/id");

    let long_source = json!({"score": 1, "source": "s".repeat(65)}).to_string();
    let long_comment = json!({"score": 1, "comment": "c".repeat(4097)}).to_string();
    let cases = [
        ("", ""),
        ("{", ""),
        ("[]", ""),
        ("{}", "/score"),
        (r#"{"score": "five"}"#, "/score"),
        (r#"{"score": 1001}"#, "/score"),
        (r#"{"score": 1e400}"#, ""),
        (r#"{"score": 1, "rating": 2}"#, "/rating"),
        (long_source.as_str(), "/source"),
        (long_comment.as_str(), "/comment"),
    ];
    for (body, pointer) in cases {
        let (status, answer) = post_feedback(&app, &id, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["kind"], "bad_request", "{body}");
        assert_eq!(answer["error"]["pointer"], pointer, "{body}: {answer}");
    }
    let (_, trace) = call(&app, "GET", &format!("/api/v1/traces/{id}"), "").await;
    assert_eq!(trace["feedback"], json!([]), "nothing refused was kept");

    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/traces/search",
        &json!({"filter": {"field": "feedback.score", "op": "in", "value": [1]}}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["pointer"], "/filter/op");
}
