//! Cross-site request forgery: a browser sends the session cookie with any request to the
//! gateway, whichever page started it. `SameSite=Strict` already keeps it off cross-site
//! requests in current browsers; as a second check, a state-changing request
//! (`POST`, `PUT`, `PATCH`, `DELETE`) that is authenticated by the cookie must come from
//! the gateway's own pages: `Sec-Fetch-Site: same-origin`, or an `Origin` whose host and
//! port are the request's `Host`. Requests with an `Authorization` or `x-api-key` header
//! are not checked: a browser never adds those on its own.

use http::{HeaderMap, Method};

/// Whether `method` changes state.
pub fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Whether the request says it comes from a page of the same origin.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|v| v.trim().eq_ignore_ascii_case("same-origin")) {
        return true;
    }
    let (Some(origin), Some(host)) = (header("origin"), header("host")) else {
        return false;
    };
    origin_authority(origin).is_some_and(|a| a.eq_ignore_ascii_case(host.trim()))
}

/// Whether a cross-site request is refused: a state-changing request that did come from
/// another origin. A request without `Origin` or `Sec-Fetch-Site` is refused too.
pub fn refused(method: &Method, headers: &HeaderMap) -> bool {
    changes_state(method) && !same_origin(headers)
}

/// Whether a browser says the request comes from another site: `Sec-Fetch-Site` other
/// than `same-origin` or `none`, or an `Origin` that is not the host. A request without
/// either (curl, scripts) is not cross-site. Guards the open API on loopback, which has no
/// credential to forge.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site = header("sec-fetch-site").map(|v| v.trim().to_ascii_lowercase());
    match fetch_site.as_deref() {
        Some("same-origin" | "none") => false,
        Some(_) => true,
        None => header("origin").is_some() && !same_origin(headers),
    }
}

/// The `host[:port]` of an `Origin` value such as `https://gw.example:8080`; `None` for
/// `null` or anything that is not `scheme://authority`. A default port is dropped, as
/// browsers drop it from `Host`.
fn origin_authority(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    Some(rest.strip_suffix(default_port).unwrap_or(rest).to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_pass_and_writes_need_the_same_origin() {
        let none = headers(&[("host", "127.0.0.1:8080")]);
        assert!(!refused(&Method::GET, &none));
        assert!(!refused(&Method::HEAD, &none));
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(refused(&m, &none), "{m} without Origin");
        }
        let same = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(!refused(&Method::POST, &same));
        let fetch = headers(&[("host", "gw"), ("sec-fetch-site", "same-origin")]);
        assert!(!refused(&Method::DELETE, &fetch));
    }

    #[test]
    fn other_origins_are_refused() {
        for (origin, host) in [
            ("http://evil.example", "gw.example"),
            ("http://gw.example:8081", "gw.example:8080"),
            ("http://gw.example.evil", "gw.example"),
            ("null", "gw.example"),
            ("gw.example", "gw.example"),
            ("http://user@gw.example", "gw.example"),
            ("ftp://gw.example", "gw.example"),
        ] {
            let h = headers(&[("host", host), ("origin", origin)]);
            assert!(refused(&Method::POST, &h), "{origin} vs {host}");
        }
        let cross = headers(&[("host", "gw"), ("sec-fetch-site", "cross-site")]);
        assert!(refused(&Method::POST, &cross));
        let site = headers(&[("host", "gw"), ("sec-fetch-site", "same-site")]);
        assert!(refused(&Method::POST, &site));
    }

    #[test]
    fn without_a_credential_only_browser_cross_site_requests_are_refused() {
        assert!(!cross_site(&headers(&[("host", "gw")])));
        assert!(cross_site(&headers(&[
            ("host", "gw"),
            ("origin", "http://evil")
        ])));
        assert!(!cross_site(&headers(&[
            ("host", "gw"),
            ("origin", "http://gw")
        ])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")])));
    }

    #[test]
    fn default_ports_and_case_are_ignored() {
        for (origin, host) in [
            ("https://GW.example:443", "gw.example"),
            ("http://gw.example:80", "gw.example"),
            ("https://gw.example", "gw.example"),
            ("http://[::1]:8080", "[::1]:8080"),
        ] {
            let h = headers(&[("host", host), ("origin", origin)]);
            assert!(!refused(&Method::POST, &h), "{origin} vs {host}");
        }
    }
}
