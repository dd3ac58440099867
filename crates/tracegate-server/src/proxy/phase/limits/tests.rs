//! Phase 3 through the gateway's router against the mock upstream: 50 clients at once
//! against rpm = N get exactly N answers and 429s for the rest, with `retry-after`, the
//! provider's error JSON, the rate-limit headers and a `rate_limited` trace; usage the
//! provider reported counts against a token limit once the response has ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{HeaderMap, Request};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracegate_core::{Outcome, TraceId};
use tracegate_store::{SqliteStore, TraceStore};

use crate::config::{Config, LimitSet, UpstreamConfig, UpstreamKind};
use crate::proxy::headers::REQUEST_ID_HEADER;
use crate::Gateway;

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

fn gateway(mock: SocketAddr, store: Arc<SqliteStore>, accounts: &[(&str, LimitSet)]) -> Gateway {
    let url = format!("http://{mock}");
    let mut config = Config {
        upstreams: vec![
            UpstreamConfig::new("anthropic", UpstreamKind::Anthropic, &url),
            UpstreamConfig::new("openai", UpstreamKind::Openai, &url),
        ],
        spool_durability: crate::config::SpoolDurability::Memory,
        ..Config::default()
    };
    for (name, set) in accounts {
        config.limits.accounts.insert((*name).into(), set.clone());
    }
    Gateway::build(&config, store).unwrap()
}

async fn call(router: &Router, path: &str, account: &str) -> (u16, HeaderMap, serde_json::Value) {
    let body = if path == "/v1/messages" {
        serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]})
    } else {
        serde_json::json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
    };
    let mut req = Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("x-tracegate-account", account);
    if path == "/v1/messages" {
        req = req.header("anthropic-version", "2023-06-01");
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_against_rpm_n_get_exactly_n_answers() {
    const N: u64 = 12;
    let (mock, _stop) = mock().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let limits = LimitSet {
        rpm: Some(N),
        ..LimitSet::default()
    };
    let gw = gateway(mock, store.clone(), &[("crowd", limits)]);
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (router, start) = (gw.router.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                call(&router, "/v1/messages", "crowd").await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!((ok, refused.len()), (N as usize, 50 - N as usize));
    for (_, h, body) in answers.iter().filter(|(s, _, _)| *s == 200) {
        assert_eq!(h["x-ratelimit-limit-requests"], "12");
        assert_eq!(h["anthropic-ratelimit-requests-limit"], "12");
        let remaining: u64 = h["x-ratelimit-remaining-requests"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(remaining < N);
        assert_eq!(body["type"], "message");
    }
    let (_, h, body) = refused[0];
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "0");
    assert!(h["x-ratelimit-reset-requests"]
        .to_str()
        .unwrap()
        .ends_with('s'));
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let message = "rate limit: account \"crowd\" requests per minute (12)";
    assert_eq!(body["error"]["message"], message);
    let id: TraceId = h[REQUEST_ID_HEADER].to_str().unwrap().parse().unwrap();
    gw.flush().await;
    let t = store.get(id).await.unwrap().unwrap().summary;
    assert_eq!(t.outcome, Outcome::RateLimited);
    assert_eq!(t.status, Some(429));
    assert_eq!(t.error.as_deref(), Some(message));
    assert_eq!(t.account.as_deref(), Some("crowd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_usage_counts_once_the_response_has_ended() {
    let (mock, _stop) = mock().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let limits = LimitSet {
        tpm: Some(1),
        ..LimitSet::default()
    };
    let gw = gateway(mock, store, &[("tok", limits)]);
    let (status, h, _) = call(&gw.router, "/v1/chat/completions", "tok").await;
    assert_eq!(status, 200);
    assert_eq!(h["x-ratelimit-limit-tokens"], "1");
    assert!(h.get("anthropic-ratelimit-tokens-limit").is_none());
    let (status, h, body) = call(&gw.router, "/v1/chat/completions", "tok").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "tokens");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        body["error"]["message"],
        "rate limit: account \"tok\" tokens per minute (1)"
    );
    assert_eq!(h["x-ratelimit-remaining-tokens"], "0");
    // Accounts without limits see neither refusals nor headers.
    let (status, h, _) = call(&gw.router, "/v1/chat/completions", "free").await;
    assert_eq!(status, 200);
    assert!(h.get("x-ratelimit-limit-tokens").is_none());
    gw.flush().await;
}
