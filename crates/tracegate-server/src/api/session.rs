//! `/api/v1/session`: the dashboard's log-in. `POST` trades the admin token or a
//! read-scoped virtual key for a signed `HttpOnly` cookie (`cookie.rs`), `DELETE` clears it,
//! `GET` tells a page whether it needs to log in and as whom it is. These routes take no
//! credential of their own (they sit outside the auth middleware), and the token is never
//! echoed, logged or put in a URL.

pub mod cookie;

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tracegate_core::keys::KEY_PREFIX;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Gate;
use super::csrf;
use super::principal::Principal;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};
use cookie::{Session, SessionKind, SESSION_TTL_SECS};

/// The session routes, to be nested under `/api/v1` outside the auth middleware, with a
/// [`Gate`] extension.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(info, login, logout))
}

/// The log-in body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The admin token, or a virtual key with the `read` scope.
    pub token: String,
}

/// Whether the API needs a log-in, and who the request is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Whether `/api` needs a credential (an admin token is set).
    pub auth_required: bool,
    /// `admin`, `account` (a read key's holder), or `null` when the request has no valid
    /// credential.
    pub principal: Option<&'static str>,
    /// The account a read key sees, `null` otherwise.
    pub account: Option<String>,
}

/// Whether a log-in is needed, and who the request's credential (cookie or header) is.
#[utoipa::path(get, path = "/session", tag = "session", operation_id = "get_session",
    security(()),
    responses((status = 200, description = "Who the caller is", body = SessionInfo)))]
async fn info(Extension(gate): Extension<Gate>, headers: HeaderMap) -> Json<SessionInfo> {
    let principal = gate.identify(&headers).await.ok().map(|i| i.principal);
    Json(SessionInfo {
        auth_required: gate.admin.is_required(),
        principal: principal.as_ref().map(|p| match p {
            Principal::Admin => "admin",
            Principal::Account(_) => "account",
        }),
        account: principal
            .as_ref()
            .and_then(|p| p.account().map(str::to_owned)),
    })
}

/// Logs in: sets the `tracegate_session` cookie (`HttpOnly; SameSite=Strict`, `Secure`
/// behind HTTPS) for the admin token or a read-scoped virtual key.
#[utoipa::path(post, path = "/session", tag = "session", operation_id = "create_session",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 204, description = "Logged in; the cookie is set"),
        (status = 400, description = "Not a `{\"token\": ...}` body", body = ErrorBody),
        (status = 401, description = "A wrong token, or no admin token to log in with", body = ErrorBody),
        (status = 403, description = "A key without the read scope, or a cross-site request", body = ErrorBody),
    ))]
async fn login(
    Extension(gate): Extension<Gate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if csrf::cross_site(&headers) {
        return Err(refused(ApiError::forbidden(
            "a cross-site request: Origin does not match the host",
        )));
    }
    let body: LoginBody = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "the body must be {\"token\": \"...\"}",
            Some("/token".into()),
        )
    })?;
    let token = body.token.trim();
    if !token.starts_with(KEY_PREFIX) && !gate.admin.is_required() {
        return Err(refused(ApiError::with_status(
            StatusCode::UNAUTHORIZED,
            "no admin token is set: the API is open on loopback without logging in",
        )));
    }
    let (_, key) = gate.token(token).await.map_err(refused)?;
    let now = chrono::Utc::now().timestamp();
    let mut expires_at = now.saturating_add(SESSION_TTL_SECS);
    let kind = match &key {
        Some(k) => {
            if let Some(e) = k.expires_at {
                expires_at = expires_at.min(e.timestamp());
            }
            SessionKind::Key(k.id)
        }
        None => SessionKind::Admin,
    };
    let value = gate.admin.signer().sign(&Session { kind, expires_at });
    let set = cookie::set_cookie(&value, expires_at - now, is_https(&headers));
    Ok(with_cookie(set))
}

/// Logs out: clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session", operation_id = "delete_session",
    security(()),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 403, description = "A cross-site request", body = ErrorBody),
    ))]
async fn logout(headers: HeaderMap) -> Result<Response, ApiError> {
    if csrf::cross_site(&headers) {
        return Err(refused(ApiError::forbidden(
            "a cross-site request: Origin does not match the host",
        )));
    }
    Ok(with_cookie(cookie::clear_cookie(is_https(&headers))))
}

fn refused(e: ApiError) -> ApiError {
    tracing::info!(route = "/api/v1/session", status = e.status.as_u16(), reason = %e.message, "log-in refused");
    e
}

/// A 204 that sets `set_cookie`, never cached.
fn with_cookie(set_cookie: String) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&set_cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Whether the request reached the gateway over HTTPS (through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}
