//! The live feed: recorded traces and requests starting and ending in flight, as they
//! happen, for `GET /api/v1/live` (Server-Sent Events, `api/live.rs`).
//!
//! The proxy side only ever calls [`LivePublisher::publish`], which never waits: it takes a
//! short lock, numbers the event, keeps it in a bounded ring (for `Last-Event-ID` resumes)
//! and hands it to a bounded `tokio::sync::broadcast`. A subscriber that falls behind loses
//! events (it is told how many, `lagged`); the publisher never slows down for it.
//!
//! The boundary for several replicas: the proxy holds a `dyn LivePublisher`, the API a
//! [`LiveFeed`] to subscribe to. A Redis transport would be a publisher that sends each
//! event to a channel, and a task per replica that feeds the channel's messages into that
//! replica's `LiveFeed` (ids then come from one place, the channel's order). Only the
//! in-process hub exists today.

pub mod event;
mod subscription;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use event::{LiveEvent, LiveKind, Published};
pub use subscription::{Delivery, Subscription};

/// Events kept for `Last-Event-ID` resumes.
pub const RING_EVENTS: usize = 1024;
/// Events a subscriber may fall behind before it is told `lagged`.
pub const CHANNEL_EVENTS: usize = 1024;

/// Where the gateway's live events go. Never waits.
pub trait LivePublisher: Send + Sync + std::fmt::Debug {
    fn publish(&self, event: Published);
}

/// Counters of the feed, read by `/metrics`.
#[derive(Debug, Default)]
pub struct LiveStats {
    pub subscribers: AtomicUsize,
    pub published: AtomicU64,
    pub sent: AtomicU64,
    pub lagged_skipped: AtomicU64,
    pub refused: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LiveStatsSnapshot {
    pub subscribers: usize,
    pub published: u64,
    pub sent: u64,
    pub lagged_skipped: u64,
    pub refused: u64,
}

impl LiveStats {
    pub fn snapshot(&self) -> LiveStatsSnapshot {
        LiveStatsSnapshot {
            subscribers: self.subscribers.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            lagged_skipped: self.lagged_skipped.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// The in-process hub. Cheap to clone.
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    max_subscribers: usize,
    stats: Arc<LiveStats>,
    /// Cancelled at shutdown: every subscription ends, so its connection can close.
    closed: CancellationToken,
}

struct State {
    /// The id of the next event.
    next_id: u64,
    ring: VecDeque<Arc<LiveEvent>>,
    ring_len: usize,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("max_subscribers", &self.inner.max_subscribers)
            .field("stats", &self.inner.stats.snapshot())
            .finish()
    }
}

/// Why a subscription was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("the live feed has its {0} subscribers already; try again later")]
    Full(usize),
}

impl LiveFeed {
    /// A hub that admits `max_subscribers` at once.
    pub fn new(max_subscribers: usize) -> Self {
        Self::with_sizes(max_subscribers, RING_EVENTS, CHANNEL_EVENTS)
    }

    /// A hub with its ring and channel sizes chosen (tests use small ones).
    pub fn with_sizes(max_subscribers: usize, ring: usize, channel: usize) -> Self {
        let (tx, _) = broadcast::channel(channel.max(1));
        // Ids start at the start-up time in microseconds, so a client's `Last-Event-ID`
        // from before a restart is older than every id of this process.
        let first = u64::try_from(chrono::Utc::now().timestamp_micros())
            .unwrap_or(1)
            .max(1);
        LiveFeed {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    next_id: first,
                    ring: VecDeque::with_capacity(ring.min(RING_EVENTS)),
                    ring_len: ring.max(1),
                }),
                tx,
                max_subscribers,
                stats: Arc::default(),
                closed: CancellationToken::new(),
            }),
        }
    }

    pub fn stats(&self) -> Arc<LiveStats> {
        self.inner.stats.clone()
    }

    /// Ends every subscription (shutdown): their streams end, so connections can close.
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> u64 {
        self.inner.state.lock().next_id
    }

    /// A subscription that sees only `account`'s events when it is `Some`, and first the
    /// kept events after `last_event_id` (a reconnecting client's `Last-Event-ID`).
    pub fn subscribe(
        &self,
        account: Option<String>,
        last_event_id: Option<u64>,
    ) -> Result<Subscription, SubscribeError> {
        let stats = &self.inner.stats;
        let admitted = stats
            .subscribers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.inner.max_subscribers).then_some(n + 1)
            });
        if admitted.is_err() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(SubscribeError::Full(self.inner.max_subscribers));
        }
        // Subscribing and copying the ring under the publishers' lock: no event is both
        // replayed and received, none falls between.
        let state = self.inner.state.lock();
        let rx = self.inner.tx.subscribe();
        let backlog = match last_event_id {
            None => subscription::Backlog::default(),
            Some(last) => subscription::Backlog::after(&state.ring, state.next_id, last),
        };
        drop(state);
        Ok(Subscription::new(
            rx,
            backlog,
            account,
            stats.clone(),
            self.inner.closed.clone(),
        ))
    }
}

impl LivePublisher for LiveFeed {
    fn publish(&self, event: Published) {
        let mut state = self.inner.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        let event = Arc::new(LiveEvent::new(id, event.kind, event.data));
        if state.ring.len() >= state.ring_len {
            state.ring.pop_front();
        }
        state.ring.push_back(event.clone());
        // Sent under the lock so the channel's order is the ids' order. With no
        // subscriber this fails, which is fine: the ring keeps the event.
        let _ = self.inner.tx.send(event);
        drop(state);
        self.inner.stats.published.fetch_add(1, Ordering::Relaxed);
    }
}
