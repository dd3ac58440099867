use axum::body::Body;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

fn guard_with(check_host: bool, hosts: &[&str], origins: &[&str]) -> HostGuard {
    let hosts: Vec<String> = hosts.iter().map(|s| s.to_string()).collect();
    let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
    HostGuard::new(check_host, &hosts, AllowedOrigins::new(&origins))
}

fn verdict(g: &HostGuard, method: Method, headers: &[(&'static str, &str)]) -> Verdict {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(*k, HeaderValue::from_str(v).unwrap());
    }
    g.verdict(&method, &Uri::from_static("/api/v1/recorder"), &map)
}

fn refused(v: &Verdict) -> bool {
    matches!(v, Verdict::Refuse(_))
}

#[test]
fn an_open_api_answers_loopback_hosts_and_listed_ones_only() {
    let g = guard_with(true, &["gw.internal"], &[]);
    for host in [
        "localhost",
        "localhost:8080",
        "app.localhost:8080",
        "127.0.0.1:8080",
        "127.1.2.3",
        "[::1]:8080",
        "GW.internal:9000",
    ] {
        assert_eq!(
            verdict(&g, Method::GET, &[("host", host)]),
            Verdict::Serve(None),
            "{host}"
        );
    }
    for host in [
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "10.0.0.1:8080",
        "gw.internal.evil.example",
        "",
        "a b",
    ] {
        assert!(
            refused(&verdict(&g, Method::GET, &[("host", host)])),
            "{host}"
        );
    }
    assert!(refused(&verdict(&g, Method::GET, &[])), "no Host at all");
}

#[test]
fn with_a_token_the_host_is_not_checked() {
    let g = guard_with(false, &[], &[]);
    assert_eq!(
        verdict(&g, Method::GET, &[("host", "gateway.example.com")]),
        Verdict::Serve(None)
    );
}

#[test]
fn origins_need_a_listing_or_the_same_host() {
    let g = guard_with(true, &[], &["https://app.example.com"]);
    let host = ("host", "127.0.0.1:8080");
    // A page the gateway serves itself.
    assert_eq!(
        verdict(
            &g,
            Method::POST,
            &[host, ("origin", "http://127.0.0.1:8080")]
        ),
        Verdict::Serve(None)
    );
    // A listed origin gets CORS headers.
    assert_eq!(
        verdict(
            &g,
            Method::GET,
            &[host, ("origin", "https://app.example.com")]
        ),
        Verdict::Serve(Some(HeaderValue::from_static("https://app.example.com")))
    );
    for origin in [
        "https://evil.example",
        "http://localhost:3000",
        "http://127.0.0.1:8081",
        "null",
    ] {
        assert!(
            refused(&verdict(&g, Method::GET, &[host, ("origin", origin)])),
            "{origin}"
        );
    }
    // Two Origin headers are not one origin.
    assert!(refused(&verdict(
        &g,
        Method::GET,
        &[
            host,
            ("origin", "https://app.example.com"),
            ("origin", "https://evil.example")
        ]
    )));
}

#[test]
fn preflights_are_answered_for_listed_origins_only() {
    let g = guard_with(true, &[], &["https://app.example.com"]);
    let host = ("host", "localhost:8080");
    let acrm = ("access-control-request-method", "POST");
    assert_eq!(
        verdict(
            &g,
            Method::OPTIONS,
            &[host, acrm, ("origin", "https://app.example.com")]
        ),
        Verdict::Preflight(HeaderValue::from_static("https://app.example.com"))
    );
    for origin in ["https://evil.example", "http://localhost:8080"] {
        assert!(
            refused(&verdict(
                &g,
                Method::OPTIONS,
                &[host, acrm, ("origin", origin)]
            )),
            "{origin}"
        );
    }
}

fn app(g: HostGuard) -> Router {
    Router::new()
        .route("/api/v1/recorder", get(|| async { "ok" }))
        .route("/api/v1/traces/search", post(|| async { "found" }))
        .layer(middleware::from_fn_with_state(g, guard))
        .route("/health", get(|| async { "up" }))
}

async fn send(router: &Router, req: http::Request<Body>) -> (StatusCode, HeaderMap, String) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into(),
    )
}

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> http::Request<Body> {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_layer_refuses_with_the_api_error_json_and_answers_preflights() {
    let router = app(guard_with(true, &[], &["https://app.example.com"]));

    let (status, _, body) = send(
        &router,
        request(
            "GET",
            "/api/v1/recorder",
            &[("host", "rebound.evil.example:8080")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"]["kind"], "forbidden");
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed_hosts"));

    // Health stays outside the guard.
    let (status, _, _) = send(
        &router,
        request("GET", "/health", &[("host", "rebound.evil.example")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = send(
        &router,
        request("GET", "/api/v1/recorder", &[("host", "127.0.0.1:8080")]),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

    // A preflight for a POST-only route is answered by the guard, not with 405.
    let preflight = |origin: &'static str| {
        request(
            "OPTIONS",
            "/api/v1/traces/search",
            &[
                ("host", "localhost:8080"),
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
        )
    };
    let (status, headers, _) = send(&router, preflight("https://app.example.com")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .contains("content-type"));

    let (status, headers, body) = send(&router, preflight("https://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(body.contains("\"forbidden\""), "{body}");

    let (status, headers, body) = send(
        &router,
        request(
            "POST",
            "/api/v1/traces/search",
            &[
                ("host", "localhost:8080"),
                ("origin", "https://app.example.com"),
            ],
        ),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "found"));
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(headers[header::VARY], "origin");
}
