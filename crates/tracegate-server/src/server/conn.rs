//! One client connection: hyper's HTTP/1 connection, the peer address handed to the
//! handlers, and the keep-alive limit.
//!
//! Idle means no request under way and no byte of the next one. The connection counts its
//! reads (one relaxed add per read) and its requests (a guard in the response body, given
//! back when hyper has sent the body); a single `Sleep` checks, when it fires, whether the
//! connection has been idle for `keep_alive` and then closes it gracefully. A client that
//! has started its next head is left to hyper's `header_read_timeout`.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::{Peer, Slot};

/// An accepted connection and what serving it needs.
pub(super) struct Conn {
    pub tcp: TcpStream,
    pub peer: Peer,
    pub router: Router,
    pub http: http1::Builder,
    pub keep_alive: Duration,
    pub stop: CancellationToken,
    pub slot: Slot,
}

/// Serves one connection until it ends: closed by the client, idle past `keep_alive`, a
/// head not read in time, or drained at shutdown.
pub(super) async fn serve(conn: Conn) {
    let Conn {
        tcp,
        peer,
        router,
        http,
        keep_alive,
        stop,
        slot,
    } = conn;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(CountingIo {
        tcp,
        activity: activity.clone(),
    });
    let on_request = activity.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::enter(on_request.clone());
        let router = router.clone();
        async move {
            let response = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|body| Body::new(Tracked { body, _busy: busy })))
        }
    });
    let connection = http.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let check = tokio::time::sleep(keep_alive);
    let mut check = std::pin::pin!(check);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%err, %peer, "client connection ended with an error");
                }
                break;
            }
            () = stop.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = &mut check, if !closing => match activity.idle_until(keep_alive) {
                None => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                Some(next) => check.as_mut().reset(next),
            },
        }
    }
    drop(slot);
}

/// What the keep-alive check reads.
#[derive(Debug)]
struct Activity {
    /// Reads that returned bytes.
    reads: AtomicU64,
    /// `reads` when the connection last became idle.
    reads_when_idle: AtomicU64,
    /// Requests under way (head read, response body not yet sent).
    busy: AtomicUsize,
    /// Milliseconds from `born` to the moment the connection last became idle.
    idle_since_ms: AtomicU64,
    born: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            reads: AtomicU64::new(0),
            reads_when_idle: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// None when the connection has been idle for `keep_alive`; otherwise when to look again.
    fn idle_until(&self, keep_alive: Duration) -> Option<Instant> {
        let now = Instant::now();
        let idle = self.busy.load(Ordering::Acquire) == 0
            && self.reads.load(Ordering::Relaxed) == self.reads_when_idle.load(Ordering::Relaxed);
        if !idle {
            return Some(now + keep_alive);
        }
        let since = self.born + Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed));
        let until = since + keep_alive;
        (until > now).then_some(until)
    }
}

/// One request under way; dropped with the response body once hyper has sent it.
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(activity: Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        let ms = u64::try_from(a.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        a.idle_since_ms.store(ms, Ordering::Relaxed);
        a.reads_when_idle
            .store(a.reads.load(Ordering::Relaxed), Ordering::Relaxed);
        a.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The response body with the request's [`Busy`] guard.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream, counting the reads that bring bytes.
struct CountingIo {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.reads.fetch_add(1, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
