//! `/metrics` through the gateway's router, against the mock upstream: the families and
//! their label sets stay as checked in (`families.txt`), labels stay bounded under 100,000
//! distinct model names and paths, the admin token guards the route, and `metrics = false`
//! turns it off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{Request, StatusCode};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracegate_store::SqliteStore;

use super::labels::{ENDPOINTS, MAX_MATCHED_MODELS};
use crate::config::{Config, Secret, UpstreamConfig, UpstreamKind};
use crate::Gateway;

/// The checked-in families: `name type label,keys`, one a line.
const FAMILIES: &str = include_str!("families.txt");

/// A mock upstream on a local port; stops when the token is dropped... or cancelled.
async fn mock() -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(tracegate_mock::serve(
        listener,
        tracegate_mock::MockConfig::default(),
        stop.clone(),
    ));
    (addr, stop)
}

fn config(mock: SocketAddr, models: &[&str]) -> Config {
    let url = format!("http://{mock}");
    let mut anthropic = UpstreamConfig::new("anthropic", UpstreamKind::Anthropic, &url);
    let mut openai = UpstreamConfig::new("openai", UpstreamKind::Openai, &url);
    let globs: Vec<String> = models.iter().map(|m| (*m).to_owned()).collect();
    anthropic.models = globs.clone();
    openai.models = globs;
    Config {
        upstreams: vec![anthropic, openai],
        spool_durability: crate::config::SpoolDurability::Memory,
        ..Config::default()
    }
}

fn gateway(config: &Config) -> Gateway {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    Gateway::build(config, store).unwrap()
}

/// Sends a request through the router and reads the whole answer.
async fn send(router: &Router, mut req: Request<Body>) -> (StatusCode, String) {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, body: serde_json::Value) -> Request<Body> {
    let mut b = Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if path.starts_with("/v1/messages") {
        b = b.header("anthropic-version", "2023-06-01");
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap()
}

async fn scrape(router: &Router) -> String {
    let (status, text) = send(router, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

/// Each sample: (family name, labels). Histogram parts are folded into their family and
/// the `le` label dropped.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, _value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values written by these tests hold no `,` nor `"`.
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            if k != "le" {
                map.insert(k.to_owned(), v.trim_matches('"').to_owned());
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|_| is_histogram(text, name, s)))
            .unwrap_or(name);
        out.push((family.to_owned(), map));
    }
    out
}

fn is_histogram(text: &str, name: &str, suffix: &str) -> bool {
    let base = &name[..name.len() - suffix.len()];
    text.contains(&format!("# TYPE {base} histogram"))
}

/// `name type label,keys` for every family of a scrape.
fn families(text: &str) -> BTreeSet<String> {
    let types: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    samples(text)
        .into_iter()
        .map(|(name, labels)| {
            let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
            let kind = types.get(name.as_str()).copied().unwrap_or("untyped");
            format!("{name} {kind} {}", keys.join(","))
                .trim()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_and_label_sets_stay_as_checked_in() {
    let (mock, stop) = mock().await;
    let mut cfg = config(mock, &[]);
    cfg.slow_query_ms = 0; // every query is slow: the slow-query counter shows up too
                           // One account with rpm = 1, asked twice: the refusal counter shows up too.
    cfg.limits.accounts.insert(
        "limited".into(),
        crate::config::LimitSet {
            rpm: Some(1),
            ..Default::default()
        },
    );
    let gw = gateway(&cfg);
    let r = &gw.router;
    let msg = |stream: bool| {
        serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]})
    };
    let chat = |stream: bool| {
        serde_json::json!({"model": "gpt-4.1", "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]})
    };
    for stream in [false, true] {
        assert_eq!(send(r, post("/v1/messages", msg(stream))).await.0, 200);
        assert_eq!(
            send(r, post("/v1/chat/completions", chat(stream))).await.0,
            200
        );
    }
    assert_eq!(send(r, get("/v1/models")).await.0, 200);
    for want in [200, 429] {
        let mut req = post("/v1/chat/completions", chat(false));
        req.headers_mut()
            .insert("x-tracegate-account", "limited".parse().unwrap());
        assert_eq!(send(r, req).await.0, want);
    }
    assert_eq!(
        send(r, post("/v1/messages", serde_json::json!([1])))
            .await
            .0,
        400
    );
    for class in [
        "/api/v1/traces?limit=5",
        "/api/v1/stats",
        "/api/v1/usage/window",
        "/api/v1/conversations",
        "/api/v1/traces/0190b5a0-0000-7000-8000-000000000000",
    ] {
        send(r, get(class)).await;
    }
    let text = scrape(r).await;
    let found = families(&text);
    let expected: BTreeSet<String> = FAMILIES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let listing = found.iter().cloned().collect::<Vec<_>>().join("\n");
    assert_eq!(
        found, expected,
        "metric families or label sets changed; if on purpose, update families.txt to:\n{listing}\n"
    );
    // Every class of store query was timed.
    for class in ["search", "stats", "usage", "conversations", "trace"] {
        assert!(
            text.contains(&format!(
                "tracegate_store_query_duration_seconds_count{{class=\"{class}\"}}"
            )),
            "{class}"
        );
    }
    assert!(text.contains("tracegate_ttft_seconds_count{provider=\"openai\",model=\"gpt-4.1\",endpoint=\"/v1/chat/completions\",status_class=\"2xx\"} 1"), "{text}");
    assert!(text.contains(
        "tracegate_requests_total{provider=\"anthropic\",model=\"none\",endpoint=\"/v1/messages\",outcome=\"client_error\"} 1"
    ));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_model_names_and_paths_do_not_make_series() {
    const DISTINCT: usize = 100_000;
    let (mock, stop) = mock().await;
    // Every upstream serves `gpt-5*` only: other models get a 404 from the gateway without
    // leaving the process, and are counted all the same.
    let mut cfg = config(mock, &["gpt-5*"]);
    cfg.record_queue = 64;
    cfg.metric_models = vec!["house-model".into()];
    let gw = gateway(&cfg);
    let bound = gw.metrics.model_label_bound().unwrap();
    let r = &gw.router;
    for i in 0..DISTINCT {
        // Made-up names; one in a hundred a name the price table recognises (a longer
        // name of a listed family), which gets a label of its own up to a cap.
        let model = if i % 100 == 0 {
            format!("claude-sonnet-4-5-variant-{i}")
        } else {
            format!("made-up-model-{i}")
        };
        let path = format!("/v1/x-{i}");
        let (status, _) = send(r, post(&path, serde_json::json!({ "model": model }))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    send(
        r,
        post("/v1/x", serde_json::json!({"model": "house-model"})),
    )
    .await;
    let text = scrape(r).await;
    let requests: Vec<_> = samples(&text)
        .into_iter()
        .filter(|(name, _)| name == "tracegate_requests_total")
        .map(|(_, labels)| labels)
        .collect();
    let total: usize = text
        .lines()
        .filter(|l| l.starts_with("tracegate_requests_total"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, DISTINCT + 1, "every request is counted");
    let models: BTreeSet<&str> = requests.iter().map(|l| l["model"].as_str()).collect();
    let endpoints: BTreeSet<&str> = requests.iter().map(|l| l["endpoint"].as_str()).collect();
    assert_eq!(endpoints, BTreeSet::from(["other"]));
    assert!(models.contains("other") && models.contains("house-model"));
    // The recognised names up to the cap, `other`, and the configured one.
    assert_eq!(models.len(), MAX_MATCHED_MODELS + 2, "{models:?}");
    assert!(models.len() <= bound);
    // All series of the scrape: bounded by the label sets, not by the traffic.
    // (A request-duration histogram is 20 series per label set: 17 buckets, +Inf, sum, count.)
    let series = text.lines().filter(|l| l.starts_with("tracegate_")).count();
    assert!(series <= models.len() * 24 + 100, "{series} series");
    assert!(ENDPOINTS.len() < 20);
    stop.cancel();
}

#[tokio::test]
async fn the_admin_token_guards_metrics_and_metrics_can_be_off() {
    let mut cfg = config(SocketAddr::from(([127, 0, 0, 1], 9)), &[]);
    cfg.admin_token = Some(Secret::new("0123456789abcdef-token"));
    let gw = gateway(&cfg);
    let (status, _) = send(&gw.router, get("/metrics")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/metrics")
        .header("authorization", "Bearer 0123456789abcdef-token")
        .body(Body::empty())
        .unwrap();
    let (status, text) = send(&gw.router, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("tracegate_build_info{version=\""), "{text}");

    cfg.admin_token = None;
    cfg.metrics = false;
    let gw = gateway(&cfg);
    let (status, body) = send(&gw.router, get("/metrics")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("metrics = false"), "{body}");
    assert!(!gw.metrics.is_enabled());
}
