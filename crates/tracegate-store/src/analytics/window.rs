//! Time arithmetic of the analytics reads: parsing windows (`5h`), times and
//! bucket widths, aligning buckets, and splitting a range into the parts read
//! from day, hour and minute rollups and exact trace rows.
//!
//! Every range is half-open, `[from, to)`, in epoch milliseconds. Buckets are
//! aligned to multiples of their width since the Unix epoch, so a day bucket
//! starts at UTC midnight.

use chrono::{DateTime, Utc};

use super::QueryError;

/// One minute in milliseconds: the width of the finest rollups.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds: the width of the coarse rollups.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds: the width of the widest rollups.
pub const DAY_MS: i64 = 86_400_000;
/// The longest rolling window accepted.
pub const MAX_WINDOW_MS: i64 = 31 * DAY_MS;
/// The most buckets one answer may hold.
pub const MAX_BUCKETS: i64 = 10_000;
/// Earliest time accepted (the epoch).
pub const MIN_TIME_MS: i64 = 0;
/// Latest time accepted: the end of year 9999.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// A half-open time range `[from_ms, to_ms)`, never empty, within
/// [`MIN_TIME_MS`]..=[`MAX_TIME_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    from_ms: i64,
    to_ms: i64,
}

impl TimeRange {
    /// The range `[from_ms, to_ms)`; `from_ms` must be before `to_ms`.
    pub fn new(from_ms: i64, to_ms: i64) -> Result<TimeRange, QueryError> {
        for t in [from_ms, to_ms] {
            if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&t) {
                return Err(QueryError::TimeOutOfRange(t));
            }
        }
        if from_ms >= to_ms {
            return Err(QueryError::EmptyRange { from_ms, to_ms });
        }
        Ok(TimeRange { from_ms, to_ms })
    }

    /// The `len_ms` long range ending at `to_ms`.
    pub fn ending_at(to_ms: i64, len_ms: i64) -> Result<TimeRange, QueryError> {
        TimeRange::new(to_ms.saturating_sub(len_ms), to_ms)
    }

    /// The last `days` UTC days up to `now_ms`: from midnight `days - 1` days
    /// before today's to `now_ms`.
    pub fn last_days(now_ms: i64, days: u32) -> Result<TimeRange, QueryError> {
        if !(1..=366).contains(&days) {
            return Err(QueryError::DaysOutOfRange(days));
        }
        let today = floor(now_ms, DAY_MS);
        let from = today.saturating_sub(i64::from(days - 1) * DAY_MS);
        // A `now` exactly at midnight still shows today, empty.
        TimeRange::new(from, now_ms.max(today + 1))
    }

    /// Start, inclusive.
    pub fn from_ms(self) -> i64 {
        self.from_ms
    }

    /// End, exclusive.
    pub fn to_ms(self) -> i64 {
        self.to_ms
    }

    /// True when `ts` lies in the range.
    pub fn contains(self, ts: i64) -> bool {
        self.from_ms <= ts && ts < self.to_ms
    }

    /// The start of every `width_ms` bucket the range touches, in order.
    pub fn bucket_starts(self, width_ms: i64) -> impl Iterator<Item = i64> {
        let width = width_ms.max(1);
        let first = floor(self.from_ms, width);
        let count = bucket_count(self, width);
        (0..count).map(move |i| first + i * width)
    }

    /// Splits the range into what is read from where (see [`ReadPlan`]).
    /// Hour rollups are used only when `hours` is true; day rollups never.
    pub fn plan(self, hours: bool) -> ReadPlan {
        self.plan_up_to(if hours { HOUR_MS } else { MINUTE_MS })
    }

    /// Splits the range into what is read from where (see [`ReadPlan`]),
    /// using rollups no wider than `widest_ms` ([`MINUTE_MS`], [`HOUR_MS`]
    /// or [`DAY_MS`]; anything else counts as the next narrower of those).
    pub fn plan_up_to(self, widest_ms: i64) -> ReadPlan {
        let mut plan = ReadPlan::default();
        let (m0, m1) = (ceil(self.from_ms, MINUTE_MS), floor(self.to_ms, MINUTE_MS));
        if m0 >= m1 {
            plan.exact.push(self);
            return plan;
        }
        plan.exact.extend(piece(self.from_ms, m0));
        plan.exact.extend(piece(m1, self.to_ms));
        let (h0, h1) = (ceil(m0, HOUR_MS), floor(m1, HOUR_MS));
        if widest_ms < HOUR_MS || h0 >= h1 {
            plan.minutes.extend(piece(m0, m1));
            return plan;
        }
        plan.minutes.extend(piece(m0, h0));
        plan.minutes.extend(piece(h1, m1));
        let (d0, d1) = (ceil(h0, DAY_MS), floor(h1, DAY_MS));
        if widest_ms < DAY_MS || d0 >= d1 {
            plan.hours.extend(piece(h0, h1));
            return plan;
        }
        plan.days = piece(d0, d1);
        plan.hours.extend(piece(h0, d0));
        plan.hours.extend(piece(d1, h1));
        plan
    }

    /// The whole range read from trace rows: for figures rollups do not keep (one
    /// account's statistics).
    pub fn plan_exact(self) -> ReadPlan {
        ReadPlan {
            exact: vec![self],
            ..ReadPlan::default()
        }
    }

    /// `from` as a UTC time.
    pub fn from_time(self) -> DateTime<Utc> {
        to_time(self.from_ms)
    }

    /// `to` as a UTC time.
    pub fn to_time(self) -> DateTime<Utc> {
        to_time(self.to_ms)
    }
}

/// A non-empty `[a, b)`, else nothing.
fn piece(a: i64, b: i64) -> Option<TimeRange> {
    (a < b).then_some(TimeRange {
        from_ms: a,
        to_ms: b,
    })
}

/// Where each part of a range is read from. Together the parts cover the
/// range exactly once: day rollups for whole days, hour rollups for the other
/// whole hours, minute rollups for the other whole minutes, trace rows for the
/// partial minutes at the edges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    /// Whole days, read from day rollups.
    pub days: Option<TimeRange>,
    /// Whole hours outside `days`, read from hour rollups (at most two).
    pub hours: Vec<TimeRange>,
    /// Whole minutes outside `days` and `hours`, read from minute rollups (at most two).
    pub minutes: Vec<TimeRange>,
    /// Partial minutes at the edges, read from trace rows (at most two).
    pub exact: Vec<TimeRange>,
}

impl ReadPlan {
    /// The rollup reads: (granularity in ms, range), widest first.
    pub fn rollups(&self) -> Vec<(i64, TimeRange)> {
        let days = self.days.map(|d| (DAY_MS, d));
        let hours = self.hours.iter().map(|h| (HOUR_MS, *h));
        let minutes = self.minutes.iter().map(|m| (MINUTE_MS, *m));
        days.into_iter().chain(hours).chain(minutes).collect()
    }
}

/// The bucket widths statistics and usage can be split into.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum Bucket {
    /// One minute.
    #[serde(rename = "1m")]
    Minute,
    /// Five minutes.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// One hour.
    #[serde(rename = "1h")]
    Hour,
    /// One UTC day.
    #[serde(rename = "1d")]
    Day,
}

impl Bucket {
    /// Every width, finest first.
    pub const ALL: [Bucket; 4] = [
        Bucket::Minute,
        Bucket::FiveMinutes,
        Bucket::Hour,
        Bucket::Day,
    ];

    /// Parses `1m`, `5m`, `1h` or `1d`.
    pub fn parse(s: &str) -> Result<Bucket, QueryError> {
        Bucket::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| QueryError::BadBucket(s.to_owned()))
    }

    /// The name [`Bucket::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Minute => "1m",
            Bucket::FiveMinutes => "5m",
            Bucket::Hour => "1h",
            Bucket::Day => "1d",
        }
    }

    /// Width in milliseconds.
    pub fn ms(self) -> i64 {
        match self {
            Bucket::Minute => MINUTE_MS,
            Bucket::FiveMinutes => 5 * MINUTE_MS,
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
        }
    }

    /// Whether whole buckets are whole hours, so hour rollups can fill them.
    pub fn uses_hours(self) -> bool {
        self.ms() % HOUR_MS == 0
    }

    /// The widest rollup granularity whose buckets fill buckets of this
    /// width whole: day rollups for days, hour rollups for hours, else minutes.
    pub fn widest_rollup_ms(self) -> i64 {
        [DAY_MS, HOUR_MS]
            .into_iter()
            .find(|g| self.ms() % g == 0)
            .unwrap_or(MINUTE_MS)
    }

    /// The finest width that keeps a range at a readable number of buckets
    /// (about 300 at most), for when none is asked for.
    pub fn auto(range: TimeRange) -> Bucket {
        let len = range.to_ms() - range.from_ms();
        if len <= 6 * HOUR_MS {
            Bucket::Minute
        } else if len <= 2 * DAY_MS {
            Bucket::FiveMinutes
        } else if len <= 14 * DAY_MS {
            Bucket::Hour
        } else {
            Bucket::Day
        }
    }
}

/// How many `width_ms` buckets `range` touches.
pub fn bucket_count(range: TimeRange, width_ms: i64) -> i64 {
    let width = width_ms.max(1);
    (ceil(range.to_ms(), width) - floor(range.from_ms(), width)) / width
}

/// Parses a window length: a whole number followed by `m`, `h` or `d`
/// (`90m`, `5h`, `7d`), from one minute to [`MAX_WINDOW_MS`].
pub fn parse_window(s: &str) -> Result<i64, QueryError> {
    let bad = || QueryError::BadWindow(s.to_owned());
    let unit = match s.chars().last() {
        Some('m') => MINUTE_MS,
        Some('h') => HOUR_MS,
        Some('d') => DAY_MS,
        _ => return Err(bad()),
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(unit) {
        Some(ms) if (MINUTE_MS..=MAX_WINDOW_MS).contains(&ms) => Ok(ms),
        _ => Err(QueryError::WindowOutOfRange(s.to_owned())),
    }
}

/// Parses a time given as RFC 3339 or as epoch milliseconds.
pub fn parse_time(s: &str) -> Result<i64, QueryError> {
    let ms = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>()
            .map_err(|_| QueryError::BadTime(s.to_owned()))?
    } else {
        DateTime::parse_from_rfc3339(s)
            .map_err(|_| QueryError::BadTime(s.to_owned()))?
            .timestamp_millis()
    };
    if (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(QueryError::TimeOutOfRange(ms))
    }
}

/// `ts` rounded down to a multiple of `width_ms`.
pub fn floor(ts: i64, width_ms: i64) -> i64 {
    let width = width_ms.max(1);
    ts.div_euclid(width).saturating_mul(width)
}

/// `ts` rounded up to a multiple of `width_ms`.
pub fn ceil(ts: i64, width_ms: i64) -> i64 {
    let f = floor(ts, width_ms);
    if f == ts {
        f
    } else {
        f.saturating_add(width_ms.max(1))
    }
}

/// An epoch-millisecond time as UTC (the epoch itself when out of range).
pub fn to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests;
