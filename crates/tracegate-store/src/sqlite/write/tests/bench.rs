//! Insert throughput, run by hand:
//! `cargo test -p tracegate-store --release -- --ignored --nocapture insert_throughput`.

use std::time::Instant;

use super::small_corpus;
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

const BATCH: usize = 512;
const BATCHES: usize = 40;

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
    let started = Instant::now();
    for batch in batches {
        store.insert_batch(batch).await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "insert_throughput: {} traces ({} B of bodies each on average) in batches of {BATCH}: \
         {secs:.2} s, {:.0} traces/s",
        BATCH * BATCHES,
        bytes / (BATCH * BATCHES),
        (BATCH * BATCHES) as f64 / secs
    );
}
