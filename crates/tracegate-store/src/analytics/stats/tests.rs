#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::window::{HOUR_MS, MINUTE_MS};
use super::*;

fn request(duration: f64, ttft: Option<f64>, error: bool) -> Agg {
    let mut a = Agg::default();
    let tokens = Tokens::from_columns(1, [10, 20, 0, 0], Some(0.01));
    a.add_request(&tokens, error, duration, ttft);
    a
}

#[test]
fn group_names_parse() {
    for g in GroupBy::ALL {
        assert_eq!(GroupBy::parse(g.as_str()), Ok(g));
    }
    assert_eq!(
        GroupBy::parse("color"),
        Err(QueryError::BadGroupBy("color".into()))
    );
    assert_eq!(serde_json::to_value(GroupBy::Endpoint).unwrap(), "endpoint");
}

#[test]
fn queries_are_bounded() {
    let range = TimeRange::new(0, 10_000 * MINUTE_MS).unwrap();
    assert!(StatsQuery::new(range, Bucket::Minute, None).is_ok());
    let longer = TimeRange::new(0, 10_000 * MINUTE_MS + 1).unwrap();
    assert_eq!(
        StatsQuery::new(longer, Bucket::Minute, None),
        Err(QueryError::TooManyBuckets(10_001))
    );
    assert!(StatsQuery::new(longer, Bucket::FiveMinutes, None).is_ok());

    let year = TimeRange::new(0, 366 * DAY_MS).unwrap();
    assert!(SlowestQuery::new(year, 10).is_ok());
    let more = TimeRange::new(0, 366 * DAY_MS + 1).unwrap();
    assert_eq!(
        SlowestQuery::new(more, 10),
        Err(QueryError::RangeTooLong(366))
    );
    assert!(matches!(
        SlowestQuery::new(year, 0),
        Err(QueryError::BadLimit { got: 0, .. })
    ));
    assert!(SlowestQuery::new(year, 101).is_err());
}

#[test]
fn rows_merge_into_their_buckets_and_totals() {
    // 10:30 .. 13:00 in hour buckets: 10:00 (partial), 11:00, 12:00.
    let base = 10 * HOUR_MS;
    let range = TimeRange::new(base + 30 * MINUTE_MS, base + 3 * HOUR_MS).unwrap();
    let q = StatsQuery::new(range, Bucket::Hour, Some(GroupBy::Model)).unwrap();
    let mut sum = StatsSum::new(q);
    let mut slow = Agg::default();
    for i in 1..=100 {
        slow.merge(&request(
            f64::from(i) * 10.0,
            Some(f64::from(i)),
            i % 10 == 0,
        ));
    }
    sum.add(base + HOUR_MS, "opus", &slow);
    sum.add(
        base + HOUR_MS + 5 * MINUTE_MS,
        "haiku",
        &request(5.0, None, false),
    );
    sum.add(base + 2 * HOUR_MS, "haiku", &request(7.0, None, true));
    // Outside the range: ignored.
    sum.add(base + 29 * MINUTE_MS, "haiku", &request(1.0, None, false));
    sum.add(base + 3 * HOUR_MS, "haiku", &request(1.0, None, false));
    let r = sum.finish();

    assert_eq!(r.buckets.len(), 3);
    assert!(r.buckets[0].groups.is_empty(), "empty bucket still present");
    assert_eq!(r.buckets[0].start, to_time(base));
    let b1 = &r.buckets[1].groups;
    assert_eq!(
        b1.iter()
            .map(|g| g.key.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["haiku", "opus"]
    );
    let opus = &b1[1];
    assert_eq!((opus.usage.requests, opus.errors), (100, 10));
    assert!((opus.error_rate - 0.1).abs() < 1e-12);
    let p50 = opus.duration_ms.p50.unwrap();
    assert!((p50 - 500.0).abs() / 500.0 <= 0.02, "{p50}");
    let p99 = opus.ttft_ms.p99.unwrap();
    assert!((p99 - 99.0).abs() / 99.0 <= 0.02, "{p99}");
    assert_eq!(b1[0].ttft_ms, Percentiles::default(), "no ttft at all");

    assert_eq!(r.totals.len(), 2);
    assert_eq!(
        r.totals[0].key.as_deref(),
        Some("opus"),
        "most requests first"
    );
    let haiku = &r.totals[1];
    assert_eq!((haiku.usage.requests, haiku.errors), (2, 1));
    assert_eq!(haiku.usage.input_tokens, 20);
    assert_eq!(haiku.error_rate, 0.5);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["group_by"], "model");
    assert_eq!(json["totals"][1]["requests"], 2);
    assert_eq!(
        json["buckets"][1]["groups"][1]["duration_ms"]["p50"]
            .as_f64()
            .map(|v| v > 0.0),
        Some(true)
    );
}

#[test]
fn no_grouping_is_one_group_without_a_key() {
    let range = TimeRange::new(0, 2 * MINUTE_MS).unwrap();
    let mut sum = StatsSum::new(StatsQuery::new(range, Bucket::Minute, None).unwrap());
    sum.add(0, "", &request(3.0, Some(1.0), false));
    let r = sum.finish();
    assert_eq!(r.totals[0].key, None);
    assert_eq!(r.group_by, None);
    assert_eq!(r.buckets[1].groups.len(), 0);
}

#[test]
fn slowest_rank_by_p95_and_keep_the_limit() {
    let mut groups = BTreeMap::new();
    for (key, ms) in [("fast", 10.0), ("slow", 900.0), ("mid", 100.0), ("", 500.0)] {
        let mut a = Agg::default();
        for _ in 0..5 {
            a.merge(&request(ms, None, false));
        }
        groups.insert(key.to_owned(), a);
    }
    groups.insert("idle".to_owned(), Agg::default());
    let rows = rank_slowest(groups.clone(), 10);
    let keys: Vec<Option<&str>> = rows.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(keys, vec![Some("slow"), None, Some("mid"), Some("fast")]);
    assert_eq!(rows[0].requests, 5);
    assert_eq!(rank_slowest(groups, 2).len(), 2);
}
