//! The response body's one timer. The total deadline and the idle limit share a single
//! `Sleep` that moves only when it fires: a chunk just notes the time, so the stream's hot
//! path creates and resets no timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::time::{sleep_until, Instant, Sleep};

use crate::upstream::Timeouts;

/// Which limit ended the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Nothing came from the upstream for the idle timeout.
    Idle,
    /// The request's total deadline passed.
    Total,
}

pub(crate) struct BodyTimer {
    sleep: Pin<Box<Sleep>>,
    total_at: Instant,
    /// When the last chunk came (or the head, before any chunk).
    last: Instant,
    timeouts: Timeouts,
}

impl BodyTimer {
    /// Starts at the response head: the idle limit counts from now.
    pub(crate) fn new(total_at: Instant, timeouts: Timeouts) -> BodyTimer {
        let now = Instant::now();
        BodyTimer {
            sleep: Box::pin(sleep_until(total_at.min(now + timeouts.idle))),
            total_at,
            last: now,
            timeouts,
        }
    }

    /// A chunk came. Returns true when the total deadline has passed already.
    #[inline]
    pub(crate) fn chunk(&mut self) -> bool {
        self.last = Instant::now();
        self.last >= self.total_at
    }

    /// Ready when a limit is reached; otherwise the task is woken at the next one.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Fired> {
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            let now = Instant::now();
            if now >= self.total_at {
                return Poll::Ready(Fired::Total);
            }
            let idle_at = self.last + self.timeouts.idle;
            if now >= idle_at {
                return Poll::Ready(Fired::Idle);
            }
            self.sleep.as_mut().reset(self.total_at.min(idle_at));
        }
    }

    /// The trace's error for `fired`.
    pub(crate) fn message(&self, fired: Fired, upstream: &str) -> String {
        match fired {
            Fired::Idle => self.timeouts.idle_message(upstream),
            Fired::Total => self.timeouts.total_message(upstream),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn timeouts(idle_ms: u64, total_ms: u64) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(1),
            headers: None,
            idle: Duration::from_millis(idle_ms),
            total: Duration::from_millis(total_ms),
        }
    }

    async fn fired(timer: &mut BodyTimer) -> Fired {
        std::future::poll_fn(|cx| timer.poll(cx)).await
    }

    #[tokio::test]
    async fn chunks_push_the_idle_limit_but_not_the_total() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let mut timer = BodyTimer::new(start + ms(5_000), timeouts(150, 5_000));
        for _ in 0..4 {
            tokio::time::sleep(ms(60)).await;
            assert!(!timer.chunk());
        }
        assert_eq!(fired(&mut timer).await, Fired::Idle);
        let took = start.elapsed();
        assert!(took >= ms(390) && took < ms(2_000), "{took:?}");

        let start = Instant::now();
        let mut timer = BodyTimer::new(start + ms(300), timeouts(200, 300));
        for _ in 0..3 {
            tokio::time::sleep(ms(80)).await;
            timer.chunk();
        }
        assert_eq!(fired(&mut timer).await, Fired::Total);
        assert!(start.elapsed() >= ms(300));
        assert!(timer.chunk());
    }
}
