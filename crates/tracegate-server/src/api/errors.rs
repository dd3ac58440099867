//! The API's own routes answer every error as `{"error": {"kind", "message"}}`, also those
//! axum writes itself: a 405 for a method a route does not serve (its `Allow` header kept)
//! and the plain-text rejections of extractors (a path segment that is not valid UTF-8,
//! ...). Proxied routes are not under this layer: their errors are the provider's.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest plain-text error body read to become the message.
const MAX_TEXT: usize = 4096;

/// Middleware: rewrites error responses that are not JSON into the API's error JSON.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        method_not_allowed(&method, &path, parts.headers.get(header::ALLOW))
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let mut rewritten = ApiError::with_status(status, message).into_response();
    // Keep what axum said about the resource (`Allow`), drop the old body's framing.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in rewritten.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    *rewritten.headers_mut() = parts.headers;
    rewritten
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

fn method_not_allowed(method: &Method, path: &str, allow: Option<&HeaderValue>) -> String {
    let path: String = path.chars().take(200).collect();
    match allow
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        Some(allowed) => format!("{method} is not allowed on {path}; allowed: {allowed}"),
        None => format!("{method} is not allowed on {path}"),
    }
}

#[cfg(test)]
mod tests;
