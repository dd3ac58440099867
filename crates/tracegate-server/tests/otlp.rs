//! The OpenTelemetry export end to end: a gateway in front of the mock provider exports
//! its traces to an OTLP/HTTP receiver started here, which decodes the protobuf.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::post;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode as SpanStatus, Span,
};
use parking_lot::Mutex;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracegate_core::Outcome;
use tracegate_server::config::{UpstreamConfig, UpstreamKind};
use tracegate_server::{Config, Gateway};
use tracegate_store::{SqliteStore, Store};
use uuid::Uuid;

/// Spans an OTLP receiver got.
type Received = Arc<Mutex<Vec<Span>>>;

/// Serves `POST /v1/traces` on `listener`, decoding each export request.
fn receiver(listener: TcpListener, received: Received) {
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: http::HeaderMap, body: Bytes| {
            let received = received.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let req = ExportTraceServiceRequest::decode(body).unwrap();
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        received.lock().extend(ss.spans);
                    }
                }
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

async fn mock() -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(tracegate_mock::serve(
        listener,
        tracegate_mock::MockConfig::default(),
        stop.clone(),
    ));
    (url, stop)
}

async fn gateway(mock: &str, collector: SocketAddr) -> (Gateway, Arc<dyn Store>) {
    let config = Config {
        upstreams: vec![
            UpstreamConfig::new("anthropic", UpstreamKind::Anthropic, mock),
            UpstreamConfig::new("openai", UpstreamKind::Openai, mock),
        ],
        otlp_endpoint: Some(format!("http://{collector}")),
        spool_durability: tracegate_server::config::SpoolDurability::Memory,
        ..Config::default()
    };
    config.validate().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let gw = Gateway::build(&config, store.clone()).unwrap();
    (gw, store)
}

/// Sends one Anthropic request through the gateway; returns its status and trace id.
async fn ask(gw: &Gateway, model: &str, mock_status: Option<u16>) -> (StatusCode, Uuid) {
    let body = serde_json::json!({
        "model": model,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "a private question"}],
    });
    let mut req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .header("x-tracegate-account", "team-otel");
    if let Some(s) = mock_status {
        req = req.header("x-mock-status", s.to_string());
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = gw.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let id = resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    resp.into_body().collect().await.unwrap();
    (status, id)
}

async fn wait_for_spans(received: &Received, n: usize) -> Vec<Span> {
    for _ in 0..1000 {
        if received.lock().len() >= n {
            return received.lock().clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} spans received, {n} expected", received.lock().len());
}

async fn stored(store: &Arc<dyn Store>, id: Uuid) -> tracegate_store::TraceDetail {
    for _ in 0..500 {
        if let Some(t) = store.get(id).await.unwrap() {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("trace {id} not in the store");
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    kv.value.as_ref()?.value.as_ref()
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attr(span, key)? {
        Value::StringValue(s) => Some(s.clone()),
        other => panic!("{key}: {other:?}"),
    }
}

fn int(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        Value::IntValue(n) => Some(*n),
        other => panic!("{key}: {other:?}"),
    }
}

fn span_of(spans: &[Span], id: Uuid) -> Span {
    spans
        .iter()
        .find(|s| s.trace_id == id.as_bytes())
        .unwrap_or_else(|| panic!("no span with trace id {id}"))
        .clone()
}

#[tokio::test]
async fn each_trace_is_exported_as_a_genai_span() {
    let (mock, mock_stop) = mock().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let received = Received::default();
    receiver(listener, received.clone());
    let (gw, store) = gateway(&mock, collector).await;

    let (status, ok_id) = ask(&gw, "claude-sonnet-4-5", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, failed_id) = ask(&gw, "claude-sonnet-4-5", Some(500)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let spans = wait_for_spans(&received, 2).await;

    let t = stored(&store, ok_id).await.summary;
    let s = span_of(&spans, ok_id);
    let model = t.model.clone().unwrap();
    assert_eq!(s.name, format!("chat {model}"));
    assert_eq!(s.kind, SpanKind::Client as i32);
    assert_eq!(s.span_id.len(), 8);
    let start_ms = s.start_time_unix_nano / 1_000_000;
    assert_eq!(start_ms as i64, t.started_at.timestamp_millis());
    let took_ns = (s.end_time_unix_nano - s.start_time_unix_nano) as f64;
    assert!(
        (took_ns / 1e6 - t.duration_ms).abs() < 0.01,
        "{took_ns} ns vs {} ms",
        t.duration_ms
    );
    assert_eq!(s.status.as_ref().unwrap().code, SpanStatus::Unset as i32);
    assert_eq!(
        text(&s, "gen_ai.provider.name").as_deref(),
        Some("anthropic")
    );
    assert_eq!(text(&s, "gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(
        text(&s, "gen_ai.request.model").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(text(&s, "gen_ai.response.model"), Some(model));
    assert_eq!(
        int(&s, "gen_ai.usage.output_tokens"),
        t.output_tokens.map(|n| n as i64)
    );
    assert!(int(&s, "gen_ai.usage.input_tokens").unwrap() > 0);
    assert_eq!(int(&s, "http.response.status_code"), Some(200));
    assert_eq!(text(&s, "tracegate.trace_id"), Some(ok_id.to_string()));
    assert_eq!(text(&s, "tracegate.account").as_deref(), Some("team-otel"));
    assert_eq!(text(&s, "tracegate.outcome").as_deref(), Some("ok"));
    assert_eq!(text(&s, "tracegate.upstream").as_deref(), Some("anthropic"));
    assert_eq!(text(&s, "error.type"), None);
    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("private question"),
        "a body was exported"
    );

    let t = stored(&store, failed_id).await.summary;
    assert_eq!(t.outcome, Outcome::UpstreamError);
    let s = span_of(&spans, failed_id);
    assert_eq!(s.status.as_ref().unwrap().code, SpanStatus::Error as i32);
    assert_eq!(text(&s, "error.type").as_deref(), Some("500"));
    assert_eq!(
        text(&s, "tracegate.outcome").as_deref(),
        Some("upstream_error")
    );

    let stats = gw.recorder.stats().snapshot();
    assert_eq!(
        (
            stats.otlp.otlp_exported,
            stats.otlp.otlp_dropped_export_error
        ),
        (2, 0)
    );
    gw.flush().await;
    mock_stop.cancel();
}

#[tokio::test]
async fn a_collector_that_is_down_loses_nothing_else_and_is_used_when_back() {
    let (mock, mock_stop) = mock().await;
    // A port nothing listens on, yet.
    let collector = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (gw, store) = gateway(&mock, collector).await;

    let (status, down_id) = ask(&gw, "claude-haiku-4-5", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the gateway serves with the collector down"
    );
    assert_eq!(stored(&store, down_id).await.summary.outcome, Outcome::Ok);
    // The first export attempt fails and is retried (after 1 s, 2 s, 4 s).
    for _ in 0..500 {
        if gw.recorder.stats().snapshot().otlp.otlp_retries > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gw.recorder.stats().snapshot().otlp.otlp_retries > 0);
    assert_eq!(gw.recorder.stats().snapshot().otlp.otlp_exported, 0);

    let received = Received::default();
    receiver(
        TcpListener::bind(collector).await.unwrap(),
        received.clone(),
    );
    let (_, back_id) = ask(&gw, "claude-haiku-4-5", None).await;
    let spans = wait_for_spans(&received, 2).await;
    span_of(&spans, back_id);
    span_of(&spans, down_id);
    assert_eq!(stored(&store, back_id).await.summary.outcome, Outcome::Ok);
    let s = gw.recorder.stats().snapshot();
    assert_eq!(
        (s.otlp.otlp_exported, s.otlp.otlp_dropped_export_error),
        (2, 0)
    );
    gw.flush().await;
    mock_stop.cancel();
}
