#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::conformance::{self, fixtures};

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    (dir, store)
}

/// A second, plain connection to look at what the store wrote.
fn peek(store: &SqliteStore) -> Connection {
    Connection::open(store.path().unwrap()).unwrap()
}

fn count(c: &Connection, table: &str) -> i64 {
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod on_file {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, store) = temp_store();
                    conformance::$name(&store).await;
                }
            )*
        }
        mod in_memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    conformance::$name(&SqliteStore::open_in_memory().unwrap()).await;
                }
            )*
        }
    };
}

conformance_tests!(
    round_trip,
    conversation_round_trip,
    recent_order_and_limit,
    duplicate_ids_are_skipped,
    migrate_is_idempotent,
    ping_and_stats,
    failed_requests_count_under_the_model_asked_for,
    feedback_is_kept_shown_and_searched,
    keys_are_created_found_by_hash_listed_and_revoked,
);

#[tokio::test]
async fn opening_twice_keeps_data_and_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let traces = fixtures::shapes(conformance::epoch());
    {
        let store = SqliteStore::open(&path).unwrap();
        store.insert_batch(traces.clone()).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let again = SqliteStore::open(&path).unwrap();
    for t in &traces {
        conformance::assert_stored(&again, t).await;
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count() as i64;
    assert_eq!(count(&peek(&store), "schema_migrations"), files);
    let mode: String = peek(&store)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_new_turn_stores_only_its_new_messages() {
    let (_dir, store) = temp_store();
    let turns = fixtures::agent_conversation(8, 11, conformance::epoch());
    for t in &turns[..6] {
        store.insert_batch(vec![t.clone()]).await.unwrap();
    }
    let c = peek(&store);
    let (nodes, blobs) = (count(&c, "msg_nodes"), count(&c, "blobs"));
    assert_eq!(nodes, 11, "turn 6 sends 11 messages");
    store.insert_batch(vec![turns[6].clone()]).await.unwrap();
    // The previous last message loses its cache marker, two messages are new.
    assert_eq!(count(&c, "msg_nodes"), nodes + 2);
    // Two message blobs and the response content; tools and system are shared.
    assert_eq!(count(&c, "blobs"), blobs + 3);

    // The same request again (a retry) adds no blob and no node.
    let mut retry = turns[6].clone();
    retry.id = uuid::Uuid::now_v7();
    store.insert_batch(vec![retry.clone()]).await.unwrap();
    assert_eq!(count(&c, "msg_nodes"), nodes + 2);
    assert_eq!(count(&c, "blobs"), blobs + 3);
    conformance::assert_stored(&store, &retry).await;
    conformance::assert_stored(&store, &turns[5]).await;
}

/// The database file's size with the write-ahead log moved in and free pages
/// dropped.
async fn compacted_bytes(store: &SqliteStore) -> usize {
    store.vacuum().await.unwrap();
    store.checkpoint().await.unwrap();
    let c = peek(store);
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let db = (pages * page_size) as usize;
    assert_eq!(
        store.stats().await.unwrap().total_bytes as usize,
        db,
        "WAL truncated, file = pages"
    );
    db
}

/// Bytes of each table and index, largest first.
fn bytes_by_table(c: &Connection) -> Vec<(String, i64)> {
    c.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What a 100-turn agent conversation occupies: the bytes it adds to the
/// database, everything counted (bodies, trace rows and their indexes, the
/// full-text index, rollups, links), against its final transcript.
#[tokio::test]
async fn a_hundred_turn_conversation_stays_compact() {
    let (_dir, store) = temp_store();
    let empty = compacted_bytes(&store).await;
    let mut before = empty;
    for (n, (seed, start)) in [(42, 0), (43, 3)].into_iter().enumerate() {
        let at = conformance::epoch() + chrono::Duration::hours(start);
        let turns = fixtures::agent_conversation(100, seed, at);
        for t in &turns {
            store.insert_batch(vec![t.clone()]).await.unwrap();
        }
        let db = compacted_bytes(&store).await;
        let added = db - before;
        let transcript = fixtures::transcript_bytes(&turns);
        let naive = fixtures::naive_bytes(&turns);
        let ratio = added as f64 / transcript as f64;
        eprintln!(
            "conversation {}: adds {added} B to the database ({ratio:.2}x its final transcript \
             of {transcript} B); every body whole would be {naive} B ({:.1}x); database file \
             now {db} B, of which {empty} B is the empty schema",
            n + 1,
            naive as f64 / transcript as f64,
        );
        assert!(ratio < 3.0, "conversation {} adds {ratio:.2}x", n + 1);
        assert!(
            added * 10 < naive,
            "no real saving over storing bodies whole"
        );
        eprintln!(
            "  bytes by table and index: {:?}",
            bytes_by_table(&peek(&store))
        );
        conformance::assert_stored(&store, &turns[99]).await;
        conformance::assert_stored(&store, &turns[0]).await;
        before = db;
    }
}

#[tokio::test]
async fn damaged_data_is_reported_as_corrupt() {
    let (_dir, store) = temp_store();
    let traces = fixtures::agent_conversation(3, 5, conformance::epoch());
    store.insert_batch(traces.clone()).await.unwrap();
    let c = peek(&store);

    c.execute("UPDATE blobs SET data = x'00' WHERE codec = 1", [])
        .unwrap();
    let err = store.get(traces[2].id).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    c.execute("DELETE FROM msg_nodes WHERE parent IS NULL", [])
        .unwrap();
    let err = store.get(traces[2].id).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    c.execute("UPDATE traces SET provider = 'carrier-pigeon'", [])
        .unwrap();
    let err = store.recent(10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn odd_numbers_do_not_fail_a_batch() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut t = fixtures::shapes(conformance::epoch()).remove(0);
    t.duration_ms = f64::NAN;
    t.ttft_ms = Some(f64::INFINITY);
    t.cost_usd = Some(f64::NAN);
    t.usage.input_tokens = Some(u64::MAX);
    store.insert_batch(vec![t.clone()]).await.unwrap();
    let got = store.get(t.id).await.unwrap().unwrap().summary;
    assert_eq!(got.duration_ms, 0.0);
    assert_eq!(got.ttft_ms, None);
    assert_eq!(got.cost_usd, None);
    assert_eq!(got.input_tokens, Some(i64::MAX as u64));
    assert_eq!(got.total_tokens, i64::MAX as u64);
}

#[test]
fn opening_an_unreachable_path_is_unavailable() {
    let err = SqliteStore::open(Path::new("/nonexistent-dir/sub/traces.db")).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_run_concurrently() {
    let (_dir, store) = temp_store();
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let traces = fixtures::agent_conversation(5, w, conformance::epoch());
            for t in traces {
                store.insert_batch(vec![t.clone()]).await.unwrap();
                assert!(store.get(t.id).await.unwrap().is_some());
                store.recent(5).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.stats().await.unwrap().trace_count, 20);
}

#[tokio::test]
async fn fresh_traces_go_through_the_writer_thread() {
    let (_dir, store) = temp_store();
    let mut traces = fixtures::shapes(conformance::epoch());
    for t in &mut traces {
        t.id = uuid::Uuid::now_v7();
        t.started_at = chrono::Utc::now();
    }
    assert!(!write_thread::is_late(&traces, chrono::Utc::now()));
    store.insert_batch(traces.clone()).await.unwrap();
    for t in &traces {
        conformance::assert_stored(&store, t).await;
    }
}
