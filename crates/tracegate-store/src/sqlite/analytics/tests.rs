//! Tests of the analytics reads, on data written through `insert_batch`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conversations;
mod plans;
mod session;
mod stats;
mod usage;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tracegate_core::{Outcome, Provider, Trace, Usage};
use uuid::Uuid;

use crate::conformance::fixtures::Rng;
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

/// A store in a temporary file, so a second connection can look or meddle.
fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    (dir, store)
}

/// A plain second connection to the store's file.
fn peek(store: &SqliteStore) -> Connection {
    Connection::open(store.path().unwrap()).unwrap()
}

/// 2025-06-02T00:00:00Z.
const JUNE_2: i64 = 1_748_822_400_000;

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

/// A trace without bodies at `ms`, with the scalar fields analytics read.
fn bare(ms: i64, account: Option<&str>, model: Option<&str>) -> Trace {
    let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    t.id = Uuid::now_v7();
    t.started_at = time(ms);
    t.account = account.map(str::to_owned);
    t.model = model.map(str::to_owned);
    t.upstream = Some("primary".into());
    t.status = Some(200);
    t.duration_ms = 100.0;
    t
}

/// `n` traces at random millisecond times in `[from, to)`, over three
/// accounts (one absent), four models (one unknown, one only requested), with
/// random usage, some costs unknown, a long tail of durations, some errors and
/// some response cache hits.
fn corpus(n: usize, from: i64, to: i64, seed: u64) -> Vec<Trace> {
    let mut rng = Rng::new(seed);
    let span = usize::try_from(to - from).unwrap();
    let accounts = [Some("cred:aa11"), Some("cred:bb22"), None];
    let models = [
        Some("claude-sonnet-4-5"),
        Some("claude-haiku-4-5"),
        Some("gpt-4.1"),
        None,
    ];
    let endpoints = [
        "/v1/messages",
        "/v1/chat/completions",
        "/v1/messages/count_tokens",
    ];
    (0..n)
        .map(|_| {
            let ms = from + rng.below(span) as i64;
            let m = rng.below(models.len());
            let mut t = bare(ms, accounts[rng.below(3)], models[m]);
            if m == 3 && rng.below(2) == 0 {
                t.model_requested = Some("claude-opus-4-1".into());
            }
            t.endpoint = endpoints[rng.below(3)].into();
            t.upstream = (rng.below(5) != 0).then(|| ["primary", "backup"][rng.below(2)].into());
            t.usage = Usage {
                input_tokens: Some(rng.below(5000) as u64),
                output_tokens: (rng.below(10) != 0).then(|| rng.below(2000) as u64),
                cache_read_tokens: (rng.below(2) == 0).then(|| rng.below(50_000) as u64),
                cache_write_tokens: (rng.below(3) == 0).then(|| rng.below(9000) as u64),
            };
            t.cost_usd = (rng.below(6) != 0).then(|| rng.below(100_000) as f64 / 1e6);
            // Pareto-like tail: most requests take 0.1-1 s, a few take minutes.
            let u = rng.below(1_000_000) as f64 / 1_000_000.0;
            let scale = [300.0, 80.0, 500.0, 150.0][m];
            t.duration_ms = (scale * (1.0 / (1.0 - u)).powf(1.3)).min(600_000.0);
            t.ttft_ms =
                (rng.below(4) != 0).then(|| t.duration_ms * (0.05 + rng.below(50) as f64 / 100.0));
            if rng.below(20) == 0 {
                t.outcome =
                    [Outcome::UpstreamError, Outcome::Timeout, Outcome::Cancelled][rng.below(3)];
                t.status = Some(529);
            } else if ms % 11 == 0 {
                // Answered from the response cache: free, with what it saved.
                t.outcome = Outcome::CacheHit;
                t.cache_saved_usd = t.cost_usd;
                t.cost_usd = Some(0.0);
            }
            t
        })
        .collect()
}

/// Inserts in batches, as the recorder does.
async fn insert(store: &SqliteStore, traces: &[Trace]) {
    for chunk in traces.chunks(500) {
        store.insert_batch(chunk.to_vec()).await.unwrap();
    }
}

/// The model a trace is counted under: answered, else asked for, else ''.
fn model_of(t: &Trace) -> String {
    t.model
        .clone()
        .or_else(|| t.model_requested.clone())
        .unwrap_or_default()
}
