//! The settings that say which browsers and host names may reach the gateway:
//! `allowed_hosts` and `allowed_origins`. Both are lists, written as TOML arrays or, in the
//! environment, as one comma-separated value.

use serde::{Deserialize, Deserializer};

use crate::origin::{Authority, Origin};

/// A list of strings, from a list or from one comma-separated string (the environment's
/// `TRACEGATE_ALLOWED_ORIGINS=https://a.example,https://b.example`).
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    Ok(match List::deserialize(d)? {
        List::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        List::Many(v) => v,
    })
}

/// `allowed_hosts` entries are host names or addresses without a port.
pub fn validate_hosts(hosts: &[String]) -> Result<(), String> {
    for (i, h) in hosts.iter().enumerate() {
        match Authority::parse(h.trim()) {
            Some(a) if a.port.is_none() => {}
            _ => {
                return Err(format!(
                    "allowed_hosts[{i}]: {h:?} is not a host name or address without a port (e.g. \"gateway.internal\")"
                ))
            }
        }
    }
    Ok(())
}

/// `allowed_origins` entries are web origins, `scheme://host[:port]`, without a path.
pub fn validate_origins(origins: &[String]) -> Result<(), String> {
    for (i, o) in origins.iter().enumerate() {
        if Origin::parse(o).is_none() {
            return Err(format!(
                "allowed_origins[{i}]: {o:?} is not a web origin like \"https://app.example.com\" (scheme, host, optional port, no path)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked() {
        assert!(validate_hosts(&[
            "gateway.internal".into(),
            "10.0.0.5".into(),
            "[fd00::1]".into()
        ])
        .is_ok());
        for bad in ["gw:8080", "http://gw", "gw/x", "", "two words"] {
            let err = validate_hosts(&["ok".into(), bad.into()]).unwrap_err();
            assert!(err.starts_with("allowed_hosts[1]"), "{err}");
        }
        assert!(validate_origins(&[
            "https://app.example.com".into(),
            "http://localhost:3000".into()
        ])
        .is_ok());
        for bad in ["app.example.com", "null", "*", "https://x/app"] {
            let err = validate_origins(&[bad.into()]).unwrap_err();
            assert!(err.starts_with("allowed_origins[0]"), "{err}");
        }
    }
}
