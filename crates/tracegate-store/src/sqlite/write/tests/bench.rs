//! Write throughput, run by hand in release mode: `insert_throughput` (small
//! traces into a new store) and `fts_at_scale` (a million traces, then
//! full-text queries on the index they leave).
//!
//! Besides wall-clock rates they report the rate per CPU second of the
//! process (Linux only), which other work on the machine disturbs less.

use std::time::Instant;

use super::small_corpus;
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

const BATCH: usize = 512;
const BATCHES: usize = 40;

/// CPU seconds (user + system) the process has used so far, if known.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here; in clock ticks of 1/100 s.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Bytes the process has passed to write calls so far, if known.
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
#[ignore = "measurement, run by hand in release mode"]
async fn insert_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    // 20 ms apart: the corpus spans about 7 minutes.
    let traces = small_corpus(BATCH * BATCHES, 11, 20);
    let bytes: usize = traces
        .iter()
        .map(|t| t.request_body.len() + t.response_body.len())
        .sum();
    let batches: Vec<Vec<_>> = traces.chunks(BATCH).map(<[_]>::to_vec).collect();
    let (cpu, written) = (cpu_seconds(), written_bytes());
    let started = Instant::now();
    for batch in batches {
        store.insert_batch(batch).await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n = (BATCH * BATCHES) as f64;
    let per_cpu = match (cpu, cpu_seconds()) {
        (Some(before), Some(after)) if after > before => {
            format!(
                ", {:.2} CPU s, {:.0} traces per CPU s",
                after - before,
                n / (after - before)
            )
        }
        _ => String::new(),
    };
    let per_trace = match (written, written_bytes()) {
        (Some(before), Some(after)) => {
            format!(", {:.0} B written per trace", (after - before) as f64 / n)
        }
        _ => String::new(),
    };
    eprintln!(
        "insert_throughput: {} traces ({} B of bodies each on average) in batches of {BATCH}: \
         {secs:.2} s, {:.0} traces/s{per_cpu}{per_trace}",
        BATCH * BATCHES,
        bytes / (BATCH * BATCHES),
        n / secs
    );
}

/// Writes `TRACEGATE_SCALE_ROWS` traces (default 1M, about 3.5 GB on disk)
/// through `insert_batch`, reporting the rate of each chunk of 51,200, then
/// times full-text queries on the result: the index has the shape real
/// writes leave (segments, merges), not that of a bulk load.
///
/// `TRACEGATE_SCALE_ROWS=1000000 cargo test -p tracegate-store --release -- \
///  --ignored --nocapture fts_at_scale`
#[tokio::test]
#[ignore = "writes a large store; run by hand in release mode"]
async fn fts_at_scale() {
    use crate::search::{SearchQuery, SearchStore, TextQuery};
    use chrono::Duration;

    const CHUNK: usize = 100 * BATCH;
    std::env::set_var("TRACEGATE_SEARCH_FULL_SIZE", "1");
    let rows: usize = std::env::var("TRACEGATE_SCALE_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    let mut written = 0;
    for chunk in 0..rows.div_ceil(CHUNK) {
        let mut traces = small_corpus(CHUNK.min(rows - written), 100 + chunk as u64, 20);
        let offset = Duration::milliseconds((chunk * CHUNK) as i64 * 20);
        for t in &mut traces {
            t.started_at += offset;
        }
        let (started, cpu) = (Instant::now(), cpu_seconds());
        for batch in traces.chunks(BATCH) {
            store.insert_batch(batch.to_vec()).await.unwrap();
        }
        let n = traces.len() as f64;
        written += traces.len();
        let per_cpu = match (cpu, cpu_seconds()) {
            (Some(a), Some(b)) if b > a => format!(", {:.0} per CPU s", n / (b - a)),
            _ => String::new(),
        };
        eprintln!(
            "{written} traces: {:.0} traces/s over the last {n}{per_cpu}",
            n / started.elapsed().as_secs_f64()
        );
    }
    let stats = store.stats().await.unwrap();
    eprintln!("database: {:.1} MB", stats.total_bytes as f64 / 1e6);
    for q in [
        "an",
        "proment",
        "conmisfn",
        "an be",
        "\"an be\"",
        "co*",
        "pro*",
        "stri*",
        "ka*",
        "fn*",
    ] {
        let query = SearchQuery {
            text: TextQuery::parse(q, "/q").unwrap(),
            ..SearchQuery::default()
        };
        let mut ms = Vec::new();
        let mut found = 0;
        for _ in 0..15 {
            let t = Instant::now();
            found = store.search(&query).await.unwrap().data.len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        eprintln!(
            "q {q:<12} p50 {:>8.2} ms  p95 {:>8.2} ms  rows {found}",
            ms[ms.len() / 2],
            ms[ms.len() * 95 / 100]
        );
    }
}
