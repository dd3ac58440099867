#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicU32;

use axum::routing::post;
use http::StatusCode;
use parking_lot::Mutex;
use tokio_util::task::TaskTracker;
use tracegate_core::{Provider, Trace};

use super::*;
use crate::otlp::OtlpSink;

/// A collector answering `statuses` in turn (then 200), keeping the spans it accepted
/// and the headers of the last request.
#[derive(Default)]
struct Collector {
    statuses: Mutex<Vec<StatusCode>>,
    calls: AtomicU32,
    spans: Mutex<Vec<Span>>,
    auth: Mutex<Option<String>>,
}

async fn collector(c: Arc<Collector>) -> String {
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: http::HeaderMap, body: Bytes| {
            let c = c.clone();
            async move {
                c.calls.fetch_add(1, Ordering::SeqCst);
                *c.auth.lock() = headers
                    .get("x-api-key")
                    .map(|v| v.to_str().unwrap().to_owned());
                let status = {
                    let mut s = c.statuses.lock();
                    if s.is_empty() {
                        StatusCode::OK
                    } else {
                        s.remove(0)
                    }
                };
                if status == StatusCode::OK {
                    let req = ExportTraceServiceRequest::decode(body).unwrap();
                    for rs in req.resource_spans {
                        for ss in rs.scope_spans {
                            c.spans.lock().extend(ss.spans);
                        }
                    }
                }
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn target(base: &str) -> OtlpTarget {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_static("k-123"));
    OtlpTarget {
        url: format!("{base}/v1/traces").parse().unwrap(),
        headers,
        shown: format!("{base}/v1/traces"),
    }
}

fn quick(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        first_backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(5),
    }
}

fn start(base: &str, retries: u32) -> (OtlpSink, Arc<OtlpStats>, TaskTracker, CancellationToken) {
    let stats = Arc::new(OtlpStats::default());
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let sink = OtlpSink::start(
        target(base),
        quick(retries),
        stats.clone(),
        &tracker,
        stop.clone(),
    );
    (sink, stats, tracker, stop)
}

fn trace() -> Trace {
    Trace::begin(Provider::Anthropic, "POST", "/v1/messages")
}

/// Waits until every queued span is exported or dropped.
async fn settle(stats: &OtlpStats) {
    for _ in 0..1000 {
        let s = stats.snapshot();
        if s.otlp_exported + s.otlp_dropped_export_error >= s.otlp_queued {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("spans not settled: {:?}", stats.snapshot());
}

#[tokio::test]
async fn spans_reach_the_collector_with_the_configured_headers() {
    let c = Arc::new(Collector::default());
    let base = collector(c.clone()).await;
    let (sink, stats, tracker, stop) = start(&base, 0);
    let traces = [trace(), trace()];
    for t in &traces {
        sink.send(t);
    }
    settle(&stats).await;
    assert_eq!(stats.snapshot().otlp_exported, 2);
    let ids: Vec<_> = c.spans.lock().iter().map(|s| s.trace_id.clone()).collect();
    let want: Vec<_> = traces.iter().map(|t| t.id.as_bytes().to_vec()).collect();
    assert_eq!(ids, want);
    assert_eq!(c.auth.lock().as_deref(), Some("k-123"));
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn a_busy_collector_is_retried_until_it_accepts() {
    let c = Arc::new(Collector::default());
    *c.statuses.lock() = vec![
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    let base = collector(c.clone()).await;
    let (sink, stats, tracker, stop) = start(&base, 3);
    sink.send(&trace());
    settle(&stats).await;
    let s = stats.snapshot();
    assert_eq!(
        (s.otlp_exported, s.otlp_retries, s.otlp_dropped_export_error),
        (1, 2, 0)
    );
    assert_eq!(c.calls.load(Ordering::SeqCst), 3);
    assert_eq!(c.spans.lock().len(), 1);
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_is_counted() {
    let c = Arc::new(Collector::default());
    *c.statuses.lock() = vec![StatusCode::BAD_REQUEST];
    let base = collector(c.clone()).await;
    let (sink, stats, tracker, stop) = start(&base, 3);
    sink.send(&trace());
    settle(&stats).await;
    let s = stats.snapshot();
    assert_eq!(
        (s.otlp_exported, s.otlp_retries, s.otlp_dropped_export_error),
        (0, 0, 1)
    );
    // The next batch goes through: one refusal does not stop the exporter.
    sink.send(&trace());
    settle(&stats).await;
    assert_eq!(stats.snapshot().otlp_exported, 1);
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn an_unreachable_collector_costs_bounded_retries_then_drops() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (sink, stats, tracker, stop) = start(&base, 2);
    for _ in 0..3 {
        sink.send(&trace());
    }
    settle(&stats).await;
    let s = stats.snapshot();
    assert_eq!(
        (
            s.otlp_queued,
            s.otlp_exported,
            s.otlp_dropped_export_error,
            s.otlp_retries
        ),
        (3, 0, 3, 2),
        "one batch, two retries, then dropped"
    );
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn stopping_sends_what_is_queued() {
    let c = Arc::new(Collector::default());
    let base = collector(c.clone()).await;
    let (sink, stats, tracker, stop) = start(&base, 0);
    // The exporter cannot run before the loop ends: the test runtime has one thread.
    for _ in 0..5 {
        sink.send(&trace());
    }
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    assert_eq!(stats.snapshot().otlp_exported, 5);
    assert_eq!(c.spans.lock().len(), 5);
}

#[test]
fn the_request_names_tracegate_as_service_and_scope() {
    let req = request(vec![Span::default()]);
    let rs = &req.resource_spans[0];
    let service = rs.resource.as_ref().unwrap().attributes[0].clone();
    assert_eq!(service.key, "service.name");
    assert_eq!(
        service.value.unwrap().value,
        Some(any_value::Value::StringValue("tracegate".into()))
    );
    assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, "tracegate");
    assert_eq!(rs.scope_spans[0].spans.len(), 1);
}
