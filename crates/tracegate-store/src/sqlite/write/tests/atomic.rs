//! A failed batch leaves nothing behind: no rollup, conversation, full-text,
//! link or linker change.

use super::sessions::Session;
use super::*;

const WHO: Option<&str> = Some("cred:0f0f");

/// Everything the analytics keep, as text, to compare before and after.
fn snapshot(c: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT granularity, dim, bucket, key, requests, errors, input_tokens, output_tokens,
                cache_read_tokens, cache_write_tokens, cost_usd, hex(duration_sketch),
                hex(ttft_sketch) FROM rollups ORDER BY 1, 2, 3, 4",
        "SELECT * FROM conversations ORDER BY id",
        "SELECT trace_rowid, hex(self_hash) FROM trace_links ORDER BY 1",
        "SELECT rowid, conversation_id, parent_id, branch, link_kind FROM traces ORDER BY 1",
    ] {
        let mut stmt = c.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(cells.join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[tokio::test]
async fn a_failed_batch_changes_no_analytics_and_leaves_no_phantom_link() {
    let (_dir, store, peek) = temp_store();
    let mut s = Script::new();
    let mut main = Session::new("gggg7777");
    main.user("Explain the build failure.");
    let r = main.request();
    s.anthropic(WHO, r, main.reply("A missing semicolon."));
    let ok_batch = s.traces.clone();
    store.insert_batch(ok_batch.clone()).await.unwrap();
    let mut corpus = small_corpus(40, 3, 30_000);
    store
        .insert_batch(corpus.drain(..20).collect())
        .await
        .unwrap();
    let before = snapshot(&peek);
    assert!(before.len() > 40);

    // A new conversation, a turn of the stored one and corpus traces, then a
    // trace the database refuses (a trigger stands in for a failing write).
    peek.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON traces WHEN NEW.endpoint = '/refused'
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let mut fresh = Session::new("hhhh8888");
    fresh.user("Tune the xylophonist scheduler.");
    let new_root = s.anthropic(WHO, fresh.request(), fresh.reply("Done."));
    main.user("And the warning?");
    let turn = s.anthropic(WHO, main.request(), main.reply("Unused import."));
    let mut failing = vec![s.traces[new_root].clone(), s.traces[turn].clone()];
    failing.extend(corpus.iter().cloned());
    let mut refused = ok_batch[0].clone();
    refused.id = uuid::Uuid::now_v7();
    refused.endpoint = "/refused".into();
    failing.push(refused);
    assert!(store.insert_batch(failing).await.is_err());
    peek.execute_batch("DROP TRIGGER refuse").unwrap();

    assert_eq!(snapshot(&peek), before);
    let found: i64 = peek
        .query_row(
            "SELECT COUNT(*) FROM traces_fts WHERE traces_fts MATCH 'xylophonist'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 0);

    // The same requests again under new ids: the linker has not kept the
    // rolled-back traces, so the first is a new root, not a retry of a ghost.
    let mut again = vec![s.traces[new_root].clone(), s.traces[turn].clone()];
    for t in &mut again {
        t.id = uuid::Uuid::now_v7();
    }
    store.insert_batch(again.clone()).await.unwrap();
    let links = stored_links(&peek, &again);
    let root = links[0].as_ref().unwrap();
    assert_eq!(root.conversation_id, again[0].id.to_string());
    assert_eq!(root.kind, LinkKind::Root);
    let next = links[1].as_ref().unwrap();
    assert_eq!(next.conversation_id, ok_batch[0].id.to_string());
    assert_eq!(next.kind, LinkKind::Turn);
}

#[tokio::test]
async fn a_replayed_batch_adds_only_its_new_traces_to_the_analytics() {
    let corpus = small_corpus(30, 3, 20_000);
    let (old, new) = corpus.split_at(18);

    // Once: the old traces, then the new ones.
    let (_d1, once, peek_once) = temp_store();
    once.insert_batch(old.to_vec()).await.unwrap();
    once.insert_batch(new.to_vec()).await.unwrap();

    // Replayed: the old traces, then all of them (the old ones again, some twice).
    let (_d2, replayed, peek_replayed) = temp_store();
    replayed.insert_batch(old.to_vec()).await.unwrap();
    let mut again = corpus.clone();
    again.extend(old[..4].iter().cloned());
    replayed.insert_batch(again).await.unwrap();

    let expected = snapshot(&peek_once);
    assert!(expected.len() > 30);
    assert_eq!(snapshot(&peek_replayed), expected);
    let fts = |c: &Connection| -> i64 {
        c.query_row("SELECT COUNT(*) FROM traces_fts", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(fts(&peek_replayed), fts(&peek_once));
    assert_eq!(
        replayed.stats().await.unwrap().trace_count,
        corpus.len() as u64
    );
}
