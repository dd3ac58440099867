//! The proxy: `/v1/...` requests go to the right upstream, the response streams back
//! unchanged, and a trace of the exchange goes to the recorder.

mod admission;
mod cache;
mod classify;
pub mod headers;
pub mod origin;
mod path;
mod recording;
mod request_body;
mod tee;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http_body_util::Full;
use tracegate_core::{Provider, Trace};

use crate::error::ProxyError;
use crate::response_cache::ResponseCache;
use crate::upstream::Upstreams;
pub use recording::RecordSink;
use recording::Recording;
use request_body::Peek;
use tee::TeeBody;

/// What the proxy handler needs.
#[derive(Debug)]
pub struct ProxyState {
    pub upstreams: Upstreams,
    pub sink: Arc<RecordSink>,
    pub max_body_bytes: usize,
    /// Which browser pages may use the proxy.
    pub origins: origin::OriginPolicy,
    pub response_cache: ResponseCache,
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
    trace.account = headers::account(&parts.headers);
    let rec = Recording::begin(state.sink.clone(), trace, started);
    match forward(&state, rec, route, parts, body).await {
        Ok(resp) => resp,
        Err((rec, err)) => reject(rec, err, route.provider),
    }
}

/// Answers a request the gateway itself refused or could not serve, and records it.
fn reject(rec: Recording, err: ProxyError, provider: Provider) -> Response {
    tracing::debug!(kind = err.kind(), message = %err.message, "request not proxied");
    let id = rec.trace_id();
    let status = err.status.as_u16();
    let (outcome, message) = (err.outcome, err.message.clone());
    rec.finish(|t| {
        t.status = Some(status);
        t.outcome = outcome;
        t.error = Some(message);
    });
    let mut resp = err.into_response_for(provider);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(headers::REQUEST_ID_HEADER, v);
    }
    resp
}

type Rejected = (Recording, ProxyError);

async fn forward(
    state: &ProxyState,
    mut rec: Recording,
    route: classify::Route,
    parts: http::request::Parts,
    body: Body,
) -> Result<Response, Rejected> {
    // The recording moves into the response body once the upstream answers; until then
    // errors hand it back to the caller so the rejection is recorded too.
    fn fail(rec: Recording, e: ProxyError) -> Rejected {
        (rec, e)
    }
    let provider = route.provider;
    if let Err(e) = admission::admit(&state.origins, &route, &parts) {
        return Err(fail(rec, e));
    }
    let bytes = match request_body::read_limited(&parts.headers, body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return Err(fail(rec, e)),
    };
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
    if let Err(m) = metadata {
        return Err(fail(rec, ProxyError::bad_request(m)));
    }
    let peek = match peek {
        Ok(p) => p,
        Err(e) => return Err(fail(rec, e)),
    };
    let Some(upstream) = state.upstreams.route(provider, peek.model.as_deref()) else {
        let what = peek
            .model
            .as_deref()
            .map_or_else(String::new, |m| format!(" for model {m:?}"));
        return Err(fail(
            rec,
            ProxyError::no_route(format!("no {provider} upstream is configured{what}")),
        ));
    };
    let lookup = cache::lookup(
        &state.response_cache,
        cache::Request {
            parts: &parts,
            provider,
            upstream,
            account: rec.trace_mut().and_then(|t| t.account.as_deref()),
            body: &bytes,
        },
    )
    .await;
    let mut fill = match lookup {
        Ok(cache::Phase::Off) => None,
        Ok(cache::Phase::Miss(fill)) => Some(fill),
        Ok(cache::Phase::Hit(hit)) => {
            if let Some(t) = rec.trace_mut() {
                t.upstream = Some(upstream.name.clone());
            }
            return Ok(cache::answer(rec, state.sink.prices.table(), &hit));
        }
        Err(e) => return Err(fail(rec, e)),
    };
    let rewrite = route.chat_completions && peek.is_stream() && !peek.asked_for_usage();
    let upstream_body = if rewrite {
        match request_body::with_include_usage(&bytes) {
            Ok(b) => b,
            Err(e) => return Err(fail(rec, e)),
        }
    } else {
        bytes
    };
    if let Some(t) = rec.trace_mut() {
        t.upstream = Some(upstream.name.clone());
    }
    rec.mark_in_flight();

    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = match format!("{}{}", upstream.base_url, path_and_query).parse::<http::Uri>() {
        Ok(u) => u,
        Err(e) => {
            return Err(fail(
                rec,
                ProxyError::bad_request(format!("bad request path: {e}")),
            ))
        }
    };
    let mut up_req = http::Request::new(Full::new(upstream_body));
    *up_req.method_mut() = parts.method;
    *up_req.uri_mut() = uri;
    *up_req.headers_mut() =
        headers::upstream_request_headers(parts.headers, provider, upstream.api_key.as_ref());

    let deadline = tokio::time::Instant::from_std(rec.started()) + upstream.timeout;
    let cut = rec.cut();
    let started = rec.started();
    rec.timing().upstream_sending(started);
    let sent = tokio::select! {
        r = tokio::time::timeout_at(deadline, upstream.client.request(up_req)) => r,
        () = cut => return Err(fail(rec, ProxyError::shutting_down())),
    };
    let resp = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(error)) => {
            tracing::warn!(%error, upstream = %upstream.name, "upstream request failed");
            return Err(fail(rec, ProxyError::unreachable(&upstream.name)));
        }
        Err(_) => return Err(fail(rec, ProxyError::timeout(&upstream.name))),
    };

    rec.timing().upstream_answered();
    let (mut head, incoming) = resp.into_parts();
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
    let sleep = Box::pin(tokio::time::sleep_until(deadline));
    let mut body = if is_sse {
        TeeBody::sse(incoming, rec, sleep, provider, status, rewrite)
    } else {
        TeeBody::plain(incoming, rec, sleep, provider, status, state.max_body_bytes)
    }
    .with_cache_fill(fill);
    body.response_ready();
    Ok(Response::from_parts(head, Body::new(body)).into_response())
}
