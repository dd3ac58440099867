//! The admin token that guards `/api`. Without a token `/api` is open only on loopback,
//! and `serve` refuses to start on any other address.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Secret;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct AdminAuth {
    token: Option<Arc<Secret>>,
}

impl AdminAuth {
    pub fn new(token: Option<Secret>) -> Self {
        AdminAuth {
            token: token.filter(|t| !t.expose().is_empty()).map(Arc::new),
        }
    }

    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(given) = authorization.map(tracegate_core::account::bearer_token) else {
            return false;
        };
        constant_time_eq(given.as_bytes(), token.expose().as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_admin(State(auth): State<AdminAuth>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.allows(header) {
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
    }
}
