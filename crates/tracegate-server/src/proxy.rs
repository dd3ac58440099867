//! The proxy: `/v1/...` requests go to the right upstream, the response streams back
//! unchanged, and a trace of the exchange goes to the recorder. The request path is a
//! sequence of phases, one a file under `proxy/phase/` (order and contract in `phase.rs`).

mod admission;
mod cache;
mod classify;
pub mod headers;
mod hold;
pub mod origin;
mod path;
mod phase;
mod recording;
mod request_body;
mod tee;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::HeaderValue;
use tracegate_core::{Provider, Trace};

use crate::error::ProxyError;
use crate::response_cache::ResponseCache;
use crate::upstream::Upstreams;
use phase::upstream::Sent;
use phase::Flow;
pub use recording::RecordSink;
use recording::Recording;

/// What the proxy handler needs.
#[derive(Debug)]
pub struct ProxyState {
    pub upstreams: Upstreams,
    pub sink: Arc<RecordSink>,
    pub max_body_bytes: usize,
    /// Time the client has to send the whole body (408 past it).
    pub body_read_timeout: std::time::Duration,
    /// Which browser pages may use the proxy.
    pub origins: origin::OriginPolicy,
    pub response_cache: ResponseCache,
    /// How clients authenticate (`auth`).
    pub auth: crate::config::AuthMode,
    /// The virtual keys, when `auth` uses them.
    pub keys: Option<crate::keys::KeyCache>,
    /// Rate limits and budgets, and their counters.
    pub limits: crate::limits::Limits,
}

/// `ANY /v1/*`: forwards the request and records it.
pub async fn handle(
    State(state): State<Arc<ProxyState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let route = classify::classify(&parts.method, parts.uri.path(), &parts.headers);
    let mut trace = Trace::begin(route.provider, parts.method.as_str(), parts.uri.path());
    trace.client_ip = Some(peer.ip().to_string());
    trace.user_agent = headers::user_agent(&parts.headers);
    let mut rec = Recording::begin(state.sink.clone(), trace, started);
    match forward(&state, &mut rec, &route, parts, body).await {
        Ok((Flow::Continue(sent), granted)) => {
            let resp = phase::respond::respond(&state, rec, route.provider, sent);
            phase::limits::stamp(resp, route.provider, granted)
        }
        Ok((Flow::Answer(answer), granted)) => {
            phase::limits::stamp(answer.send(&state, rec), route.provider, granted)
        }
        Err(err) => reject(rec, err, route.provider),
    }
}

/// Answers a request the gateway itself refused or could not serve, and records it.
fn reject(rec: Recording, err: ProxyError, provider: Provider) -> Response {
    tracing::debug!(kind = err.kind(), message = %err.message, "request not proxied");
    let id = rec.trace_id();
    let status = err.status.as_u16();
    let (outcome, message) = (err.outcome, err.message.clone());
    let durable = rec.finish(|t| {
        t.status = Some(status);
        t.outcome = outcome;
        t.error = Some(message);
    });
    let mut resp = err.into_response_for(provider);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(headers::REQUEST_ID_HEADER, v);
    }
    hold::until_durable(resp, durable)
}

/// The phases in order (see `proxy/phase.rs`). A phase's refusal comes back as the error,
/// which the caller answers and records with [`reject`]; the recording stays with the
/// caller until the response body takes it. Besides the flow, where the request's limits
/// stand, for the response headers.
async fn forward(
    state: &ProxyState,
    rec: &mut Recording,
    route: &classify::Route,
    parts: http::request::Parts,
    body: Body,
) -> Result<(Flow<Sent>, phase::limits::Granted), ProxyError> {
    let key = phase::auth::authenticate(state, rec, &parts.headers).await?;
    let read = phase::read::read(state, rec, route, &parts, body).await?;
    phase::auth::authorize_model(key.as_deref(), &read)?;
    let granted = phase::limits::check(state, rec, key.as_deref()).await?;
    let routed = match phase::route::route(state, rec, route, &parts, &read).await? {
        Flow::Continue(routed) => routed,
        Flow::Answer(answer) => return Ok((Flow::Answer(answer), granted)),
    };
    let sent = phase::upstream::send(&state.upstreams, rec, route, parts, read, routed).await?;
    Ok((Flow::Continue(sent), granted))
}
