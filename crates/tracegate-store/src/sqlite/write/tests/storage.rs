//! How the writer stores a batch: its connection settings, and message chains
//! and blobs written once however often a conversation is resent.

use super::*;
use crate::conformance::assert_stored;
use crate::sqlite::write::{AUTOCHECKPOINT_PAGES, WRITER_CACHE_KIB};

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn the_writer_keeps_a_large_page_cache_and_checkpoints_less_often() {
    let (_dir, store, _peek) = temp_store();
    let writer = store.inner.writer.lock();
    assert_eq!(count(&writer.conn, "PRAGMA cache_size"), -WRITER_CACHE_KIB);
    assert_eq!(
        count(&writer.conn, "PRAGMA wal_autocheckpoint"),
        AUTOCHECKPOINT_PAGES
    );
}

#[tokio::test]
async fn a_resent_history_adds_only_its_new_messages() {
    let (_dir, store, peek) = temp_store();
    let long = "an answer long enough to be compressed ".repeat(20);
    let msg = |role: &str, text: &str| json!({ "role": role, "content": text });
    let first = json!({ "model": "m", "messages": [msg("user", "first question")] });
    let second = json!({ "model": "m", "messages": [
        msg("user", "first question"),
        msg("assistant", &long),
        msg("user", "second question"),
    ] });
    let answer = json!({ "content": [] });
    let mut s = Script::new();
    s.anthropic(None, first, answer.clone());
    s.anthropic(None, second.clone(), answer.clone());
    // The same request again (a retry), in a batch of its own and twice in one batch.
    for _ in 0..3 {
        s.anthropic(None, second.clone(), answer.clone());
    }
    let stored = |peek: &Connection| {
        [
            count(peek, "SELECT COUNT(*) FROM msg_nodes"),
            count(peek, "SELECT COUNT(*) FROM blobs"),
            count(peek, "SELECT COUNT(*) FROM blobs WHERE codec = 1"),
        ]
    };

    store.insert_batch(s.traces[..1].to_vec()).await.unwrap();
    assert_eq!(stored(&peek), [1, 1, 0]);
    store.insert_batch(s.traces[1..2].to_vec()).await.unwrap();
    assert_eq!(stored(&peek), [3, 3, 1], "two new messages, one compressed");
    store.insert_batch(s.traces[2..3].to_vec()).await.unwrap();
    store.insert_batch(s.traces[3..].to_vec()).await.unwrap();
    assert_eq!(stored(&peek), [3, 3, 1], "nothing new");
    for t in &s.traces {
        assert_stored(&store, t).await;
    }
}
