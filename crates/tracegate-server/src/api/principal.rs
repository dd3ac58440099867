//! Who is calling `/api`: the admin (the admin token, or an open loopback API), or the
//! holder of a virtual key with the `read` scope, who sees one account only. The auth
//! middleware puts the principal in the request's extensions; handlers take it as an
//! extractor and scope what they read by [`Principal::account`].

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Sees and may change everything.
    Admin,
    /// Sees only this account's traces and aggregates, and changes nothing but its own
    /// feedback.
    Account(String),
}

impl Principal {
    /// The account every read must be limited to, or `None` for the admin.
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Admin => None,
            Principal::Account(a) => Some(a),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin)
    }

    /// Whether a trace or conversation of `account` may be shown.
    pub fn sees(&self, account: Option<&str>) -> bool {
        match self {
            Principal::Admin => true,
            Principal::Account(own) => account == Some(own.as_str()),
        }
    }

    /// The account an analytics query is limited to, from its `account` parameter: for
    /// the admin what was asked (`None` for all); for an account its own, and asking for
    /// another is a 403 (that names nothing about the other).
    pub fn account_param(&self, asked: Option<&str>) -> Result<Option<String>, ApiError> {
        match (self, asked) {
            (Principal::Admin, asked) => Ok(asked.map(str::to_owned)),
            (Principal::Account(own), Some(a)) if a != own => {
                Err(ApiError::forbidden("a read key sees only its own account"))
            }
            (Principal::Account(own), _) => Ok(Some(own.clone())),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    /// A request that passed the auth middleware always has a principal; one that did not
    /// (a route mounted outside it) is refused rather than treated as the admin.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}
