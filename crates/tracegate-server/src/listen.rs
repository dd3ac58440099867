//! The `listen` setting: `host:port`, where the host is an IP address (`[::1]` for IPv6)
//! or a name resolved when the gateway binds.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

/// Checks that `listen` is `host:port`; the message says what is wrong.
pub fn validate(listen: &str) -> Result<(), String> {
    if listen.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    split_name(listen).map(|_| ())
}

/// Whether `listen` names a loopback address without resolving it: an IP address on
/// loopback, `localhost` or a `*.localhost` name. Any other name counts as not loopback.
pub fn is_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return addr.ip().is_loopback();
    }
    split_name(listen).is_ok_and(|(host, _)| {
        let host = host.to_ascii_lowercase();
        host == "localhost" || host.ends_with(".localhost")
    })
}

/// `(host, port)` of a `name:port` string.
fn split_name(listen: &str) -> Result<(&str, u16), String> {
    let example = "for example 127.0.0.1:8080, localhost:8080 or [::1]:8080";
    let Some((host, port)) = listen.rsplit_once(':') else {
        return Err(format!(
            "{listen:?} has no port: expected host:port ({example})"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{listen:?}: {port:?} is not a port number (0-65535)"))?;
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !name_ok {
        return Err(format!(
            "{listen:?}: {host:?} is neither an IP address nor a host name ({example})"
        ));
    }
    Ok((host, port))
}

/// The address `listen` binds to: the address itself, 127.0.0.1 for `localhost`, else the
/// first address the host name resolves to.
pub async fn resolve(listen: &str) -> io::Result<SocketAddr> {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) =
        split_name(listen).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host:?} resolves to no address"),
            )
        })
}

/// Binds a listener on `listen` (see [`resolve`]).
pub async fn bind(listen: &str) -> io::Result<TcpListener> {
    TcpListener::bind(resolve(listen).await?).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_told_without_resolving() {
        for yes in [
            "127.0.0.1:8080",
            "[::1]:1",
            "localhost:8080",
            "app.localhost:1",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in ["0.0.0.0:8080", "10.0.0.1:1", "example.com:80", "nonsense"] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn addresses_and_names_are_host_port() {
        for ok in [
            "127.0.0.1:8080",
            "0.0.0.0:0",
            "[::1]:8080",
            "localhost:8080",
            "LocalHost:1",
            "gateway.internal:443",
            "my-host:65535",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("localhost", "no port"),
            ("8080", "no port"),
            ("localhost:http", "not a port"),
            ("localhost:70000", "not a port"),
            (":8080", "neither"),
            ("local host:80", "neither"),
            ("::1:80", "neither"),
            ("-x:80", "neither"),
            ("a..b:80", "neither"),
        ] {
            let err = validate(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn localhost_binds_ipv4_loopback() {
        assert_eq!(
            resolve("localhost:8080").await.unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert_eq!(
            resolve("[::1]:9").await.unwrap(),
            "[::1]:9".parse::<SocketAddr>().unwrap()
        );
        let listener = bind("localhost:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        assert!(local.ip().is_loopback() && local.port() != 0, "{local}");
    }
}
