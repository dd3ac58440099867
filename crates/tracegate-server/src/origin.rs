//! Host names and web origins: which name this machine (loopback), how a `Host` header or an
//! `Origin` header reads, and the origins the configuration allows. The `/api` host guard
//! (`api/host_guard.rs`) and the proxy's origin check (`proxy/origin.rs`) both use them.

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use http::header::ORIGIN;
use http::HeaderMap;

/// Longest piece of a client's header quoted back in an error message (and so in a trace).
const QUOTED_CHARS: usize = 200;

/// A host and port as written in a `Host` header or a URL: the host lowercased, without
/// the brackets of an IPv6 address or a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    pub host: String,
    pub port: Option<u16>,
}

impl Authority {
    /// Reads `host[:port]`, `[v6]` or `[v6]:port`; `None` for anything else (user info,
    /// paths, spaces, an IPv6 address without brackets, a bad port).
    pub fn parse(s: &str) -> Option<Authority> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (v6, after) = rest.split_once(']')?;
            v6.parse::<Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (v6, port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let port = match port {
            None | Some("") => None,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().ok()?),
            Some(_) => return None,
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        let name_ok = |h: &str| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if host.is_empty() || !(s.starts_with('[') || name_ok(host)) {
            return None;
        }
        Some(Authority {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether the host names this machine's loopback interface: `localhost` or a name
    /// under `.localhost`, an address in 127.0.0.0/8, or `::1`.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// See [`Authority::is_loopback`]; `host` is lowercased, without brackets.
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    host.parse::<Ipv6Addr>()
        .is_ok_and(|v6| v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

/// A web origin, `scheme://host[:port]`, as browsers send it in `Origin`. The scheme and
/// host are lowercased and a default port (80 for http, 443 for https) is dropped, so that
/// equal origins compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    authority: Authority,
}

impl Origin {
    /// Reads an origin; one trailing `/` is tolerated (it is common in configuration).
    /// `None` for `null`, paths, queries and anything that is not `scheme://authority`.
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.trim().split_once("://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let mut authority = Authority::parse(rest)?;
        if authority.port.is_some() && authority.port == default_port(&scheme) {
            authority.port = None;
        }
        Some(Origin { scheme, authority })
    }

    /// Whether the origin is a page served from this machine's loopback interface.
    pub fn is_loopback(&self) -> bool {
        self.authority.is_loopback()
    }

    /// Whether a request with this `Origin` and this `Host` comes from a page of the same
    /// host and port as the server it is sent to (the scheme is not compared: a TLS proxy
    /// in front of the gateway changes it).
    pub fn same_host_as(&self, host: &Authority) -> bool {
        let port = host.port.filter(|p| Some(*p) != default_port(&self.scheme));
        self.authority.host == host.host && self.authority.port == port
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.authority.host;
        if host.contains(':') {
            write!(f, "{}://[{host}]", self.scheme)?;
        } else {
            write!(f, "{}://{host}", self.scheme)?;
        }
        match self.authority.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The `Origin` of a request: `None` when it has none (SDKs, curl), `Some(Err(quoted))`
/// when it is not one readable origin (`null`, garbage, several headers), with the header
/// cut to a length fit for an error message.
pub fn request_origin(headers: &HeaderMap) -> Option<Result<Origin, String>> {
    let mut all = headers.get_all(ORIGIN).iter();
    let first = all.next()?;
    let raw = String::from_utf8_lossy(first.as_bytes());
    if all.next().is_some() {
        return Some(Err(format!("{} (and more)", quote(&raw))));
    }
    Some(Origin::parse(&raw).ok_or_else(|| quote(&raw)))
}

/// `s` cut to [`QUOTED_CHARS`] characters, for quoting client input in messages.
pub fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTED_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The origins listed in `allowed_origins`.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Arc<HashSet<Origin>>);

impl AllowedOrigins {
    /// The list as configured; entries that do not parse are left out (`Config::validate`
    /// refuses them before this is built).
    pub fn new(list: &[String]) -> Self {
        AllowedOrigins(Arc::new(
            list.iter().filter_map(|s| Origin::parse(s)).collect(),
        ))
    }

    pub fn allows(&self, origin: &Origin) -> bool {
        self.0.contains(origin)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn authority(s: &str) -> Option<(String, Option<u16>)> {
        Authority::parse(s).map(|a| (a.host, a.port))
    }

    #[test]
    fn host_headers_are_read_with_or_without_a_port() {
        let some = |h: &str, p: Option<u16>| Some((h.to_string(), p));
        assert_eq!(authority("localhost"), some("localhost", None));
        assert_eq!(authority("LocalHost:8080"), some("localhost", Some(8080)));
        assert_eq!(authority("127.0.0.1:80"), some("127.0.0.1", Some(80)));
        assert_eq!(authority("[::1]"), some("::1", None));
        assert_eq!(authority("[::1]:8080"), some("::1", Some(8080)));
        assert_eq!(authority("example.com."), some("example.com", None));
        assert_eq!(authority("localhost:"), some("localhost", None));
        for bad in [
            "",
            "::1",
            "[::1",
            "[nope]:1",
            "[::1]8080",
            "a:b",
            "a:99999",
            "user@host",
            "host/path",
            "two words",
            ":8080",
        ] {
            assert_eq!(authority(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn loopback_names_and_addresses() {
        for host in [
            "localhost",
            "LOCALHOST:1",
            "app.localhost",
            "127.0.0.1",
            "127.8.9.10:8080",
            "[::1]:8080",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(Authority::parse(host).unwrap().is_loopback(), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "notlocalhost",
            "128.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "[::]",
            "[::2]",
            "192.168.1.1:8080",
        ] {
            assert!(!Authority::parse(host).unwrap().is_loopback(), "{host}");
        }
    }

    #[test]
    fn origins_compare_normalised() {
        let o = |s: &str| Origin::parse(s);
        assert_eq!(
            o("HTTPS://App.Example.com:443/"),
            o("https://app.example.com")
        );
        assert_eq!(o("http://x:80"), o("http://x"));
        assert_ne!(o("http://x:8080"), o("http://x"));
        assert_ne!(o("https://x"), o("http://x"));
        assert_eq!(
            o("http://[::1]:3000").unwrap().to_string(),
            "http://[::1]:3000"
        );
        assert_eq!(
            o("https://app.example.com:443").unwrap().to_string(),
            "https://app.example.com"
        );
        assert!(o("chrome-extension://abcdef").is_some());
        for bad in [
            "null",
            "",
            "app.example.com",
            "https://",
            "https://x/path",
            "https://x?q",
            "https://u@x",
            "1http://x",
        ] {
            assert_eq!(o(bad), None, "{bad:?}");
        }
        assert!(o("http://localhost:3000").unwrap().is_loopback());
        assert!(!o("http://evil.example:3000").unwrap().is_loopback());
    }

    #[test]
    fn same_host_compares_host_and_effective_port() {
        let host = |s: &str| Authority::parse(s).unwrap();
        let o = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert!(o.same_host_as(&host("127.0.0.1:8080")));
        assert!(!o.same_host_as(&host("127.0.0.1:8081")));
        assert!(!o.same_host_as(&host("localhost:8080")));
        let o = Origin::parse("https://gw.example.com").unwrap();
        assert!(o.same_host_as(&host("gw.example.com")));
        assert!(o.same_host_as(&host("gw.example.com:443")));
        assert!(!o.same_host_as(&host("gw.example.com:80")));
    }

    #[test]
    fn request_origins_are_read_once_and_quoted_short() {
        let mut h = HeaderMap::new();
        assert!(request_origin(&h).is_none());
        h.insert(ORIGIN, "https://a.example".parse().unwrap());
        assert_eq!(
            request_origin(&h).unwrap().unwrap(),
            Origin::parse("https://a.example").unwrap()
        );
        h.append(ORIGIN, "https://b.example".parse().unwrap());
        assert!(request_origin(&h).unwrap().is_err());
        let long = format!("https://{}.example", "a".repeat(5000));
        h.insert(ORIGIN, "null".parse().unwrap());
        assert_eq!(request_origin(&h).unwrap().unwrap_err(), "null");
        h.insert(ORIGIN, format!("{long}/x").parse().unwrap());
        let quoted = request_origin(&h).unwrap().unwrap_err();
        assert!(
            quoted.chars().count() <= QUOTED_CHARS + 1,
            "{}",
            quoted.len()
        );
    }

    #[test]
    fn allowed_origins_match_exactly() {
        let allowed = AllowedOrigins::new(&[
            "https://app.example.com".into(),
            "http://localhost:3000/".into(),
        ]);
        let o = |s: &str| Origin::parse(s).unwrap();
        assert!(allowed.allows(&o("https://APP.example.com:443")));
        assert!(allowed.allows(&o("http://localhost:3000")));
        assert!(!allowed.allows(&o("http://localhost:3001")));
        assert!(!allowed.allows(&o("http://app.example.com")));
        assert!(!allowed.allows(&o("https://sub.app.example.com")));
        assert!(!AllowedOrigins::default().allows(&o("https://app.example.com")));
    }
}
