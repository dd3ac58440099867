//! Errors of the whole router, as a client sees them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tracegate_store::SqliteStore;

use crate::{Config, Gateway};

struct Answer {
    status: StatusCode,
    allow: Option<String>,
    content_type: Option<String>,
    body: Value,
}

async fn call(gateway: &Gateway, method: Method, uri: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let resp = gateway.router.clone().oneshot(req).await.unwrap();
    let header = |name| {
        resp.headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (status, allow, content_type) = (
        resp.status(),
        header(header::ALLOW),
        header(header::CONTENT_TYPE),
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {:?}", String::from_utf8_lossy(&bytes)));
    Answer {
        status,
        allow,
        content_type,
        body,
    }
}

async fn gateway() -> Gateway {
    let store = SqliteStore::open_in_memory().unwrap();
    let config = Config {
        spool_durability: crate::config::SpoolDurability::Memory,
        ..Config::default()
    };
    Gateway::build(&config, Arc::new(store)).unwrap()
}

fn assert_error(a: &Answer, status: StatusCode, kind: &str) {
    assert_eq!(a.status, status, "{:?}", a.body);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(a.body["error"]["kind"], kind, "{:?}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let gw = gateway().await;
    for (method, uri, allowed) in [
        (Method::DELETE, "/api/v1/traces", "GET"),
        (Method::POST, "/health", "GET"),
        (Method::PUT, "/ready", "GET"),
        (Method::GET, "/api/v1/traces/search", "POST"),
        (
            Method::DELETE,
            "/api/v1/traces/0190a5c4-7d3e-7000-8000-000000000000",
            "GET",
        ),
    ] {
        let a = call(&gw, method.clone(), uri).await;
        assert_error(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let allow = a
            .allow
            .unwrap_or_else(|| panic!("{method} {uri}: no Allow"));
        assert!(allow.contains(allowed), "{method} {uri}: {allow}");
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(method.as_str()) && message.contains(uri),
            "{message}"
        );
    }
    gw.flush().await;
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let gw = gateway().await;
    for (method, uri) in [
        (Method::GET, "/api/v1/nope"),
        (Method::POST, "/api/v1/nope"),
        (Method::GET, "/api/v2/traces"),
        (Method::GET, "/nothing-here"), // `/` is the dashboard
    ] {
        let a = call(&gw, method, uri).await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    }
    gw.flush().await;
}

#[tokio::test]
async fn bad_path_params_are_400_json() {
    let gw = gateway().await;
    let a = call(&gw, Method::GET, "/api/v1/traces/not-a-uuid").await;
    assert_error(&a, StatusCode::BAD_REQUEST, "bad_request");
    // Not valid UTF-8 once decoded: axum's own rejection, rewritten.
    for uri in ["/api/v1/traces/%FF", "/api/v1/conversations/%C3%28"] {
        let a = call(&gw, Method::GET, uri).await;
        assert_error(&a, StatusCode::BAD_REQUEST, "bad_request");
    }
    // Bad query strings, too.
    let a = call(&gw, Method::GET, "/api/v1/stats?bucket=1m&from=%FF").await;
    assert_error(&a, StatusCode::BAD_REQUEST, "bad_request");
    gw.flush().await;
}

#[tokio::test]
async fn successes_and_proxied_routes_are_untouched() {
    let gw = gateway().await;
    let a = call(&gw, Method::GET, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["status"], "ok");
    // A refused proxied request is in the provider's error format, not the API's.
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("anthropic-version", "2023-06-01")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("[1]"))
        .unwrap();
    let client = std::net::SocketAddr::from(([127, 0, 0, 1], 50_000));
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(client));
    let resp = gw.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["type"], "error", "{body}");
    gw.flush().await;
}
