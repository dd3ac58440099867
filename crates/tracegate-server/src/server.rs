//! The client side of the gateway: the accept loop and its limits. Each accepted
//! connection is served by hyper's HTTP/1 server on a task of its own (`server/conn.rs`)
//! with a time limit on request heads (hyper's `header_read_timeout`) and one on idle
//! keep-alive; past `max_connections` a connection is answered 503 and closed at once.
//! The body's time limit is the proxy's (`proxy/phase/read.rs`).

mod conn;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;

/// How long connections may take and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read: Duration,
    pub keep_alive: Duration,
    pub max_connections: usize,
}

impl ConnLimits {
    pub fn from_config(c: &Config) -> ConnLimits {
        ConnLimits {
            header_read: Duration::from_secs(c.header_read_timeout_secs),
            keep_alive: Duration::from_secs(c.keep_alive_timeout_secs),
            max_connections: c.max_connections,
        }
    }
}

/// Connection counters, read when `/metrics` is scraped.
#[derive(Debug, Default)]
pub struct ConnStats {
    open: AtomicUsize,
    rejected: AtomicU64,
}

impl ConnStats {
    /// Client connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections refused because `max_connections` were open.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Takes a slot, unless `max` are taken.
    fn admit(self: &Arc<Self>, max: usize) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::Relaxed) >= max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Slot(self.clone()))
    }
}

/// One open connection's place under `max_connections`, given back when dropped.
#[derive(Debug)]
struct Slot(Arc<ConnStats>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then stops accepting and
/// returns once every connection has ended (idle ones at once, busy ones after their
/// response: hyper's graceful shutdown).
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    stats: Arc<ConnStats>,
    stop: CancellationToken,
) -> io::Result<()> {
    let connections = TaskTracker::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let mut refused_logged = false;
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        let Some(slot) = stats.admit(limits.max_connections) else {
            if !std::mem::replace(&mut refused_logged, true) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection refused: max_connections are open (counted in tracegate_connections_rejected_total; logged once)"
                );
            }
            refuse(tcp);
            continue;
        };
        set_nodelay(&tcp);
        connections.spawn(conn::serve(conn::Conn {
            tcp,
            peer,
            router: router.clone(),
            http: http.clone(),
            keep_alive: limits.keep_alive,
            stop: stop.clone(),
            slot,
        }));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Errors of one connection (reset before accept) are skipped; others (out of file
/// descriptors) are logged and the loop waits a moment rather than spin.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The answer past `max_connections`: an error object both providers' SDKs read
/// (`error.type`, `error.message`), then the connection is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 144\r\n\
\r\n\
{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"the gateway has too many open connections; retry later\",\"param\":null,\"code\":null}}";

/// Answers 503 without a task or a wait: what the client sent so far is drained, the
/// answer written if the socket takes it, and the connection closed.
fn refuse(tcp: TcpStream) {
    let mut sink = [0u8; 4096];
    while matches!(tcp.try_read(&mut sink), Ok(n) if n > 0) {}
    let _ = tcp.try_write(OVER_CAPACITY);
    if let Ok(std) = tcp.into_std() {
        let _ = std.shutdown(std::net::Shutdown::Write);
    }
}

/// Sets `TCP_NODELAY`. Without it each small write after the first (an SSE event) waits
/// for the client's delayed ACK: ~40 ms per event on Linux.
fn set_nodelay(tcp: &TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(%err, "could not set TCP_NODELAY");
    }
}

/// The peer address, as axum's `ConnectInfo` gives it to handlers.
type Peer = SocketAddr;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
