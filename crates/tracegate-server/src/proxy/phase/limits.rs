//! Phase 3, limits and budgets: requests per minute, tokens per minute and per 5 hours,
//! USD per UTC day and month, from the `[limits]` config (per account) and the request's
//! virtual key (`crate::limits` has the policy and the counters). It runs once the account
//! (phase 1) is known and the body read (phase 2), before a route is chosen or the cache
//! consulted, so a refused request costs no upstream call.
//!
//! An admitted request has reserved its place under each request limit; its usage and
//! cost are counted when its trace is finished (the recording holds the charge). A refused
//! one is a 429 with `retry-after`, outcome `rate_limited`, the limit named in the error.

use axum::response::Response;
use tracegate_core::keys::VirtualKey;
use tracegate_core::Provider;

use crate::error::ProxyError;
use crate::limits::counters::Standing;
use crate::limits::headers;
use crate::proxy::recording::Recording;
use crate::proxy::ProxyState;

/// Where an admitted request's limits stand; `None` when no limit applies.
pub type Granted = Option<Vec<Standing>>;

/// Admits the request under every limit that applies, or refuses it.
pub async fn check(
    state: &ProxyState,
    rec: &mut Recording,
    key: Option<&VirtualKey>,
) -> Result<Granted, ProxyError> {
    let account = rec.trace_mut().and_then(|t| t.account.clone());
    let now_ms = chrono::Utc::now().timestamp_millis();
    match state.limits.admit(key, account.as_deref(), now_ms).await {
        Ok(None) => Ok(None),
        Ok(Some(admitted)) => {
            rec.charge_to(admitted.charge);
            Ok(Some(admitted.standings))
        }
        Err(refusal) => {
            state
                .sink
                .metrics
                .rate_limited(refusal.kind.label(), refusal.scope.label());
            let mut err = ProxyError::rate_limited(
                refusal.message(),
                refusal.openai_type(),
                refusal.retry_after_secs,
            );
            let provider = rec.trace_mut().map_or(Provider::Openai, |t| t.provider);
            headers::apply(err.headers_mut(), provider, &refusal.standings, now_ms);
            Err(err)
        }
    }
}

/// Puts the rate-limit headers of an admitted request on its response.
pub fn stamp(mut resp: Response, provider: Provider, granted: Granted) -> Response {
    if let Some(standings) = granted {
        let now_ms = chrono::Utc::now().timestamp_millis();
        headers::apply(resp.headers_mut(), provider, &standings, now_ms);
    }
    resp
}

#[cfg(test)]
mod tests;
