//! Phase 4, route: the upstream that serves the request's provider and model (404 when
//! none is configured), then the response cache lookup (`proxy/cache.rs`), which answers a
//! hit here.

use http::request::Parts;

use super::read::Read;
use super::{Answer, Flow};
use crate::error::ProxyError;
use crate::proxy::cache::{self, CacheFill};
use crate::proxy::classify::Route;
use crate::proxy::recording::Recording;
use crate::proxy::ProxyState;
use crate::upstream::Upstream;

/// Where a request that was not answered from the cache goes.
#[derive(Debug)]
pub struct Routed<'a> {
    pub upstream: &'a Upstream,
    /// Stores the upstream's answer on a cache miss.
    pub fill: Option<Box<CacheFill>>,
}

/// Picks the upstream and looks the request up in the response cache.
pub async fn route<'a>(
    state: &'a ProxyState,
    rec: &mut Recording,
    route: &Route,
    parts: &Parts,
    read: &Read,
) -> Result<Flow<Routed<'a>>, ProxyError> {
    let provider = route.provider;
    let model = read.peek.model.as_deref();
    let Some(upstream) = state.upstreams.route(provider, model) else {
        let what = model.map_or_else(String::new, |m| format!(" for model {m:?}"));
        return Err(ProxyError::no_route(format!(
            "no {provider} upstream is configured{what}"
        )));
    };
    let lookup = cache::lookup(
        &state.response_cache,
        cache::Request {
            parts,
            provider,
            upstream,
            account: rec.trace_mut().and_then(|t| t.account.as_deref()),
            body: &read.bytes,
        },
    )
    .await?;
    let fill = match lookup {
        cache::Phase::Off => None,
        cache::Phase::Miss(fill) => Some(fill),
        cache::Phase::Hit(hit) => {
            if let Some(t) = rec.trace_mut() {
                t.upstream = Some(upstream.name.clone());
            }
            return Ok(Flow::Answer(Answer::Cached(hit)));
        }
    };
    Ok(Flow::Continue(Routed { upstream, fill }))
}
