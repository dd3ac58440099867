//! Where a proxied request's time goes, noted at the proxy's phase boundaries.
//!
//! The gateway's own time (overhead) is the sum of:
//! - arrival to the moment the request is handed to the upstream client (reading and
//!   checking the body, routing, building the upstream request);
//! - the upstream's response headers to the handler returning the client's response
//!   (header filtering, building the body wrapper);
//! - time spent in the response body wrapper on the side of forwarding: copying a plain
//!   body into the recording buffer or parsing SSE events, and finishing the trace
//!   (parsing usage, pricing).
//!
//! It leaves out what happens outside the handler and the body wrapper: hyper reading the
//! request head and writing the response to the socket, and waits for the runtime to poll.

use std::time::{Duration, Instant};

/// Timestamps and sums of one request. Every method is a no-op when metrics are off.
#[derive(Debug, Clone, Copy)]
pub struct RequestTiming {
    on: bool,
    overhead: Duration,
    sent: Option<Instant>,
    answered: Option<Instant>,
    upstream: Option<Duration>,
}

impl RequestTiming {
    pub fn new(on: bool) -> Self {
        RequestTiming {
            on,
            overhead: Duration::ZERO,
            sent: None,
            answered: None,
            upstream: None,
        }
    }

    /// Whether anything is measured.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The request is about to go upstream: the time since arrival was the gateway's.
    pub fn upstream_sending(&mut self, started: Instant) {
        if self.on {
            let now = Instant::now();
            self.overhead += now.saturating_duration_since(started);
            self.sent = Some(now);
        }
    }

    /// The upstream's response headers arrived.
    pub fn upstream_answered(&mut self) {
        if let (true, Some(sent)) = (self.on, self.sent) {
            let now = Instant::now();
            self.upstream = Some(now.saturating_duration_since(sent));
            self.answered = Some(now);
        }
    }

    /// The client's response (headers, body wrapper) is ready to be returned.
    pub fn response_ready(&mut self) {
        if let (true, Some(answered)) = (self.on, self.answered) {
            self.overhead += answered.elapsed();
        }
    }

    /// Adds time the gateway spent on the request elsewhere (the body wrapper).
    pub fn add(&mut self, spent: Duration) {
        self.overhead += spent;
    }

    /// The gateway's own time so far.
    pub fn overhead(&self) -> Duration {
        self.overhead
    }

    /// Time to the upstream's response headers, when they came.
    pub fn upstream(&self) -> Option<Duration> {
        self.upstream
    }

    /// Whether the request reached the point of being sent upstream.
    pub fn was_sent(&self) -> bool {
        self.sent.is_some()
    }
}
