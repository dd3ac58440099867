//! The admin token that guards `/api`. Without a token `/api` is open only on loopback,
//! and `serve` refuses to start on any other address.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Secret;
use crate::error::ApiError;

/// The admin token's SHA-256, or nothing when no token is set. An empty or blank token is
/// no token, here as in `serve`'s start-up check.
#[derive(Debug, Clone)]
pub struct AdminAuth {
    token_digest: Option<Arc<[u8; 32]>>,
}

impl AdminAuth {
    pub fn new(token: Option<Secret>) -> Self {
        AdminAuth {
            token_digest: token
                .filter(|t| !t.expose().trim().is_empty())
                .map(|t| Arc::new(digest(t.expose()))),
        }
    }

    /// Whether a token is required.
    pub fn is_required(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Compares digests, so the time taken says nothing about the token's bytes or length.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.token_digest else {
            return true;
        };
        let Some(given) = authorization.map(tracegate_core::account::bearer_token) else {
            return false;
        };
        bool::from(digest(given).ct_eq(token.as_ref()))
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

pub async fn require_admin(
    State(auth): State<AdminAuth>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.allows(header) {
        req.extensions_mut()
            .insert(super::principal::Principal::Admin);
        next.run(req).await
    } else {
        ApiError::unauthorized().into_response()
    }
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
}
