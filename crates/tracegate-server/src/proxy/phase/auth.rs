//! Phase 1, authenticate and authorise: who is asking, and whether they may. The phase
//! names the account the trace (and the response cache) is scoped to.
//!
//! - `auth = passthrough`: every request may; the account is the `x-tracegate-account`
//!   header, else a fingerprint of the client's credential.
//! - `auth = keys`: a virtual key (`x-api-key` or `authorization: Bearer`) is required and
//!   checked (`crate::keys`); its account is the trace's and `x-tracegate-account` is
//!   ignored. The upstream's own key replaces it on the way out (`api_key_env`, required).
//! - `auth = keys_or_passthrough`: a `tg-` credential is checked as in `keys`; anything
//!   else passes through as in `passthrough`.
//!
//! A missing, unknown, expired or revoked key is a 401 (outcome `unauthorized`); a key
//! without the `proxy` scope, or a model outside the key's globs ([`authorize_model`],
//! after the body is read), is a 403 (outcome `client_error`).
//!
//! It runs before the body is read, on the head alone: every trace, refused ones included,
//! carries its account, and a refused key will never cost a body read.

use std::sync::Arc;

use http::HeaderMap;
use tracegate_core::keys::{VirtualKey, KEY_PREFIX};

use crate::config::AuthMode;
use crate::error::ProxyError;
use crate::proxy::headers;
use crate::proxy::phase::read::Read;
use crate::proxy::recording::Recording;
use crate::proxy::ProxyState;

/// Checks the request's credential and stamps its account on the trace; the virtual key
/// the request came with, if any.
pub async fn authenticate(
    state: &ProxyState,
    rec: &mut Recording,
    headers: &HeaderMap,
) -> Result<Option<Arc<VirtualKey>>, ProxyError> {
    let credential = headers::client_credential(headers);
    let is_key = credential.is_some_and(|c| c.starts_with(KEY_PREFIX));
    let check = match state.auth {
        AuthMode::Passthrough => false,
        AuthMode::Keys => true,
        AuthMode::KeysOrPassthrough => is_key,
    };
    if !check {
        stamp(rec, headers::account(headers));
        return Ok(None);
    }
    // Until a key is accepted, the trace is charged to the credential's fingerprint.
    stamp(
        rec,
        credential.map(tracegate_core::account::credential_fingerprint),
    );
    let (Some(secret), true, Some(keys)) = (credential, is_key, state.keys.as_ref()) else {
        return Err(ProxyError::unauthorized(
            "a virtual key (tg-...) is required, as x-api-key or authorization: Bearer",
        ));
    };
    let key = keys
        .lookup(secret)
        .await
        .map_err(|e| {
            ProxyError::unavailable(format!(
                "virtual keys cannot be checked right now ({e}); retry"
            ))
        })?
        .ok_or_else(|| ProxyError::unauthorized("invalid virtual key"))?;
    key.usable_at(chrono::Utc::now())
        .map_err(|why| ProxyError::unauthorized(why.message()))?;
    stamp(rec, Some(key.account.clone()));
    if !key.scopes.proxy {
        return Err(ProxyError::forbidden("the virtual key has no proxy scope"));
    }
    Ok(Some(key))
}

/// Refuses a model outside the key's globs. A request without a model (listing models)
/// is allowed.
pub fn authorize_model(key: Option<&VirtualKey>, read: &Read) -> Result<(), ProxyError> {
    let (Some(key), Some(model)) = (key, read.peek.model.as_deref()) else {
        return Ok(());
    };
    match key.model_globs() {
        Some(globs) if !globs.is_match(model) => Err(ProxyError::forbidden(format!(
            "the virtual key may not use model {:?}",
            model.chars().take(200).collect::<String>()
        ))),
        _ => Ok(()),
    }
}

fn stamp(rec: &mut Recording, account: Option<String>) {
    if let Some(t) = rec.trace_mut() {
        t.account = account;
    }
}

#[cfg(test)]
mod tests;
