//! One subscriber of the live feed: first the events it missed (a resume), then the live
//! ones, filtered to its account; told `lagged` when it fell behind.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{LiveEvent, LiveStats};

/// What a subscriber is sent next.
#[derive(Debug)]
pub enum Delivery {
    Event(Arc<LiveEvent>),
    /// Events were lost to this subscriber. `skipped` is how many (`None` for a scoped
    /// subscriber: the count would tell it about other accounts' traffic). With `reload`
    /// the client should read the current state again (its `Last-Event-ID` is too old).
    /// `at` is the id to resume from, when known.
    Lagged {
        skipped: Option<u64>,
        reload: bool,
        at: Option<u64>,
    },
    /// The feed was dropped (the gateway is stopping).
    Closed,
}

/// The kept events a resuming subscriber is sent first.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    /// Its `Last-Event-ID` is older than the ring (or not one of this process): how many
    /// events are gone, and the id of the newest event, to resume from after a reload.
    too_old: Option<(u64, u64)>,
    events: VecDeque<Arc<LiveEvent>>,
}

impl Backlog {
    /// The kept events after `last`; `next_id` is the id the next event will get.
    pub(super) fn after(ring: &VecDeque<Arc<LiveEvent>>, next_id: u64, last: u64) -> Self {
        let oldest = ring.front().map_or(next_id, |e| e.id);
        if last >= next_id || last.saturating_add(1) < oldest {
            // Missed events are gone (or the id is not ours): reload, then go on live.
            return Backlog {
                too_old: Some((
                    oldest.saturating_sub(last.saturating_add(1)),
                    next_id.saturating_sub(1),
                )),
                events: VecDeque::new(),
            };
        }
        Backlog {
            too_old: None,
            events: ring.iter().filter(|e| e.id > last).cloned().collect(),
        }
    }
}

pub struct Subscription {
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    backlog: Backlog,
    account: Option<String>,
    stats: Arc<LiveStats>,
    closed: CancellationToken,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("account", &self.account)
            .finish()
    }
}

impl Subscription {
    pub(super) fn new(
        rx: broadcast::Receiver<Arc<LiveEvent>>,
        backlog: Backlog,
        account: Option<String>,
        stats: Arc<LiveStats>,
        closed: CancellationToken,
    ) -> Self {
        Subscription {
            rx,
            backlog,
            account,
            stats,
            closed,
        }
    }

    fn visible(&self, e: &LiveEvent) -> bool {
        match &self.account {
            None => true,
            Some(a) => e.account() == Some(a.as_str()),
        }
    }

    fn lagged(&self, skipped: u64, reload: bool, at: Option<u64>) -> Delivery {
        self.stats
            .lagged_skipped
            .fetch_add(skipped, Ordering::Relaxed);
        Delivery::Lagged {
            skipped: self.account.is_none().then_some(skipped),
            reload,
            at,
        }
    }

    fn sent(&self, e: Arc<LiveEvent>) -> Delivery {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        Delivery::Event(e)
    }

    /// The next thing to send. Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Delivery {
        if let Some((skipped, at)) = self.backlog.too_old.take() {
            return self.lagged(skipped, true, Some(at));
        }
        while let Some(e) = self.backlog.events.pop_front() {
            if self.visible(&e) {
                return self.sent(e);
            }
        }
        loop {
            let received = tokio::select! {
                r = self.rx.recv() => r,
                () = self.closed.cancelled() => return Delivery::Closed,
            };
            match received {
                Ok(e) if self.visible(&e) => return self.sent(e),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    // Go on from the newest: what is still queued is skipped too.
                    let queued = self.rx.len() as u64;
                    self.rx = self.rx.resubscribe();
                    return self.lagged(n.saturating_add(queued), false, None);
                }
                Err(RecvError::Closed) => return Delivery::Closed,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.stats.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}
