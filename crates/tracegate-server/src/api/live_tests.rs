//! `GET /api/v1/live` through the gateway's router, against the mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracegate_store::SqliteStore;

use crate::config::{Config, SpoolDurability, UpstreamConfig, UpstreamKind};
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

fn gateway(mock: SocketAddr, max_subscribers: usize) -> Gateway {
    let url = format!("http://{mock}");
    let config = Config {
        upstreams: vec![UpstreamConfig::new(
            "anthropic",
            UpstreamKind::Anthropic,
            &url,
        )],
        spool_durability: SpoolDurability::Memory,
        live_max_subscribers: max_subscribers,
        ..Config::default()
    };
    Gateway::build(&config, Arc::new(SqliteStore::open_in_memory().unwrap())).unwrap()
}

fn request(req: http::request::Builder, body: Body) -> Request<Body> {
    let mut req = req.header("host", "localhost").body(body).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

async fn subscribe(r: &Router, last_event_id: Option<&str>) -> http::Response<Body> {
    let mut b = Request::get("/api/v1/live");
    if let Some(id) = last_event_id {
        b = b.header("last-event-id", id);
    }
    r.clone().oneshot(request(b, Body::empty())).await.unwrap()
}

async fn send_message(r: &Router) -> String {
    let body = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});
    let b = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-tracegate-account", "team-a");
    let resp = r
        .clone()
        .oneshot(request(b, Body::from(body.to_string())))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    resp.into_body().collect().await.unwrap();
    id
}

/// One SSE event: its `event:`, `id:` and `data:` lines.
#[derive(Debug, Default)]
struct Sse {
    event: String,
    id: String,
    data: String,
}

/// Reads events until one named `name` arrives.
async fn read_until(body: &mut Body, name: &str, seen: &mut Vec<Sse>) -> Sse {
    let mut buf = String::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut e = Sse::default();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    e.event = v.into();
                } else if let Some(v) = line.strip_prefix("id: ") {
                    e.id = v.into();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    e.data = v.into();
                }
            }
            if e.event == name {
                return e;
            }
            seen.push(e);
        }
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap_or_else(|_| panic!("no {name} event in time; saw {seen:?}"))
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            buf.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn a_proxied_request_shows_up_live_then_resumes_by_last_event_id() {
    let (addr, _stop) = mock().await;
    let gw = gateway(addr, 4);
    let resp = subscribe(&gw.router, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let id = send_message(&gw.router).await;
    let mut seen = Vec::new();
    let trace = read_until(&mut body, "trace", &mut seen).await;
    let v: serde_json::Value = serde_json::from_str(&trace.data).unwrap();
    assert_eq!(v["id"], id);
    assert_eq!(v["account"], "team-a");
    assert_eq!(v["outcome"], "ok");
    assert_eq!(v["status"], 200);
    assert!(v["tokens"]["output_tokens"].as_u64().is_some(), "{v}");
    // Listed in flight as its body is read, and again once model and upstream are known.
    let kinds: Vec<&str> = seen.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"inflight_start"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"inflight_end"), "{kinds:?}");
    assert!(seen[0].data.contains(&id));
    assert_eq!(gw.live.stats().snapshot().subscribers, 1);

    // A reconnect with the in-flight start's id gets what came after it.
    let mut again = subscribe(&gw.router, Some(&seen[0].id)).await.into_body();
    let mut replayed = Vec::new();
    let t = read_until(&mut again, "trace", &mut replayed).await;
    assert_eq!(t.id, trace.id);
    assert_eq!(replayed.len(), seen.len() - 1);
    assert_eq!(
        replayed.last().map(|e| e.event.as_str()),
        Some("inflight_end")
    );

    // An id that is not ours: reload.
    let mut stale = subscribe(&gw.router, Some("12")).await.into_body();
    let lagged = read_until(&mut stale, "lagged", &mut Vec::new()).await;
    assert!(lagged.data.contains("\"reload\":true"), "{}", lagged.data);
    assert_eq!(
        lagged.id, trace.id,
        "resume from the newest after reloading"
    );
}

#[tokio::test]
async fn subscribers_past_the_cap_get_503() {
    let (addr, _stop) = mock().await;
    let gw = gateway(addr, 1);
    let first = subscribe(&gw.router, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = subscribe(&gw.router, None).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = second.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("subscribers"));
    drop(first);
    assert_eq!(subscribe(&gw.router, None).await.status(), StatusCode::OK);
    let metrics = gw.metrics.render().unwrap();
    assert!(
        metrics.contains("tracegate_live_subscribers_refused_total 1"),
        "{metrics}"
    );
}
