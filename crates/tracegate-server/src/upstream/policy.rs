//! The traffic policy state of one upstream: bulkhead, circuit breaker, retry settings,
//! the shared retry budget and the counters shown on `/api/v1/upstreams` and `/metrics`.
//! All of it is in process: each replica of the gateway has its own.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;

use super::breaker::{Breaker, CircuitState};
use super::budget::RetryBudget;
use super::bulkhead::{Bulkhead, Lease, Shed};
use crate::config::{RetryConfig, UpstreamConfig};

/// Why requests were shed, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedCause {
    QueueFull,
    QueueWait,
    CircuitOpen,
}

impl ShedCause {
    pub const ALL: [ShedCause; 3] = [
        ShedCause::QueueFull,
        ShedCause::QueueWait,
        ShedCause::CircuitOpen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShedCause::QueueFull => "queue_full",
            ShedCause::QueueWait => "queue_wait",
            ShedCause::CircuitOpen => "circuit_open",
        }
    }
}

#[derive(Debug)]
pub struct Policy {
    pub bulkhead: Option<Bulkhead>,
    pub breaker: Breaker,
    pub retry: RetryConfig,
    pub budget: Arc<RetryBudget>,
    inflight: Arc<AtomicUsize>,
    retries: AtomicU64,
    shed: [AtomicU64; 3],
    /// The queue wait histogram, once metrics are attached.
    queue_wait: OnceLock<metrics::Histogram>,
}

impl Policy {
    pub fn new(c: &UpstreamConfig, budget: Arc<RetryBudget>) -> Self {
        Policy {
            bulkhead: c.bulkhead.as_ref().map(Bulkhead::new),
            breaker: Breaker::new(c.breaker.clone(), Instant::now()),
            retry: c.retry.clone(),
            budget,
            inflight: Arc::new(AtomicUsize::new(0)),
            retries: AtomicU64::new(0),
            shed: Default::default(),
            queue_wait: OnceLock::new(),
        }
    }

    /// A place at the upstream: at once without a bulkhead, else through it.
    pub async fn enter(&self, deadline: tokio::time::Instant) -> Result<Lease, Shed> {
        let Some(b) = &self.bulkhead else {
            return Ok(Lease::new(None, self.inflight.clone()));
        };
        match b.enter(deadline).await {
            Ok((permit, waited)) => {
                if let (Some(w), Some(h)) = (waited, self.queue_wait.get()) {
                    h.record(w.as_secs_f64());
                }
                Ok(Lease::new(Some(permit), self.inflight.clone()))
            }
            Err(shed) => {
                self.count_shed(match shed {
                    Shed::QueueFull => ShedCause::QueueFull,
                    Shed::WaitExpired => ShedCause::QueueWait,
                });
                Err(shed)
            }
        }
    }

    pub fn count_shed(&self, cause: ShedCause) {
        let i = ShedCause::ALL.iter().position(|c| *c == cause).unwrap_or(0);
        if let Some(n) = self.shed.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn attach_queue_wait(&self, h: metrics::Histogram) {
        let _ = self.queue_wait.set(h);
    }

    pub fn view(&self, now: Instant) -> PolicyView {
        let (recent_requests, recent_failures) = self.breaker.recent(now);
        let shed = |c: ShedCause| {
            let i = ShedCause::ALL.iter().position(|x| *x == c).unwrap_or(0);
            self.shed.get(i).map_or(0, |n| n.load(Ordering::Relaxed))
        };
        PolicyView {
            circuit: self.breaker.state(now),
            in_flight: self.inflight.load(Ordering::Relaxed),
            queued: self.bulkhead.as_ref().map_or(0, Bulkhead::queued),
            max_concurrent: self.bulkhead.as_ref().map(Bulkhead::max_concurrent),
            max_queue: self.bulkhead.as_ref().map(Bulkhead::max_queue),
            window_secs: self.breaker.window_secs(),
            recent_requests,
            recent_failures,
            error_rate: if recent_requests == 0 {
                0.0
            } else {
                recent_failures as f64 / recent_requests as f64
            },
            max_attempts: self.retry.max_attempts,
            retries: self.retries.load(Ordering::Relaxed),
            shed_queue_full: shed(ShedCause::QueueFull),
            shed_queue_wait: shed(ShedCause::QueueWait),
            shed_circuit_open: shed(ShedCause::CircuitOpen),
        }
    }
}

/// One upstream's traffic state, as `/api/v1/upstreams` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub circuit: CircuitState,
    /// Requests at the upstream now, response bodies still streaming included.
    pub in_flight: usize,
    /// Requests waiting for a place in the bulkhead.
    pub queued: usize,
    /// The bulkhead's limits; null without a bulkhead.
    pub max_concurrent: Option<usize>,
    pub max_queue: Option<usize>,
    /// The window the recent figures cover, in seconds.
    pub window_secs: u64,
    /// Attempts whose result is known, in the window.
    pub recent_requests: u64,
    /// Of those, failures: connection errors, timeouts, 5xx and 529.
    pub recent_failures: u64,
    pub error_rate: f64,
    pub max_attempts: u32,
    /// Retries made since start.
    pub retries: u64,
    /// Requests shed since start: queue full, queue wait expired, circuit open.
    pub shed_queue_full: u64,
    pub shed_queue_wait: u64,
    pub shed_circuit_open: u64,
}
