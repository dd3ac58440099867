//! Browsers must not spend the gateway's credentials. A request from a web page carries an
//! `Origin` header (SDKs, curl and Claude Code send none); the proxy refuses it with 403
//! unless the origin is listed in `allowed_origins`, or is a page of this machine
//! (`http://localhost:*`, `http://127.0.0.1:*`, ...) while the gateway itself listens on
//! loopback, so only this machine can reach it anyway.

use http::HeaderMap;

use crate::error::ProxyError;
use crate::origin::{request_origin, AllowedOrigins};

/// Which web origins may use the proxy.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: AllowedOrigins,
    /// The gateway listens on a loopback address: pages of this machine count as local.
    loopback_listener: bool,
}

impl OriginPolicy {
    pub fn new(allowed: AllowedOrigins, loopback_listener: bool) -> Self {
        OriginPolicy {
            allowed,
            loopback_listener,
        }
    }

    /// `Ok` for a request without `Origin` or from an allowed one; 403 otherwise.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ProxyError> {
        let origin = match request_origin(headers) {
            None => return Ok(()),
            Some(Ok(o)) => o,
            Some(Err(raw)) => {
                return Err(ProxyError::forbidden(format!(
                    "requests from the web origin {raw:?} are refused: a browser page may not use this gateway's credentials"
                )))
            }
        };
        if self.allowed.allows(&origin) || (self.loopback_listener && origin.is_loopback()) {
            return Ok(());
        }
        let why = if origin.is_loopback() {
            "the gateway listens on a network address, so a localhost page may be on another machine"
        } else {
            "a browser page may not use this gateway's credentials"
        };
        Err(ProxyError::forbidden(format!(
            "requests from the web origin {} are refused: {why}; list it in allowed_origins to allow it",
            crate::origin::quote(&origin.to_string())
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(p: &OriginPolicy, origin: Option<&str>) -> Result<(), u16> {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(http::header::ORIGIN, o.parse().unwrap());
        }
        p.check(&h).map_err(|e| e.status.as_u16())
    }

    #[test]
    fn foreign_origins_are_refused_unless_listed() {
        let listed = AllowedOrigins::new(&["https://app.example.com".into()]);
        let local = OriginPolicy::new(listed.clone(), true);
        let network = OriginPolicy::new(listed, false);
        for p in [&local, &network] {
            assert_eq!(check(p, None), Ok(()));
            assert_eq!(check(p, Some("https://app.example.com")), Ok(()));
            assert_eq!(check(p, Some("https://evil.example")), Err(403));
            assert_eq!(check(p, Some("http://app.example.com")), Err(403));
            assert_eq!(check(p, Some("null")), Err(403));
            assert_eq!(check(p, Some("garbage")), Err(403));
        }
        for page in [
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:8000",
        ] {
            assert_eq!(check(&local, Some(page)), Ok(()), "{page}");
            assert_eq!(check(&network, Some(page)), Err(403), "{page}");
        }
        let err = network
            .check(&{
                let mut h = HeaderMap::new();
                h.insert(
                    http::header::ORIGIN,
                    "http://localhost:3000".parse().unwrap(),
                );
                h
            })
            .unwrap_err();
        assert!(err.message.contains("network address"), "{}", err.message);
        assert_eq!(err.kind(), "forbidden");
    }
}
