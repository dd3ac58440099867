//! The bulkhead of one upstream: at most `max_concurrent` requests at it at once, at most
//! `max_queue` waiting for a place, each for at most `max_queue_wait_ms`. A request that
//! finds the queue full, or waits too long, is shed with a fast 503 instead of queueing
//! without bound. The place is a [`Lease`] that the request's recording holds until the
//! response body ends, streams included.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::BulkheadConfig;

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Shed {
    #[error("bulkhead full: the upstream's queue is full")]
    QueueFull,
    #[error("bulkhead full: no place at the upstream within the queue wait")]
    WaitExpired,
}

#[derive(Debug)]
pub struct Bulkhead {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    max_queue: usize,
    max_wait: Duration,
    queued: AtomicUsize,
}

impl Bulkhead {
    pub fn new(cfg: &BulkheadConfig) -> Self {
        Bulkhead {
            permits: Arc::new(Semaphore::new(cfg.max_concurrent)),
            max_concurrent: cfg.max_concurrent,
            max_queue: cfg.max_queue,
            max_wait: Duration::from_millis(cfg.max_queue_wait_ms),
            queued: AtomicUsize::new(0),
        }
    }

    /// A place at the upstream, taken at once or after waiting in the queue (how long is
    /// returned) until the queue wait or `deadline`, whichever comes first.
    pub async fn enter(
        &self,
        deadline: Instant,
    ) -> Result<(OwnedSemaphorePermit, Option<Duration>), Shed> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok((permit, None));
        }
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.queued);
        if ahead >= self.max_queue {
            return Err(Shed::QueueFull);
        }
        let started = Instant::now();
        let until = (started + self.max_wait).min(deadline);
        match tokio::time::timeout_at(until, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok((permit, Some(started.elapsed()))),
            // A closed semaphore cannot happen (it is never closed); shed all the same.
            Ok(Err(_)) | Err(_) => Err(Shed::WaitExpired),
        }
    }

    /// Requests holding a place.
    pub fn in_use(&self) -> usize {
        self.max_concurrent
            .saturating_sub(self.permits.available_permits())
    }

    /// Requests waiting for a place.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    pub fn max_queue(&self) -> usize {
        self.max_queue
    }
}

/// Counts a request in the queue until it leaves it, also when its future is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request's place at an upstream: counted in flight, holding its bulkhead permit if
/// there is a bulkhead, until dropped (when the recording of the request is finished).
#[derive(Debug)]
pub struct Lease {
    _permit: Option<OwnedSemaphorePermit>,
    inflight: Arc<AtomicUsize>,
}

impl Lease {
    pub fn new(permit: Option<OwnedSemaphorePermit>, inflight: Arc<AtomicUsize>) -> Self {
        inflight.fetch_add(1, Ordering::AcqRel);
        Lease {
            _permit: permit,
            inflight,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn bulkhead(max_concurrent: usize, max_queue: usize, wait_ms: u64) -> Arc<Bulkhead> {
        Arc::new(Bulkhead::new(&BulkheadConfig {
            max_concurrent,
            max_queue,
            max_queue_wait_ms: wait_ms,
        }))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn sheds_when_the_queue_is_full() {
        let b = bulkhead(1, 1, 10_000);
        let (held, waited) = b.enter(far()).await.unwrap();
        assert_eq!(waited, None);
        assert_eq!(b.in_use(), 1);
        let b2 = b.clone();
        let queued = tokio::spawn(async move { b2.enter(far()).await.map(|(_, w)| w) });
        while b.queued() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(b.enter(far()).await.unwrap_err(), Shed::QueueFull);
        drop(held);
        assert!(
            queued.await.unwrap().unwrap().is_some(),
            "the queued one got in"
        );
        assert_eq!(b.queued(), 0);
    }

    #[tokio::test]
    async fn sheds_when_the_wait_expires() {
        let b = bulkhead(1, 5, 20);
        let _held = b.enter(far()).await.unwrap();
        assert_eq!(b.enter(far()).await.unwrap_err(), Shed::WaitExpired);
        assert_eq!(b.queued(), 0);
    }

    #[tokio::test]
    async fn no_queue_sheds_at_once() {
        let b = bulkhead(2, 0, 100);
        let _a = b.enter(far()).await.unwrap();
        let _b = b.enter(far()).await.unwrap();
        assert_eq!(b.enter(far()).await.unwrap_err(), Shed::QueueFull);
    }

    #[test]
    fn a_lease_counts_in_flight_until_dropped() {
        let n = Arc::new(AtomicUsize::new(0));
        let l = Lease::new(None, n.clone());
        assert_eq!(n.load(Ordering::Relaxed), 1);
        drop(l);
        assert_eq!(n.load(Ordering::Relaxed), 0);
    }
}
