//! The response body the client reads: upstream bytes forwarded as they arrive, with a
//! copy fed to the SSE parser (streams) or a bounded buffer (everything else). When the
//! body ends, errors, times out or is dropped, the trace is finished.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracegate_core::sse::{SseEvent, SseParser, MAX_EVENT_BYTES};
use tracegate_core::stream::{openai::strip_injected_usage, StreamAccumulator};
use tracegate_core::usage::{model_from_response, usage_from_response};
use tracegate_core::{Outcome, Provider, Trace};

use super::cache::CacheFill;
use super::recording::Recording;
use crate::spool::acks::Durable;
use boundary::{timeout_event, EventAligner, Tail};
pub(crate) use timer::BodyTimer;
use timer::Fired;

mod boundary;
mod timer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

enum Mode {
    Sse {
        parser: SseParser,
        acc: Option<Box<StreamAccumulator>>,
        /// The gateway asked for usage the client did not: hide it.
        rewrite: bool,
        events: Vec<SseEvent>,
        /// Without rewriting: forwards bytes up to the last complete event.
        aligner: EventAligner,
    },
    Plain {
        buf: BytesMut,
        cap: usize,
        truncated: bool,
    },
}

pub struct TeeBody {
    inner: Incoming,
    rec: Option<Recording>,
    /// The idle limit between chunks and the total deadline (`tee/timer.rs`).
    timer: BodyTimer,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    mode: Mode,
    provider: Provider,
    status: u16,
    out: VecDeque<Bytes>,
    /// The end of what the client was sent, to cut a stream on an event boundary.
    tail: Tail,
    /// The upstream gave a length: the client's body cannot grow an error event.
    sized: bool,
    /// After a response cache miss: collects the answer and stores it if it ends whole.
    fill: Option<Box<CacheFill>>,
    /// `sync` durability: the end of the body waits until the trace is on disk.
    durable: Option<Durable>,
}

impl TeeBody {
    fn new(
        inner: Incoming,
        rec: Recording,
        timer: BodyTimer,
        mode: Mode,
        provider: Provider,
        status: u16,
    ) -> Self {
        TeeBody {
            sized: inner.size_hint().exact().is_some(),
            inner,
            cut: Box::pin(rec.cut()),
            rec: Some(rec),
            timer,
            mode,
            provider,
            status,
            out: VecDeque::new(),
            tail: Tail::default(),
            fill: None,
            durable: None,
        }
    }

    /// Stores the answer in the response cache when it ends whole.
    pub fn with_cache_fill(mut self, fill: Option<Box<CacheFill>>) -> Self {
        self.fill = fill;
        self
    }

    pub fn sse(
        inner: Incoming,
        rec: Recording,
        timer: BodyTimer,
        provider: Provider,
        status: u16,
        rewrite: bool,
    ) -> Self {
        let mode = Mode::Sse {
            parser: SseParser::default(),
            acc: Some(Box::new(StreamAccumulator::new(provider))),
            rewrite,
            events: Vec::new(),
            aligner: EventAligner::default(),
        };
        Self::new(inner, rec, timer, mode, provider, status)
    }

    pub fn plain(
        inner: Incoming,
        rec: Recording,
        timer: BodyTimer,
        provider: Provider,
        status: u16,
        cap: usize,
    ) -> Self {
        let mode = Mode::Plain {
            buf: BytesMut::new(),
            cap,
            truncated: false,
        };
        Self::new(inner, rec, timer, mode, provider, status)
    }

    /// The handler is about to return the response: the gateway's time since the upstream's
    /// headers counts as its own.
    pub fn response_ready(&mut self) {
        if let Some(rec) = self.rec.as_mut() {
            rec.timing().response_ready();
        }
    }

    /// [`Self::observe`], its time counted as the gateway's when metrics are on.
    fn observe_timed(&mut self, data: Bytes) -> Option<Bytes> {
        let on = self.rec.as_mut().is_some_and(|r| r.timing().is_on());
        if !on {
            return self.observe(data);
        }
        let since = std::time::Instant::now();
        let forward = self.observe(data);
        if let Some(rec) = self.rec.as_mut() {
            rec.timing().add(since.elapsed());
        }
        forward
    }

    /// Looks at one chunk; returns it if it is to be forwarded as is.
    fn observe(&mut self, data: Bytes) -> Option<Bytes> {
        match &mut self.mode {
            Mode::Plain {
                buf,
                cap,
                truncated,
            } => {
                let room = cap.saturating_sub(buf.len());
                if data.len() > room {
                    *truncated = true;
                }
                buf.extend_from_slice(&data[..data.len().min(room)]);
                Some(data)
            }
            Mode::Sse {
                parser,
                acc,
                rewrite,
                events,
                aligner,
            } => {
                parser.push(&data, events);
                let rewrite = *rewrite;
                let queued = self.out.len();
                let first = drain_events(events, acc, rewrite, &mut self.out);
                if let Some(fill) = self.fill.as_mut() {
                    if rewrite {
                        self.out.range(queued..).for_each(|b| fill.push(b));
                    } else {
                        fill.push(&data);
                    }
                }
                if first {
                    if let Some(rec) = self.rec.as_mut() {
                        let ms = rec.elapsed_ms();
                        if let Some(t) = rec.trace_mut() {
                            t.ttft_ms.get_or_insert(ms);
                        }
                    }
                }
                if rewrite {
                    None
                } else {
                    aligner.push(data)
                }
            }
        }
    }

    /// The upstream body ended normally.
    fn finish_end(&mut self) {
        let Some(rec) = self.rec.take() else { return };
        let status = self.status;
        let provider = self.provider;
        let mut fill = self.fill.take();
        match &mut self.mode {
            Mode::Plain { buf, truncated, .. } => {
                let body = std::mem::take(buf).freeze();
                let truncated = *truncated;
                self.durable = rec.finish(|t| {
                    finish_plain(t, provider, status, body, truncated);
                    if let Some(f) = fill {
                        f.finish(status, t);
                    }
                });
            }
            Mode::Sse {
                parser,
                acc,
                rewrite,
                events,
                aligner,
            } => {
                parser.finish(events);
                let queued = self.out.len();
                drain_events(events, acc, *rewrite, &mut self.out);
                if let Some(rest) = aligner.flush() {
                    self.out.push_back(rest);
                }
                if let Some(f) = fill.as_mut().filter(|_| *rewrite) {
                    self.out.range(queued..).for_each(|b| f.push(b));
                }
                let summary = acc.take().map(|a| a.finish());
                let oversized = parser.oversized_events();
                self.durable = rec.finish(|t| {
                    t.outcome = if status >= 400 {
                        Outcome::UpstreamError
                    } else {
                        Outcome::Ok
                    };
                    if let Some(s) = summary {
                        t.usage = s.usage;
                        t.model = s.model.or(t.model.take());
                        if let Some(m) = s.message {
                            t.response_body =
                                serde_json::to_vec(&m).map(Bytes::from).unwrap_or_default();
                        }
                        if let Some(e) = s.error {
                            t.outcome = Outcome::UpstreamError;
                            t.error = Some(e);
                        } else if !s.complete && status < 400 {
                            t.outcome = Outcome::UpstreamError;
                            t.error = Some(
                                "stream ended before the provider finished the message".into(),
                            );
                        }
                    }
                    if oversized > 0 {
                        add_note(t, &oversized_note(oversized));
                    }
                    if let Some(f) = fill {
                        f.finish(status, t);
                    }
                });
            }
        }
    }

    fn finish_failed(&mut self, outcome: Outcome, error: String) {
        let Some(rec) = self.rec.take() else { return };
        let (partial, oversized) = match &mut self.mode {
            Mode::Sse { acc, parser, .. } => {
                (acc.take().map(|a| a.finish()), parser.oversized_events())
            }
            Mode::Plain { .. } => (None, 0),
        };
        self.durable = rec.finish(|t| {
            t.outcome = outcome;
            t.error = Some(error);
            if oversized > 0 {
                add_note(t, &oversized_note(oversized));
            }
            if let Some(s) = partial {
                t.usage = s.usage;
                t.model = s.model.or(t.model.take());
                if let Some(m) = s.message {
                    t.response_body = serde_json::to_vec(&m).map(Bytes::from).unwrap_or_default();
                }
            }
        });
    }
}

/// Feeds parsed events to the accumulator and, when rewriting, queues what the client gets.
/// Returns true if one of them carried the first content token.
fn drain_events(
    events: &mut Vec<SseEvent>,
    acc: &mut Option<Box<StreamAccumulator>>,
    rewrite: bool,
    out: &mut VecDeque<Bytes>,
) -> bool {
    let mut first = false;
    for ev in events.drain(..) {
        if let Some(a) = acc.as_mut() {
            first |= a.on_event(&ev).first_content;
        }
        if rewrite {
            if let Some(b) = strip_injected_usage(&ev) {
                out.push_back(b);
            }
        }
    }
    first
}

fn finish_plain(t: &mut Trace, provider: Provider, status: u16, body: Bytes, truncated: bool) {
    t.outcome = if status >= 400 {
        Outcome::UpstreamError
    } else {
        Outcome::Ok
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        if status < 400 {
            t.usage = usage_from_response(provider, &v);
            t.model = model_from_response(&v).or(t.model.take());
        } else {
            let msg = v.pointer("/error/message").and_then(|m| m.as_str());
            t.error = Some(
                msg.map(str::to_string)
                    .unwrap_or_else(|| format!("upstream answered {status}")),
            );
        }
    } else if status >= 400 {
        t.error = Some(format!("upstream answered {status}"));
    }
    if truncated {
        add_note(
            t,
            "response body larger than the recording limit; stored truncated",
        );
    }
    t.response_body = body;
}

/// What the trace says about events the parser could not hold whole.
fn oversized_note(events: u64) -> String {
    format!(
        "{events} stream event(s) over {} MiB forwarded but not recorded",
        MAX_EVENT_BYTES / (1024 * 1024)
    )
}

/// Adds what the recording could not keep to the trace's error text.
fn add_note(t: &mut Trace, note: &str) {
    t.error = Some(
        t.error
            .take()
            .map_or_else(|| note.to_string(), |e| format!("{e}; {note}")),
    );
}

impl TeeBody {
    /// Finishes the trace as timed out. Returns the provider's error event that ends a
    /// stream cleanly, or none when the body can only be cut.
    fn timed_out(&mut self, fired: Fired) -> Option<Bytes> {
        let upstream = self
            .rec
            .as_mut()
            .and_then(|r| r.trace_mut())
            .and_then(|t| t.upstream.as_deref())
            .unwrap_or("?");
        let error = self.timer.message(fired, upstream);
        let message = match fired {
            Fired::Idle => "the upstream stopped sending within the gateway's idle timeout",
            Fired::Total => "the upstream did not finish the response within the gateway's timeout",
        };
        // A stream ends with the provider's own error event, then cleanly; a plain body
        // can only be cut.
        let can_grow = !self.sized || matches!(self.mode, Mode::Sse { rewrite: true, .. });
        let event = (matches!(self.mode, Mode::Sse { .. }) && can_grow)
            .then(|| timeout_event(self.provider, &self.tail, message));
        self.finish_failed(Outcome::Timeout, error);
        event
    }

    /// Hands `data` to the client, noting how it ends.
    fn send(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.tail.sent(&data);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if let Some(d) = this.durable.as_mut() {
                if Pin::new(d).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.durable = None;
            }
            if let Some(b) = this.out.pop_front() {
                return this.send(b);
            }
            if this.rec.is_none() {
                return Poll::Ready(None);
            }
            if this.cut.as_mut().poll(cx).is_ready() {
                this.finish_failed(
                    Outcome::Cancelled,
                    "gateway shut down before the response was complete".into(),
                );
                return Poll::Ready(Some(Err("gateway shutting down".into())));
            }
            // The upstream is asked first: data it has ready is never blamed on the timer,
            // however slowly the client reads.
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => match this.timer.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(fired) => match this.timed_out(fired) {
                        Some(e) => this.out.push_back(e),
                        None => return Poll::Ready(Some(Err("upstream timed out".into()))),
                    },
                },
                Poll::Ready(None) => this.finish_end(),
                Poll::Ready(Some(Err(e))) => {
                    this.finish_failed(
                        Outcome::UpstreamError,
                        format!("upstream connection failed mid-response: {e}"),
                    );
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                Poll::Ready(Some(Ok(_))) if this.timer.chunk() => {
                    match this.timed_out(Fired::Total) {
                        Some(e) => this.out.push_back(e),
                        None => return Poll::Ready(Some(Err("upstream timed out".into()))),
                    }
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let forward = this.observe_timed(data);
                        // A body of known length may be dropped by the server as soon as its
                        // last byte is written, without being polled to its end: finish now.
                        if this.inner.is_end_stream() {
                            this.finish_end();
                        }
                        if let Some(d) = forward {
                            if this.durable.is_some() {
                                // The last bytes wait for the trace's fsync.
                                this.out.push_back(d);
                                continue;
                            }
                            return this.send(d);
                        }
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rec.is_none() && self.out.is_empty() && self.durable.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.mode {
            Mode::Sse { rewrite: true, .. } => SizeHint::default(),
            _ => self.inner.size_hint(),
        }
    }
}
