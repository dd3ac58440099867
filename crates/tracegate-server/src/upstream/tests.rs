//! The traffic policy through the gateway's router against the mock upstream: retries
//! (never after the first byte), the retry budget, the circuit breaker, the bulkhead (its
//! place held until the body ends) and fallbacks, each with the attempts on the trace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracegate_core::{Outcome, TraceId};
use tracegate_store::{SqliteStore, TraceDetail, TraceStore};

use crate::config::{
    BreakerConfig, BulkheadConfig, Config, RetryBudgetConfig, RetryConfig, UpstreamConfig,
    UpstreamKind,
};
use crate::proxy::headers::REQUEST_ID_HEADER;
use crate::Gateway;

const BODY: &str =
    r#"{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str = r#"{"model":"claude-x","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

async fn mock() -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(tracegate_mock::serve(
        listener,
        tracegate_mock::MockConfig::default(),
        stop.clone(),
    ));
    (format!("http://{addr}"), stop)
}

fn upstream(name: &str, url: &str) -> UpstreamConfig {
    UpstreamConfig::new(name, UpstreamKind::Anthropic, url)
}

fn retrying(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        base_backoff_ms: 1,
        max_backoff_ms: 5,
        max_retry_after_ms: 10_000,
    }
}

struct Harness {
    gw: Gateway,
    store: Arc<SqliteStore>,
}

impl Harness {
    fn new(upstreams: Vec<UpstreamConfig>, budget: RetryBudgetConfig) -> Self {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let config = Config {
            upstreams,
            retry_budget: budget,
            spool_durability: crate::config::SpoolDurability::Memory,
            ..Config::default()
        };
        let gw = Gateway::build(&config, store.clone()).unwrap();
        Harness { gw, store }
    }

    async fn head(&self, body: &'static str, headers: &[(&str, &str)]) -> http::Response<Body> {
        let mut req = Request::post("/v1/messages")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("x-tracegate-account", "team-a");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        self.gw.router.clone().oneshot(req).await.unwrap()
    }

    /// Status, body (as far as it goes) and trace id.
    async fn send(&self, headers: &[(&str, &str)]) -> (StatusCode, String, TraceId) {
        let resp = self.head(BODY, headers).await;
        let status = resp.status();
        let id = resp.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), id)
    }

    fn view(&self, upstream: &str) -> serde_json::Value {
        let v = serde_json::to_value(self.gw.upstreams().view()).unwrap();
        v["upstreams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == upstream)
            .cloned()
            .unwrap()
    }

    fn budget(&self) -> serde_json::Value {
        serde_json::to_value(self.gw.upstreams().view()).unwrap()["retry_budget"].clone()
    }

    async fn traces(self, ids: &[TraceId]) -> Vec<TraceDetail> {
        self.gw.flush().await;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.store.get(*id).await.unwrap().unwrap());
        }
        out
    }
}

#[tokio::test]
async fn a_529_is_retried_and_every_attempt_is_recorded() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.retry = retrying(3);
    let h = Harness::new(vec![a], RetryBudgetConfig::default());
    let (status, _, id) = h
        .send(&[
            ("x-mock-status", "529"),
            ("x-mock-fail-first", "2"),
            ("x-mock-fail-key", "retry-529"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (plain_status, _, plain) = h.send(&[]).await;
    assert_eq!(plain_status, StatusCode::OK);
    assert_eq!(h.view("anthropic")["retries"], 2);
    let t = h.traces(&[id, plain]).await;
    let statuses: Vec<_> = t[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(529), Some(529), Some(200)]);
    assert!(t[0].attempts[0].error.as_deref().unwrap().contains("529"));
    assert!(t[0].attempts.iter().all(|a| a.upstream == "anthropic"));
    assert_eq!(t[0].summary.outcome, Outcome::Ok);
    assert!(t[1].attempts.is_empty(), "one attempt: nothing kept");
}

#[tokio::test]
async fn retries_used_up_hand_over_the_upstreams_own_answer() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.retry = retrying(2);
    let h = Harness::new(vec![a], RetryBudgetConfig::default());
    let (status, body, id) = h.send(&[("x-mock-status", "529")]).await;
    assert_eq!(status.as_u16(), 529);
    assert!(body.contains("overloaded_error"), "{body}");
    let t = h.traces(&[id]).await;
    assert_eq!(t[0].attempts.len(), 2);
    assert_eq!(t[0].summary.outcome, Outcome::UpstreamError);
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_never_retried() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.retry = retrying(5);
    let h = Harness::new(vec![a], RetryBudgetConfig::default());
    let resp = h
        .head(
            STREAM,
            &[("x-mock-abort-after", "3"), ("x-mock-output-tokens", "20")],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the head came: no retry after it"
    );
    let id: TraceId = resp.headers()[REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = resp.into_body().collect().await;
    if let Ok(b) = body {
        let text = String::from_utf8_lossy(&b.to_bytes()).into_owned();
        assert!(!text.contains("message_stop"), "the stream was cut: {text}");
    }
    assert_eq!(h.view("anthropic")["retries"], 0);
    let t = h.traces(&[id]).await;
    assert!(t[0].attempts.is_empty());
    assert_ne!(t[0].summary.outcome, Outcome::Ok);
}

#[tokio::test]
async fn the_retry_budget_caps_retries() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.retry = retrying(3);
    let budget = RetryBudgetConfig {
        ratio: 0.0,
        min_per_sec: 0.0,
        max_tokens: 2.0,
    };
    let h = Harness::new(vec![a], budget);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, _, id) = h.send(&[("x-mock-status", "503")]).await;
        assert_eq!(status.as_u16(), 503);
        ids.push(id);
    }
    assert_eq!(
        h.view("anthropic")["retries"],
        2,
        "4 requests could retry 8 times"
    );
    assert!(h.budget()["denied"].as_u64().unwrap() >= 2);
    let t = h.traces(&ids).await;
    assert_eq!(t[0].attempts.len(), 3, "the first request had the budget");
    for later in &t[1..] {
        assert_eq!(later.attempts.len(), 1, "the budget was spent: one attempt");
        let error = later.attempts[0].error.as_deref().unwrap();
        assert!(error.contains("retry budget spent"), "{error}");
    }
}

#[tokio::test]
async fn a_circuit_opens_fails_fast_half_opens_and_closes() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.breaker = Some(BreakerConfig {
        consecutive_failures: 2,
        error_rate: 1.0,
        min_requests: 100,
        window_secs: 30,
        open_secs: 1,
    });
    let h = Harness::new(vec![a], RetryBudgetConfig::default());
    for _ in 0..2 {
        let (status, _, _) = h.send(&[("x-mock-status", "500")]).await;
        assert_eq!(status.as_u16(), 500);
    }
    assert_eq!(h.view("anthropic")["circuit"], "open");
    let started = std::time::Instant::now();
    let (status, body, open_id) = h.send(&[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(500), "fails fast");
    assert!(body.contains("overloaded_error"), "{body}");
    assert!(body.contains("circuit open"), "{body}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(h.view("anthropic")["circuit"], "half_open");
    let (status, _, _) = h.send(&[]).await;
    assert_eq!(status, StatusCode::OK, "the probe passes");
    assert_eq!(h.view("anthropic")["circuit"], "closed");
    assert_eq!(h.view("anthropic")["shed_circuit_open"], 1);
    let t = h.traces(&[open_id]).await;
    assert_eq!(t[0].summary.outcome, Outcome::Overloaded);
    assert!(t[0]
        .summary
        .error
        .as_deref()
        .unwrap()
        .contains("circuit open"));
}

#[tokio::test]
async fn a_full_bulkhead_sheds_with_503_and_holds_places_until_the_body_ends() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.bulkhead = Some(BulkheadConfig {
        max_concurrent: 1,
        max_queue: 1,
        max_queue_wait_ms: 5_000,
    });
    let h = Arc::new(Harness::new(vec![a], RetryBudgetConfig::default()));
    // A stream's head is in: its place stays taken while the body streams.
    let streaming = h
        .head(
            STREAM,
            &[
                ("x-mock-inter-token-ms", "40"),
                ("x-mock-output-tokens", "10"),
            ],
        )
        .await;
    assert_eq!(streaming.status(), StatusCode::OK);
    assert_eq!(h.view("anthropic")["in_flight"], 1);
    // One more waits in the queue; beyond it, requests are shed at once.
    let queued = {
        let h = h.clone();
        tokio::spawn(async move { h.send(&[]).await })
    };
    while h.view("anthropic")["queued"] != 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    let (status, body, shed_id) = h.send(&[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("overloaded_error"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(500));
    // The stream ends; the queued request gets its place.
    let _ = streaming.into_body().collect().await.unwrap();
    let (status, _, _) = queued.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.view("anthropic")["in_flight"], 0);
    assert_eq!(h.view("anthropic")["shed_queue_full"], 1);
    let h = Arc::into_inner(h).unwrap();
    let t = h.traces(&[shed_id]).await;
    assert_eq!(t[0].summary.outcome, Outcome::Overloaded);
}

#[tokio::test]
async fn the_fallback_answers_when_retries_are_used_up() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", "http://127.0.0.1:1");
    a.retry = retrying(2);
    a.fallbacks = vec!["anthropic-backup".into()];
    let b = upstream("anthropic-backup", &url);
    let h = Harness::new(vec![a, b], RetryBudgetConfig::default());
    let (status, _, id) = h.send(&[]).await;
    assert_eq!(status, StatusCode::OK);
    let t = h.traces(&[id]).await;
    assert_eq!(t[0].summary.upstream.as_deref(), Some("anthropic-backup"));
    let tried: Vec<_> = t[0]
        .attempts
        .iter()
        .map(|a| (a.upstream.as_str(), a.status))
        .collect();
    assert_eq!(
        tried,
        [
            ("anthropic", None),
            ("anthropic", None),
            ("anthropic-backup", Some(200))
        ]
    );
}

#[tokio::test]
async fn the_fallback_answers_when_the_circuit_is_open() {
    let (url, _stop) = mock().await;
    let mut a = upstream("anthropic", &url);
    a.breaker = Some(BreakerConfig {
        consecutive_failures: 1,
        open_secs: 60,
        ..BreakerConfig::default()
    });
    a.fallbacks = vec!["anthropic-backup".into()];
    let b = upstream("anthropic-backup", &url);
    let h = Harness::new(vec![a, b], RetryBudgetConfig::default());
    // 500 is not retried here (one attempt), but it opens the circuit.
    let (status, _, _) = h.send(&[("x-mock-status", "500")]).await;
    assert_eq!(status.as_u16(), 500);
    let (status, _, id) = h.send(&[]).await;
    assert_eq!(status, StatusCode::OK);
    let t = h.traces(&[id]).await;
    assert_eq!(t[0].summary.upstream.as_deref(), Some("anthropic-backup"));
    assert_eq!(t[0].attempts[0].error.as_deref(), Some("circuit open"));
}
