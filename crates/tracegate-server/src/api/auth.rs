//! Who may call `/api`, and as whom ([`Principal`]).
//!
//! - `Authorization: Bearer <admin token>`: the admin. Without a token `/api` is open to
//!   any request on loopback (`serve` refuses to start on any other address), as the admin.
//! - A virtual key with the `read` scope (`Authorization: Bearer tg-...` or
//!   `x-api-key: tg-...`), checked through the proxy's [`KeyCache`] (a revoked or expired
//!   key is refused at once): that key's account, and only the routes in [`READ_ROUTES`].
//! - The dashboard's session cookie (`session/cookie.rs`), for either of the above; a
//!   state-changing request it authenticates must come from the same origin (`csrf.rs`).
//!
//! A missing or wrong credential is a 401, a key without the `read` scope or a read key on
//! an admin route a 403; every refusal is logged.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use tracegate_core::keys::{VirtualKey, KEY_PREFIX};

use super::csrf;
use super::principal::Principal;
use super::session::cookie::{self, Session, SessionKind, SessionSigner};
use crate::config::Secret;
use crate::error::ApiError;
use crate::keys::KeyCache;

/// The routes (as registered under `/api/v1`) a read key may call; every other route is
/// the admin's. A new route is thus admin-only until it scopes what it answers and is
/// added here.
pub const READ_ROUTES: [&str; 15] = [
    "/traces",
    "/traces/search",
    "/traces/export",
    "/traces/{id}",
    "/traces/{id}/feedback",
    "/stats/inflight",
    "/conversations",
    "/conversations/{id}",
    "/usage/window",
    "/usage/daily",
    "/usage/accounts",
    "/stats",
    "/stats/slowest",
    "/openapi.json",
    // The live feed filters by `Principal::account` itself.
    "/live",
];

/// The admin token's SHA-256 (or nothing when no token is set) and the session cookie's
/// signer, derived from it. An empty or blank token is no token, here as in `serve`'s
/// start-up check.
#[derive(Debug, Clone)]
pub struct AdminAuth {
    token_digest: Option<Arc<[u8; 32]>>,
    signer: Arc<SessionSigner>,
}

impl AdminAuth {
    pub fn new(token: Option<Secret>) -> Self {
        let token_digest = token
            .filter(|t| !t.expose().trim().is_empty())
            .map(|t| Arc::new(digest(t.expose())));
        AdminAuth {
            signer: Arc::new(SessionSigner::new(token_digest.as_deref())),
            token_digest,
        }
    }

    /// Whether a token is required.
    pub fn is_required(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Whether `authorization` (a header value) passes: always without a token.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        if !self.is_required() {
            return true;
        }
        authorization
            .map(tracegate_core::account::bearer_token)
            .is_some_and(|t| self.is_token(t))
    }

    /// Whether `token` is the admin token. Compares digests, so the time taken says
    /// nothing about the token's bytes or length.
    pub fn is_token(&self, token: &str) -> bool {
        self.token_digest
            .as_ref()
            .is_some_and(|d| bool::from(digest(token).ct_eq(d.as_ref())))
    }

    /// The session cookie's signer.
    pub fn signer(&self) -> &SessionSigner {
        &self.signer
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// What the auth middleware and the session routes need.
#[derive(Debug, Clone)]
pub struct Gate {
    pub admin: AdminAuth,
    pub keys: KeyCache,
}

/// Where the credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization` or `x-api-key`.
    Header,
    /// The session cookie.
    Cookie,
    /// No credential: the open API on loopback.
    Nothing,
}

/// Who is calling, how they proved it, and the key when it was one.
#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: Principal,
    pub via: Via,
    pub key: Option<Arc<VirtualKey>>,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::with_status(StatusCode::UNAUTHORIZED, message)
}

impl Gate {
    /// The credential of a request's headers: the header, else the cookie.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(tracegate_core::account::bearer_token)
                .filter(|t| !t.is_empty())
        };
        if let Some(token) = header("authorization").or(header("x-api-key")) {
            return self.token(token).await.map(|(principal, key)| Identity {
                principal,
                via: Via::Header,
                key,
            });
        }
        if let Some(value) = cookie::from_headers(headers) {
            let now = chrono::Utc::now().timestamp();
            match self.admin.signer().verify(value, now) {
                Some(session) => return self.session(session).await,
                // A stale cookie on the open API (a restart drew a new signing key) is no
                // credential at all.
                None if self.admin.is_required() => {
                    return Err(unauthorized(
                        "the session has expired or is not valid: log in again",
                    ))
                }
                None => {}
            }
        }
        if self.admin.is_required() {
            return Err(ApiError::unauthorized());
        }
        Ok(Identity {
            principal: Principal::Admin,
            via: Via::Nothing,
            key: None,
        })
    }

    /// The principal a token (the admin token or a read key) stands for.
    pub async fn token(
        &self,
        token: &str,
    ) -> Result<(Principal, Option<Arc<VirtualKey>>), ApiError> {
        if token.starts_with(KEY_PREFIX) {
            let key = self
                .keys
                .lookup(token)
                .await
                .map_err(|e| ApiError::unavailable(format!("keys cannot be checked: {e}")))?
                .ok_or_else(|| unauthorized("invalid virtual key"))?;
            return check_read(key);
        }
        if !self.admin.is_required() || self.admin.is_token(token) {
            return Ok((Principal::Admin, None));
        }
        Err(ApiError::unauthorized())
    }

    async fn session(&self, session: Session) -> Result<Identity, ApiError> {
        let (principal, key) = match session.kind {
            SessionKind::Admin => (Principal::Admin, None),
            SessionKind::Key(id) => {
                let key = self
                    .keys
                    .lookup_id(id)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("keys cannot be checked: {e}")))?
                    .ok_or_else(|| unauthorized("the session's key no longer exists"))?;
                check_read(key)?
            }
        };
        Ok(Identity {
            principal,
            via: Via::Cookie,
            key,
        })
    }
}

/// A usable key with the `read` scope, as its account.
fn check_read(key: Arc<VirtualKey>) -> Result<(Principal, Option<Arc<VirtualKey>>), ApiError> {
    key.usable_at(chrono::Utc::now())
        .map_err(|why| unauthorized(why.message()))?;
    if !key.scopes.read {
        return Err(ApiError::forbidden("the virtual key has no read scope"));
    }
    Ok((Principal::Account(key.account.clone()), Some(key)))
}

/// Whether a read key may call the route matched as `path`.
pub fn read_route(path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    READ_ROUTES.contains(&path)
}

/// The admin token alone (`Authorization: Bearer`), for `/metrics`.
pub async fn require_admin(State(auth): State<AdminAuth>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.allows(header) {
        next.run(req).await
    } else {
        refuse("/metrics", ApiError::unauthorized())
    }
}

/// The `/api` middleware: identifies the caller, applies the CSRF and route rules, and
/// puts the [`Principal`] in the request's extensions.
pub async fn authenticate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let identity = match gate.identify(req.headers()).await {
        Ok(i) => i,
        Err(e) => return refuse(&route, e),
    };
    let forged = match identity.via {
        Via::Cookie => csrf::refused(req.method(), req.headers()),
        Via::Nothing => csrf::changes_state(req.method()) && csrf::cross_site(req.headers()),
        Via::Header => false,
    };
    if forged {
        return refuse(
            &route,
            ApiError::forbidden("a cross-site request: Origin does not match the host"),
        );
    }
    if !identity.principal.is_admin() && !read_route(&route) {
        return refuse(
            &route,
            ApiError::forbidden("this route is for the admin; a read key may not call it"),
        );
    }
    req.extensions_mut().insert(identity.principal);
    next.run(req).await
}

fn refuse(route: &str, e: ApiError) -> Response {
    tracing::info!(route, status = e.status.as_u16(), reason = %e.message, "api request refused");
    e.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_checked_when_set() {
        let open = AdminAuth::new(None);
        assert!(open.allows(None));
        let auth = AdminAuth::new(Some(Secret::new("s3cret")));
        assert!(auth.allows(Some("Bearer s3cret")));
        assert!(!auth.allows(Some("Bearer s3cre")));
        assert!(!auth.allows(None));
        assert!(AdminAuth::new(Some(Secret::new(""))).allows(None));
        assert!(!AdminAuth::new(Some(Secret::new(" \t"))).is_required());
        assert!(auth.is_required());
    }

    #[test]
    fn read_routes_are_named_with_or_without_the_prefix() {
        assert!(read_route("/api/v1/traces/{id}"));
        assert!(read_route("/usage/window"));
        assert!(!read_route("/api/v1/keys"));
        assert!(!read_route("/api/v1/diagnostics"));
        assert!(!read_route(""));
    }
}
