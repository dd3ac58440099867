//! Usage windows, daily usage and per-account usage, exact at the edges.

use std::collections::BTreeMap;

use super::*;
use crate::analytics::window::{floor, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::analytics::{AnalyticsStore, Bucket, TimeRange, Tokens, UsageQuery, UsageReport};

/// What a usage answer must say, summed straight from the traces.
fn expected(
    traces: &[Trace],
    range: TimeRange,
    account: Option<&str>,
) -> (Tokens, BTreeMap<String, Tokens>) {
    let mut total = Tokens::default();
    let mut models: BTreeMap<String, Tokens> = BTreeMap::new();
    for t in traces {
        let ms = t.started_at.timestamp_millis();
        if !range.contains(ms) || (account.is_some() && t.account.as_deref() != account) {
            continue;
        }
        let u = &t.usage;
        let n = |v: Option<u64>| v.map_or(0, |v| v as i64);
        let one = Tokens::from_columns(
            1,
            [
                n(u.input_tokens),
                n(u.output_tokens),
                n(u.cache_read_tokens),
                n(u.cache_write_tokens),
            ],
            t.cost_usd,
        );
        total.add(&one);
        models.entry(model_of(t)).or_default().add(&one);
    }
    (total, models)
}

fn assert_tokens(got: &Tokens, want: &Tokens, what: &str) {
    assert_eq!(
        (
            got.requests,
            got.input_tokens,
            got.output_tokens,
            got.cache_read_tokens,
            got.cache_write_tokens,
            got.total_tokens
        ),
        (
            want.requests,
            want.input_tokens,
            want.output_tokens,
            want.cache_read_tokens,
            want.cache_write_tokens,
            want.total_tokens
        ),
        "{what}"
    );
    assert!(
        (got.cost_usd - want.cost_usd).abs() < 1e-9,
        "{what}: cost {} vs {}",
        got.cost_usd,
        want.cost_usd
    );
}

fn assert_report(r: &UsageReport, traces: &[Trace], range: TimeRange, account: Option<&str>) {
    let (total, models) = expected(traces, range, account);
    assert_tokens(&r.totals, &total, "totals");
    assert_eq!(r.by_model.len(), models.len());
    for m in &r.by_model {
        let key = m.model.clone().unwrap_or_default();
        assert_tokens(&m.usage, &models[&key], &key);
    }
    let width = r.bucket.ms();
    assert_eq!(
        r.buckets.len() as i64,
        crate::analytics::window::bucket_count(range, width)
    );
    for (i, b) in r.buckets.iter().enumerate() {
        let start = b.start.timestamp_millis();
        assert_eq!(start % width, 0, "aligned");
        assert_eq!(
            start,
            floor(range.from_ms(), width) + i as i64 * width,
            "every bucket present"
        );
        let part = TimeRange::new(
            start.max(range.from_ms()),
            (start + width).min(range.to_ms()),
        )
        .unwrap();
        assert_tokens(
            &b.usage,
            &expected(traces, part, account).0,
            &format!("bucket {}", b.start),
        );
    }
}

#[tokio::test]
async fn a_window_is_exact_to_the_millisecond_at_both_edges() {
    let (_dir, store) = temp_store();
    // 10:00:37.250 .. 15:00:37.250: partial minutes at both ends.
    let from = JUNE_2 + 10 * HOUR_MS + 37_250;
    let to = from + 5 * HOUR_MS;
    let mut traces = corpus(3000, from - 20 * MINUTE_MS, to + 20 * MINUTE_MS, 11);
    for (ms, tokens) in [
        (from - 1, 1),
        (from, 10),
        (from + 1, 100),
        (to - 1, 1000),
        (to, 10_000),
    ] {
        let mut t = bare(ms, Some("cred:aa11"), Some("edge-model"));
        t.usage.input_tokens = Some(tokens);
        traces.push(t);
    }
    insert(&store, &traces).await;
    let range = TimeRange::new(from, to).unwrap();

    for account in [None, Some("cred:aa11")] {
        let q = UsageQuery::new(
            account.map(str::to_owned),
            range,
            Bucket::FiveMinutes,
            false,
        )
        .unwrap();
        let r = store.usage(q).await.unwrap();
        assert_report(&r, &traces, range, account);
        assert_eq!(r.buckets.len(), 61);
        let edge = r
            .by_model
            .iter()
            .find(|m| m.model.as_deref() == Some("edge-model"))
            .unwrap();
        // In: at `from`, a ms after, a ms before `to`. Out: a ms before `from`, at `to`.
        assert_eq!(edge.usage.input_tokens, 1110);
    }

    // The whole minutes come from the rollups: without their trace rows the answer holds.
    let q = UsageQuery::new(None, range, Bucket::FiveMinutes, false).unwrap();
    let before = store.usage(q.clone()).await.unwrap();
    let c = peek(&store);
    let (m0, m1) = (from - from % MINUTE_MS + MINUTE_MS, to - to % MINUTE_MS);
    let deleted = c
        .execute("DELETE FROM traces WHERE ts >= ?1 AND ts < ?2", [m0, m1])
        .unwrap();
    assert!(deleted > 2500, "{deleted}");
    assert_eq!(store.usage(q.clone()).await.unwrap(), before);
    // The partial minutes come from the trace rows, exactly.
    c.execute(
        "UPDATE traces SET input_tokens = input_tokens + 7 WHERE ts IN (?1, ?2, ?3)",
        [from - 1, from, to - 1],
    )
    .unwrap();
    let after = store.usage(q).await.unwrap();
    assert_eq!(after.totals.input_tokens, before.totals.input_tokens + 14);
}

#[tokio::test]
async fn a_window_inside_one_minute_reads_only_trace_rows() {
    let (_dir, store) = temp_store();
    let from = JUNE_2 + 5_000;
    let traces: Vec<Trace> = [4_999, 5_000, 30_000, 35_000, 35_001]
        .iter()
        .map(|ms| bare(JUNE_2 + ms, None, Some("m")))
        .collect();
    insert(&store, &traces).await;
    let range = TimeRange::new(from, JUNE_2 + 35_001).unwrap();
    let q = UsageQuery::new(None, range, Bucket::FiveMinutes, true).unwrap();
    let r = store.usage(q).await.unwrap();
    assert_eq!(r.totals.requests, 3);
    assert_eq!(r.buckets.len(), 1);
    assert_eq!(r.buckets[0].by_model.as_ref().unwrap()[0].usage.requests, 3);
}

#[tokio::test]
async fn daily_usage_splits_at_utc_midnight_with_every_day_present() {
    let (_dir, store) = temp_store();
    let now = JUNE_2 + 3 * DAY_MS + 13 * HOUR_MS + 42_500;
    let mut traces = corpus(2000, JUNE_2 - DAY_MS, now + HOUR_MS, 5);
    // The last ms of June 2 and the first of June 3; June 4 stays empty.
    traces.retain(|t| {
        let ms = t.started_at.timestamp_millis();
        !(JUNE_2 + 2 * DAY_MS..JUNE_2 + 3 * DAY_MS).contains(&ms)
    });
    for ms in [
        JUNE_2 - 1,
        JUNE_2 + DAY_MS - 1,
        JUNE_2 + DAY_MS,
        now - 1,
        now,
    ] {
        traces.push(bare(ms, Some("cred:aa11"), Some("edge-model")));
    }
    insert(&store, &traces).await;

    let range = TimeRange::last_days(now, 4).unwrap();
    assert_eq!(range.from_ms(), JUNE_2);
    for account in [None, Some("cred:aa11")] {
        let q = UsageQuery::new(account.map(str::to_owned), range, Bucket::Day, true).unwrap();
        let r = store.usage(q).await.unwrap();
        assert_report(&r, &traces, range, account);
        let days: Vec<String> = r.buckets.iter().map(|b| b.start.to_rfc3339()).collect();
        assert_eq!(
            days,
            ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]
                .map(|d| format!("{d}T00:00:00+00:00"))
        );
        assert_eq!(
            r.buckets[2].usage,
            Tokens::default(),
            "an empty day is zeros"
        );
        let edge = |day: usize| {
            r.buckets[day]
                .by_model
                .as_ref()
                .unwrap()
                .iter()
                .find(|m| m.model.as_deref() == Some("edge-model"))
                .map_or(0, |m| m.usage.requests)
        };
        assert_eq!([edge(0), edge(1), edge(2), edge(3)], [1, 1, 0, 1]);
    }
}

#[tokio::test]
async fn accounts_are_ranked_by_tokens() {
    let (_dir, store) = temp_store();
    let from = JUNE_2 + 30_000;
    let to = from + 5 * HOUR_MS;
    let traces = corpus(1500, JUNE_2, to + HOUR_MS, 9);
    insert(&store, &traces).await;
    let range = TimeRange::new(from, to).unwrap();
    let got = store.usage_by_account(range).await.unwrap();
    assert_eq!(got.len(), 3);
    for w in got.windows(2) {
        assert!(w[0].usage.total_tokens >= w[1].usage.total_tokens);
    }
    for a in &got {
        let (want, _) = expected(
            &traces
                .iter()
                .filter(|t| t.account == a.account)
                .cloned()
                .collect::<Vec<_>>(),
            range,
            None,
        );
        assert_tokens(&a.usage, &want, &format!("{:?}", a.account));
    }
    // Nothing before the first trace.
    let empty = TimeRange::new(JUNE_2 - DAY_MS, JUNE_2 - HOUR_MS).unwrap();
    assert!(store.usage_by_account(empty).await.unwrap().is_empty());
}
