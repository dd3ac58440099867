//! Compaction continuations, sub-tasks and the OpenAI chat shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;
use crate::conversation::fixtures::{continuation_text, summary_answer, ChatClient, ClaudeCode};

#[test]
fn compacted_continuation_joins_the_conversation_it_continues() {
    let mut s = ClaudeCode::new(SESSION);
    let turns = five_turns(&mut s);
    s.user("Your task is to create a detailed summary of the conversation so far, paying close attention to the user's explicit requests and your previous actions.");
    let compact = s.request();
    let summary = summary_answer(
        "the coupon discount applied twice to the cart total",
        "src/cart.rs",
        "total() subtracted cart.discount() twice; the fix keeps a single subtraction",
    );
    let compact_answer = s.reply(&summary);

    let mut run = Run::new();
    for (i, (req, resp)) in turns.iter().enumerate() {
        run.link(&format!("t{}", i + 1), ALICE, req, resp);
    }
    assert_link(
        &run.link("t6", ALICE, &compact, &compact_answer),
        "t1",
        Some("t5"),
        0,
        LinkKind::Turn,
    );
    // Side traffic between compaction and continuation: a one-off title request.
    let mut title = ClaudeCode::new("0c1d2e3f-aaaa-4bbb-8ccc-123456789abc").without_reminders();
    title.user("Please write a 5-10 word title for the following conversation: cart coupon fix");
    let title_req = title.request();
    assert_link(
        &run.link("side", ALICE, &title_req, &json!({})),
        "side",
        None,
        0,
        LinkKind::Root,
    );

    let mut next = ClaudeCode::new("11111111-2222-4333-8444-555555555555");
    next.user(&continuation_text(&summary));
    let c1 = next.request();
    let k = keys(&c1);
    assert!(k.continuation && k.single_user_message && k.parent_hash.is_none());
    let c1_answer = next.reply("Continuing: running the full test suite.");
    assert_link(
        &run.link("c1", ALICE, &c1, &c1_answer),
        "t1",
        Some("t6"),
        0,
        LinkKind::Continuation,
    );
    next.user("Also update the README.");
    let c2 = next.request();
    assert!(keys(&c2).continuation);
    assert_link(
        &run.link("c2", ALICE, &c2, &json!({})),
        "t1",
        Some("c1"),
        0,
        LinkKind::Turn,
    );

    // Another account, or a day later, starts afresh.
    let mut fresh = ClaudeCode::new("99999999-2222-4333-8444-555555555555");
    fresh.user(&continuation_text(&summary));
    let f1 = fresh.request();
    assert_link(
        &run.link("bob", BOB, &f1, &json!({})),
        "bob",
        None,
        0,
        LinkKind::Continuation,
    );
    run.now += CONTINUATION_WINDOW_MS + 1;
    assert_link(
        &run.link("late", ALICE, &f1, &json!({})),
        "late",
        None,
        0,
        LinkKind::Continuation,
    );
}

#[test]
fn continuation_skips_sub_task_conversations() {
    let mut run = Run::new();
    let mut s = ClaudeCode::new(SESSION);
    let turns = five_turns(&mut s);
    for (i, (req, resp)) in turns.iter().enumerate() {
        run.link(&format!("t{}", i + 1), ALICE, req, resp);
    }
    s.user("Find every caller of discount().");
    let r6 = s.request();
    let a6 = s.call("Task", json!({ "description": "Find callers", "prompt": TASK_PROMPT, "subagent_type": "general-purpose" }));
    run.link("t6", ALICE, &r6, &a6);
    let mut sub = ClaudeCode::sub_agent("22222222-2222-4333-8444-555555555555", TASK_PROMPT, true);
    let s1 = sub.request();
    let s1a = sub.call("Bash", json!({ "command": "rg -n 'discount\\(' src" }));
    assert_link(
        &run.link("s1", ALICE, &s1, &s1a),
        "s1",
        Some("t6"),
        0,
        LinkKind::SubTask,
    );
    sub.tool_result("src/cart.rs:2: cart.discount()");
    let s2 = sub.request();
    assert_link(
        &run.link("s2", ALICE, &s2, &json!({})),
        "s1",
        Some("s1"),
        0,
        LinkKind::Turn,
    );

    // The main session compacts while its sub-agent goes on.
    let summary = summary_answer(
        "the coupon discount applied twice to the cart total",
        "src/cart.rs",
        "two callers of discount() exist; only the cart total applied it twice",
    );
    let (compact, compact_answer) = s.compact(&summary);
    run.link("t7", ALICE, &compact, &compact_answer);
    sub.tool_result("src/checkout.rs:40: cart.discount()");
    let s3 = sub.request();
    let s3a = sub.reply(&summary);
    assert_eq!(run.link("s3", ALICE, &s3, &s3a).conversation_id, "s1");

    let mut next = ClaudeCode::continued("33333333-2222-4333-8444-555555555555", &summary);
    let c1 = next.request();
    assert_link(
        &run.link("c1", ALICE, &c1, &json!({})),
        "t1",
        Some("t7"),
        0,
        LinkKind::Continuation,
    );
}

#[test]
fn task_call_starts_a_sub_task() {
    let mut main = ClaudeCode::new(SESSION);
    main.user("Why is the coupon applied twice?");
    let r1 = main.request();
    let a1 = main.call("Task", json!({ "description": "Find coupon code paths", "prompt": TASK_PROMPT, "subagent_type": "general-purpose" }));
    assert_eq!(task_prompt_hashes(Provider::Anthropic, &a1).len(), 1);

    for reminders in [true, false] {
        let sub = ClaudeCode::sub_agent(
            "44444444-2222-4333-8444-555555555555",
            TASK_PROMPT,
            reminders,
        );
        let k = keys(&sub.clone().request());
        assert!(k.single_user_message);
        assert_eq!(
            Some(task_prompt_hashes(Provider::Anthropic, &a1)[0]),
            k.first_user_text_hash
        );
    }

    let mut run = Run::new();
    assert_link(
        &run.link("m1", ALICE, &r1, &a1),
        "m1",
        None,
        0,
        LinkKind::Root,
    );
    let mut sub = ClaudeCode::sub_agent("44444444-2222-4333-8444-555555555555", TASK_PROMPT, true);
    let s1 = sub.request();
    let s1a = sub.call("Bash", json!({ "command": "rg -n coupon src" }));
    assert_link(
        &run.link("s1", ALICE, &s1, &s1a),
        "s1",
        Some("m1"),
        0,
        LinkKind::SubTask,
    );
    // A retried sub-agent request joins the same sub-task, as a retry of it.
    assert_link(
        &run.link("s1-retry", ALICE, &s1, &s1a),
        "s1",
        Some("s1"),
        0,
        LinkKind::Retry,
    );
    sub.tool_result("src/cart.rs:2\nsrc/checkout.rs:40");
    let s2 = sub.request();
    let s2a = sub.reply("Two places apply the coupon: src/cart.rs:2 and src/checkout.rs:40.");
    assert_link(
        &run.link("s2", ALICE, &s2, &s2a),
        "s1",
        Some("s1-retry"),
        0,
        LinkKind::Turn,
    );
    // The caller goes on with the sub-agent's report as the tool result.
    main.tool_result("Two places apply the coupon: src/cart.rs:2 and src/checkout.rs:40.");
    let r2 = main.request();
    let a2 = main.call("Task", json!({ "description": "Find coupon code paths", "prompt": TASK_PROMPT, "subagent_type": "general-purpose" }));
    assert_link(
        &run.link("m2", ALICE, &r2, &a2),
        "m1",
        Some("m1"),
        0,
        LinkKind::Turn,
    );
    // The same prompt called again later is a new sub-task of the new caller, not a retry.
    let again =
        ClaudeCode::sub_agent("55555555-2222-4333-8444-555555555555", TASK_PROMPT, true).request();
    assert_link(
        &run.link("s9", ALICE, &again, &json!({})),
        "s9",
        Some("m2"),
        0,
        LinkKind::SubTask,
    );
    // An unrelated one-message request is a root; so is the prompt after the sub-task window.
    let mut lone = ClaudeCode::new("66666666-2222-4333-8444-555555555555");
    lone.user("What does this repo do?");
    assert_link(
        &run.link("x", ALICE, &lone.request(), &json!({})),
        "x",
        None,
        0,
        LinkKind::Root,
    );
    run.now += DEFAULT_TASK_WINDOW_MS + RETRY_WINDOW_MS;
    let late =
        ClaudeCode::sub_agent("77777777-2222-4333-8444-555555555555", TASK_PROMPT, false).request();
    assert_link(
        &run.link("late", ALICE, &late, &json!({})),
        "late",
        None,
        0,
        LinkKind::Root,
    );
}

#[test]
fn openai_chat_conversation_links_linearly() {
    let mut c = ChatClient::default();
    c.user("List the failing tests and fix the first one.");
    let r1 = c.request();
    let a1 = c.call(&[
        ("run_shell", json!({ "cmd": "cargo test 2>&1 | tail" })),
        ("run_shell", json!({ "cmd": "git status" })),
    ]);
    c.tool_results("ok");
    let r2 = c.request();
    let a2 = c.reply("`cart::coupon_applies_once` fails; the discount is subtracted twice.");
    c.user("Fix it.");
    let r3 = c.request();
    let a3 = c.call(&[(
        "Task",
        json!({ "description": "fix", "prompt": TASK_PROMPT }),
    )]);
    c.tool_results("fixed");
    let r4 = c.request();

    let k: Vec<LinkKeys> = [&r1, &r2, &r3, &r4]
        .iter()
        .map(|r| link_keys(Provider::Openai, r).unwrap())
        .collect();
    assert_eq!(
        k.iter().map(|k| k.prefix_len).collect::<Vec<_>>(),
        vec![1, 3, 5, 7]
    );
    assert_eq!(k[3].parent_hash, Some(k[2].self_hash));
    assert_eq!(task_prompt_hashes(Provider::Openai, &a3).len(), 1);
    assert!(task_prompt_hashes(Provider::Openai, &a1).is_empty());

    let mut run = Run::with(Provider::Openai);
    assert_link(
        &run.link("o1", None, &r1, &a1),
        "o1",
        None,
        0,
        LinkKind::Root,
    );
    assert_link(
        &run.link("o2", None, &r2, &a2),
        "o1",
        Some("o1"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("o3", None, &r3, &a3),
        "o1",
        Some("o2"),
        0,
        LinkKind::Turn,
    );
    assert_link(
        &run.link("o4", None, &r4, &json!({})),
        "o1",
        Some("o3"),
        0,
        LinkKind::Turn,
    );
}
