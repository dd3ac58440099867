//! Phase 5, send upstream: the request as the upstream gets it (`stream_options.
//! include_usage` added to a streamed chat completion that did not ask for usage), listed
//! in flight, then sent through [`Upstreams::send`], which owns the deadline, the shutdown
//! cut, transport errors, and the traffic policy: bulkhead, retries, circuit breaker and
//! fallbacks. The tries it made go on the trace (`attempts`), the upstream that answered
//! in `upstream`, and the place it holds there stays with the recording.

use http::request::Parts;
use hyper::body::Incoming;

use super::read::Read;
use super::route::Routed;
use crate::error::ProxyError;
use crate::proxy::cache::CacheFill;
use crate::proxy::classify::Route;
use crate::proxy::recording::Recording;
use crate::proxy::request_body;
use crate::upstream::{Attempts, Outgoing, Upstreams};

/// The upstream's answer, head received, body still to come.
#[derive(Debug)]
pub struct Sent {
    pub response: http::Response<Incoming>,
    /// The gateway asked for stream usage the client did not: the usage chunk is dropped
    /// on the way back.
    pub rewrite: bool,
    /// When the whole exchange must be over (`timeout_secs` after arrival).
    pub deadline: tokio::time::Instant,
    /// The upstream's timeouts; the body enforces idle and total.
    pub timeouts: crate::upstream::Timeouts,
    pub fill: Option<Box<CacheFill>>,
}

/// Sends the request to the routed upstream and waits for the response head.
pub async fn send(
    upstreams: &Upstreams,
    rec: &mut Recording,
    route: &Route,
    parts: Parts,
    read: Read,
    routed: Routed<'_>,
) -> Result<Sent, ProxyError> {
    let Routed { upstream, fill } = routed;
    let rewrite = route.chat_completions && read.peek.is_stream() && !read.peek.asked_for_usage();
    let body = if rewrite {
        request_body::with_include_usage(&read.bytes)?
    } else {
        read.bytes
    };
    if let Some(t) = rec.trace_mut() {
        t.upstream = Some(upstream.name.clone());
    }
    rec.mark_in_flight();

    let deadline = tokio::time::Instant::from_std(rec.started()) + upstream.timeouts.total;
    let started = rec.started();
    rec.timing().upstream_sending(started);
    let outgoing = Outgoing {
        method: parts.method,
        path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: parts.headers,
        body,
    };
    let mut attempts = Attempts::default();
    let cut = rec.cut();
    let sent = upstreams
        .send(upstream, outgoing, deadline, cut, &mut attempts)
        .await;
    if let Some(t) = rec.trace_mut() {
        t.attempts = attempts.into_trace();
    }
    let delivered = sent?;
    if !std::ptr::eq(delivered.upstream, upstream) {
        if let Some(t) = rec.trace_mut() {
            t.upstream = Some(delivered.upstream.name.clone());
        }
    }
    rec.hold(delivered.lease);
    let response = delivered.response;
    rec.timing().upstream_answered();
    Ok(Sent {
        response,
        rewrite,
        deadline,
        timeouts: delivered.upstream.timeouts,
        fill,
    })
}
