//! The cache phase of the proxy: after the request is read and routed (the account and
//! upstream known), before the upstream call. A hit is answered here and recorded with
//! outcome `cache_hit`; a miss goes upstream with a [`CacheFill`] that stores the answer
//! when its body ends whole (`TeeBody`).
//!
//! When no TTL applies (no `cache_ttl_secs` on the upstream, no `X-Tracegate-Cache`
//! header) nothing is parsed or hashed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};
use serde_json::Value;
use tracegate_core::pricing::PriceTable;
use tracegate_core::{Outcome, Trace};

use super::headers::REQUEST_ID_HEADER;
use super::recording::Recording;
use crate::error::ProxyError;
use crate::response_cache::policy::{self, CACHE_HEADER};
use crate::response_cache::{CacheKey, CachedResponse, KeyInput, ResponseCache, KEYED_HEADERS};
use crate::upstream::Upstream;

/// What the cache phase decided.
#[derive(Debug)]
pub enum Phase {
    /// The cache does not apply to this request.
    Off,
    /// Answer with this.
    Hit(Arc<CachedResponse>),
    /// Go upstream; the answer may be stored.
    Miss(Box<CacheFill>),
}

/// The request as the cache phase sees it.
pub struct Request<'a> {
    pub parts: &'a http::request::Parts,
    pub provider: tracegate_core::Provider,
    pub upstream: &'a Upstream,
    pub account: Option<&'a str>,
    pub body: &'a [u8],
}

/// Looks the request up, if a TTL applies to it. A malformed `X-Tracegate-Cache` is the
/// client's error (400).
pub async fn lookup(cache: &ResponseCache, req: Request<'_>) -> Result<Phase, ProxyError> {
    let directive = policy::directive(&req.parts.headers).map_err(ProxyError::bad_request)?;
    if !cache.is_enabled() {
        return Ok(Phase::Off);
    }
    let Some((ttl, source)) = policy::ttl(directive, req.upstream.cache_ttl) else {
        return Ok(Phase::Off);
    };
    if !policy::cacheable_endpoint(&req.parts.method, req.parts.uri.path()) {
        return Ok(Phase::Off);
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return Ok(Phase::Off);
    };
    if !policy::admits(source, &body) {
        return Ok(Phase::Off);
    }
    let headers = KEYED_HEADERS.map(|h| req.parts.headers.get(h).and_then(|v| v.to_str().ok()));
    let key = KeyInput {
        account: req.account,
        upstream: &req.upstream.name,
        provider: req.provider,
        method: req.parts.method.as_str(),
        path_and_query: req.parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        headers,
        body: &body,
    }
    .key();
    Ok(match cache.lookup(&key).await {
        Some(hit) => Phase::Hit(hit),
        None => Phase::Miss(Box::new(CacheFill::new(cache.clone(), key, ttl))),
    })
}

/// Answers a hit and records its trace: outcome `cache_hit`, the cached answer's usage
/// and model, cost 0, and what the upstream would have charged in `cache_saved_usd`.
pub fn answer(rec: Recording, prices: &PriceTable, hit: &CachedResponse) -> Response {
    let id = rec.trace_id();
    let ms = rec.elapsed_ms();
    let durable = rec.finish(|t| {
        t.status = Some(hit.status);
        t.outcome = Outcome::CacheHit;
        t.ttft_ms = Some(ms);
        t.model = hit.model.clone().or(t.model.take());
        t.usage = hit.usage;
        t.cost_usd = Some(0.0);
        let model = t.model.as_deref().or(t.model_requested.as_deref());
        t.cache_saved_usd = model
            .and_then(|m| prices.cost(m, &hit.usage))
            .map(|c| (c * 1e12).round() / 1e12);
        t.response_body = hit.trace_body.clone();
    });
    let mut resp = Response::new(Body::from(hit.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(hit.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    if let Some(ct) = &hit.content_type {
        h.insert(header::CONTENT_TYPE, ct.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    h.insert(CACHE_HEADER, HeaderValue::from_static("hit"));
    super::hold::until_durable(resp, durable)
}

/// Marks a response that went upstream after a lookup.
pub fn mark_miss(headers: &mut http::HeaderMap) {
    headers.insert(CACHE_HEADER, HeaderValue::from_static("miss"));
}

/// Collects the answer to a miss and stores it when the body ends whole.
#[derive(Debug)]
pub struct CacheFill {
    cache: ResponseCache,
    key: CacheKey,
    ttl: Duration,
    /// A stream: the bytes sent to the client are collected by `push`.
    sse: bool,
    content_type: Option<HeaderValue>,
    buf: BytesMut,
    /// More than the cache keeps: nothing will be stored.
    over: bool,
}

impl CacheFill {
    fn new(cache: ResponseCache, key: CacheKey, ttl: Duration) -> Self {
        CacheFill {
            cache,
            key,
            ttl,
            sse: false,
            content_type: None,
            buf: BytesMut::new(),
            over: false,
        }
    }

    /// What the upstream's response head said.
    pub fn response(&mut self, sse: bool, content_type: Option<HeaderValue>) {
        self.sse = sse;
        self.content_type = content_type;
    }

    /// Bytes of a stream as the client gets them.
    pub fn push(&mut self, data: &[u8]) {
        if self.over {
            return;
        }
        if self.buf.len() + data.len() > self.cache.max_entry_bytes() {
            self.over = true;
            self.buf = BytesMut::new();
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// The upstream body ended: stores the answer if it is a whole 200 the trace found
    /// nothing wrong with (no error event, no truncation, a finished stream).
    pub fn finish(self, status: u16, t: &Trace) {
        let whole = status == 200 && t.outcome == Outcome::Ok && t.error.is_none() && !self.over;
        let body = if self.sse {
            self.buf.freeze()
        } else {
            t.response_body.clone()
        };
        if !whole || body.is_empty() {
            self.cache.not_stored();
            return;
        }
        let trace_body: Bytes = t.response_body.clone();
        let value = CachedResponse {
            status,
            content_type: self.content_type,
            body,
            trace_body,
            model: t.model.clone(),
            usage: t.usage,
        };
        self.cache.store(self.key, value, self.ttl);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracegate_core::Provider;

    use super::*;
    use crate::config::{UpstreamConfig, UpstreamKind};
    use crate::upstream::Upstreams;

    fn upstreams(ttl: Option<u64>) -> Upstreams {
        let mut c = UpstreamConfig::new("anthropic", UpstreamKind::Anthropic, "http://127.0.0.1:1");
        c.cache_ttl_secs = ttl;
        Upstreams::build(&[c]).unwrap()
    }

    fn parts(path: &str, header: Option<&'static str>) -> http::request::Parts {
        let mut b = http::Request::builder().method("POST").uri(path);
        if let Some(v) = header {
            b = b.header(CACHE_HEADER, v);
        }
        b.body(()).unwrap().into_parts().0
    }

    async fn phase(
        cache: &ResponseCache,
        ups: &Upstreams,
        parts: &http::request::Parts,
        body: &str,
    ) -> Result<Phase, ProxyError> {
        let upstream = ups.route(Provider::Anthropic, Some("m")).unwrap();
        lookup(
            cache,
            Request {
                parts,
                provider: Provider::Anthropic,
                upstream,
                account: Some("alice"),
                body: body.as_bytes(),
            },
        )
        .await
    }

    const ZERO: &str = r#"{"model":"m","max_tokens":5,"temperature":0,"messages":[]}"#;
    const SAMPLED: &str = r#"{"model":"m","max_tokens":5,"temperature":0.7,"messages":[]}"#;

    fn fill_of(p: Phase) -> Box<CacheFill> {
        match p {
            Phase::Miss(f) => f,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    fn ok_trace(body: &'static str) -> Trace {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.response_body = Bytes::from_static(body.as_bytes());
        t
    }

    #[tokio::test]
    async fn a_miss_stores_a_whole_answer_and_the_next_lookup_hits() {
        let cache = ResponseCache::in_memory(1 << 20);
        let ups = upstreams(Some(60));
        let p = parts("/v1/messages", None);
        let mut fill = fill_of(phase(&cache, &ups, &p, ZERO).await.unwrap());
        fill.response(false, Some(HeaderValue::from_static("application/json")));
        fill.finish(200, &ok_trace("{\"id\":1}"));
        match phase(&cache, &ups, &p, ZERO).await.unwrap() {
            Phase::Hit(h) => assert_eq!(&h.body[..], b"{\"id\":1}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn errors_and_broken_answers_are_not_stored() {
        let cache = ResponseCache::in_memory(1 << 20);
        let ups = upstreams(Some(60));
        let p = parts("/v1/messages", None);
        let mut failed = ok_trace("{}");
        failed.outcome = Outcome::UpstreamError;
        let mut noted = ok_trace("{}");
        noted.error = Some("stored truncated".into());
        for (status, t) in [(500, ok_trace("{}")), (200, failed), (200, noted)] {
            let fill = fill_of(phase(&cache, &ups, &p, ZERO).await.unwrap());
            fill.finish(status, &t);
        }
        let mut big = fill_of(phase(&cache, &ups, &p, ZERO).await.unwrap());
        big.response(true, None);
        big.push(&vec![b'x'; cache.max_entry_bytes() + 1]);
        big.finish(200, &ok_trace("{}"));
        assert!(matches!(
            phase(&cache, &ups, &p, ZERO).await.unwrap(),
            Phase::Miss(_)
        ));
        assert_eq!(cache.stats().not_stored, 4);
    }

    #[tokio::test]
    async fn the_upstream_setting_skips_sampled_requests_and_the_header_does_not() {
        let cache = ResponseCache::in_memory(1 << 20);
        let on = upstreams(Some(60));
        let off = upstreams(None);
        let plain = parts("/v1/messages", None);
        let asked = parts("/v1/messages", Some("ttl=30"));
        let bypass = parts("/v1/messages", Some("no-store"));
        let is_off = |p: &Phase| matches!(p, Phase::Off);
        assert!(is_off(&phase(&cache, &on, &plain, SAMPLED).await.unwrap()));
        assert!(!is_off(&phase(&cache, &on, &plain, ZERO).await.unwrap()));
        assert!(is_off(&phase(&cache, &off, &plain, ZERO).await.unwrap()));
        assert!(!is_off(
            &phase(&cache, &off, &asked, SAMPLED).await.unwrap()
        ));
        assert!(is_off(&phase(&cache, &on, &bypass, ZERO).await.unwrap()));
        let count = parts("/v1/messages/count_tokens", Some("ttl=30"));
        assert!(is_off(&phase(&cache, &on, &count, ZERO).await.unwrap()));
        let bad = parts("/v1/messages", Some("forever"));
        let e = phase(&cache, &on, &bad, ZERO).await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        // With the cache off, nothing is looked up at all.
        let none = ResponseCache::disabled();
        assert!(is_off(&phase(&none, &on, &asked, ZERO).await.unwrap()));
        assert_eq!(none.stats().misses, 0);
    }
}
