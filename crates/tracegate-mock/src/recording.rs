//! Middleware that logs every exchange and tags responses with `x-mock-response-id`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use crate::errors::ApiError;
use crate::exchange_log::{ExchangeLog, RequestRecord, ResponseRecord};
use crate::reply::Provider;
use crate::state::AppState;

/// Header carrying the id under which an exchange is logged.
pub const HEADER_RESPONSE_ID: &str = "x-mock-response-id";
/// Largest request body accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// Path prefix of the inspection endpoints, which are not logged.
pub(crate) const INSPECT_PREFIX: &str = "/_mock/";

/// Buffers the request body, logs the request, and wraps the response body so
/// that the exact bytes sent are logged when it ends.
pub(crate) async fn record(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(INSPECT_PREFIX) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let declared_too_large = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_REQUEST_BYTES as u64);
    let body = if declared_too_large {
        None
    } else {
        axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.ok()
    };
    let id = st.log.begin(RequestRecord {
        method: parts.method.clone(),
        path,
        headers: parts.headers.clone(),
        body: body.clone().unwrap_or_default(),
    });
    let response = match body {
        Some(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        None => {
            let provider = Provider::detect(parts.uri.path(), &parts.headers);
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE).response(provider, &st, 1)
        }
    };
    tag(response, id, &st)
}

/// Adds the response id header and logs the body once it has been sent.
fn tag(response: Response, id: u64, st: &AppState) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        parts.headers.insert(HEADER_RESPONSE_ID, value);
    }
    let mut body = RecordingBody {
        inner: body,
        sent: BytesMut::new(),
        single: None,
        pending: Some(Pending {
            log: Arc::clone(st),
            id,
            status: parts.status,
            content_type: parts.headers.get(CONTENT_TYPE).cloned(),
        }),
    };
    if body.inner.is_end_stream() {
        body.finish();
    }
    Response::from_parts(parts, Body::new(body))
}

/// What is needed to log a response once its body is complete.
struct Pending {
    log: AppState,
    id: u64,
    status: StatusCode,
    content_type: Option<HeaderValue>,
}

impl Pending {
    fn store(self, body: Bytes) {
        let log: &ExchangeLog = &self.log.log;
        log.complete(
            self.id,
            ResponseRecord {
                status: self.status,
                content_type: self.content_type,
                body,
            },
        );
    }
}

/// A response body that copies what passes through and logs it at the end,
/// or when dropped early (client disconnect).
struct RecordingBody {
    inner: Body,
    /// Bytes sent so far, when there was more than one chunk.
    sent: BytesMut,
    /// The only chunk sent so far (kept without copying).
    single: Option<Bytes>,
    pending: Option<Pending>,
}

impl RecordingBody {
    fn keep(&mut self, data: &Bytes) {
        if self.pending.is_none() {
            return;
        }
        match self.single.take() {
            None if self.sent.is_empty() => self.single = Some(data.clone()),
            first => {
                if let Some(first) = first {
                    self.sent.extend_from_slice(&first);
                }
                self.sent.extend_from_slice(data);
            }
        }
    }

    fn finish(&mut self) {
        if let Some(pending) = self.pending.take() {
            let body = match self.single.take() {
                Some(only) => only,
                None => std::mem::take(&mut self.sent).freeze(),
            };
            pending.store(body);
        }
    }
}

impl HttpBody for RecordingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.keep(data);
                }
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(_) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordingBody {
    fn drop(&mut self) {
        self.finish();
    }
}
