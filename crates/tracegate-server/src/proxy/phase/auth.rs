//! Phase 1, authenticate and authorise: who is asking, and whether they may. Today every
//! request may; the phase names the account the trace (and the response cache) is scoped
//! to: the `x-tracegate-account` header, else a fingerprint of the client's credential.
//! Virtual keys are checked here.
//!
//! It runs before the body is read, on the head alone: every trace, refused ones included,
//! carries its account, and a refused key will never cost a body read.

use http::HeaderMap;

use crate::error::ProxyError;
use crate::proxy::headers;
use crate::proxy::recording::Recording;

/// Stamps the request's account on the trace. Never refuses yet.
pub fn authenticate(rec: &mut Recording, headers: &HeaderMap) -> Result<(), ProxyError> {
    if let Some(t) = rec.trace_mut() {
        t.account = headers::account(headers);
    }
    Ok(())
}
