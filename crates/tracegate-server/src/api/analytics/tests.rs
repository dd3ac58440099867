#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::{Provider, Trace};
use tracegate_store::{SqliteStore, TraceStore};

use super::params::CACHE_HEADER;
use crate::analytics_cache::AnalyticsCache;
use crate::api::auth::AdminAuth;
use crate::api::{router, ApiState};
use crate::inflight::Inflight;
use crate::recorder::RecorderStats;

fn app(store: SqliteStore) -> Router {
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let state = ApiState {
        diagnostics: crate::diagnostics::Sources::store_only(store.clone()),
        keys: crate::keys::KeyCache::new(store.clone()),
        store,
        inflight: Inflight::default(),
        recorder: Arc::new(RecorderStats::default()),
        stuck_after_ms: 60_000.0,
        analytics_cache: AnalyticsCache::default(),
        response_cache: Default::default(),
        live: crate::live::LiveFeed::new(8),
    };
    router(state, AdminAuth::new(None), Default::default())
}

/// Status, cache header and JSON body of a GET.
async fn get(app: &Router, uri: &str) -> (StatusCode, Option<String>, Value) {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let cache = resp
        .headers()
        .get(CACHE_HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, cache, body)
}

#[tokio::test]
async fn bad_parameters_are_400s_that_point_at_the_parameter() {
    let app = app(SqliteStore::open_in_memory().unwrap());
    let cases = [
        ("/usage/window?window=5x", "/query/window"),
        ("/usage/window?window=32d", "/query/window"),
        ("/usage/window?window=0m", "/query/window"),
        ("/usage/accounts?window=-1h", "/query/window"),
        ("/usage/daily?days=0", "/query/days"),
        ("/usage/daily?days=367", "/query/days"),
        ("/usage/daily?days=ten", "/query/days"),
        ("/stats?bucket=2m", "/query/bucket"),
        ("/stats?group_by=color", "/query/group_by"),
        (
            "/stats?from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z",
            "/query/from",
        ),
        ("/stats?from=1748736000000&to=1748736000000", "/query/from"),
        ("/stats?from=yesterday", "/query/from"),
        ("/stats?to=1e9", "/query/to"),
        (
            "/stats?from=1748736000000&to=1749736000000&bucket=1m",
            "/query/bucket",
        ),
        ("/stats/slowest?limit=0", "/query/limit"),
        ("/stats/slowest?from=0", "/query/from"),
        (
            "/stats/slowest?from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z",
            "/query/from",
        ),
        ("/conversations?limit=0", "/query/limit"),
        ("/conversations?limit=501", "/query/limit"),
        ("/conversations?cursor=nope", "/query/cursor"),
        ("/conversations?from=5&to=5", "/query/from"),
        ("/conversations?to=soon", "/query/to"),
        ("/conversations/not-a-uuid", "/path/id"),
    ];
    for (uri, pointer) in cases {
        let (status, _, body) = get(&app, &format!("/api/v1{uri}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["kind"], "bad_request", "{uri}");
        assert_eq!(body["error"]["pointer"], pointer, "{uri}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, _, body) = get(
        &app,
        &format!("/api/v1/conversations/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// A trace of `account` that started `ago` before now.
fn trace(ago: Duration, account: &str, model: &str, request: Value, response: Value) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.started_at = Utc::now() - ago;
    t.account = Some(account.into());
    t.model = Some(model.into());
    t.duration_ms = 800.0;
    t.ttft_ms = Some(200.0);
    t.usage.input_tokens = Some(100);
    t.usage.output_tokens = Some(10);
    t.cost_usd = Some(0.5);
    t.request_body = serde_json::to_vec(&request).unwrap().into();
    t.response_body = serde_json::to_vec(&response).unwrap().into();
    t
}

async fn seeded() -> Router {
    let store = SqliteStore::open_in_memory().unwrap();
    let u1 = json!({ "role": "user", "content": "Why is the build red?" });
    let a1 = json!({ "role": "assistant", "content": "A test fails." });
    let u2 = json!({ "role": "user", "content": "Fix it." });
    let reply = |text: &str| json!({ "type": "message", "role": "assistant", "content": [{ "type": "text", "text": text }] });
    let mut traces = vec![
        trace(
            Duration::minutes(10),
            "cred:a",
            "claude-sonnet-4-5",
            json!({ "messages": [u1] }),
            reply("A test fails."),
        ),
        trace(
            Duration::minutes(9),
            "cred:a",
            "claude-sonnet-4-5",
            json!({ "messages": [u1, a1, u2] }),
            reply("Fixed."),
        ),
    ];
    for minutes in [20, 30, 40] {
        let mut t = trace(
            Duration::minutes(minutes),
            "cred:b",
            "gpt-4.1",
            Value::Null,
            Value::Null,
        );
        t.usage.input_tokens = Some(1000);
        t.duration_ms = 5000.0;
        traces.push(t);
    }
    traces.push(trace(
        Duration::days(2),
        "cred:b",
        "gpt-4.1",
        Value::Null,
        Value::Null,
    ));
    store.insert_batch(traces).await.unwrap();
    app(store)
}

#[tokio::test]
async fn usage_answers_and_caches() {
    let app = seeded().await;
    let (status, cache, body) = get(&app, "/api/v1/usage/window?window=1h").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_eq!(body["totals"]["requests"], 5);
    assert_eq!(body["totals"]["input_tokens"], 3200);
    assert_eq!(body["by_model"][0]["model"], "gpt-4.1");
    let buckets = body["buckets"].as_array().unwrap();
    assert!((12..=13).contains(&buckets.len()), "{}", buckets.len());
    let sum: u64 = buckets
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 5);
    let (_, cache, again) = get(&app, "/api/v1/usage/window?window=1h").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(again, body);

    let (_, _, one) = get(&app, "/api/v1/usage/window?window=1h&account=cred:a").await;
    assert_eq!(one["totals"]["requests"], 2);
    assert_eq!(one["account"], "cred:a");

    let (status, _, daily) = get(&app, "/api/v1/usage/daily?days=3").await;
    assert_eq!(status, StatusCode::OK, "{daily}");
    let days = daily["buckets"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert!(days[0]["start"].as_str().unwrap().ends_with("T00:00:00Z"));
    assert_eq!(daily["totals"]["requests"], 6);
    assert!(days.iter().all(|d| d["by_model"].is_array()));

    let (status, _, accounts) = get(&app, "/api/v1/usage/accounts?window=1h").await;
    assert_eq!(status, StatusCode::OK, "{accounts}");
    let data = accounts["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["account"], "cred:b", "most tokens first");
    assert_eq!(data[0]["requests"], 3);
}

#[tokio::test]
async fn stats_and_slowest_answer() {
    let app = seeded().await;
    let (status, cache, body) = get(&app, "/api/v1/stats?bucket=5m&group_by=model").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cache.as_deref(), Some("miss"));
    let n = body["buckets"].as_array().unwrap().len();
    assert!((288..=289).contains(&n), "{n}");
    assert_eq!(body["group_by"], "model");
    let totals = body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2);
    assert_eq!(totals[0]["key"], "gpt-4.1");
    assert_eq!(totals[0]["requests"], 3);
    let p50 = totals[0]["duration_ms"]["p50"].as_f64().unwrap();
    assert!((p50 - 5000.0).abs() / 5000.0 < 0.02, "{p50}");
    assert_eq!(totals[0]["error_rate"], 0.0);

    // Default bucket for a day: 5 minutes; no grouping: one group without a key.
    let (_, _, plain) = get(&app, "/api/v1/stats").await;
    assert_eq!(plain["bucket"], "5m");
    assert_eq!(plain["totals"][0]["key"], Value::Null);
    assert_eq!(plain["totals"][0]["requests"], 5);

    let (status, _, slow) = get(&app, "/api/v1/stats/slowest?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{slow}");
    assert_eq!(slow["models"].as_array().unwrap().len(), 1);
    assert_eq!(slow["models"][0]["key"], "gpt-4.1");
    assert_eq!(slow["endpoints"][0]["key"], "/v1/messages");
}

#[tokio::test]
async fn conversations_list_and_tree() {
    let app = seeded().await;
    let (status, _, list) = get(&app, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{list}");
    assert_eq!(data[0]["requests"], 2);
    assert_eq!(data[0]["account"], "cred:a");
    assert_eq!(list["next_cursor"], Value::Null);
    let id = data[0]["id"].as_str().unwrap();

    let (status, _, tree) = get(&app, &format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["trace_count"], 2);
    let line = tree["tree"][0].as_array().unwrap();
    assert_eq!(line.len(), 2);
    assert_eq!(line[0]["id"], id);
    assert_eq!(line[0]["link_kind"], "root");
    assert_eq!(line[1]["parent_id"], id);
    assert_eq!(line[1]["link_kind"], "turn");

    let (_, _, page) = get(&app, "/api/v1/conversations?account=cred:b").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
}
