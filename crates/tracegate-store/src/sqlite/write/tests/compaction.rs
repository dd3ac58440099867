//! Compacted continuations link by the answer their summary repeats, also
//! after a reopen; `relink` recomputes stored links and conversations.

use serde_json::json;
use tracegate_core::conversation::{LinkKind, Linker};

use super::sessions::Session;
use super::*;

const ALICE: Option<&str> = Some("cred:1a2b3c4d5e6f");
const COMPACT: &str = "Your task is to create a detailed summary of the conversation so far, paying close attention to the user's explicit requests and your previous actions.";

/// A summary answer in `<analysis>`/`<summary>` tags about `topic`.
fn summary(topic: &str, file: &str) -> String {
    format!(
        "<analysis>\nThe user asked about {topic}. I read {file}, reproduced the failure with the tests, changed {file} and re-ran the suite, which passed.\n</analysis>\n\n<summary>\n1. Primary Request and Intent:\n   Fix {topic} in {file} and add a regression test.\n\n2. Files and Code Sections:\n   - {file}: the code behind {topic}, changed in one place.\n\n3. Pending Tasks:\n   - Write the regression test for {topic}, then update the changelog for {file}.\n\n4. Current Work:\n   Writing the regression test for {topic} beside the tests of {file}.\n</summary>"
    )
}

/// The first user message of the continued session, as the client rewrites `answer`.
fn continuation(answer: &str) -> String {
    let body = answer
        .replace("<analysis>\n", "Analysis:\n")
        .replace("</analysis>", "")
        .replace("<summary>\n", "Summary:\n")
        .replace("</summary>", "")
        .replace("\n\n", "\n");
    format!("This session is being continued from a previous conversation that ran out of context. The conversation is summarized below:\n{body}\nPlease continue the conversation from where we left it off without asking the user any further questions.")
}

/// Two sessions of one account, interleaved, each compacted; returns the
/// script and the index of each summary request.
fn two_compacted_sessions() -> (Script, usize, usize) {
    let mut s = Script::new();
    let (mut a, mut b) = (Session::new("aaaa0001"), Session::new("bbbb0002"));
    a.user("The cart total is wrong when a coupon is applied.");
    b.user("Invoices print dollars for euro customers.");
    let r = a.request();
    s.anthropic(
        ALICE,
        r,
        a.call("Read", json!({ "file_path": "src/cart.rs" })),
    );
    let r = b.request();
    s.anthropic(ALICE, r, b.reply("Looking at the renderer."));
    a.tool_result("fn total() {}");
    let r = a.request();
    s.anthropic(ALICE, r, a.reply("The discount is subtracted twice."));
    a.user(COMPACT);
    let r = a.request();
    let a_compact = s.anthropic(
        ALICE,
        r,
        a.reply(&summary("the doubled coupon discount", "src/cart.rs")),
    );
    b.user(COMPACT);
    let r = b.request();
    let b_compact = s.anthropic(
        ALICE,
        r,
        b.reply(&summary(
            "the currency symbol on invoices",
            "src/invoice/pdf.rs",
        )),
    );
    (s, a_compact, b_compact)
}

/// The continued sessions and an orphan continuation, with later turns.
fn continued_sessions(s: &mut Script) -> [usize; 3] {
    let mut a = Session::new("aaaa0003");
    a.user(&continuation(&summary(
        "the doubled coupon discount",
        "src/cart.rs",
    )));
    let mut b = Session::new("bbbb0004");
    b.user(&continuation(&summary(
        "the currency symbol on invoices",
        "src/invoice/pdf.rs",
    )));
    let mut orphan = Session::new("cccc0005");
    orphan.user(&continuation(&summary(
        "the slow search page",
        "src/search.rs",
    )));
    let r = b.request();
    let bi = s.anthropic(ALICE, r, b.reply("Continuing with the changelog."));
    let r = a.request();
    let ai = s.anthropic(ALICE, r, a.reply("Continuing with the test."));
    let r = orphan.request();
    let oi = s.anthropic(ALICE, r, orphan.reply("Continuing with the index."));
    for i in 0..3 {
        for (session, text) in [
            (&mut a, "coupon"),
            (&mut b, "invoice"),
            (&mut orphan, "search"),
        ] {
            session.user(&format!("Step {i} of the {text} work."));
            let r = session.request();
            s.anthropic(ALICE, r, session.reply(&format!("Step {i} done.")));
        }
    }
    [ai, bi, oi]
}

#[tokio::test]
async fn continuations_link_by_their_summary_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let (mut s, a_compact, b_compact) = two_compacted_sessions();
    let first = s.traces.len();
    {
        let store = SqliteStore::open(&path).unwrap();
        insert_in_batches(&store, &s.traces, 2).await;
    }
    let [ai, bi, oi] = continued_sessions(&mut s);
    let store = SqliteStore::open(&path).unwrap();
    insert_in_batches(&store, &s.traces[first..], 3).await;

    let want = reference(&mut Linker::default(), &s.traces);
    let peek = Connection::open(&path).unwrap();
    let got = stored_links(&peek, &s.traces);
    assert_eq!(got, want);
    let id = |i: usize| s.traces[i].id.to_string();
    let a = got[ai].clone().unwrap();
    assert_eq!(
        (a.conversation_id.clone(), a.kind),
        (id(0), LinkKind::Continuation)
    );
    assert_eq!(a.parent_trace.unwrap().trace_id, id(a_compact));
    let b = got[bi].clone().unwrap();
    assert_eq!(
        (b.conversation_id.clone(), b.kind),
        (id(1), LinkKind::Continuation)
    );
    assert_eq!(b.parent_trace.unwrap().trace_id, id(b_compact));
    let o = got[oi].clone().unwrap();
    assert_eq!(
        (o.conversation_id.clone(), o.parent_trace, o.kind),
        (id(oi), None, LinkKind::Continuation)
    );
    // Every later turn stays in its conversation.
    for (i, l) in got.iter().enumerate().skip(oi + 1) {
        let want_conv = [id(0), id(1), id(oi)][(i - oi - 1) % 3].clone();
        assert_eq!(l.as_ref().unwrap().conversation_id, want_conv, "trace {i}");
    }
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&s.traces, &want),
    );
    let fingerprints: i64 = peek
        .query_row(
            "SELECT COUNT(*) FROM trace_links WHERE answer_fingerprint IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fingerprints, 2, "the two summaries");
}

#[tokio::test]
async fn relink_recomputes_links_and_conversations_from_the_bodies() {
    let (_dir, store, peek) = temp_store();
    let (mut s, _, _) = two_compacted_sessions();
    continued_sessions(&mut s);
    insert_in_batches(&store, &s.traces, 4).await;
    let want = reference(&mut Linker::default(), &s.traces);
    // As written by an older version: every trace its own root, no fingerprints.
    peek.execute_batch(
        "UPDATE traces SET conversation_id = lower(hex(id)), parent_id = NULL, branch = 0,
             link_kind = 'root';
         UPDATE trace_links SET answer_fingerprint = NULL;
         DELETE FROM conversations;
         INSERT INTO conversations (id, first_ts, last_ts, latest_trace, requests, branches,
             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, models)
         SELECT lower(hex(id)), ts, ts, '', 1, 1, 0, 0, 0, 0, '[]' FROM traces;",
    )
    .unwrap();
    assert_ne!(stored_links(&peek, &s.traces), want);

    let mut seen = Vec::new();
    let report = store
        .relink(None, &mut |done, total| seen.push((done, total)))
        .unwrap();
    let n = s.traces.len() as u64;
    // Even the roots change: their fake conversation ids are not the trace ids.
    assert_eq!((report.traces, report.changed), (n, n));
    assert_eq!(seen.first(), Some(&(0, n)));
    assert_eq!(seen.last(), Some(&(n, n)));
    assert_eq!(stored_links(&peek, &s.traces), want);
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&s.traces, &want),
    );

    // Relinking from a date on gives the same answer, and changes nothing.
    let since = s.traces[5].started_at.timestamp_millis();
    let report = store.relink(Some(since), &mut |_, _| {}).unwrap();
    assert_eq!((report.traces, report.changed), (n - 5, 0));
    assert_eq!(stored_links(&peek, &s.traces), want);
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&s.traces, &want),
    );

    // New traces written after a relink link as before.
    let mut more = Session::new("dddd0006");
    more.user("Something new.");
    let r = more.request();
    s.anthropic(ALICE, r, more.reply("New."));
    insert_in_batches(&store, &s.traces[s.traces.len() - 1..], 1).await;
    let last = stored_links(&peek, &s.traces).pop().unwrap().unwrap();
    assert_eq!(last.kind, LinkKind::Root);
}

#[tokio::test]
async fn the_sub_task_window_is_the_configured_one() {
    const PROMPT: &str = "List every caller of cart.discount().";
    const HOUR_MS: i64 = 3_600_000;
    for (window_ms, later_ms, want) in [
        (HOUR_MS, HOUR_MS - 60_000, LinkKind::SubTask),
        (HOUR_MS, HOUR_MS + 60_000, LinkKind::Root),
        (24 * HOUR_MS, 23 * HOUR_MS, LinkKind::SubTask),
    ] {
        let (_dir, store, peek) = temp_store();
        store.set_subtask_window_ms(window_ms).unwrap();
        let mut s = Script::new();
        let mut main = Session::new("eeee0007");
        main.user("Find the callers.");
        let r = main.request();
        s.anthropic(ALICE, r, main.call("Task", json!({ "prompt": PROMPT })));
        let mut sub = Session::sub_agent("ffff0008", PROMPT);
        let r = sub.request();
        let i = s.anthropic(ALICE, r, sub.reply("Two callers."));
        s.traces[i].started_at = s.traces[0].started_at + chrono::Duration::milliseconds(later_ms);
        insert_in_batches(&store, &s.traces, 1).await;
        let got = stored_links(&peek, &s.traces)[i].clone().unwrap();
        assert_eq!(got.kind, want, "window {window_ms} ms, {later_ms} ms later");
    }
}
