#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// 2025-06-01T00:00:00Z.
const JUNE_1: i64 = 1_748_736_000_000;

fn range(from: i64, to: i64) -> TimeRange {
    TimeRange::new(from, to).unwrap()
}

#[test]
fn windows_parse_in_minutes_hours_and_days() {
    assert_eq!(parse_window("5h"), Ok(5 * HOUR_MS));
    assert_eq!(parse_window("90m"), Ok(90 * MINUTE_MS));
    assert_eq!(parse_window("1m"), Ok(MINUTE_MS));
    assert_eq!(parse_window("31d"), Ok(31 * DAY_MS));
    assert_eq!(parse_window("744h"), Ok(31 * DAY_MS));
    for bad in [
        "", "h", "5", "5s", "-5h", "+5h", "5.5h", " 5h", "5H", "5hh", "1e3m", "٣h",
    ] {
        assert!(
            matches!(parse_window(bad), Err(QueryError::BadWindow(_))),
            "{bad:?}"
        );
    }
    for too_long in ["32d", "745h", "0m", "0d", "99999999999999999999d"] {
        assert!(
            matches!(
                parse_window(too_long),
                Err(QueryError::WindowOutOfRange(_) | QueryError::BadWindow(_))
            ),
            "{too_long:?}"
        );
    }
    assert!(matches!(
        parse_window("32d"),
        Err(QueryError::WindowOutOfRange(_))
    ));
}

#[test]
fn times_parse_as_rfc3339_or_epoch_millis() {
    assert_eq!(parse_time("2025-06-01T00:00:00Z"), Ok(JUNE_1));
    assert_eq!(
        parse_time("2025-06-01T02:00:00.250+02:00"),
        Ok(JUNE_1 + 250)
    );
    assert_eq!(parse_time("1748736000000"), Ok(JUNE_1));
    assert_eq!(parse_time("0"), Ok(0));
    assert!(matches!(
        parse_time("yesterday"),
        Err(QueryError::BadTime(_))
    ));
    assert!(matches!(parse_time(""), Err(QueryError::BadTime(_))));
    assert!(matches!(parse_time("-5"), Err(QueryError::BadTime(_))));
    assert!(matches!(
        parse_time("99999999999999999999"),
        Err(QueryError::BadTime(_))
    ));
    assert!(matches!(
        parse_time("9223372036854775807"),
        Err(QueryError::TimeOutOfRange(_))
    ));
}

#[test]
fn ranges_are_half_open_and_never_empty() {
    let r = range(JUNE_1, JUNE_1 + 10);
    assert!(r.contains(JUNE_1));
    assert!(!r.contains(JUNE_1 - 1));
    assert!(r.contains(JUNE_1 + 9));
    assert!(!r.contains(JUNE_1 + 10));
    assert!(matches!(
        TimeRange::new(JUNE_1, JUNE_1),
        Err(QueryError::EmptyRange { .. })
    ));
    assert!(matches!(
        TimeRange::new(JUNE_1 + 1, JUNE_1),
        Err(QueryError::EmptyRange { .. })
    ));
    assert!(matches!(
        TimeRange::new(-1, JUNE_1),
        Err(QueryError::TimeOutOfRange(-1))
    ));
    assert!(TimeRange::new(0, i64::MAX).is_err());
    let w = TimeRange::ending_at(JUNE_1, 5 * HOUR_MS).unwrap();
    assert_eq!((w.from_ms(), w.to_ms()), (JUNE_1 - 5 * HOUR_MS, JUNE_1));
}

#[test]
fn alignment_rounds_towards_the_bucket_edges() {
    assert_eq!(floor(JUNE_1 + 59_999, MINUTE_MS), JUNE_1);
    assert_eq!(ceil(JUNE_1 + 1, MINUTE_MS), JUNE_1 + MINUTE_MS);
    assert_eq!(ceil(JUNE_1, MINUTE_MS), JUNE_1);
    assert_eq!(floor(JUNE_1 + 7 * HOUR_MS, DAY_MS), JUNE_1);
    assert_eq!(floor(-1, MINUTE_MS), -MINUTE_MS);
    // Extreme inputs do not overflow.
    let _ = floor(i64::MIN, MINUTE_MS);
    let _ = ceil(i64::MAX, MINUTE_MS);
    assert_eq!(floor(5, 0), 5);
}

#[test]
fn five_minute_buckets_are_aligned_and_all_present() {
    // 10:02:30 .. 10:17:00 touches 10:00, 10:05, 10:10 and 10:15.
    let r = range(
        JUNE_1 + 10 * HOUR_MS + 150_000,
        JUNE_1 + 10 * HOUR_MS + 17 * MINUTE_MS,
    );
    let starts: Vec<i64> = r.bucket_starts(5 * MINUTE_MS).collect();
    let base = JUNE_1 + 10 * HOUR_MS;
    assert_eq!(
        starts,
        vec![
            base,
            base + 5 * MINUTE_MS,
            base + 10 * MINUTE_MS,
            base + 15 * MINUTE_MS
        ]
    );
    assert_eq!(bucket_count(r, 5 * MINUTE_MS), 4);
    // A range ending exactly on a boundary does not touch the next bucket.
    let exact = range(base, base + 15 * MINUTE_MS);
    assert_eq!(bucket_count(exact, 5 * MINUTE_MS), 3);
    assert_eq!(
        exact.bucket_starts(5 * MINUTE_MS).last(),
        Some(base + 10 * MINUTE_MS)
    );
    // A 5 h window has 60 or 61 five-minute buckets, depending on alignment.
    let aligned = TimeRange::ending_at(base, 5 * HOUR_MS).unwrap();
    assert_eq!(bucket_count(aligned, 5 * MINUTE_MS), 60);
    let unaligned = TimeRange::ending_at(base + 1, 5 * HOUR_MS).unwrap();
    assert_eq!(bucket_count(unaligned, 5 * MINUTE_MS), 61);
}

#[test]
fn daily_ranges_start_at_utc_midnight() {
    let now = JUNE_1 + 2 * DAY_MS + 13 * HOUR_MS + 5;
    let r = TimeRange::last_days(now, 3).unwrap();
    assert_eq!(r.from_ms(), JUNE_1);
    assert_eq!(r.to_ms(), now);
    let days: Vec<i64> = r.bucket_starts(DAY_MS).collect();
    assert_eq!(days, vec![JUNE_1, JUNE_1 + DAY_MS, JUNE_1 + 2 * DAY_MS]);
    assert_eq!(r.from_time().to_rfc3339(), "2025-06-01T00:00:00+00:00");
    // A day's last millisecond and the next day's first fall in different buckets.
    assert_eq!(floor(JUNE_1 + DAY_MS - 1, DAY_MS), JUNE_1);
    assert_eq!(floor(JUNE_1 + DAY_MS, DAY_MS), JUNE_1 + DAY_MS);
    // Exactly at midnight, today is still one (empty) day of the answer.
    let midnight = TimeRange::last_days(JUNE_1, 1).unwrap();
    assert_eq!(
        midnight.bucket_starts(DAY_MS).collect::<Vec<_>>(),
        vec![JUNE_1]
    );
    assert!(matches!(
        TimeRange::last_days(now, 0),
        Err(QueryError::DaysOutOfRange(0))
    ));
    assert!(matches!(
        TimeRange::last_days(now, 367),
        Err(QueryError::DaysOutOfRange(367))
    ));
    assert!(TimeRange::last_days(now, 366).is_ok());
}

#[test]
fn plans_cover_the_range_exactly_once() {
    let base = JUNE_1 + 10 * HOUR_MS;
    // 09:58:30.5 .. 12:03:10: partial minutes, whole minutes, whole hours.
    let r = range(base - 89_500, base + 2 * HOUR_MS + 190_000);
    let plan = r.plan(true);
    assert_eq!(
        plan.exact,
        vec![
            range(base - 89_500, base - MINUTE_MS),
            range(
                base + 2 * HOUR_MS + 3 * MINUTE_MS,
                base + 2 * HOUR_MS + 190_000
            ),
        ]
    );
    assert_eq!(plan.hours, vec![range(base, base + 2 * HOUR_MS)]);
    assert_eq!(plan.days, None);
    assert_eq!(
        plan.minutes,
        vec![
            range(base - MINUTE_MS, base),
            range(base + 2 * HOUR_MS, base + 2 * HOUR_MS + 3 * MINUTE_MS),
        ]
    );
    // Without hours, all whole minutes come from minute rollups.
    let plan = r.plan(false);
    assert!(plan.hours.is_empty());
    assert_eq!(
        plan.minutes,
        vec![range(base - MINUTE_MS, base + 2 * HOUR_MS + 3 * MINUTE_MS)]
    );

    // Every millisecond of a range is covered once, whatever the edges.
    for (from, to) in [
        (base, base + 1),
        (base + 1, base + MINUTE_MS - 1),
        (base - 1, base + 1),
        (base, base + MINUTE_MS),
        (base - 1, base + HOUR_MS + 1),
        (base + 30_000, base + 3 * HOUR_MS + 30_000),
    ] {
        for hours in [false, true] {
            let plan = range(from, to).plan(hours);
            assert_eq!(plan.days, None);
            let mut parts: Vec<TimeRange> = plan.exact.clone();
            parts.extend(plan.minutes.iter().copied());
            parts.extend(plan.hours.iter().copied());
            parts.sort_by_key(|p| p.from_ms());
            assert_eq!(parts.first().unwrap().from_ms(), from);
            assert_eq!(parts.last().unwrap().to_ms(), to);
            for w in parts.windows(2) {
                assert_eq!(w[0].to_ms(), w[1].from_ms(), "{from}..{to}");
            }
            for m in &plan.minutes {
                assert_eq!((m.from_ms() % MINUTE_MS, m.to_ms() % MINUTE_MS), (0, 0));
            }
            for h in &plan.hours {
                assert_eq!((h.from_ms() % HOUR_MS, h.to_ms() % HOUR_MS), (0, 0));
            }
            for e in &plan.exact {
                assert!(e.to_ms() - e.from_ms() < 2 * MINUTE_MS);
            }
        }
    }
}

#[test]
fn day_plans_read_whole_days_from_day_rollups() {
    // 2025-05-30 21:58:30.5 .. 2025-06-03 02:03:10: partial minutes, whole
    // minutes, whole hours, then three whole days, then hours and minutes again.
    let from = JUNE_1 - DAY_MS - 2 * HOUR_MS - 89_500;
    let to = JUNE_1 + 2 * DAY_MS + 2 * HOUR_MS + 190_000;
    let plan = range(from, to).plan_up_to(DAY_MS);
    assert_eq!(plan.days, Some(range(JUNE_1 - DAY_MS, JUNE_1 + 2 * DAY_MS)));
    assert_eq!(
        plan.hours,
        vec![
            range(JUNE_1 - DAY_MS - 2 * HOUR_MS, JUNE_1 - DAY_MS),
            range(JUNE_1 + 2 * DAY_MS, JUNE_1 + 2 * DAY_MS + 2 * HOUR_MS),
        ]
    );
    assert_eq!(
        plan.minutes,
        vec![
            range(
                JUNE_1 - DAY_MS - 2 * HOUR_MS - MINUTE_MS,
                JUNE_1 - DAY_MS - 2 * HOUR_MS
            ),
            range(
                JUNE_1 + 2 * DAY_MS + 2 * HOUR_MS,
                JUNE_1 + 2 * DAY_MS + 2 * HOUR_MS + 3 * MINUTE_MS
            ),
        ]
    );
    assert_eq!(plan.exact.len(), 2);
    let granularities: Vec<i64> = plan.rollups().iter().map(|(g, _)| *g).collect();
    assert_eq!(
        granularities,
        vec![DAY_MS, HOUR_MS, HOUR_MS, MINUTE_MS, MINUTE_MS]
    );
    // Up to hours, the same range has no day part and one run of hours.
    let hours = range(from, to).plan_up_to(HOUR_MS);
    assert_eq!(hours.days, None);
    assert_eq!(
        hours.hours,
        vec![range(
            JUNE_1 - DAY_MS - 2 * HOUR_MS,
            JUNE_1 + 2 * DAY_MS + 2 * HOUR_MS
        )]
    );
    assert_eq!(hours.minutes, plan.minutes);
    assert_eq!(range(from, to).plan(true), hours);

    // Every millisecond is covered once, each part aligned to its rollup.
    for (from, to) in [
        (JUNE_1, JUNE_1 + DAY_MS),
        (JUNE_1 - 1, JUNE_1 + DAY_MS + 1),
        (JUNE_1 + 1, JUNE_1 + DAY_MS - 1),
        (JUNE_1 + HOUR_MS, JUNE_1 + DAY_MS + HOUR_MS),
        (JUNE_1 - 30_000, JUNE_1 + 30 * DAY_MS - 7 * MINUTE_MS - 5),
        (JUNE_1 + 5, JUNE_1 + 23 * HOUR_MS),
    ] {
        let plan = range(from, to).plan_up_to(DAY_MS);
        let mut parts: Vec<TimeRange> = plan.exact.clone();
        parts.extend(plan.rollups().into_iter().map(|(width, part)| {
            assert_eq!(
                (part.from_ms() % width, part.to_ms() % width),
                (0, 0),
                "{from}..{to}: {part:?} in {width} rollups"
            );
            part
        }));
        parts.sort_by_key(|p| p.from_ms());
        assert_eq!(parts.first().unwrap().from_ms(), from);
        assert_eq!(parts.last().unwrap().to_ms(), to);
        for w in parts.windows(2) {
            assert_eq!(w[0].to_ms(), w[1].from_ms(), "{from}..{to}");
        }
        assert!(plan.hours.len() <= 2 && plan.minutes.len() <= 2 && plan.exact.len() <= 2);
    }
}

#[test]
fn buckets_parse_and_pick_a_readable_default() {
    for b in Bucket::ALL {
        assert_eq!(Bucket::parse(b.as_str()), Ok(b));
    }
    assert!(matches!(Bucket::parse("2m"), Err(QueryError::BadBucket(_))));
    assert!(Bucket::Hour.uses_hours() && Bucket::Day.uses_hours());
    assert!(!Bucket::FiveMinutes.uses_hours());
    assert_eq!(Bucket::Day.widest_rollup_ms(), DAY_MS);
    assert_eq!(Bucket::Hour.widest_rollup_ms(), HOUR_MS);
    assert_eq!(Bucket::FiveMinutes.widest_rollup_ms(), MINUTE_MS);
    assert_eq!(Bucket::Minute.widest_rollup_ms(), MINUTE_MS);
    assert_eq!(Bucket::auto(range(0, DAY_MS)), Bucket::FiveMinutes);
    assert_eq!(Bucket::auto(range(0, HOUR_MS)), Bucket::Minute);
    assert_eq!(Bucket::auto(range(0, 7 * DAY_MS)), Bucket::Hour);
    assert_eq!(Bucket::auto(range(0, 300 * DAY_MS)), Bucket::Day);
    assert_eq!(serde_json::to_value(Bucket::Hour).unwrap(), "1h");
}
