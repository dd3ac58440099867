//! The embedded files and how one is answered: its content type, an `ETag` of its
//! content hash, 304 to a matching `If-None-Match`.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use rust_embed::RustEmbed;

/// The dashboard's files, from `crates/tracegate-server/web/`.
#[derive(rust_embed::Embed)]
#[folder = "web/"]
pub struct Web;

/// File names are not content-hashed, so a browser revalidates every time; the `ETag`
/// makes that a 304 without a body.
const CACHE_CONTROL: &str = "no-cache";

/// `GET /` and the page paths: `index.html`.
pub async fn index<A: RustEmbed>(headers: HeaderMap) -> Response {
    serve::<A>("index.html", &headers)
}

/// `GET /ui/{*path}`: the file, or 404.
pub async fn file<A: RustEmbed>(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve::<A>(&path, &headers)
}

/// `/ui` and `/ui/` name no file.
pub async fn unknown() -> Response {
    not_found()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "no such dashboard file\n",
    )
        .into_response()
}

fn serve<A: RustEmbed>(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = A::get(path) else {
        return not_found();
    };
    let etag = etag(&file.metadata.sha256_hash());
    let mut resp = if matches(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(match file.data {
            Cow::Borrowed(b) => bytes::Bytes::from_static(b),
            Cow::Owned(v) => bytes::Bytes::from(v),
        }));
        let kind = content_type(path, file.metadata.mimetype());
        if let Ok(v) = HeaderValue::from_str(&kind) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    resp
}

/// A strong validator: the first 16 bytes of the file's SHA-256, in hex and quotes.
fn etag(hash: &[u8; 32]) -> String {
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in &hash[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// Whether `If-None-Match` names `etag` (weak or strong) or is `*`.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// The content type by extension, with a charset for text; else what `mime_guess` says.
fn content_type(path: &str, guessed: &str) -> String {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let known = match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        _ => "",
    };
    if known.is_empty() {
        guessed.to_owned()
    } else {
        known.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let tag = "\"abc\"";
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            matches(&h, tag)
        };
        assert!(with("\"abc\""));
        assert!(with("W/\"abc\""));
        assert!(with("\"x\", \"abc\""));
        assert!(with("*"));
        assert!(!with("\"abd\""));
        assert!(!matches(&HeaderMap::new(), tag));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a/b.JS", ""), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.png", "image/png"), "image/png");
        assert_eq!(etag(&[0xab; 32]).len(), 34);
    }
}
