//! Windows and the counter of one limit in one scope.
//!
//! A rolling window is cut into slots (1 s for a minute, 1 min for 5 hours): what was
//! counted in a slot stops counting once the whole window has passed since the slot
//! began, so a rolling minute frees a second's worth at a time. A calendar window (UTC
//! day, UTC month) counts from its start and frees everything at its end. Times are Unix
//! milliseconds, passed in, so tests choose the clock.

use std::collections::VecDeque;

use chrono::{Datelike, TimeZone, Utc};

const DAY_MS: i64 = 86_400_000;

/// The span a limit counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `slots * slot_ms` milliseconds, at `slot_ms` resolution.
    Rolling { slots: i64, slot_ms: i64 },
    /// The current UTC day.
    Day,
    /// The current UTC month.
    Month,
}

impl Window {
    pub const MINUTE: Window = Window::Rolling {
        slots: 60,
        slot_ms: 1_000,
    };
    pub const FIVE_HOURS: Window = Window::Rolling {
        slots: 300,
        slot_ms: 60_000,
    };

    /// The slot, day or month `now` falls in.
    pub fn period(self, now_ms: i64) -> i64 {
        match self {
            Window::Rolling { slot_ms, .. } => now_ms.div_euclid(slot_ms),
            Window::Day => now_ms.div_euclid(DAY_MS),
            Window::Month => {
                let t = Utc
                    .timestamp_millis_opt(now_ms)
                    .single()
                    .unwrap_or_default();
                i64::from(t.year()) * 12 + i64::from(t.month0())
            }
        }
    }

    /// When what was counted in `period` stops counting.
    pub fn frees_at(self, period: i64) -> i64 {
        match self {
            Window::Rolling { slots, slot_ms } => (period + slots).saturating_mul(slot_ms),
            Window::Day => (period + 1).saturating_mul(DAY_MS),
            Window::Month => {
                let next = period + 1;
                let (year, month0) = (next.div_euclid(12), next.rem_euclid(12));
                i32::try_from(year)
                    .ok()
                    .and_then(|y| {
                        Utc.with_ymd_and_hms(y, month0 as u32 + 1, 1, 0, 0, 0)
                            .single()
                    })
                    .map_or(i64::MAX, |t| t.timestamp_millis())
            }
        }
    }

    /// Whether `period` still counts at `now_period`.
    fn counts(self, period: i64, now_period: i64) -> bool {
        match self {
            Window::Rolling { slots, .. } => period > now_period - slots,
            Window::Day | Window::Month => period == now_period,
        }
    }
}

/// What one limit has counted in one scope: the amount per period, oldest first, only
/// periods with something in them.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    periods: VecDeque<(i64, u64)>,
}

impl Counter {
    /// Forgets what no longer counts at `now`; what is left.
    pub fn used(&mut self, window: Window, now_ms: i64) -> u64 {
        let now_period = window.period(now_ms);
        while let Some(&(p, _)) = self.periods.front() {
            if window.counts(p, now_period) {
                break;
            }
            self.periods.pop_front();
        }
        self.periods
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
    }

    /// Counts `n` at `now`.
    pub fn add(&mut self, window: Window, now_ms: i64, n: u64) {
        if n == 0 {
            return;
        }
        let period = window.period(now_ms);
        match self.periods.back_mut() {
            Some((p, sum)) if *p == period => *sum = sum.saturating_add(n),
            // A clock that went back counts into the newest period.
            Some((p, sum)) if *p > period => *sum = sum.saturating_add(n),
            _ => self.periods.push_back((period, n)),
        }
    }

    /// When everything counted now stops counting: the limit is whole again. `now` when
    /// nothing is counted. Call after [`Counter::used`].
    pub fn whole_at(&self, window: Window, now_ms: i64) -> i64 {
        self.periods
            .back()
            .map_or(now_ms, |(p, _)| window.frees_at(*p))
    }

    /// The earliest time at which `need` more fit under `limit` with some room left
    /// (`used + need <= limit` and `used < limit`); `i64::MAX` for a limit of 0, which
    /// nothing fits. Call after [`Counter::used`], with
    /// `used` its answer.
    pub fn fits_at(&self, window: Window, used: u64, limit: u64, need: u64, now_ms: i64) -> i64 {
        if limit == 0 {
            return i64::MAX;
        }
        let mut left = used;
        let fits = |left: u64| left.saturating_add(need) <= limit && left < limit;
        if fits(left) {
            return now_ms;
        }
        for (p, n) in &self.periods {
            left = left.saturating_sub(*n);
            if fits(left) {
                return window.frees_at(*p);
            }
        }
        self.whole_at(window, now_ms)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000; // 2027-01-15T08:00:00Z, on a whole minute

    #[test]
    fn a_rolling_minute_frees_a_second_at_a_time() {
        let w = Window::MINUTE;
        let mut c = Counter::default();
        c.add(w, T0, 3);
        c.add(w, T0 + 10_500, 2);
        assert_eq!(c.used(w, T0 + 59_999), 5);
        assert_eq!(c.used(w, T0 + 60_000), 2);
        // Counted at 10.5 s, in the slot of second 10: gone at 70 s.
        assert_eq!(c.used(w, T0 + 69_999), 2);
        assert_eq!(c.used(w, T0 + 70_000), 0);
        c.add(w, T0 + 71_000, 1);
        assert_eq!(c.whole_at(w, T0 + 71_000), T0 + 131_000);
    }

    #[test]
    fn fits_at_is_when_enough_has_left_the_window() {
        let w = Window::MINUTE;
        let mut c = Counter::default();
        c.add(w, T0, 3);
        c.add(w, T0 + 20_000, 2);
        let used = c.used(w, T0 + 30_000);
        assert_eq!(used, 5);
        // Room for one more needs the first slot's 3 to leave: at T0 + 60 s.
        assert_eq!(c.fits_at(w, used, 5, 1, T0 + 30_000), T0 + 60_000);
        // Room for 4 needs both slots gone.
        assert_eq!(c.fits_at(w, used, 5, 4, T0 + 30_000), T0 + 80_000);
        assert_eq!(c.fits_at(w, used, 6, 1, T0 + 30_000), T0 + 30_000);
        // Tokens ask for no room of their own, only for some left.
        assert_eq!(c.fits_at(w, used, 5, 0, T0 + 30_000), T0 + 60_000);
        assert_eq!(c.fits_at(w, used, 6, 0, T0 + 30_000), T0 + 30_000);
    }

    #[test]
    fn five_hours_roll_by_the_minute() {
        let w = Window::FIVE_HOURS;
        let mut c = Counter::default();
        c.add(w, T0 + 59_000, 100);
        assert_eq!(c.used(w, T0 + 5 * 3_600_000 - 1), 100);
        assert_eq!(c.used(w, T0 + 5 * 3_600_000), 0);
    }

    #[test]
    fn calendar_windows_end_at_utc_midnight_and_the_first_of_the_month() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        let now = at("2026-12-31T23:59:30Z");
        let mut day = Counter::default();
        day.add(Window::Day, now, 7);
        assert_eq!(day.used(Window::Day, now), 7);
        assert_eq!(day.whole_at(Window::Day, now), at("2027-01-01T00:00:00Z"));
        assert_eq!(day.used(Window::Day, at("2027-01-01T00:00:00Z")), 0);
        let mut month = Counter::default();
        month.add(Window::Month, now, 9);
        assert_eq!(
            month.whole_at(Window::Month, now),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(month.used(Window::Month, at("2026-12-01T00:00:00Z")), 9);
        assert_eq!(month.used(Window::Month, at("2027-01-01T00:00:00Z")), 0);
        let feb = at("2027-02-10T12:00:00Z");
        assert_eq!(
            Window::Month.frees_at(Window::Month.period(feb)),
            at("2027-03-01T00:00:00Z")
        );
    }
}
