//! Phase 5, send upstream: the request as the upstream gets it (`stream_options.
//! include_usage` added to a streamed chat completion that did not ask for usage), listed
//! in flight, then sent through [`Upstream::send`], which owns the deadline, the shutdown
//! cut and transport errors.

use http::request::Parts;
use hyper::body::Incoming;

use super::read::Read;
use super::route::Routed;
use crate::error::ProxyError;
use crate::proxy::cache::CacheFill;
use crate::proxy::classify::Route;
use crate::proxy::recording::Recording;
use crate::proxy::request_body;
use crate::upstream::Outgoing;

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
    let response = upstream.send(outgoing, deadline, rec.cut()).await?;
    rec.timing().upstream_answered();
    Ok(Sent {
        response,
        rewrite,
        deadline,
        timeouts: upstream.timeouts,
        fill,
    })
}
