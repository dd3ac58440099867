//! The dashboard's routes: content types, ETag and 304, the security headers on every
//! answer, page paths answering `index.html`, unknown files 404, the gateway's other routes
//! untouched, `dashboard = false`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{Request, StatusCode};
use tower::ServiceExt;
use tracegate_store::SqliteStore;

use super::*;
use crate::config::{Config, SpoolDurability};

/// Files of our own, so the tests do not depend on what `web/` holds today.
#[derive(rust_embed::Embed)]
#[folder = "src/dashboard/testdata/"]
struct TestWeb;

fn test_router() -> Router {
    router_over::<TestWeb>(HostGuard::default())
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn get_with(router: &Router, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut b = Request::get(path).header("host", "localhost");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(router: &Router, path: &str) -> Answer {
    get_with(router, path, &[]).await
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn assert_secured(a: &Answer, path: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(header(a, name.as_str()), *value, "{path}: {name}");
    }
}

#[tokio::test]
async fn files_have_their_content_type_an_etag_and_revalidate() {
    let r = test_router();
    for (path, kind, needle) in [
        (
            "/ui/app.js",
            "text/javascript; charset=utf-8",
            "export const ok",
        ),
        ("/ui/style.css", "text/css; charset=utf-8", "margin"),
        (
            "/ui/vendor/uplot/uPlot.esm.js",
            "text/javascript; charset=utf-8",
            "uPlot",
        ),
        ("/ui/icon.svg", "image/svg+xml", "<svg"),
        ("/ui/index.html", "text/html; charset=utf-8", "<title>test"),
    ] {
        let a = get(&r, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(header(&a, "content-type"), kind, "{path}");
        assert!(a.body.contains(needle), "{path}: {}", a.body);
        assert_eq!(header(&a, "cache-control"), "no-cache", "{path}");
        assert_secured(&a, path);
        let etag = header(&a, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() == 34, "{path}: {etag}");

        let again = get_with(&r, path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(header(&again, "etag"), etag);
        assert_secured(&again, path);

        let stale = get_with(&r, path, &[("if-none-match", "\"0000\"")]).await;
        assert_eq!(stale.status, StatusCode::OK, "{path}");
    }
    let js = header(&get(&r, "/ui/app.js").await, "etag").to_owned();
    let css = header(&get(&r, "/ui/style.css").await, "etag").to_owned();
    assert_ne!(js, css, "the tag is the content's");
}

#[tokio::test]
async fn every_page_path_answers_index_html() {
    let r = test_router();
    for path in [
        "/",
        "/traces",
        "/traces/0190b5a0-0000-7000-8000-000000000000",
        "/conversations",
        "/conversations/abc",
        "/usage",
        "/alerts",
        "/keys",
        "/login",
    ] {
        let a = get(&r, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(header(&a, "content-type"), "text/html; charset=utf-8");
        assert!(a.body.contains("<title>test"), "{path}");
        assert_secured(&a, path);
    }
}

#[tokio::test]
async fn unknown_files_are_404_with_the_headers_too() {
    let r = test_router();
    for path in [
        "/ui/nope.js",
        "/ui/vendor/",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/Cargo.toml",
        "/ui",
        "/ui/",
    ] {
        let a = get(&r, path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_secured(&a, path);
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_when_the_api_is_open() {
    let guard = HostGuard::new(true, &[], crate::origin::AllowedOrigins::default());
    let r = router_over::<TestWeb>(guard);
    let mut req = Request::get("/")
        .header("host", "evil.example")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = r.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().contains_key("content-security-policy"));
    assert_eq!(get(&r, "/").await.status, StatusCode::OK);
}

fn gateway(dashboard: bool, token: Option<&str>) -> crate::Gateway {
    let config = Config {
        dashboard,
        admin_token: token.map(crate::config::Secret::new),
        spool_durability: SpoolDurability::Memory,
        ..Config::default()
    };
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    crate::Gateway::build(&config, store).unwrap()
}

#[tokio::test]
async fn the_gateway_serves_the_embedded_page_without_the_admin_token() {
    let gw = gateway(true, Some("0123456789abcdef0123"));
    let a = get(&gw.router, "/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<html"), "{}", a.body);
    assert_secured(&a, "/");
    let page = get(&gw.router, "/traces/abc").await;
    assert_eq!(page.body, a.body);
    // The API still wants its token.
    assert_eq!(get(&gw.router, "/api/v1/recorder").await.status, 401);
}

#[tokio::test]
async fn the_other_routes_are_not_shadowed() {
    let gw = gateway(true, None);
    let r = &gw.router;
    let health = get(r, "/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(health.body.contains("ok"));
    assert!(!health.headers.contains_key("content-security-policy"));
    assert_eq!(get(r, "/api/v1/recorder").await.status, StatusCode::OK);
    assert_eq!(get(r, "/metrics").await.status, StatusCode::OK);
    // The proxy answers its paths in the provider's format (no upstream serves this model).
    let proxied = get(r, "/v1/models").await;
    assert!(!proxied.headers.contains_key("content-security-policy"));
    assert!(header(&proxied, "content-type").starts_with("application/json"));
    // Unknown paths keep the gateway's JSON 404.
    let unknown = get(r, "/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("\"error\""));
}

#[tokio::test]
async fn dashboard_false_turns_it_off() {
    let gw = gateway(false, None);
    for path in ["/", "/traces", "/ui/index.html"] {
        let a = get(&gw.router, path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!a.headers.contains_key("content-security-policy"));
    }
    assert_eq!(get(&gw.router, "/health").await.status, StatusCode::OK);
}
