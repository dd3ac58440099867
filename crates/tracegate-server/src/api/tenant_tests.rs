//! Tenant scope: every `/api` route of the OpenAPI document, called with account A's read
//! key, answers nothing of account B: not by id, not by filter, not by full-text search,
//! not in aggregates, and not from the analytics cache warmed by the admin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::keys::{KeySpec, VirtualKey};
use tracegate_core::{Provider, Trace};
use tracegate_store::{KeyStore, SqliteStore, TraceStore};

use crate::api::auth::AdminAuth;
use crate::api::{router, ApiState};
use crate::config::Secret;

const ADMIN: &str = "admin-secret";
const A: &str = "acct-alpha";
const B: &str = "acct-bravo";
const A_WORD: &str = "zebracorn";
const B_WORD: &str = "quokkafish";

struct World {
    app: Router,
    a_key: String,
    a_ids: Vec<String>,
    b_ids: Vec<String>,
}

fn trace(account: &str, word: &str, ago_min: i64, tokens: u64) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.started_at = Utc::now() - Duration::minutes(ago_min);
    t.account = Some(account.into());
    t.model = Some(format!("model-{word}"));
    t.duration_ms = 100.0;
    t.usage.input_tokens = Some(tokens);
    t.usage.output_tokens = Some(1);
    t.cost_usd = Some(0.01);
    let req = json!({"model": format!("model-{word}"), "messages": [
        {"role": "user", "content": format!("tell me about the {word} {ago_min}")}]});
    let resp = json!({"type": "message", "role": "assistant",
        "content": [{"type": "text", "text": format!("the {word} is rare")}]});
    t.request_body = serde_json::to_vec(&req).unwrap().into();
    t.response_body = serde_json::to_vec(&resp).unwrap().into();
    t
}

async fn world() -> World {
    let store = SqliteStore::open_in_memory().unwrap();
    let a: Vec<Trace> = (1..=3).map(|m| trace(A, A_WORD, m * 2, 10)).collect();
    let b: Vec<Trace> = (1..=4).map(|m| trace(B, B_WORD, m * 2 + 1, 1000)).collect();
    let a_ids = a.iter().map(|t| t.id.to_string()).collect();
    let b_ids = b.iter().map(|t| t.id.to_string()).collect();
    store
        .insert_batch(a.into_iter().chain(b).collect())
        .await
        .unwrap();
    let (record, a_key) = VirtualKey::issue(&KeySpec {
        account: A.into(),
        scope: Some("read".into()),
        ..Default::default()
    })
    .unwrap();
    store.create_key(&record).await.unwrap();
    let (b_record, _) = VirtualKey::issue(&KeySpec {
        account: B.into(),
        ..Default::default()
    })
    .unwrap();
    store.create_key(&b_record).await.unwrap();
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let app = router(
        ApiState::for_tests(store),
        AdminAuth::new(Some(Secret::new(ADMIN))),
        Default::default(),
    );
    World {
        app,
        a_key,
        a_ids,
        b_ids,
    }
}

async fn call(
    app: &Router,
    token: &str,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Every (method, path) under `/api/v1` in the OpenAPI document.
fn documented() -> Vec<(String, String)> {
    let doc = serde_json::to_value(crate::api::openapi::document()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        // The live feed never ends; its account scope is tested in `live.rs`'s tests.
        if !path.starts_with("/api/v1") || path == "/api/v1/live" {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(out.len() > 15, "{out:?}");
    out
}

/// The requests made of a route: B's ids in the path, B's account and word in the query
/// or body.
fn requests(method: &str, path: &str, b_id: &str) -> Vec<(String, String)> {
    let path = path.replace("{id}", b_id);
    let b_filter = json!({"field": "account", "op": "eq", "value": B}).to_string();
    let encoded: String =
        percent_encoding::utf8_percent_encode(&b_filter, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    match method {
        "GET" => vec![
            (path.clone(), String::new()),
            (format!("{path}?account={B}"), String::new()),
            (format!("{path}?q={B_WORD}"), String::new()),
            (format!("{path}?filter={encoded}"), String::new()),
            (format!("{path}?group_by=account"), String::new()),
            (format!("{path}?window=1h&account={B}"), String::new()),
        ],
        _ => vec![
            (path.clone(), String::new()),
            (path.clone(), format!(r#"{{"filter": {b_filter}}}"#)),
            (path.clone(), format!(r#"{{"q": "{B_WORD}"}}"#)),
            (path.clone(), r#"{"score": 1, "source": "user"}"#.to_owned()),
            (path, format!(r#"{{"account": "{B}", "scope": "read"}}"#)),
        ],
    }
}

#[tokio::test]
async fn a_read_key_sees_nothing_of_another_account_on_any_route() {
    let w = world().await;
    let secrets = [B, B_WORD];
    for (method, path) in documented() {
        for b_id in &w.b_ids[..1] {
            for (uri, body) in requests(&method, &path, b_id) {
                // The admin first, to warm the analytics cache with answers that include B.
                let (admin_status, _) = call(&w.app, ADMIN, &method, &uri, &body).await;
                assert!(
                    admin_status.as_u16() < 500,
                    "admin {method} {uri}: {admin_status}"
                );
                let (status, text) = call(&w.app, &w.a_key, &method, &uri, &body).await;
                assert!(status.as_u16() < 500, "{method} {uri}: {status} {text}");
                // An error may repeat the id the request named, as it does for an id that
                // does not exist.
                let text = if status.is_success() {
                    text
                } else {
                    text.replace(b_id.as_str(), "")
                };
                for s in secrets
                    .iter()
                    .copied()
                    .chain(w.b_ids.iter().map(String::as_str))
                {
                    assert!(
                        !text.contains(s),
                        "{method} {uri} ({body}) answered {status} with {s:?}: {text}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_read_key_sees_its_own_data_and_aggregates_equal_its_own_alone() {
    let w = world().await;
    let get = |uri: &str| {
        let (app, key, uri) = (w.app.clone(), w.a_key.clone(), uri.to_owned());
        async move { call(&app, &key, "GET", &uri, "").await }
    };
    let (status, text) = get(&format!("/api/v1/traces/{}", w.a_ids[0])).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(A_WORD));
    let (status, _) = get(&format!("/api/v1/traces/{}", w.b_ids[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, text) = get(&format!("/api/v1/traces?q={A_WORD}")).await;
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3, "{text}");
    let (_, text) = get("/api/v1/traces").await;
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3, "{text}");

    let (status, text) = get("/api/v1/usage/window?window=1h").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let usage: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(usage["totals"]["requests"], 3, "{text}");
    assert_eq!(usage["totals"]["input_tokens"], 30, "{text}");
    let (status, _) = get(&format!("/api/v1/usage/window?window=1h&account={B}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, admin) = call(&w.app, ADMIN, "GET", "/api/v1/usage/window?window=1h", "").await;
    let admin: Value = serde_json::from_str(&admin).unwrap();
    assert_eq!(admin["totals"]["requests"], 7);

    let from = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let uri = format!(
        "/api/v1/stats?from={}",
        percent_encoding::utf8_percent_encode(&from, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, text) = get(&uri).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let stats: Value = serde_json::from_str(&text).unwrap();
    let requests: u64 = stats["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["groups"].as_array().unwrap())
        .map(|g| g["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 3, "{text}");

    let (_, text) = get("/api/v1/usage/accounts?window=1h").await;
    let accounts: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(accounts["data"].as_array().unwrap().len(), 1, "{text}");

    for admin_only in [
        "/api/v1/keys",
        "/api/v1/diagnostics",
        "/api/v1/recorder",
        "/api/v1/cache",
        "/api/v1/alerts",
    ] {
        let (status, _) = get(admin_only).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{admin_only}");
    }
}
