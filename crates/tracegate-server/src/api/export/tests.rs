//! The export route through the whole API router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::{Provider, Trace};
use tracegate_store::export::{ExportQuery, EXPORT_PAGE_SIZE};
use tracegate_store::search::SearchQuery;
use tracegate_store::{SqliteStore, Store, TraceStore};

use crate::api::auth::AdminAuth;
use crate::api::ApiState;

const BASE_MS: i64 = 1_750_000_000_000;
/// More than one page.
const N: usize = EXPORT_PAGE_SIZE as usize + 123;

fn trace(i: usize) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.started_at = DateTime::<Utc>::from_timestamp_millis(BASE_MS + i as i64 * 1000).unwrap();
    t.model = Some(["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o"][i % 3].into());
    t.status = Some(200);
    t.account = Some(format!("acct-{}", i % 2));
    t.duration_ms = i as f64;
    let words = ["deadlock in tokio", "borrow checker"][i % 2];
    let body = json!({"model": t.model, "messages": [{"role": "user", "content": format!("{words} item{i}")}]});
    t.request_body = Bytes::from(body.to_string());
    t
}

async fn filled(store: &SqliteStore) -> Vec<String> {
    let traces: Vec<Trace> = (0..N).map(trace).collect();
    store.insert_batch(traces.clone()).await.unwrap();
    traces.iter().map(|t| t.id.to_string()).collect()
}

fn router(store: Arc<dyn Store>) -> Router {
    let state = ApiState::for_tests(store);
    crate::api::router(state, AdminAuth::new(None), Default::default())
}

/// Status, content type and the body's lines parsed.
async fn get(router: &Router, query: &str) -> (StatusCode, String, Vec<Value>) {
    let req = Request::builder()
        .uri(format!("/api/v1/traces/export{query}"))
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines = if ctype == super::NDJSON {
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    };
    (status, ctype, lines)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn streams_every_trace_once_newest_first() {
    let store = SqliteStore::open_in_memory().unwrap();
    let ids = filled(&store).await;
    let router = router(Arc::new(store));
    let (status, ctype, rows) = get(&router, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/x-ndjson");
    assert_eq!(rows.len(), N);
    let got: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(got, want);
    assert!(rows[0].get("request_body").is_none());
    assert!(rows[0].get("cost_usd").is_some(), "every summary field");
}

#[tokio::test]
async fn filter_simple_parameters_text_fields_and_bodies() {
    let store = SqliteStore::open_in_memory().unwrap();
    let ids = filled(&store).await;
    let router = router(Arc::new(store));
    let filter = json!({"field": "duration_ms", "op": "gte", "value": 300});
    let query = format!(
        "?filter={}&account=acct-0&q=deadlock&order=asc&fields=id,account,duration_ms&bodies=true&limit=1000",
        enc(&filter.to_string())
    );
    let (status, _, rows) = get(&router, &query).await;
    assert_eq!(status, StatusCode::OK);
    let want: Vec<&str> = (300..N)
        .filter(|i| i % 2 == 0)
        .map(|i| ids[i].as_str())
        .collect();
    let got: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "duration_ms",
            "account",
            "request_body",
            "response_body"
        ]
    );
    assert_eq!(
        rows[0]["request_body"]["messages"][0]["content"],
        "deadlock in tokio item300"
    );

    let (_, _, rows) = get(&router, "?model=gpt-4o&limit=5").await;
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["model"] == "gpt-4o"));
}

#[tokio::test]
async fn bad_requests_are_json_errors_before_any_line() {
    let store = SqliteStore::open_in_memory().unwrap();
    let router = router(Arc::new(store));
    let cases = [
        ("?filter=%7Bnope", "/query/filter"),
        (
            &format!(
                "?filter={}",
                enc(
                    r#"{"and":[{"field":"model","op":"eq","value":"x"},{"field":"model","op":"zz","value":"x"}]}"#
                )
            ),
            "/query/filter/and/1/op",
        ),
        ("?limit=0", "/query/limit"),
        ("?bodies=yes", "/query/bodies"),
        ("?fields=id,nope", "/query/fields/1"),
        ("?sort=nope", "/query/sort"),
        ("?colour=red", "/query/colour"),
        ("?filter=1&filter=2", "/query/filter"),
        ("?cursor=garbage", "/query/cursor"),
    ];
    for (query, pointer) in cases {
        let (status, ctype, body) = get(&router, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body:?}");
        assert_eq!(ctype, "application/json", "{query}");
        assert_eq!(body[0]["error"]["pointer"], pointer, "{query}: {body:?}");
        assert_eq!(body[0]["error"]["kind"], "bad_request");
    }
}

#[tokio::test]
async fn a_failure_after_the_first_page_ends_with_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).unwrap();
    filled(&store).await;
    let body = super::ndjson(Arc::new(store), ExportQuery::new(SearchQuery::default()))
        .await
        .unwrap();
    // The first page is read; the table the next page comes from goes away.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("ALTER TABLE traces RENAME TO traces_gone")
        .unwrap();
    let bytes = body.collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), EXPORT_PAGE_SIZE as usize + 1);
    let ids: HashSet<&Value> = lines[..lines.len() - 1].iter().map(|r| &r["id"]).collect();
    assert_eq!(ids.len(), EXPORT_PAGE_SIZE as usize);
    let last = lines.last().unwrap();
    assert_eq!(last["error"]["kind"], "unavailable", "{last}");
    assert_eq!(last.as_object().unwrap().len(), 1);
}
