//! The exporter task: batches of spans posted to the collector as
//! `ExportTraceServiceRequest` protobuf, with bounded retries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{OtlpStats, OtlpTarget, BATCH};
use crate::upstream::HttpClient;

/// Most bytes of a collector's answer read (a `partial_success` is small).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How a failed export is tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub first_backoff: Duration,
    /// Longest one export request may take.
    pub timeout: Duration,
}

pub(super) struct Exporter {
    client: HttpClient,
    target: OtlpTarget,
    retry: RetryPolicy,
    stats: Arc<OtlpStats>,
}

/// What one attempt came to.
enum Attempt {
    /// Accepted; the number of spans the collector said it rejected.
    Done { rejected: u64 },
    /// Worth trying again (no answer, 429, 502, 503, 504).
    Retry(String),
    /// Refused for good (any other status).
    Refused(String),
}

impl Exporter {
    pub(super) fn new(target: OtlpTarget, retry: RetryPolicy, stats: Arc<OtlpStats>) -> Self {
        Exporter {
            client: crate::upstream::http_client(retry.timeout),
            target,
            retry,
            stats,
        }
    }

    pub(super) async fn run(self, mut rx: mpsc::Receiver<Span>, stop: CancellationToken) {
        let mut buf = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                biased;
                n = rx.recv_many(&mut buf, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    let spans = std::mem::replace(&mut buf, Vec::with_capacity(BATCH));
                    self.export(spans, &stop).await;
                }
                () = stop.cancelled() => {
                    rx.close();
                    while rx.recv_many(&mut buf, BATCH).await > 0 {
                        let spans = std::mem::replace(&mut buf, Vec::with_capacity(BATCH));
                        self.export(spans, &stop).await;
                    }
                    break;
                }
            }
        }
        tracing::debug!("OTLP exporter drained and stopped");
    }

    /// Sends one batch, retrying with backoff; once `stop` is cancelled no retry waits.
    async fn export(&self, spans: Vec<Span>, stop: &CancellationToken) {
        let n = spans.len() as u64;
        let body = Bytes::from(request(spans).encode_to_vec());
        let mut backoff = self.retry.first_backoff;
        let mut tries_left = self.retry.retries;
        loop {
            let failure = match self.attempt(body.clone()).await {
                Attempt::Done { rejected } => {
                    let rejected = rejected.min(n);
                    self.stats
                        .exported
                        .fetch_add(n - rejected, Ordering::Relaxed);
                    if rejected > 0 {
                        self.dropped(rejected, "the collector rejected part of the batch");
                    }
                    return;
                }
                Attempt::Refused(why) => {
                    self.dropped(n, &why);
                    return;
                }
                Attempt::Retry(why) => why,
            };
            if tries_left == 0 || stop.is_cancelled() {
                self.dropped(n, &failure);
                return;
            }
            tries_left -= 1;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %failure, spans = n, backoff_ms = backoff.as_millis() as u64, "OTLP export failed; retrying");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => {}
            }
            backoff = backoff.saturating_mul(2);
        }
    }

    fn dropped(&self, n: u64, why: &str) {
        let total = self
            .stats
            .dropped_export_error
            .fetch_add(n, Ordering::Relaxed)
            + n;
        tracing::warn!(error = %why, lost = n, lost_total = total, url = %self.target.shown, "OTLP export failed; spans dropped");
    }

    async fn attempt(&self, body: Bytes) -> Attempt {
        let mut req = http::Request::post(self.target.url.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(body));
        if let Ok(r) = req.as_mut() {
            r.headers_mut().extend(self.target.headers.clone());
        }
        let req = match req {
            Ok(r) => r,
            Err(e) => return Attempt::Refused(format!("request: {e}")),
        };
        let sent = tokio::time::timeout(self.retry.timeout, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, String>((status, body))
        })
        .await;
        let (status, answer) = match sent {
            Err(_) => return Attempt::Retry("timed out".into()),
            Ok(Err(e)) => return Attempt::Retry(e),
            Ok(Ok(r)) => r,
        };
        if status.is_success() {
            let rejected = ExportTraceServiceResponse::decode(answer)
                .ok()
                .and_then(|r| r.partial_success)
                .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0));
            return Attempt::Done { rejected };
        }
        let why = format!("collector answered {status}");
        match status.as_u16() {
            429 | 502 | 503 | 504 => Attempt::Retry(why),
            _ => Attempt::Refused(why),
        }
    }
}

/// One request: the gateway as the resource, tracegate as the instrumentation scope.
pub(super) fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    let string = |key: &str, v: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
        ..KeyValue::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", "tracegate"),
                    string("service.version", env!("CARGO_PKG_VERSION")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracegate".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
