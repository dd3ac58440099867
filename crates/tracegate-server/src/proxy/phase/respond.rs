//! Phase 6, respond: the client's response head (the upstream's, filtered, with the
//! request id and the cache's miss mark) and a body that streams the upstream's answer
//! through unchanged while teeing it into the trace (`proxy/tee.rs`). The recording moves
//! into that body, which records the trace when it ends (phase 7).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use tracegate_core::Provider;

use super::upstream::Sent;
use crate::proxy::recording::Recording;
use crate::proxy::tee::{BodyTimer, TeeBody};
use crate::proxy::{cache, headers, ProxyState};

/// Builds the client's response from the upstream's.
pub fn respond(state: &ProxyState, mut rec: Recording, provider: Provider, sent: Sent) -> Response {
    let Sent {
        response,
        rewrite,
        deadline,
        timeouts,
        mut fill,
    } = sent;
    let (mut head, incoming) = response.into_parts();
    let status = head.status.as_u16();
    let is_sse = head
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    let headers_ms = rec.elapsed_ms();
    if let Some(t) = rec.trace_mut() {
        t.status = Some(status);
        if !is_sse {
            t.ttft_ms = Some(headers_ms);
        }
    }
    headers::client_response_headers(&mut head.headers, &rec.trace_id(), rewrite && is_sse);
    if let Some(f) = fill.as_mut() {
        f.response(
            is_sse,
            head.headers.get(http::header::CONTENT_TYPE).cloned(),
        );
        cache::mark_miss(&mut head.headers);
    }
    let timer = BodyTimer::new(deadline, timeouts);
    let mut body = if is_sse {
        TeeBody::sse(incoming, rec, timer, provider, status, rewrite)
    } else {
        TeeBody::plain(incoming, rec, timer, provider, status, state.max_body_bytes)
    }
    .with_cache_fill(fill);
    body.response_ready();
    Response::from_parts(head, Body::new(body)).into_response()
}
