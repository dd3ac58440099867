//! The guard in front of the gateway's own pages and API: which `Host` names and which web
//! origins may use them. It is a layer (`guard`), so any router of the gateway's own can
//! put it in front of its routes; `/api` does.
//!
//! - **Host.** Without an admin token `/api` answers anyone who can reach the listener, and
//!   a web page can reach a loopback listener through DNS rebinding: its own name, resolved
//!   to 127.0.0.1, makes the browser treat the API as same-origin. Its requests still carry
//!   the page's name in `Host`. So an open `/api` answers only requests whose `Host` is a
//!   loopback name or address (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, any port)
//!   or a name listed in `allowed_hosts`; the rest get 403.
//! - **CORS.** A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   from an origin listed in `allowed_origins` gets 204 with the allow headers; from any
//!   other origin it gets 403 and no allow header, so the browser does not send the request.
//! - **Origin.** A request with an `Origin` header is served when the origin is listed
//!   (its response then carries `Access-Control-Allow-Origin`) or is the page's own host
//!   and port (a page the gateway itself serves); any other origin gets 403.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::error::ApiError;
use crate::origin::{quote, request_origin, AllowedOrigins, Authority};

const ALLOW_METHODS: &str = "GET, POST";
const ALLOW_HEADERS: &str = "authorization, content-type";
const PREFLIGHT_MAX_AGE_SECS: &str = "600";
const PREFLIGHT_VARY: &str =
    "origin, access-control-request-method, access-control-request-headers";

/// Who may use the routes behind the guard.
#[derive(Debug, Clone)]
pub struct HostGuard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Check `Host`: the routes are open (no admin token).
    check_host: bool,
    /// Lowercased, from `allowed_hosts`.
    allowed_hosts: HashSet<String>,
    origins: AllowedOrigins,
}

/// What the guard does with one request.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Serve it; with `Some(origin)`, add the CORS headers for that allowed origin.
    Serve(Option<HeaderValue>),
    /// A preflight from an allowed origin: answer it here.
    Preflight(HeaderValue),
    /// Answer 403 with this message.
    Refuse(String),
}

/// Checks no host and allows no foreign origin: for routers tested without a `Host`.
#[cfg(test)]
impl Default for HostGuard {
    fn default() -> Self {
        HostGuard::new(false, &[], AllowedOrigins::default())
    }
}

impl HostGuard {
    /// `check_host` is true when the routes are open without a token.
    pub fn new(check_host: bool, allowed_hosts: &[String], origins: AllowedOrigins) -> Self {
        let allowed_hosts = allowed_hosts
            .iter()
            .filter_map(|h| Authority::parse(h.trim()))
            .map(|a| a.host)
            .collect();
        HostGuard {
            inner: Arc::new(Inner {
                check_host,
                allowed_hosts,
                origins,
            }),
        }
    }

    fn verdict(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Verdict {
        let host = request_host(uri, headers);
        if self.inner.check_host {
            match &host {
                Some(h) if h.is_loopback() || self.inner.allowed_hosts.contains(&h.host) => {}
                Some(h) => {
                    return Verdict::Refuse(format!(
                        "Host {:?} is not a loopback name: without an admin token the API answers only requests to localhost or 127.0.0.1 (a web page could reach it through DNS rebinding otherwise); list the name in allowed_hosts, or set an admin token",
                        quote(&h.host)
                    ))
                }
                None => {
                    return Verdict::Refuse(
                        "the request has no readable Host header: without an admin token the API answers only requests to localhost or 127.0.0.1".into(),
                    )
                }
            }
        }
        let Some(origin) = request_origin(headers) else {
            return Verdict::Serve(None);
        };
        let preflight = method == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let sent = headers.get(header::ORIGIN).cloned();
        match (origin, sent) {
            (Ok(o), Some(sent)) if self.inner.origins.allows(&o) => {
                if preflight {
                    Verdict::Preflight(sent)
                } else {
                    Verdict::Serve(Some(sent))
                }
            }
            (Ok(o), _) if !preflight && host.as_ref().is_some_and(|h| o.same_host_as(h)) => {
                Verdict::Serve(None)
            }
            (Ok(o), _) => Verdict::Refuse(format!(
                "requests from the web origin {} are not allowed: list it in allowed_origins to let its pages use the API",
                quote(&o.to_string())
            )),
            (Err(raw), _) => Verdict::Refuse(format!(
                "requests from the web origin {raw:?} are not allowed"
            )),
        }
    }
}

/// The host the request was sent to: `Host`, or the URI's authority (HTTP/2).
fn request_host(uri: &Uri, headers: &HeaderMap) -> Option<Authority> {
    match headers.get(header::HOST) {
        Some(v) => Authority::parse(v.to_str().ok()?),
        None => Authority::parse(uri.authority()?.as_str()),
    }
}

/// The layer: `router.layer(middleware::from_fn_with_state(guard, host_guard::guard))`.
pub async fn guard(State(g): State<HostGuard>, req: Request, next: Next) -> Response {
    match g.verdict(req.method(), req.uri(), req.headers()) {
        Verdict::Serve(None) => next.run(req).await,
        Verdict::Serve(Some(origin)) => {
            let mut resp = next.run(req).await;
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.append(header::VARY, HeaderValue::from_static("origin"));
            resp
        }
        Verdict::Preflight(origin) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            let fixed = [
                (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS),
                (header::VARY, PREFLIGHT_VARY),
            ];
            for (name, value) in fixed {
                h.insert(name, HeaderValue::from_static(value));
            }
            resp
        }
        Verdict::Refuse(message) => {
            tracing::debug!(%message, "API request refused");
            let mut resp = ApiError::forbidden(message).into_response();
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("origin"));
            resp
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
