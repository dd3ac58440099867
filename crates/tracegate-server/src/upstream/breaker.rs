//! The circuit breaker of one upstream. Closed, requests pass and their results are
//! counted; after `consecutive_failures` failures in a row, or an error rate of at least
//! `error_rate` over `window_secs` with `min_requests` requests, it opens: requests fail
//! fast (or go to a fallback) for `open_secs`. Then it half-opens and lets one probe
//! through: the probe's success closes it, its failure opens it again. A probe that never
//! reports (its client went away) is replaced after another `open_secs`.
//!
//! Results are counted whether a breaker is configured or not: the upstream's recent error
//! rate is shown on `/api/v1/upstreams`. State lives in this process only.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::config::BreakerConfig;

/// The window the error rate is shown over when no breaker is configured.
const DEFAULT_WINDOW_SECS: u64 = 30;

/// What the breaker says about a request about to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: send it.
    Pass,
    /// Half-open: send it as the one probe; its result decides.
    Probe,
    /// Open: do not send it.
    Reject,
}

/// The circuit's state, as shown and measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe`: when the probe in flight was let through, if one is.
    HalfOpen {
        probe: Option<Instant>,
    },
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive: u32,
    window: Window,
}

/// One upstream's breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: Option<BreakerConfig>,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(cfg: Option<BreakerConfig>, now: Instant) -> Self {
        let window_secs = cfg.as_ref().map_or(DEFAULT_WINDOW_SECS, |c| c.window_secs);
        Breaker {
            cfg,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive: 0,
                window: Window::new(window_secs, now),
            }),
        }
    }

    /// Whether a request may go now. Without a configured breaker: always.
    pub fn admit(&self, now: Instant) -> Admit {
        let Some(cfg) = &self.cfg else {
            return Admit::Pass;
        };
        let open_for = Duration::from_secs(cfg.open_secs);
        let mut inner = self.inner.lock();
        match inner.state {
            State::Closed => Admit::Pass,
            State::Open { until } if now < until => Admit::Reject,
            State::Open { .. } => {
                inner.state = State::HalfOpen { probe: Some(now) };
                Admit::Probe
            }
            State::HalfOpen { probe: Some(since) } if now.duration_since(since) < open_for => {
                Admit::Reject
            }
            State::HalfOpen { .. } => {
                inner.state = State::HalfOpen { probe: Some(now) };
                Admit::Probe
            }
        }
    }

    /// Counts the result of a request that was sent; `probe` if [`Breaker::admit`] let it
    /// through as the probe. Returns true when this result opened the circuit.
    pub fn record(&self, now: Instant, ok: bool, probe: bool) -> bool {
        let mut inner = self.inner.lock();
        inner.window.add(now, ok);
        let Some(cfg) = &self.cfg else {
            return false;
        };
        let open = State::Open {
            until: now + Duration::from_secs(cfg.open_secs),
        };
        match inner.state {
            State::HalfOpen { .. } if probe => {
                if ok {
                    inner.state = State::Closed;
                    inner.consecutive = 0;
                    inner.window.clear();
                    false
                } else {
                    inner.state = open;
                    true
                }
            }
            State::Closed if ok => {
                inner.consecutive = 0;
                false
            }
            State::Closed => {
                inner.consecutive = inner.consecutive.saturating_add(1);
                let (total, failed) = inner.window.totals(now);
                let rate_trips = total >= u64::from(cfg.min_requests)
                    && failed as f64 >= cfg.error_rate * total as f64;
                if inner.consecutive >= cfg.consecutive_failures || rate_trips {
                    inner.state = open;
                    inner.consecutive = 0;
                    true
                } else {
                    false
                }
            }
            // Late results of requests sent before the circuit opened, and results of
            // requests that were not the probe, change nothing.
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    /// The state as it stands (an open circuit past its time shows as half-open).
    pub fn state(&self, now: Instant) -> CircuitState {
        if self.cfg.is_none() {
            return CircuitState::Closed;
        }
        match self.inner.lock().state {
            State::Closed => CircuitState::Closed,
            State::Open { until } if now < until => CircuitState::Open,
            State::Open { .. } | State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Requests and failures counted in the window.
    pub fn recent(&self, now: Instant) -> (u64, u64) {
        self.inner.lock().window.totals(now)
    }

    /// The window the recent figures cover.
    pub fn window_secs(&self) -> u64 {
        self.inner.lock().window.secs()
    }
}

/// Request and failure counts per second over the last `n` seconds, in a ring.
#[derive(Debug)]
struct Window {
    base: Instant,
    /// `(second, requests, failures)`; a slot whose second is stale counts nothing.
    slots: Vec<(u64, u64, u64)>,
}

impl Window {
    fn new(secs: u64, base: Instant) -> Self {
        let n = usize::try_from(secs.max(1)).unwrap_or(1);
        Window {
            base,
            slots: vec![(u64::MAX, 0, 0); n],
        }
    }

    fn secs(&self) -> u64 {
        self.slots.len() as u64
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_secs()
    }

    fn add(&mut self, now: Instant, ok: bool) {
        let s = self.second(now);
        let n = self.secs();
        let Some(slot) = usize::try_from(s % n)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
        else {
            return;
        };
        if slot.0 != s {
            *slot = (s, 0, 0);
        }
        slot.1 += 1;
        if !ok {
            slot.2 += 1;
        }
    }

    fn totals(&self, now: Instant) -> (u64, u64) {
        let s = self.second(now);
        let n = self.secs();
        self.slots
            .iter()
            .filter(|(at, _, _)| *at != u64::MAX && *at <= s && s - *at < n)
            .fold((0, 0), |(t, f), (_, req, fail)| (t + req, f + fail))
    }

    fn clear(&mut self) {
        for slot in &mut self.slots {
            *slot = (u64::MAX, 0, 0);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            error_rate: 0.5,
            min_requests: 10,
            window_secs: 10,
            open_secs: 5,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_fails_fast_half_opens_and_closes() {
        let t0 = Instant::now();
        let b = Breaker::new(Some(cfg()), t0);
        assert_eq!(b.admit(t0), Admit::Pass);
        assert!(!b.record(t0, false, false));
        assert!(!b.record(t0, true, false), "a success resets the run");
        assert!(!b.record(t0, false, false));
        assert!(!b.record(t0, false, false));
        assert!(b.record(t0, false, false), "third failure in a row opens");
        assert_eq!(b.state(t0), CircuitState::Open);
        assert_eq!(b.admit(t0 + Duration::from_secs(4)), Admit::Reject);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.state(later), CircuitState::HalfOpen);
        assert_eq!(b.admit(later), Admit::Probe);
        assert_eq!(b.admit(later), Admit::Reject, "one probe at a time");
        b.record(later, true, true);
        assert_eq!(b.state(later), CircuitState::Closed);
        assert_eq!(b.admit(later), Admit::Pass);
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let t0 = Instant::now();
        let b = Breaker::new(Some(cfg()), t0);
        for _ in 0..3 {
            b.record(t0, false, false);
        }
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.admit(t1), Admit::Probe);
        assert!(b.record(t1, false, true));
        assert_eq!(b.admit(t1 + Duration::from_secs(4)), Admit::Reject);
        assert_eq!(b.admit(t1 + Duration::from_secs(5)), Admit::Probe);
    }

    #[test]
    fn a_lost_probe_is_replaced_after_the_open_time() {
        let t0 = Instant::now();
        let b = Breaker::new(Some(cfg()), t0);
        for _ in 0..3 {
            b.record(t0, false, false);
        }
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.admit(t1), Admit::Probe);
        assert_eq!(b.admit(t1 + Duration::from_secs(4)), Admit::Reject);
        assert_eq!(b.admit(t1 + Duration::from_secs(5)), Admit::Probe);
    }

    #[test]
    fn opens_on_the_error_rate_only_with_enough_requests() {
        let t0 = Instant::now();
        let b = Breaker::new(Some(cfg()), t0);
        // Alternating: never three in a row, half of them failing.
        for i in 0..9 {
            assert!(
                !b.record(t0, i % 2 == 0, false),
                "below min_requests at {i}"
            );
        }
        assert!(b.record(t0, false, false), "10 requests, 5 failed: 50%");
        assert_eq!(b.state(t0), CircuitState::Open);
    }

    #[test]
    fn the_window_forgets_old_seconds() {
        let t0 = Instant::now();
        let b = Breaker::new(None, t0);
        b.record(t0, false, false);
        b.record(t0 + Duration::from_secs(1), true, false);
        assert_eq!(b.recent(t0 + Duration::from_secs(1)), (2, 1));
        assert_eq!(b.recent(t0 + Duration::from_secs(30)), (1, 0));
        assert_eq!(b.recent(t0 + Duration::from_secs(31)), (0, 0));
        assert_eq!(
            b.admit(t0),
            Admit::Pass,
            "no breaker configured: never opens"
        );
        for _ in 0..100 {
            assert!(!b.record(t0, false, false));
        }
        assert_eq!(b.state(t0), CircuitState::Closed);
    }
}
