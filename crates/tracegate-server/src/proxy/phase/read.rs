//! Phase 2, read the request: what is refused on the head (origin, path, content type,
//! `admission.rs`), then the body up to `max_body_bytes` within `body_read_timeout_secs`
//! (`request_body.rs`; listed in flight meanwhile), the
//! `x-tracegate-metadata` header and, on the JSON endpoints, the JSON peek (model, stream).
//! What was read is on the trace before any refusal, so refused requests keep it.

use axum::body::Body;
use bytes::Bytes;
use http::request::Parts;

use crate::error::ProxyError;
use crate::proxy::classify::Route;
use crate::proxy::recording::Recording;
use crate::proxy::request_body::{self, Peek};
use crate::proxy::{admission, headers, ProxyState};

/// The request's body and what the gateway saw in it.
#[derive(Debug)]
pub struct Read {
    pub bytes: Bytes,
    pub peek: Peek,
}

/// Admits the request and reads its body.
pub async fn read(
    state: &ProxyState,
    rec: &mut Recording,
    route: &Route,
    parts: &Parts,
    body: Body,
) -> Result<Read, ProxyError> {
    admission::admit(&state.origins, route, parts)?;
    // Listed in flight while the body comes: a client stalled here is seen (updated with
    // model and upstream when sent).
    rec.mark_in_flight();
    let bytes = request_body::read_limited(
        &parts.headers,
        body,
        state.max_body_bytes,
        state.body_read_timeout,
    )
    .await?;
    let metadata = headers::metadata(&parts.headers);
    let peek = if route.json_required {
        Peek::parse(&bytes)
    } else {
        Ok(Peek::lenient(&bytes))
    };
    if let Some(t) = rec.trace_mut() {
        t.request_body = bytes.clone();
        if let Ok(Some(m)) = &metadata {
            t.metadata = Some(m.clone());
        }
        if let Ok(p) = &peek {
            t.model_requested = p.model.clone();
            t.stream = p.is_stream();
        }
    }
    metadata.map_err(ProxyError::bad_request)?;
    Ok(Read { bytes, peek: peek? })
}
