//! The OpenAPI document covers every route, and every route it names is served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tracegate_store::search::SUMMARY_FIELDS;
use tracegate_store::SqliteStore;

use crate::api::auth::AdminAuth;
use crate::api::ApiState;
use crate::config::Secret;

fn router(auth: AdminAuth) -> Router {
    let store: Arc<dyn tracegate_store::Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let state = ApiState::for_tests(store);
    crate::api::router(state, auth, Default::default())
}

fn doc() -> Value {
    serde_json::to_value(super::document()).unwrap()
}

/// The documented operations as (method, path).
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The source files of the API, tests left out.
fn api_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tests" {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![src.join("api.rs")];
    walk(&src.join("api"), &mut out);
    out
}

/// Routes registered by hand (`.route("/path", ...)` and the like) rather than with
/// `routes!`, as (file, path or what stood there).
fn hand_registered(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for call in [".route(", ".route_service(", ".nest_service("] {
        for (at, _) in source.match_indices(call) {
            let rest = source[at + call.len()..].trim_start();
            let path = match rest.strip_prefix('"') {
                Some(lit) => lit.split('"').next().unwrap_or_default().to_owned(),
                None => rest.chars().take(40).collect(),
            };
            found.push(path);
        }
    }
    found
}

#[test]
fn every_route_of_the_router_is_documented() {
    let doc = doc();
    let documented: Vec<String> = operations(&doc).into_iter().map(|(_, p)| p).collect();
    let files = api_sources();
    assert!(files.len() > 5, "found the sources: {files:?}");
    let mut undocumented = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for path in hand_registered(&source) {
            let known = documented
                .iter()
                .any(|d| *d == path || *d == format!("/api/v1{path}"));
            if !known {
                undocumented.push(format!("{}: {path}", file.display()));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes registered without `.routes(routes!(handler))` and a `#[utoipa::path]` on the \
         handler, so missing from the OpenAPI document: {undocumented:#?}"
    );
    // The scan sees a route registered by hand.
    assert_eq!(
        hand_registered(r#"OpenApiRouter::new().route( "/traces/{id}/x", post(x))"#),
        ["/traces/{id}/x"]
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let doc = doc();
    let router = router(AdminAuth::new(None));
    let ops = operations(&doc);
    for (method, path) in &ops {
        let uri = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        let req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        if resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "text/event-stream")
        {
            continue; // a live stream (GET /api/v1/live) never ends: it is routed
        }
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.is_empty()),
            "{method} {uri} is documented but not routed"
        );
    }
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique: {ids:?}");
    for want in [
        ("GET", "/health"),
        ("GET", "/api/v1/traces"),
        ("POST", "/api/v1/traces/search"),
        ("GET", "/api/v1/traces/export"),
        ("GET", "/api/v1/traces/{id}"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/conversations/{id}"),
        ("GET", "/api/v1/stats/slowest"),
    ] {
        assert!(
            ops.iter().any(|(m, p)| (m.as_str(), p.as_str()) == want),
            "{want:?} in {ops:?}"
        );
    }
}

#[tokio::test]
async fn the_document_is_served_behind_the_admin_token() {
    let router = router(AdminAuth::new(Some(Secret::new("0123456789abcdef"))));
    let get = |auth: Option<&'static str>| {
        let mut req = Request::builder().uri("/api/v1/openapi.json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        router.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let resp = get(Some("Bearer 0123456789abcdef")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served, doc());
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        served["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    assert_eq!(
        served["paths"]["/health"]["get"]["security"],
        serde_json::json!([{}])
    );
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn schemas_resolve_and_match_what_is_served() {
    let doc = doc();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    for name in [
        "TraceSummary",
        "TraceDetail",
        "ErrorBody",
        "SearchBody",
        "SearchAnswer",
        "ConversationTree",
        "StatsReport",
        "UsageReport",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let summary: Vec<&str> = schemas["TraceSummary"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary, SUMMARY_FIELDS,
        "the schema lists what a search returns"
    );
    let error = &schemas["ErrorDetail"]["properties"];
    assert!(error["kind"].is_object() && error["pointer"].is_object());
    let search = &doc["paths"]["/api/v1/traces/search"]["post"];
    assert_eq!(
        search["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SearchBody"
    );
    let export = &doc["paths"]["/api/v1/traces/export"]["get"];
    assert!(export["responses"]["200"]["content"]["application/x-ndjson"].is_object());
    let params: Vec<&str> = export["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"filter") && params.contains(&"bodies"),
        "{params:?}"
    );
}
