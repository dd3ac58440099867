//! The proxy's first phase: what is refused before the body is read. Every refusal is
//! answered in the provider's error format and recorded (the caller hands it to `reject`).

use http::request::Parts;
use http::HeaderMap;

use super::classify::Route;
use super::origin::OriginPolicy;
use crate::error::ProxyError;

/// Checks the request's origin, its path and, on the JSON endpoints, its content type.
pub fn admit(origins: &OriginPolicy, route: &Route, parts: &Parts) -> Result<(), ProxyError> {
    origins.check(&parts.headers)?;
    super::path::check(parts.uri.path())?;
    if route.json_required {
        require_json(&parts.headers)?;
    }
    Ok(())
}

/// The JSON endpoints take `application/json` (parameters allowed) or a `+json` type: a
/// browser can send a text/plain or form body cross-site without asking first, never JSON.
fn require_json(headers: &HeaderMap) -> Result<(), ProxyError> {
    let value = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if value.as_deref().is_some_and(is_json) {
        return Ok(());
    }
    let given = value.map_or_else(
        || "no content type".to_string(),
        |v| format!("content type {:?}", crate::origin::quote(&v)),
    );
    Err(ProxyError::unsupported_media_type(format!(
        "this endpoint takes a JSON body sent with content-type: application/json, not {given}"
    )))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    !kind.is_empty() && (essence == "application/json" || subtype.ends_with("+json"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_types_with_parameters_and_suffixes() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
            "application/vnd.api+json",
            "application/merge-patch+json; x=1",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "json",
            "/json",
            "+json",
            "text/plain; application/json",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }

    #[test]
    fn missing_or_wrong_content_type_is_415() {
        let mut h = HeaderMap::new();
        let err = require_json(&h).unwrap_err();
        assert_eq!(err.status.as_u16(), 415);
        assert!(err.message.contains("no content type"), "{}", err.message);
        h.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(require_json(&h).unwrap_err().message.contains("text/plain"));
        h.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        assert!(require_json(&h).is_ok());
    }
}
