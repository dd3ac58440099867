//! Compaction under concurrent sessions, resent tool exchanges and the sub-task window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;
use crate::conversation::fixtures::{big_claude_md, summary_answer};

const A: &str = "aaaaaaaa-2222-4333-8444-555555555555";
const B: &str = "bbbbbbbb-2222-4333-8444-555555555555";

fn answer_a() -> String {
    summary_answer(
        "the coupon discount applied twice to the cart total",
        "src/cart.rs",
        "total() subtracted cart.discount() twice; the fix keeps a single subtraction",
    )
}

fn answer_b() -> String {
    summary_answer(
        "the invoice PDF rendering wrong currency symbols",
        "src/invoice/pdf.rs",
        "the formatter ignored the locale and always printed dollars; it now reads the invoice currency",
    )
}

/// Sets `stream` on a request body, to run a scenario streamed and not.
fn streamed(mut request: Value, stream: bool) -> Value {
    request["stream"] = json!(stream);
    request
}

#[test]
fn two_concurrent_sessions_each_compacted_once() {
    for stream in [true, false] {
        let mut run = Run::new();
        let (mut a, mut b) = (ClaudeCode::new(A), ClaudeCode::new(B));
        a.user("The cart total is wrong when a coupon is applied. Find out why.");
        b.user("Invoices print $ for euro customers. Fix the PDF renderer.");
        let link = |run: &mut Run, id: &str, s: &mut ClaudeCode, answer: &str| {
            let r = streamed(s.request(), stream);
            let resp = s.reply(answer);
            run.link(id, ALICE, &r, &resp)
        };
        link(&mut run, "a1", &mut a, "Reading src/cart.rs.");
        link(&mut run, "b1", &mut b, "Reading src/invoice/pdf.rs.");
        a.user("Go on.");
        b.user("Go on.");
        link(
            &mut run,
            "a2",
            &mut a,
            "Found it: the discount is subtracted twice.",
        );
        link(&mut run, "b2", &mut b, "Found it: the locale is ignored.");
        let (ca, cb) = (answer_a(), answer_b());
        let (req, resp) = a.compact(&ca);
        assert_link(
            &run.link("a-compact", ALICE, &streamed(req, stream), &resp),
            "a1",
            Some("a2"),
            0,
            LinkKind::Turn,
        );
        b.user("Also check the totals row.");
        link(&mut run, "b3", &mut b, "The totals row is fine.");
        let (req, resp) = b.compact(&cb);
        assert_link(
            &run.link("b-compact", ALICE, &streamed(req, stream), &resp),
            "b1",
            Some("b3"),
            0,
            LinkKind::Turn,
        );

        // The most recent long trace is B's; A's continuation still finds A.
        let mut a2 = ClaudeCode::continued("aaaaaaaa-0000-4333-8444-555555555555", &ca);
        let l = link(
            &mut run,
            "a-cont",
            &mut a2,
            "Continuing with the regression test.",
        );
        assert_link(&l, "a1", Some("a-compact"), 0, LinkKind::Continuation);
        let mut b2 = ClaudeCode::continued("bbbbbbbb-0000-4333-8444-555555555555", &cb);
        let l = link(
            &mut run,
            "b-cont",
            &mut b2,
            "Continuing with the changelog.",
        );
        assert_link(&l, "b1", Some("b-compact"), 0, LinkKind::Continuation);
        a2.user("Run the whole suite.");
        b2.user("Run the whole suite.");
        assert_link(
            &link(&mut run, "a-next", &mut a2, "All green."),
            "a1",
            Some("a-cont"),
            0,
            LinkKind::Turn,
        );
        assert_link(
            &link(&mut run, "b-next", &mut b2, "All green."),
            "b1",
            Some("b-cont"),
            0,
            LinkKind::Turn,
        );
    }
}

#[test]
fn continuation_without_its_summary_request_starts_its_own_conversation() {
    let mut run = Run::new();
    // Another session of the account is busy and has a long recent answer.
    let mut b = ClaudeCode::new(B);
    b.user("Invoices print $ for euro customers. Fix the PDF renderer.");
    let r = b.request();
    run.link("b1", ALICE, &r, &b.reply("Reading src/invoice/pdf.rs."));
    let (req, resp) = b.compact(&answer_b());
    run.link("b-compact", ALICE, &req, &resp);
    b.user("Go on.");
    let r = b.request();
    run.link("b2", ALICE, &r, &b.reply("Going on."));

    // A's summary request went through another gateway: never recorded here.
    let mut a = ClaudeCode::continued(A, &answer_a());
    let r = a.request();
    let l = run.link("a-cont", ALICE, &r, &a.reply("Continuing."));
    assert_link(&l, "a-cont", None, 0, LinkKind::Continuation);
    a.user("Next step.");
    let r = a.request();
    assert_link(
        &run.link("a2", ALICE, &r, &a.reply("Done.")),
        "a-cont",
        Some("a-cont"),
        0,
        LinkKind::Turn,
    );
    // The same summary from another account does not join A's or B's conversation.
    let mut other = ClaudeCode::continued("cccccccc-2222-4333-8444-555555555555", &answer_b());
    let r = other.request();
    assert_link(
        &run.link("bob", BOB, &r, &json!({})),
        "bob",
        None,
        0,
        LinkKind::Continuation,
    );
}

#[test]
fn ten_turns_after_a_compaction_stay_in_their_conversation() {
    let mut run = Run::new();
    let mut a = ClaudeCode::new(A);
    a.user("The cart total is wrong when a coupon is applied. Find out why.");
    let r = a.request();
    run.link("a1", ALICE, &r, &a.reply("Reading src/cart.rs."));
    let (req, resp) = a.compact(&answer_a());
    run.link("a-compact", ALICE, &req, &resp);

    let mut a2 = ClaudeCode::continued("aaaaaaaa-0000-4333-8444-555555555555", &answer_a());
    let r = a2.request();
    assert_link(
        &run.link("c0", ALICE, &r, &a2.reply("Continuing.")),
        "a1",
        Some("a-compact"),
        0,
        LinkKind::Continuation,
    );
    let mut b = ClaudeCode::new(B);
    b.user("Invoices print $ for euro customers. Fix the PDF renderer.");
    let mut prev = String::from("c0");
    for i in 1..=10 {
        // The other session speaks between every two turns, with long answers.
        let r = b.request();
        let bl = run.link(&format!("b{i}"), ALICE, &r, &b.reply(&answer_b()));
        assert_eq!(bl.conversation_id, "b1");
        b.user(&format!("Step {i} of the invoice fix."));

        if i % 3 == 0 {
            a2.user(&format!("Step {i}: read the next file."));
            let r = a2.request();
            let resp = a2.call(
                "Read",
                json!({ "file_path": format!("/home/dev/shop/src/m{i}.rs") }),
            );
            let l = run.link(&format!("c{i}"), ALICE, &r, &resp);
            assert_link(&l, "a1", Some(&prev), 0, LinkKind::Turn);
            a2.tool_result(&format!("pub mod m{i};"));
        } else {
            a2.user(&format!("Step {i} of the coupon work."));
            let r = a2.request();
            let l = run.link(
                &format!("c{i}"),
                ALICE,
                &r,
                &a2.reply(&format!("Step {i} done.")),
            );
            assert_link(&l, "a1", Some(&prev), 0, LinkKind::Turn);
        }
        prev = format!("c{i}");
    }
}

#[test]
fn a_resent_tool_exchange_is_the_next_turn() {
    let mut run = Run::new();
    let mut s = ClaudeCode::new(SESSION);
    s.user("The cart total is wrong when a coupon is applied. Find out why.");
    let r = s.request();
    run.link(
        "t1",
        ALICE,
        &r,
        &s.call("Read", json!({ "file_path": "/home/dev/shop/src/cart.rs" })),
    );
    s.tool_result("pub fn total() {}");
    let r = s.request();
    run.link(
        "t2",
        ALICE,
        &r,
        &s.reply("The discount is subtracted twice."),
    );
    // The next request carries the call and its result twice, same tool-use id.
    let mut resent = s.clone();
    resent.repeat_tool_exchange().user("Fix it.");
    let r = resent.request();
    assert_link(
        &run.link("t3", ALICE, &r, &resent.reply("Fixed.")),
        "t1",
        Some("t2"),
        0,
        LinkKind::Turn,
    );
    resent.user("Thanks.");
    let r = resent.request();
    assert_link(
        &run.link("t4", ALICE, &r, &json!({})),
        "t1",
        Some("t3"),
        0,
        LinkKind::Turn,
    );
}

#[test]
fn sub_task_window_edges_behind_a_large_claude_md() {
    const PROMPT: &str =
        "List every caller of cart.discount() and say whether any applies it twice.";
    for (after, want) in [
        (DEFAULT_TASK_WINDOW_MS - 10_000, LinkKind::SubTask),
        (DEFAULT_TASK_WINDOW_MS + 10_000, LinkKind::Root),
    ] {
        let mut run = Run::new();
        let mut main = ClaudeCode::new(SESSION);
        main.user("Find every caller of discount().");
        let r = main.request();
        let a = main.call("Task", json!({ "description": "Find callers", "prompt": PROMPT, "subagent_type": "general-purpose" }));
        run.link("caller", ALICE, &r, &a);
        let mut sub = ClaudeCode::sub_agent_with_context(B, PROMPT, &big_claude_md());
        let r = sub.request();
        assert!(serde_json::to_string(&r).unwrap().len() > 10_000);
        run.now += after - 5_000;
        let l = run.link("sub", ALICE, &r, &json!({}));
        assert_eq!(l.kind, want, "{after} ms after the call");
    }
}

#[test]
fn a_later_turn_whose_parent_is_missing_is_no_continuation() {
    let mut run = Run::new();
    let mut b = ClaudeCode::new(B);
    b.user("Invoices print $ for euro customers. Fix the PDF renderer.");
    let r = b.request();
    run.link("b1", ALICE, &r, &b.reply(&answer_b()));
    // A compacted session whose first requests went elsewhere: its marker is
    // still in the first message, but the request has a parent of its own.
    let mut a = ClaudeCode::continued(A, &answer_a());
    let _unseen = a.request();
    a.reply("Continuing.");
    a.user("Next step.");
    let r = a.request();
    assert!(keys(&r).continuation && keys(&r).parent_hash.is_some());
    assert_link(
        &run.link("a2", ALICE, &r, &json!({})),
        "a2",
        None,
        0,
        LinkKind::Root,
    );
}
