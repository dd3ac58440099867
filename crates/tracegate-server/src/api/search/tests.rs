//! The search routes through the whole API router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_core::{Outcome, Provider, Trace};
use tracegate_store::{SqliteStore, TraceStore};

use super::upper_time_bound;
use crate::analytics_cache::AnalyticsCache;
use crate::api::auth::AdminAuth;
use crate::api::ApiState;

const BASE_MS: i64 = 1_750_000_000_000;

fn trace(i: usize) -> Trace {
    let provider = if i % 3 == 2 {
        Provider::Openai
    } else {
        Provider::Anthropic
    };
    let mut t = Trace::begin(provider, "POST", "/v1/messages");
    t.started_at = DateTime::<Utc>::from_timestamp_millis(BASE_MS + i as i64 * 1000).unwrap();
    t.model = Some(["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o"][i % 3].into());
    t.status = Some(if i % 4 == 3 { 429 } else { 200 });
    t.outcome = if i % 4 == 3 {
        Outcome::UpstreamError
    } else {
        Outcome::Ok
    };
    t.account = Some(format!("acct-{}", i % 2));
    t.cost_usd = (!i.is_multiple_of(5)).then_some(i as f64 / 100.0);
    t.duration_ms = 10.0 * i as f64;
    let words = ["deadlock in tokio", "borrow checker", "rate limit"][i % 3];
    let body = json!({"model": t.model, "messages": [{"role": "user", "content": format!("{words} item{i}")}]});
    t.request_body = Bytes::from(body.to_string());
    t
}

struct Api {
    router: Router,
    cache: AnalyticsCache,
    ids: Vec<String>,
}

async fn api(n: usize) -> Api {
    let store = SqliteStore::open_in_memory().unwrap();
    let traces: Vec<Trace> = (0..n).map(trace).collect();
    store.insert_batch(traces.clone()).await.unwrap();
    let cache = AnalyticsCache::new(100);
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let state = ApiState {
        analytics_cache: cache.clone(),
        ..ApiState::for_tests(store)
    };
    Api {
        router: crate::api::router(state, AdminAuth::new(None), Default::default()),
        cache,
        ids: traces.iter().map(|t| t.id.to_string()).collect(),
    }
}

impl Api {
    async fn call(&self, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }

    async fn post(&self, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/v1/traces/search", &body.to_string())
            .await
    }

    async fn get(&self, query: &str) -> (StatusCode, Value) {
        self.call(Method::GET, &format!("/api/v1/traces{query}"), "")
            .await
    }

    /// Index of each returned trace in the fixture.
    fn indexes(&self, page: &Value) -> Vec<usize> {
        page["data"]
            .as_array()
            .unwrap_or_else(|| panic!("not a page: {page}"))
            .iter()
            .map(|t| self.ids.iter().position(|id| t["id"] == *id).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn search_answers_a_page_with_its_cursor() {
    let api = api(12).await;
    let (status, page) = api
        .post(json!({"filter": {"field": "model", "op": "in", "value": ["gpt-4o", "claude-haiku-4-5"]},
                     "limit": 3, "fields": ["id", "model", "started_at"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(api.indexes(&page), vec![11, 10, 8]);
    assert_eq!(page["has_more"], true);
    assert!(page["took_ms"].as_f64().unwrap() >= 0.0);
    let first = page["data"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "started_at", "model"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let mut seen = api.indexes(&page);
    let mut cursor = cursor.to_owned();
    loop {
        let (status, page) = api
            .post(json!({"filter": {"field": "model", "op": "in", "value": ["gpt-4o", "claude-haiku-4-5"]},
                         "limit": 3, "cursor": cursor}))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(api.indexes(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, vec![11, 10, 8, 7, 5, 4, 2, 1]);
}

#[tokio::test]
async fn text_sort_and_order() {
    let api = api(12).await;
    let (status, page) = api
        .post(json!({"q": "deadlock", "sort": "cost_usd", "order": "asc"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // i % 3 == 0: 0, 3, 6, 9; cost i/100 except i % 5 == 0 (none), which sorts last.
    assert_eq!(api.indexes(&page), vec![3, 6, 9, 0]);
    let (_, page) = api.post(json!({"q": "\"borrow checker\" item1*"})).await;
    assert_eq!(api.indexes(&page), vec![10, 1]);
    let (_, page) = api
        .post(json!({"q": "deadlock'); DROP TABLE traces; --"}))
        .await;
    assert_eq!(page["data"], json!([]));
    let (status, _) = api.post(json!({"q": "", "limit": 1})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_are_400_with_a_pointer() {
    let api = api(3).await;
    let good = api.post(json!({"limit": 1})).await.1;
    let cursor = good["next_cursor"].as_str().unwrap().to_owned();
    let cases = [
        (
            json!({"filter": {"and": [{"field": "model", "op": "eq", "value": "x"},
                                   {"field": "modle", "op": "eq", "value": "x"}]}}),
            "/filter/and/1/field",
        ),
        (
            json!({"filter": {"and": [{"field": "model", "op": "eq", "value": "x"},
                                   {"field": "model", "op": "like", "value": "x"}]}}),
            "/filter/and/1/op",
        ),
        (
            json!({"filter": {"field": "status", "op": "eq", "value": "200"}}),
            "/filter/value",
        ),
        (json!({"q": "* : ( -"}), "/q"),
        (json!({"q": 5}), "/q"),
        (json!({"sort": "model"}), "/sort"),
        (json!({"order": "up"}), "/order"),
        (json!({"limit": 0}), "/limit"),
        (json!({"limit": 1001}), "/limit"),
        (json!({"limit": "10"}), "/limit"),
        (json!({"limit": 2.5}), "/limit"),
        (json!({"fields": ["id", "nope"]}), "/fields/1"),
        (json!({"fields": "id"}), "/fields"),
        (json!({"cursor": "not-a-cursor"}), "/cursor"),
        (json!({"cursor": cursor, "sort": "duration_ms"}), "/cursor"),
        (json!({"cursor": cursor, "q": "deadlock"}), "/cursor"),
        (json!({"filters": {}}), "/filters"),
    ];
    for (body, pointer) in cases {
        let (status, err) = api.post(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["error"]["kind"], "bad_request", "{body}");
        assert_eq!(err["error"]["pointer"], pointer, "{body}: {err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    for raw in ["{", "[1]", "null"] {
        let (status, err) = api.call(Method::POST, "/api/v1/traces/search", raw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}: {err}");
        assert_eq!(err["error"]["pointer"], "", "{raw}");
    }
    let (status, _) = api.call(Method::POST, "/api/v1/traces/search", "").await;
    assert_eq!(status, StatusCode::OK, "an empty body is an empty search");
}

#[tokio::test]
async fn get_takes_simple_parameters() {
    let api = api(12).await;
    let (status, page) = api.get("?model=gpt-4o&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(api.indexes(&page), vec![11, 8]);
    assert_eq!(page["has_more"], true);
    let (_, page) = api.get("?status=429&account=acct-1").await;
    assert_eq!(api.indexes(&page), vec![11, 7, 3]);
    let (_, page) = api.get("?provider=openai&outcome=ok").await;
    assert_eq!(api.indexes(&page), vec![8, 5, 2]);
    let from = BASE_MS + 3000;
    let (_, page) = api
        .get(&format!(
            "?from={from}&to=1750000006000&sort=duration_ms&order=asc"
        ))
        .await;
    assert_eq!(api.indexes(&page), vec![3, 4, 5]);
    let (_, page) = api.get("?q=rate%20limit&fields=id,cost_usd").await;
    assert_eq!(api.indexes(&page), vec![11, 8, 5, 2]);
    assert_eq!(page["data"][0].as_object().unwrap().len(), 2);
    let mut seen = Vec::new();
    let mut uri = "?limit=5".to_owned();
    loop {
        let (status, page) = api.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(api.indexes(&page));
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        uri = format!("?limit=5&cursor={cursor}");
    }
    assert_eq!(seen, (0..12).rev().collect::<Vec<_>>());
    for (query, pointer) in [
        ("?limit=0", "/query/limit"),
        ("?limit=lots", "/query/limit"),
        ("?model=a&model=b", "/query/model"),
        ("?status=2xx", "/query/status"),
        ("?provider=azure", "/query/provider"),
        ("?from=yesterday", "/query/from"),
        ("?modle=x", "/query/modle"),
        ("?q=%22%22", "/query/q"),
        ("?fields=id,bogus", "/query/fields/1"),
        ("?cursor=zzz", "/query/cursor"),
        ("?sort=model", "/query/sort"),
    ] {
        let (status, err) = api.get(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert_eq!(err["error"]["pointer"], pointer, "{query}: {err}");
    }
    let (status, one) = api
        .call(Method::GET, &format!("/api/v1/traces/{}", api.ids[4]), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["id"], api.ids[4]);
}

#[tokio::test]
async fn first_pages_are_cached_and_later_pages_are_not() {
    let api = api(6).await;
    let body = json!({"filter": {"field": "account", "op": "eq", "value": "acct-0"}, "limit": 2});
    let (_, first) = api.post(body.clone()).await;
    let before = api.cache.stats();
    let (_, again) = api.post(body.clone()).await;
    let after = api.cache.stats();
    assert_eq!(after.hits, before.hits + 1);
    assert_eq!(first["data"], again["data"]);
    assert_eq!(first["next_cursor"], again["next_cursor"]);
    assert!(again["took_ms"].is_number());
    // The same search by query parameters is the same entry.
    api.get("?account=acct-0&limit=2").await;
    assert_eq!(api.cache.stats().hits, before.hits + 2);
    // A different limit or field list is a different answer.
    api.post(json!({"filter": body["filter"], "limit": 3}))
        .await;
    assert_eq!(api.cache.stats().hits, before.hits + 2);
    let with_cursor = json!({"filter": body["filter"], "limit": 2, "cursor": first["next_cursor"]});
    let lookups = api.cache.stats();
    api.post(with_cursor.clone()).await;
    api.post(with_cursor).await;
    let later = api.cache.stats();
    assert_eq!((later.hits, later.misses), (lookups.hits, lookups.misses));
}

#[test]
fn time_bounds_decide_how_long_an_answer_lives() {
    let parse = |v: Value| tracegate_core::filter::Filter::parse(&v, "/filter").unwrap();
    let to = |ms: i64| json!({"field": "ts", "op": "lt", "value": ms});
    let from = json!({"field": "ts", "op": "gte", "value": 5});
    assert_eq!(upper_time_bound(&parse(to(100))), Some(100));
    assert_eq!(upper_time_bound(&parse(from.clone())), None);
    assert_eq!(
        upper_time_bound(&parse(json!({"and": [from.clone(), to(100), to(50)]}))),
        Some(50)
    );
    assert_eq!(
        upper_time_bound(&parse(json!({"or": [to(100), to(50)]}))),
        Some(100)
    );
    assert_eq!(
        upper_time_bound(&parse(json!({"or": [to(100), from]}))),
        None
    );
    assert_eq!(upper_time_bound(&parse(json!({"not": to(100)}))), None);
}
