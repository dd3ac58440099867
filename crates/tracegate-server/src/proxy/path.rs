//! Paths with dot segments are refused. `/v1/../admin` or `/v1/%2e%2e/admin` would be
//! forwarded as written, and an upstream (or a proxy in front of it) that resolves dot
//! segments would serve a path outside `/v1/`. Nothing a provider's API serves needs them.

use percent_encoding::percent_decode_str;

use crate::error::ProxyError;

/// `Ok` unless a segment of `path`, once percent-decoded, is `.` or `..` (with or without a
/// `;parameter`, which some servers drop). Encoded slashes and backslashes count as
/// separators, as some servers take them.
pub fn check(path: &str) -> Result<(), ProxyError> {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let dot = decoded
        .split(['/', '\\'])
        .map(|seg| seg.split(';').next().unwrap_or(seg))
        .any(|seg| seg == "." || seg == "..");
    if dot {
        return Err(ProxyError::bad_request(format!(
            "request path {:?} has a \".\" or \"..\" segment (plain or percent-encoded); the gateway forwards only plain paths",
            crate::origin::quote(path)
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_however_written() {
        for bad in [
            "/v1/../../x",
            "/v1/./x",
            "/v1/..",
            "/v1/.",
            "/v1/%2e%2e/x",
            "/v1/%2E%2E/x",
            "/v1/.%2e/x",
            "/v1/%2e./x",
            "/v1/%2e/x",
            "/v1/..%2fx",
            "/v1/..%5cx",
            "/v1/..;/x",
            "/v1/messages/../../admin",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        for good in [
            "/v1/messages",
            "/v1/models/claude-3.5",
            "/v1/files/a..b",
            "/v1/.well-known",
            "/v1/x...",
            "/v1/%252e%252e/x",
            "/v1/",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        let err = check("/v1/../x").unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
    }
}
