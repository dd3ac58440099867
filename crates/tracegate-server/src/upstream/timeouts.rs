//! An upstream's four timeouts and the words a trace uses when one fires. Connect is
//! enforced by the connector, headers and total (before the head) by [`Upstream::send`],
//! idle and total (after the head) by the response body (`proxy/tee.rs`).
//!
//! [`Upstream::send`]: super::Upstream::send

use std::time::Duration;

use tokio::time::Instant;

use crate::config::UpstreamConfig;
use crate::error::ProxyError;

/// How long each step of an exchange with one upstream may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Opening the TCP connection.
    pub connect: Duration,
    /// From sending the request to the response head; none leaves it to `total`.
    pub headers: Option<Duration>,
    /// Longest silence between two chunks of the response body.
    pub idle: Duration,
    /// From the request's arrival to the end of the response.
    pub total: Duration,
}

/// Which timeout ended the exchange before the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeforeHead {
    Connect,
    Headers,
    Total,
}

impl Timeouts {
    pub fn from_config(c: &UpstreamConfig) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(c.connect_timeout_ms),
            headers: c.headers_timeout_secs.map(Duration::from_secs),
            idle: Duration::from_secs(c.idle_timeout_secs),
            total: Duration::from_secs(c.timeout_secs),
        }
    }

    /// When the response head must have come, and which timeout that is: the headers
    /// timeout from `now`, unless the request's total deadline comes first.
    pub fn head_deadline(&self, now: Instant, total_deadline: Instant) -> (Instant, BeforeHead) {
        match self.headers.map(|h| now + h) {
            Some(at) if at < total_deadline => (at, BeforeHead::Headers),
            _ => (total_deadline, BeforeHead::Total),
        }
    }

    /// The 504 for a timeout before the response head, naming the timeout.
    pub fn before_head(&self, upstream: &str, which: BeforeHead) -> ProxyError {
        let message = match which {
            BeforeHead::Connect => format!(
                "timeout: could not connect to upstream {upstream:?} within {}ms",
                self.connect.as_millis()
            ),
            BeforeHead::Headers => format!(
                "timeout: no response headers from upstream {upstream:?} within {}",
                secs(self.headers.unwrap_or(self.total))
            ),
            BeforeHead::Total => format!(
                "timeout: no response headers from upstream {upstream:?} within the total timeout of {}",
                secs(self.total)
            ),
        };
        ProxyError::timeout(message)
    }

    /// The trace's error when the response body stalls for `idle`.
    pub fn idle_message(&self, upstream: &str) -> String {
        format!(
            "timeout: upstream {upstream:?} sent nothing for {} in the middle of the response",
            secs(self.idle)
        )
    }

    /// The trace's error when the response is not over after `total`.
    pub fn total_message(&self, upstream: &str) -> String {
        format!(
            "timeout: upstream {upstream:?} did not finish the response within the total timeout of {}",
            secs(self.total)
        )
    }
}

/// True when the connector gave up connecting in time (its error chain holds an I/O
/// error of kind `TimedOut`).
pub fn is_connect_timeout(error: &hyper_util::client::legacy::Error) -> bool {
    if !error.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// `30s`, or `1.5s` for a fraction.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn t(headers: Option<u64>) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(250),
            headers: headers.map(Duration::from_secs),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_headers_timeout_applies_unless_the_total_comes_first() {
        let now = Instant::now();
        let total = now + Duration::from_secs(600);
        assert_eq!(
            t(Some(30)).head_deadline(now, total),
            (now + Duration::from_secs(30), BeforeHead::Headers)
        );
        assert_eq!(
            t(None).head_deadline(now, total),
            (total, BeforeHead::Total)
        );
        let soon = now + Duration::from_secs(5);
        assert_eq!(
            t(Some(30)).head_deadline(now, soon),
            (soon, BeforeHead::Total)
        );
    }

    #[test]
    fn each_timeout_names_itself() {
        let e = t(Some(30)).before_head("anthropic", BeforeHead::Headers);
        assert_eq!(e.status.as_u16(), 504);
        assert_eq!(
            e.message,
            "timeout: no response headers from upstream \"anthropic\" within 30s"
        );
        let e = t(None).before_head("a", BeforeHead::Connect);
        assert!(e.message.contains("could not connect") && e.message.contains("250ms"));
        let e = t(None).before_head("a", BeforeHead::Total);
        assert!(e.message.contains("total timeout of 600s"), "{}", e.message);
        assert!(t(None).idle_message("a").contains("sent nothing for 120s"));
        assert!(t(None).total_message("a").contains("600s"));
    }

    #[tokio::test]
    async fn a_connection_not_accepted_in_time_is_a_connect_timeout() {
        // A listener whose accept queue is full: further SYNs are dropped, connects hang.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let _fills = std::net::TcpStream::connect(addr).unwrap();
        let mut c = crate::config::UpstreamConfig::new(
            "slow",
            crate::config::UpstreamKind::Anthropic,
            &format!("http://{addr}"),
        );
        c.connect_timeout_ms = 200;
        let ups = super::super::Upstreams::build(&[c]).unwrap();
        let up = ups.iter().next().unwrap();
        let mut req = super::super::Outgoing {
            method: http::Method::POST,
            path_and_query: "/v1/messages",
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{}"),
        };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        let err = up
            .attempt(
                &mut req,
                false,
                deadline,
                std::pin::pin!(std::future::pending()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status.as_u16(), 504, "{}", err.message);
        assert_eq!(
            err.message,
            "timeout: could not connect to upstream \"slow\" within 200ms"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }
}
