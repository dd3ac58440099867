//! Statistics from merged sketches against exact figures over the same traces.

use std::collections::BTreeMap;

use super::*;
use crate::analytics::window::{floor, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::analytics::{
    AnalyticsStore, Bucket, GroupBy, GroupStats, Percentiles, SlowestQuery, StatsQuery, TimeRange,
};

/// The exact `q` quantile with the sketches' rank convention: the value at
/// 0-based rank floor(q * (n - 1)) of the sorted values.
fn exact(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64) as usize]
}

fn assert_close(got: Option<f64>, values: &mut [f64], q: f64, what: &str) {
    if values.is_empty() {
        assert_eq!(got, None, "{what}: no values");
        return;
    }
    values.sort_by(f64::total_cmp);
    let want = exact(values, q);
    let got = got.unwrap_or_else(|| panic!("{what}: no p{q}"));
    let err = (got - want).abs() / want;
    assert!(
        err <= 0.02,
        "{what} q={q}: got {got}, exact {want}, error {err:.4}"
    );
}

/// The traces of one group, as stats sees them.
#[derive(Default)]
struct Exact {
    requests: u64,
    errors: u64,
    input_tokens: u64,
    durations: Vec<f64>,
    ttfts: Vec<f64>,
    cache_hits: u64,
    cache_saved_usd: f64,
}

fn check(got: &GroupStats, want: &mut Exact, what: &str) -> usize {
    assert_eq!(
        (got.usage.requests, got.errors, got.usage.input_tokens),
        (want.requests, want.errors, want.input_tokens),
        "{what}"
    );
    assert!((got.error_rate - want.errors as f64 / want.requests as f64).abs() < 1e-12);
    assert_eq!(got.cache_hits, want.cache_hits, "{what}");
    assert!((got.cache_hit_rate - want.cache_hits as f64 / want.requests as f64).abs() < 1e-12);
    assert!(
        (got.cache_saved_usd - want.cache_saved_usd).abs() < 1e-9,
        "{what}: saved {} vs {}",
        got.cache_saved_usd,
        want.cache_saved_usd
    );
    let qs = |p: &Percentiles| [(0.5, p.p50), (0.9, p.p90), (0.95, p.p95), (0.99, p.p99)];
    for (q, v) in qs(&got.duration_ms) {
        assert_close(v, &mut want.durations, q, &format!("{what} duration"));
    }
    for (q, v) in qs(&got.ttft_ms) {
        assert_close(v, &mut want.ttfts, q, &format!("{what} ttft"));
    }
    want.durations.len()
}

fn group_key(t: &Trace, g: Option<GroupBy>) -> String {
    match g {
        None => String::new(),
        Some(GroupBy::Model) => model_of(t),
        Some(GroupBy::Endpoint) => t.endpoint.clone(),
        Some(GroupBy::Upstream) => t.upstream.clone().unwrap_or_default(),
        Some(GroupBy::Outcome) => t.outcome.as_str().to_owned(),
        Some(GroupBy::Account) => t.account.clone().unwrap_or_default(),
        Some(GroupBy::Provider) => t.provider.as_str().to_owned(),
    }
}

/// Exact figures per (bucket start, group) and per group.
fn exact_groups(
    traces: &[Trace],
    range: TimeRange,
    width: i64,
    g: Option<GroupBy>,
) -> (BTreeMap<(i64, String), Exact>, BTreeMap<String, Exact>) {
    let mut buckets: BTreeMap<(i64, String), Exact> = BTreeMap::new();
    let mut totals: BTreeMap<String, Exact> = BTreeMap::new();
    for t in traces {
        let ms = t.started_at.timestamp_millis();
        if !range.contains(ms) {
            continue;
        }
        let key = group_key(t, g);
        for e in [
            buckets.entry((floor(ms, width), key.clone())).or_default(),
            totals.entry(key).or_default(),
        ] {
            e.requests += 1;
            e.errors += u64::from(t.outcome.is_error());
            e.input_tokens += t.usage.input_tokens.unwrap_or(0);
            e.durations.push(t.duration_ms);
            e.ttfts.extend(t.ttft_ms);
            if t.outcome == Outcome::CacheHit {
                e.cache_hits += 1;
                e.cache_saved_usd += t.cache_saved_usd.unwrap_or(0.0);
            }
        }
    }
    (buckets, totals)
}

/// Checks every bucket, group and total of each (bucket, grouping) over
/// `range` against exact figures; returns how many values were compared.
async fn check_stats(
    store: &SqliteStore,
    traces: &[Trace],
    range: TimeRange,
    cases: &[(Bucket, Option<GroupBy>)],
) -> usize {
    let mut checked = 0;
    for &(bucket, group_by) in cases {
        let q = StatsQuery::new(range, bucket, group_by).unwrap();
        let r = store.request_stats(q).await.unwrap();
        let width = bucket.ms();
        let (mut buckets, mut totals) = exact_groups(traces, range, width, group_by);
        assert_eq!(
            r.buckets.len() as i64,
            crate::analytics::window::bucket_count(range, width)
        );
        let mut seen = 0;
        for b in &r.buckets {
            let start = b.start.timestamp_millis();
            assert_eq!(start % width, 0);
            for g in &b.groups {
                let key = (start, g.key.clone().unwrap_or_default());
                let want = buckets
                    .get_mut(&key)
                    .unwrap_or_else(|| panic!("unexpected group {key:?}"));
                checked += check(g, want, &format!("{bucket:?} {key:?}"));
                seen += 1;
            }
        }
        assert_eq!(seen, buckets.len(), "every group of every bucket is there");
        assert_eq!(r.totals.len(), totals.len());
        for g in &r.totals {
            let key = g.key.clone().unwrap_or_default();
            check(g, totals.get_mut(&key).unwrap(), &format!("total {key:?}"));
        }
        for w in r.totals.windows(2) {
            assert!(w[0].usage.requests >= w[1].usage.requests);
        }
    }
    checked
}

#[tokio::test]
async fn percentiles_match_exact_ones_within_two_percent() {
    let (_dir, store) = temp_store();
    let start = JUNE_2 + 8 * HOUR_MS;
    let traces = corpus(15_000, start, start + 7 * HOUR_MS, 21);
    insert(&store, &traces).await;

    // Unaligned edges: hour rollups inside, minute rollups and trace rows at the ends.
    let from = start + 17 * MINUTE_MS + 12_500;
    let to = from + 5 * HOUR_MS + 3 * MINUTE_MS;
    let range = TimeRange::new(from, to).unwrap();
    let checked = check_stats(
        &store,
        &traces,
        range,
        &[
            (Bucket::Hour, Some(GroupBy::Model)),
            (Bucket::FiveMinutes, None),
            (Bucket::Day, Some(GroupBy::Outcome)),
            (Bucket::Hour, Some(GroupBy::Upstream)),
        ],
    )
    .await;
    assert!(checked > 30_000, "{checked} values compared");
    let hits: u64 = traces
        .iter()
        .filter(|t| range.contains(t.started_at.timestamp_millis()))
        .map(|t| u64::from(t.outcome == Outcome::CacheHit))
        .sum();
    assert!(hits > 100, "{hits} cache hits in the corpus");
}

#[tokio::test]
async fn slowest_ranks_by_p95_duration() {
    let (_dir, store) = temp_store();
    let start = JUNE_2 + 2 * HOUR_MS;
    let traces = corpus(6000, start, start + 3 * HOUR_MS, 33);
    insert(&store, &traces).await;
    let range = TimeRange::new(start + 90_001, start + 3 * HOUR_MS - 1).unwrap();
    let r = store
        .slowest(SlowestQuery::new(range, 10).unwrap())
        .await
        .unwrap();
    for (rows, g) in [
        (&r.endpoints, GroupBy::Endpoint),
        (&r.models, GroupBy::Model),
        (&r.upstreams, GroupBy::Upstream),
    ] {
        let (_, mut exact) = exact_groups(&traces, range, HOUR_MS, Some(g));
        assert_eq!(rows.len(), exact.len(), "{g:?}");
        for w in rows.windows(2) {
            assert!(
                w[0].duration_ms.p95 >= w[1].duration_ms.p95,
                "{g:?} slowest first"
            );
        }
        for row in rows.iter() {
            let key = row.key.clone().unwrap_or_default();
            let want = exact.get_mut(&key).unwrap();
            assert_eq!((row.requests, row.errors), (want.requests, want.errors));
            assert_close(row.duration_ms.p95, &mut want.durations, 0.95, &key);
            assert_close(row.duration_ms.p99, &mut want.durations, 0.99, &key);
        }
    }
    // gpt-4.1 has the slowest scale in the corpus.
    assert_eq!(r.models[0].key.as_deref(), Some("gpt-4.1"));
    let few = store
        .slowest(SlowestQuery::new(range, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(few.models.len(), 1);
    assert_eq!(few.models[0], r.models[0]);
}

#[tokio::test]
async fn an_empty_store_gives_empty_buckets() {
    let store = SqliteStore::open_in_memory().unwrap();
    let range = TimeRange::new(JUNE_2, JUNE_2 + HOUR_MS).unwrap();
    let r = store
        .request_stats(StatsQuery::new(range, Bucket::FiveMinutes, Some(GroupBy::Account)).unwrap())
        .await
        .unwrap();
    assert_eq!(r.buckets.len(), 12);
    assert!(r.buckets.iter().all(|b| b.groups.is_empty()));
    assert!(r.totals.is_empty());
}

#[tokio::test]
async fn day_buckets_over_several_days_match_exact_figures() {
    let (_dir, store) = temp_store();
    let start = JUNE_2 - DAY_MS + 13 * HOUR_MS;
    let traces = corpus(12_000, start, start + 4 * DAY_MS, 8);
    insert(&store, &traces).await;
    // Unaligned edges: minutes and hours before the first whole day and after
    // the last, day rollups for the three whole days in between.
    let from = start + 2 * HOUR_MS + 7 * MINUTE_MS + 40_001;
    let to = from + 3 * DAY_MS + 11 * HOUR_MS + 51 * MINUTE_MS;
    let range = TimeRange::new(from, to).unwrap();
    let plan = range.plan_up_to(DAY_MS);
    assert!(plan.days.is_some() && plan.hours.len() == 2 && plan.minutes.len() == 2);
    let checked = check_stats(
        &store,
        &traces,
        range,
        &[
            (Bucket::Day, Some(GroupBy::Model)),
            (Bucket::Day, None),
            (Bucket::Hour, Some(GroupBy::Account)),
        ],
    )
    .await;
    assert!(checked > 20_000, "{checked} values compared");
    let r = store
        .slowest(SlowestQuery::new(range, 10).unwrap())
        .await
        .unwrap();
    let (_, mut exact) = exact_groups(&traces, range, DAY_MS, Some(GroupBy::Model));
    assert_eq!(r.models.len(), exact.len());
    for row in &r.models {
        let key = row.key.clone().unwrap_or_default();
        let want = exact.get_mut(&key).unwrap();
        assert_eq!((row.requests, row.errors), (want.requests, want.errors));
        assert_close(row.duration_ms.p95, &mut want.durations, 0.95, &key);
    }
}
