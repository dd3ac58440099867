//! Rollups agree with exact aggregates over the stored traces, per bucket and
//! key, and their sketches give percentiles within 2%.

use std::collections::HashMap;

use tracegate_core::sketch::LatencySketch;

use super::*;
use crate::sqlite::write::rollups::GRANULARITIES;

/// Each dimension and the SQL that computes its key from a trace row.
const DIMS: [(&str, &str); 8] = [
    ("", "''"),
    ("model", "coalesce(model, model_requested, '')"),
    ("provider", "provider"),
    ("upstream", "coalesce(upstream, '')"),
    ("endpoint", "endpoint"),
    ("account", "coalesce(account, '')"),
    ("outcome", "outcome"),
    (
        "account_model",
        "coalesce(account, '') || char(31) || coalesce(model, model_requested, '')",
    ),
];

/// Exact figures of one group, from the traces table.
#[derive(Debug, Default)]
struct Exact {
    counts: [i64; 6],
    cost: f64,
    durations: Vec<f64>,
    ttfts: Vec<f64>,
}

/// A group as stored.
struct Rolled {
    counts: [i64; 6],
    cost: f64,
    duration: LatencySketch,
    ttft: Option<LatencySketch>,
}

fn exact(c: &Connection, granularity: i64, key_sql: &str) -> HashMap<(i64, String), Exact> {
    let sql = format!(
        "SELECT (ts / ?1) * ?1, {key_sql}, outcome != 'ok', coalesce(input_tokens, 0),
                coalesce(output_tokens, 0), coalesce(cache_read_tokens, 0),
                coalesce(cache_write_tokens, 0), coalesce(cost_usd, 0), duration_ms, ttft_ms
         FROM traces"
    );
    let mut stmt = c.prepare(&sql).unwrap();
    let mut rows = stmt.query([granularity]).unwrap();
    let mut out: HashMap<(i64, String), Exact> = HashMap::new();
    while let Some(r) = rows.next().unwrap() {
        let e = out
            .entry((r.get(0).unwrap(), r.get(1).unwrap()))
            .or_default();
        e.counts[0] += 1;
        for i in 1..6 {
            e.counts[i] += r.get::<_, i64>(i + 1).unwrap();
        }
        e.cost += r.get::<_, f64>(7).unwrap();
        e.durations.push(r.get(8).unwrap());
        if let Some(t) = r.get::<_, Option<f64>>(9).unwrap() {
            e.ttfts.push(t);
        }
    }
    out
}

fn rolled(c: &Connection, granularity: i64, dim: &str) -> HashMap<(i64, String), Rolled> {
    let mut stmt = c
        .prepare(
            "SELECT bucket, key, requests, errors, input_tokens, output_tokens, cache_read_tokens,
                    cache_write_tokens, cost_usd, duration_sketch, ttft_sketch
             FROM rollups WHERE granularity = ?1 AND dim = ?2",
        )
        .unwrap();
    let mut rows = stmt.query(rusqlite::params![granularity, dim]).unwrap();
    let mut out = HashMap::new();
    while let Some(r) = rows.next().unwrap() {
        let mut counts = [0; 6];
        for (i, n) in counts.iter_mut().enumerate() {
            *n = r.get(i + 2).unwrap();
        }
        let ttft: Option<Vec<u8>> = r.get(10).unwrap();
        let row = Rolled {
            counts,
            cost: r.get(8).unwrap(),
            duration: LatencySketch::decode(&r.get::<_, Vec<u8>>(9).unwrap()).unwrap(),
            ttft: ttft.map(|b| LatencySketch::decode(&b).unwrap()),
        };
        out.insert((r.get(0).unwrap(), r.get(1).unwrap()), row);
    }
    out
}

/// The value at rank floor(q * (n - 1)) of the sorted values, as the sketch defines quantiles.
fn exact_quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(q * (values.len() - 1) as f64) as usize]
}

fn assert_close(sketch: &LatencySketch, values: &mut [f64], what: &str) {
    assert_eq!(sketch.count(), values.len() as u64, "{what}");
    for q in [0.5, 0.95, 0.99] {
        let want = exact_quantile(values, q);
        let got = sketch.quantile(q).unwrap();
        let err = (got - want).abs() / want;
        assert!(
            err <= 0.02,
            "{what} p{}: sketch {got}, exact {want}",
            q * 100.0
        );
    }
}

/// Every rollup row of every granularity and dimension equals the exact
/// aggregate of its traces; `traces` is how many are stored.
fn assert_rollups_exact(peek: &Connection, traces: usize) {
    for granularity in GRANULARITIES {
        for (dim, key_sql) in DIMS {
            let mut want = exact(peek, granularity, key_sql);
            let got = rolled(peek, granularity, dim);
            let mut keys: Vec<_> = want.keys().cloned().collect();
            keys.sort();
            let mut got_keys: Vec<_> = got.keys().cloned().collect();
            got_keys.sort();
            assert_eq!(got_keys, keys, "groups of {granularity}/{dim}");
            let total: i64 = got.values().map(|r| r.counts[0]).sum();
            assert_eq!(total, traces as i64, "{granularity}/{dim}");
            for (key, w) in &mut want {
                let g = &got[key];
                let what = format!("{granularity}/{dim}/{key:?}");
                assert_eq!(g.counts, w.counts, "{what}");
                assert!(
                    (g.cost - w.cost).abs() < 1e-9,
                    "{what}: {} vs {}",
                    g.cost,
                    w.cost
                );
                assert_eq!(g.duration.count(), w.durations.len() as u64, "{what}");
                assert_eq!(
                    g.ttft.as_ref().map_or(0, |s| s.count()),
                    w.ttfts.len() as u64,
                    "{what}"
                );
                if w.durations.len() >= 50 {
                    assert_close(&g.duration, &mut w.durations, &what);
                }
            }
        }
    }
}

#[tokio::test]
async fn rollups_equal_exact_aggregates_and_percentiles_are_within_two_percent() {
    let (_dir, store, peek) = temp_store();
    // 3000 traces 6.1 s apart: a little over five hours, every minute bucket
    // filled by several batches and several batches spanning two buckets.
    let corpus = small_corpus(3000, 17, 6_100);
    insert_in_batches(&store, &corpus, 128).await;

    assert_rollups_exact(&peek, corpus.len());

    // Sketches merged over every hour (and every minute) bucket of a key
    // against exact percentiles over all of its traces.
    for (granularity, dim, key_sql) in [(3_600_000, "", "''"), (60_000, "model", DIMS[1].1)] {
        let mut all: HashMap<String, (Vec<f64>, Vec<f64>)> = HashMap::new();
        for ((_, key), e) in exact(&peek, granularity, key_sql) {
            let entry = all.entry(key).or_default();
            entry.0.extend(e.durations);
            entry.1.extend(e.ttfts);
        }
        let mut merged: HashMap<String, (LatencySketch, LatencySketch)> = HashMap::new();
        for ((_, key), r) in rolled(&peek, granularity, dim) {
            let entry = merged.entry(key).or_default();
            entry.0.merge(&r.duration);
            if let Some(t) = &r.ttft {
                entry.1.merge(t);
            }
        }
        assert_eq!(merged.len(), all.len());
        for (key, (durations, ttfts)) in &mut all {
            assert_close(
                &merged[key].0,
                durations,
                &format!("merged {dim} {key} duration"),
            );
            assert_close(&merged[key].1, ttfts, &format!("merged {dim} {key} ttft"));
        }
    }
}

#[tokio::test]
async fn day_rollups_cover_several_days_exactly() {
    let (_dir, store, peek) = temp_store();
    // 2000 traces 157 s apart: from 10:00 on June 1st to past 01:00 on June
    // 5th, five days in all, in batches that cross midnight.
    let corpus = small_corpus(2000, 23, 157_000);
    insert_in_batches(&store, &corpus, 96).await;
    assert_rollups_exact(&peek, corpus.len());
    let days: Vec<i64> = peek
        .prepare("SELECT DISTINCT bucket FROM rollups WHERE granularity = 86400000 ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(days.len(), 5, "{days:?}");
    assert!(days.iter().all(|d| d % 86_400_000 == 0));
    assert!(days.windows(2).all(|w| w[1] - w[0] == 86_400_000));
}
