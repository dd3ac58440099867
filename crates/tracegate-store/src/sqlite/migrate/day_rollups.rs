//! The Rust step of migration 4: fills the day rollups of the days already
//! stored by summing their hour rollups, group by group.
//!
//! Hour rows are read in primary-key order, so the rows of one dimension come
//! by bucket: every hour of a day is read before the next day starts, and only
//! one day of one dimension is held in memory at a time.

use std::collections::BTreeMap;

use rusqlite::{params, Statement, Transaction};
use tracegate_core::sketch::LatencySketch;

use crate::error::StoreError;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The figures of one group, summed over some hour rows.
#[derive(Debug, Default)]
struct Day {
    counts: [i64; 6],
    cost_usd: f64,
    duration: LatencySketch,
    ttft: Option<LatencySketch>,
}

impl Day {
    /// Adds one hour row; an unreadable sketch is left out (and logged), as the writer does.
    fn add(&mut self, counts: [i64; 6], cost_usd: f64, duration: &[u8], ttft: Option<&[u8]>) {
        for (sum, n) in self.counts.iter_mut().zip(counts) {
            *sum = sum.saturating_add(n);
        }
        self.cost_usd += cost_usd;
        match LatencySketch::decode(duration) {
            Ok(s) => self.duration.merge(&s),
            Err(e) => tracing::warn!(error = %e, "skipping an unreadable hour sketch"),
        }
        if let Some(bytes) = ttft {
            match LatencySketch::decode(bytes) {
                Ok(s) => self.ttft.get_or_insert_with(LatencySketch::new).merge(&s),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable hour sketch"),
            }
        }
    }
}

/// Sums the hour rollups of every day into day rollups; returns the number of
/// day rows written. Expects no day rows to exist.
pub(super) fn fill(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    let mut read = tx.prepare(
        "SELECT dim, bucket, key, requests, errors, input_tokens, output_tokens,
                cache_read_tokens, cache_write_tokens, cost_usd, duration_sketch, ttft_sketch
         FROM rollups WHERE granularity = ?1
         ORDER BY granularity, dim, bucket, key",
    )?;
    let mut write = tx.prepare(
        "INSERT INTO rollups (granularity, dim, bucket, key, requests, errors, input_tokens,
             output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
             duration_sketch, ttft_sketch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut written = 0;
    // The (dimension, day) being summed, and its groups by key.
    let mut current: Option<(String, i64)> = None;
    let mut groups: BTreeMap<String, Day> = BTreeMap::new();
    let mut rows = read.query([HOUR_MS])?;
    while let Some(r) = rows.next()? {
        let dim: String = r.get(0)?;
        let day = r.get::<_, i64>(1)?.div_euclid(DAY_MS) * DAY_MS;
        let at = (dim, day);
        if current.as_ref() != Some(&at) {
            if let Some(done) = current.take() {
                written += store(&mut write, &done, std::mem::take(&mut groups))?;
            }
            current = Some(at);
        }
        let key: String = r.get(2)?;
        let mut counts = [0i64; 6];
        for (i, n) in counts.iter_mut().enumerate() {
            *n = r.get(3 + i)?;
        }
        let duration: Vec<u8> = r.get(10)?;
        let ttft: Option<Vec<u8>> = r.get(11)?;
        groups
            .entry(key)
            .or_default()
            .add(counts, r.get(9)?, &duration, ttft.as_deref());
    }
    if let Some(done) = current.take() {
        written += store(&mut write, &done, groups)?;
    }
    Ok(written)
}

/// Writes the day rows of one (dimension, day); returns how many.
fn store(
    write: &mut Statement<'_>,
    (dim, day): &(String, i64),
    groups: BTreeMap<String, Day>,
) -> Result<usize, StoreError> {
    let n = groups.len();
    for (key, sums) in groups {
        let [requests, errors, input, output, cache_read, cache_write] = sums.counts;
        write.execute(params![
            DAY_MS,
            dim,
            day,
            key,
            requests,
            errors,
            input,
            output,
            cache_read,
            cache_write,
            sums.cost_usd,
            sums.duration.encode(),
            sums.ttft.as_ref().map(LatencySketch::encode),
        ])?;
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use rusqlite::Connection;
    use tracegate_core::{Outcome, Provider, Trace};

    use super::*;
    use crate::conformance::fixtures::Rng;
    use crate::sqlite::SqliteStore;
    use crate::store::TraceStore;

    /// 2025-06-01T00:00:00Z.
    const JUNE_1: i64 = 1_748_736_000_000;

    /// A day row: six counts, cost, decoded sketches.
    type DayRow = ([i64; 6], f64, LatencySketch, Option<LatencySketch>);

    fn day_rows(c: &Connection) -> BTreeMap<(String, i64, String), DayRow> {
        let mut stmt = c
            .prepare(
                "SELECT dim, bucket, key, requests, errors, input_tokens, output_tokens,
                        cache_read_tokens, cache_write_tokens, cost_usd, duration_sketch, ttft_sketch
                 FROM rollups WHERE granularity = 86400000",
            )
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut out = BTreeMap::new();
        while let Some(r) = rows.next().unwrap() {
            let mut counts = [0; 6];
            for (i, n) in counts.iter_mut().enumerate() {
                *n = r.get(3 + i).unwrap();
            }
            let ttft: Option<Vec<u8>> = r.get(11).unwrap();
            out.insert(
                (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()),
                (
                    counts,
                    r.get(9).unwrap(),
                    LatencySketch::decode(&r.get::<_, Vec<u8>>(10).unwrap()).unwrap(),
                    ttft.map(|b| LatencySketch::decode(&b).unwrap()),
                ),
            );
        }
        out
    }

    fn same_sketch(a: &LatencySketch, b: &LatencySketch, what: &str) {
        assert_eq!(a.count(), b.count(), "{what}");
        for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(a.quantile(q), b.quantile(q), "{what} q={q}");
        }
        let (x, y) = (a.sum().unwrap_or(0.0), b.sum().unwrap_or(0.0));
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "{what}: {x} vs {y}"
        );
    }

    #[tokio::test]
    async fn day_rows_summed_from_hours_equal_those_the_writer_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.db");
        let store = SqliteStore::open(&path).unwrap();
        // 3000 traces over three and a half days, starting mid-morning.
        let mut rng = Rng::new(5);
        let start = JUNE_1 + 9 * HOUR_MS + 1234;
        let traces: Vec<Trace> = (0..3000)
            .map(|i| {
                let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
                t.started_at =
                    chrono::DateTime::from_timestamp_millis(start + i * 101_000).unwrap();
                t.model = Some(["a", "b", "c"][rng.below(3)].into());
                t.account = (rng.below(5) != 0).then(|| ["x", "y"][rng.below(2)].into());
                t.duration_ms = 20.0 + rng.below(90_000) as f64 / 7.0;
                t.ttft_ms = (rng.below(3) != 0).then(|| t.duration_ms / 3.0);
                t.usage.input_tokens = Some(rng.below(4000) as u64);
                t.usage.output_tokens = (rng.below(9) != 0).then(|| rng.below(900) as u64);
                t.cost_usd = (rng.below(4) != 0).then(|| rng.below(10_000) as f64 / 1e5);
                if rng.below(15) == 0 {
                    t.outcome = Outcome::Timeout;
                }
                t
            })
            .collect();
        for batch in traces.chunks(200) {
            store.insert_batch(batch.to_vec()).await.unwrap();
        }
        let mut c = Connection::open(&path).unwrap();
        let kept = day_rows(&c);
        assert!(kept.keys().any(|(_, day, _)| *day == JUNE_1 + 3 * DAY_MS));
        assert!(kept.len() > 4 * 8, "{} day rows", kept.len());

        let tx = c.transaction().unwrap();
        tx.execute("DELETE FROM rollups WHERE granularity = ?1", [DAY_MS])
            .unwrap();
        let written = fill(&tx).unwrap();
        tx.commit().unwrap();
        let filled = day_rows(&c);
        assert_eq!(written, kept.len());
        assert_eq!(
            filled.keys().collect::<Vec<_>>(),
            kept.keys().collect::<Vec<_>>()
        );
        for (key, (counts, cost, duration, ttft)) in &kept {
            let what = format!("{key:?}");
            let got = &filled[key];
            assert_eq!(&got.0, counts, "{what}");
            assert!((got.1 - cost).abs() < 1e-9, "{what}");
            same_sketch(&got.2, duration, &what);
            match (&got.3, ttft) {
                (Some(a), Some(b)) => same_sketch(a, b, &what),
                (a, b) => assert_eq!(a.is_none(), b.is_none(), "{what}"),
            }
        }
    }

    #[test]
    fn an_empty_store_gets_no_day_rows() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::sqlite::migrate::apply(&mut c).unwrap();
        let tx = c.transaction().unwrap();
        assert_eq!(fill(&tx).unwrap(), 0);
    }
}
