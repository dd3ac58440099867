//! Server-sent event streams: a channel-fed body, a paced sender and event encoding.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::reply;
use crate::state::StreamGuard;

/// Events buffered between the generator and the connection.
const CHANNEL_CAPACITY: usize = 8;

/// The client went away; the generator must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client disconnected")]
pub(crate) struct Disconnected;

/// Sending half of a stream body.
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<Bytes>,
}

impl EventSink {
    /// Sends one chunk; fails once the body was dropped.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), Disconnected> {
        self.tx.send(chunk.into()).await.map_err(|_| Disconnected)
    }
}

/// The body was cut on purpose (`x-mock-abort-after`): the connection closes without the
/// body's end, as when a provider's connection drops mid-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stream aborted by x-mock-abort-after")]
pub(crate) struct Aborted;

/// A body whose chunks are produced by `generate` on its own task, written as they come.
/// The generator ends when the client disconnects (its next send fails). With
/// `abort_after`, the body fails after that many chunks, which closes the connection.
pub(crate) fn channel_body<F, Fut>(
    guard: StreamGuard,
    abort_after: Option<u32>,
    generate: F,
) -> Body
where
    F: FnOnce(EventSink) -> Fut,
    Fut: Future<Output = Result<(), Disconnected>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let task = generate(EventSink { tx });
    tokio::spawn(async move {
        let _guard = guard;
        if task.await.is_err() {
            tracing::debug!("mock stream stopped: client disconnected");
        }
    });
    Body::new(ChannelBody {
        rx,
        left: abort_after,
    })
}

/// Receiving half of a stream body.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
    /// Chunks still to pass before the body fails, if it is to.
    left: Option<u32>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        if self.left == Some(0) {
            return Poll::Ready(Some(Err(Aborted)));
        }
        let polled = self.rx.poll_recv(cx);
        if let (Poll::Ready(Some(_)), Some(n)) = (&polled, self.left.as_mut()) {
            *n -= 1;
        }
        polled.map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}

/// Schedules content deltas: the first `ttft` after the start, then one every `inter_token`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacer {
    start: Instant,
    ttft: Duration,
    inter_token: Duration,
}

impl Pacer {
    /// A schedule starting now.
    pub fn start(ttft: Duration, inter_token: Duration) -> Self {
        Self {
            start: Instant::now(),
            ttft,
            inter_token,
        }
    }

    /// Waits until delta `index` is due (deadlines do not drift).
    pub async fn wait(&self, index: u32) {
        let offset = self.ttft + self.inter_token.saturating_mul(index);
        if offset.is_zero() {
            return;
        }
        let due = self.start + offset;
        if Instant::now() < due {
            tokio::time::sleep_until(due).await;
        }
    }
}

/// `event: {name}\ndata: {json}\n\n`.
pub(crate) fn named_event<T: Serialize>(name: &str, data: &T) -> Vec<u8> {
    let json = reply::to_json(data);
    let mut out = Vec::with_capacity(json.len() + name.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    out
}

/// `event: {name}\ndata: ` followed by already encoded JSON and a blank line.
pub(crate) fn named_raw_event(name: &str, json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + name.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    out
}

/// `data: {json}\n\n`.
pub(crate) fn data_event(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_framed() {
        assert_eq!(
            named_event("ping", &json!({"type":"ping"})),
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
        assert_eq!(named_raw_event("x", b"{}"), b"event: x\ndata: {}\n\n");
        assert_eq!(data_event(b"[DONE]"), b"data: [DONE]\n\n");
    }

    #[tokio::test]
    async fn pacer_waits_for_deadlines() {
        let pacer = Pacer::start(Duration::from_millis(30), Duration::from_millis(10));
        pacer.wait(0).await;
        assert!(pacer.start.elapsed() >= Duration::from_millis(30));
        pacer.wait(3).await;
        assert!(pacer.start.elapsed() >= Duration::from_millis(60));
        let instant = Pacer::start(Duration::ZERO, Duration::ZERO);
        instant.wait(100).await;
        assert!(instant.start.elapsed() < Duration::from_millis(100));
    }
}
