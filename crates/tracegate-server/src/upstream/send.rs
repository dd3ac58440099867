//! The one way a request reaches an upstream. It owns the deadline, the shutdown cut and
//! the mapping of transport failures to the gateway's errors; the bulkhead, retries and
//! circuit breaker of the traffic policy belong here too. The body is taken as `Bytes`
//! so that a retry can send it again.

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::Full;
use hyper::body::Incoming;

use super::timeouts::BeforeHead;
use super::Upstream;
use crate::error::ProxyError;
use crate::proxy::headers;

/// A request as the client sent it, after the proxy's phases read and routed it.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub method: Method,
    /// The client's path and query, appended to the upstream's `base_url`.
    pub path_and_query: &'a str,
    /// The client's headers; hop-by-hop and gateway headers are dropped and the configured
    /// key is injected on the way out.
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Upstream {
    /// Sends `req` and waits for the response head until the headers timeout or `deadline`,
    /// whichever comes first. A `cut` that resolves first (shutdown) is a 503; a failed
    /// connection a 502; a timeout (connect, headers, total) a 504 that names it.
    pub async fn send(
        &self,
        req: Outgoing<'_>,
        deadline: tokio::time::Instant,
        cut: impl std::future::Future<Output = ()>,
    ) -> Result<http::Response<Incoming>, ProxyError> {
        let uri = format!("{}{}", self.base_url, req.path_and_query)
            .parse::<http::Uri>()
            .map_err(|e| ProxyError::bad_request(format!("bad request path: {e}")))?;
        let mut up_req = http::Request::new(Full::new(req.body));
        *up_req.method_mut() = req.method;
        *up_req.uri_mut() = uri;
        *up_req.headers_mut() =
            headers::upstream_request_headers(req.headers, self.provider, self.api_key.as_ref());
        let (head_by, which) = self
            .timeouts
            .head_deadline(tokio::time::Instant::now(), deadline);
        let sent = tokio::select! {
            r = tokio::time::timeout_at(head_by, self.client.request(up_req)) => r,
            () = cut => return Err(ProxyError::shutting_down()),
        };
        match sent {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(error)) if super::timeouts::is_connect_timeout(&error) => {
                Err(self.timeouts.before_head(&self.name, BeforeHead::Connect))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, upstream = %self.name, "upstream request failed");
                Err(ProxyError::unreachable(&self.name))
            }
            Err(_) => Err(self.timeouts.before_head(&self.name, which)),
        }
    }
}
