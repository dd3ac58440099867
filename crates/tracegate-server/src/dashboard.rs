//! The web dashboard, served from files embedded in the binary (`web/`, by `rust-embed`;
//! debug builds embed them too, so tests serve what a release serves).
//!
//! - `/` and the pages' own paths (`/traces`, `/traces/{id}`, `/conversations`, ...) answer
//!   `index.html`: the page routes on the client with the History API.
//! - Every file of `web/` is at `/ui/<path>`; an unknown one is 404.
//!
//! The routes sit behind the same host guard as `/api` (DNS rebinding), but not behind the
//! admin token: the page itself asks for a log-in through the API. Every answer carries a
//! strict Content-Security-Policy and the other headers of [`SECURITY_HEADERS`].

mod assets;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::header::{self, HeaderName, HeaderValue};

use crate::api::host_guard::{self, HostGuard};

pub use assets::Web;

/// The page paths the client routes itself; each answers `index.html`.
pub const PAGES: &[&str] = &[
    "/",
    "/traces",
    "/traces/{id}",
    "/conversations",
    "/conversations/{id}",
    "/usage",
    "/alerts",
    "/keys",
    "/login",
];

/// The policy of every dashboard answer: only the gateway's own scripts, styles, images
/// (and `data:` images), fonts and API; no plugins, no framing, no foreign form targets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers set on every dashboard answer, errors included.
pub const SECURITY_HEADERS: &[(HeaderName, &str)] = &[
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// The dashboard's routes over the embedded `web/` folder.
pub fn router(guard: HostGuard) -> Router {
    router_over::<Web>(guard)
}

/// The dashboard's routes over any embedded folder (tests use one of their own).
pub(crate) fn router_over<A: rust_embed::RustEmbed + Send + Sync + 'static>(
    guard: HostGuard,
) -> Router {
    let mut r = Router::new();
    for page in PAGES {
        r = r.route(page, get(assets::index::<A>));
    }
    r.route("/ui", get(assets::unknown))
        .route("/ui/", get(assets::unknown))
        .route("/ui/{*path}", get(assets::file::<A>))
        .layer(middleware::from_fn_with_state(guard, host_guard::guard))
        .layer(middleware::from_fn(security_headers))
}

/// Middleware: the security headers on every answer.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
    resp
}
