//! Conversation links written through `insert_batch` match the reference
//! linker, survive reopening the store, and keep the stored conversation when
//! the rebuilt linker no longer sees its start.

use serde_json::json;
use tracegate_core::conversation::{LinkKind, Linker, DEFAULT_MAX_AGE_MS};
use tracegate_core::Provider;

use super::sessions::{ChatClient, Session};
use super::*;

const ALICE: Option<&str> = Some("cred:1a2b3c4d5e6f");
const BOB: Option<&str> = Some("cred:99aa88bb77cc");
const TASK_PROMPT: &str = "Search the codebase for every place a coupon discount is applied to a cart total.\nReport file paths and line numbers.";
const SUMMARY: &str = "This session is being continued from a previous conversation that ran out of context. The conversation is summarized below:\nThe user asked to fix the coupon discount.";

/// The sessions a script drives, kept to continue them later.
struct Sessions {
    main: Session,
    branch: Session,
    continued: Session,
    chat: ChatClient,
}

/// Linear turns, a sub-task, two branches, a retry, a compacted continuation,
/// reminder noise, another account, an OpenAI client and unlinked requests.
fn first_part(s: &mut Script) -> Sessions {
    let mut main = Session::new("aaaa1111");
    main.user("The cart total is wrong when a coupon is applied. Find out why.");
    let r = main.request();
    s.anthropic(
        ALICE,
        r,
        main.call("Read", json!({ "file_path": "src/cart.rs" })),
    );
    main.tool_result("fn total(c: &Cart) -> Money { c.sum() - c.discount() - c.discount() }");
    let r = main.request();
    let task = json!({ "description": "Find coupon uses", "prompt": TASK_PROMPT, "subagent_type": "general-purpose" });
    s.anthropic(ALICE, r, main.call("Task", task));

    // The sub-agent started by that Task call: its own conversation.
    let mut sub = Session::sub_agent("bbbb2222", TASK_PROMPT);
    let r = sub.request();
    s.anthropic(
        ALICE,
        r,
        sub.call("Read", json!({ "file_path": "src/coupon.rs" })),
    );
    sub.tool_result("pub fn apply(c: &mut Cart) { c.discount += 5 }");
    let r = sub.request();
    s.anthropic(ALICE, r, sub.reply("Applied in cart.rs line 1, twice."));

    main.tool_result("Applied in cart.rs line 1, twice.");
    let fork = main.clone();
    let r = main.request();
    s.anthropic(
        ALICE,
        r,
        main.call("Edit", json!({ "file_path": "src/cart.rs" })),
    );
    main.tool_result("The file src/cart.rs has been updated.");
    // Noise only: a reminder appears in the first message, markers and the system prompt move.
    main.remind_first("The user opened src/cart.rs in the IDE.");
    let r = main.request();
    let answer = main.reply("Fixed: the discount was subtracted twice.");
    s.anthropic(ALICE, r.clone(), answer.clone());
    // A retry of the same request.
    s.anthropic(ALICE, r, answer);

    // Two other continuations of the point before the edit: branches 1 and 2.
    let mut branch = fork.clone();
    branch
        .rewind(1)
        .tool_result("No coupon code is applied twice.");
    let r = branch.request();
    s.anthropic(ALICE, r, branch.reply("Then the bug is elsewhere."));
    branch.user("Look at the tax computation instead.");
    let r = branch.request();
    s.anthropic(
        ALICE,
        r,
        branch.call("Read", json!({ "file_path": "src/tax.rs" })),
    );
    let mut other = fork;
    other.rewind(1).tool_result("Error: file not found");
    let r = other.request();
    s.anthropic(ALICE, r, other.reply("The file is missing."));

    // Bob says the same first thing: his own conversation.
    let mut bob = Session::new("dddd4444");
    bob.user("The cart total is wrong when a coupon is applied. Find out why.");
    let r = bob.request();
    s.anthropic(BOB, r, bob.reply("Which cart?"));

    // A compacted continuation of Alice's work, then its next turn.
    let mut continued = Session::new("cccc3333");
    continued.user(SUMMARY);
    let r = continued.request();
    s.anthropic(
        ALICE,
        r,
        continued.call("Read", json!({ "file_path": "tests/cart.rs" })),
    );
    continued.tool_result("#[test] fn coupon() {}");
    let r = continued.request();
    s.anthropic(ALICE, r, continued.reply("The test passes now."));

    // An OpenAI client whose system message changes every turn.
    let mut chat = ChatClient::default();
    chat.user("What is a coupon?");
    let r = chat.request();
    s.openai(None, r, chat.reply("A discount voucher."));
    chat.user("And a rebate?");
    let r = chat.request();
    s.openai(None, r, chat.reply("Money back after buying."));

    // Not linked: token counting, a request that is not JSON, a model list.
    let counted = json!({ "model": "claude-sonnet-4-5", "messages": [{ "role": "user", "content": "count me" }] });
    s.push(
        Provider::Anthropic,
        "/v1/messages/count_tokens",
        ALICE,
        counted,
        json!({ "input_tokens": 3 }),
    );
    let i = s.push(
        Provider::Anthropic,
        "/v1/messages",
        ALICE,
        json!(null),
        json!(null),
    );
    s.traces[i].request_body = bytes::Bytes::from_static(b"not json {");
    s.push(
        Provider::Openai,
        "/v1/models",
        None,
        json!(null),
        json!({ "data": [] }),
    );

    Sessions {
        main,
        branch,
        continued,
        chat,
    }
}

/// More turns of the same sessions, and a third branch.
fn second_part(s: &mut Script, sessions: &mut Sessions) {
    let Sessions {
        main,
        branch,
        continued,
        chat,
    } = sessions;
    let fork = main.clone();
    main.user("Thanks. Add a regression test.");
    let r = main.request();
    s.anthropic(ALICE, r, main.reply("Added coupon_applies_once."));
    branch.tool_result("fn tax() {}");
    let r = branch.request();
    s.anthropic(ALICE, r, branch.reply("Tax looks right."));
    let mut third = fork;
    third.user("Thanks. Now commit it.");
    let r = third.request();
    s.anthropic(ALICE, r, third.reply("Committed."));
    continued.user("Run the whole suite.");
    let r = continued.request();
    s.anthropic(ALICE, r, continued.reply("All green."));
    chat.user("Thanks!");
    let r = chat.request();
    s.openai(None, r, chat.reply("You're welcome."));
}

fn kinds(links: &[Option<LinkedTrace>]) -> BTreeSet<&'static str> {
    links.iter().flatten().map(|l| l.kind.as_str()).collect()
}

#[tokio::test]
async fn links_match_the_reference_linker_across_batches_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let mut script = Script::new();
    let mut sessions = first_part(&mut script);
    let first = script.traces.len();
    let mut linker = Linker::default();
    let mut want = reference(&mut linker, &script.traces);
    {
        let store = SqliteStore::open(&path).unwrap();
        insert_in_batches(&store, &script.traces, 3).await;
    }
    let peek = Connection::open(&path).unwrap();
    assert_eq!(stored_links(&peek, &script.traces), want);
    assert_eq!(
        kinds(&want),
        LinkKind::ALL.iter().map(|k| k.as_str()).collect(),
        "the script shows every kind of link"
    );
    assert_eq!(want.iter().filter(|l| l.is_none()).count(), 3);
    assert!(want.iter().flatten().any(|l| l.branch == 2));
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&script.traces, &want),
    );

    // Reopened: the linker is rebuilt from the database and carries on.
    let store = SqliteStore::open(&path).unwrap();
    second_part(&mut script, &mut sessions);
    let more = &script.traces[first..];
    want.extend(reference(&mut linker, more));
    insert_in_batches(&store, more, 2).await;
    let got = stored_links(&peek, &script.traces);
    assert_eq!(got, want);
    let new_branch = want[first..]
        .iter()
        .flatten()
        .find(|l| l.kind == LinkKind::Branch);
    assert_eq!(new_branch.map(|l| l.branch), Some(3));
    assert!(want[first..]
        .iter()
        .flatten()
        .all(|l| l.kind != LinkKind::Root));
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&script.traces, &want),
    );
    let keys: i64 = peek
        .query_row("SELECT COUNT(*) FROM trace_links", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys as usize, want.iter().flatten().count());
}

#[tokio::test]
async fn a_rebuilt_linker_keeps_conversations_that_started_before_its_window() {
    const CAPACITY: usize = 4;
    let (_dir, store, peek) = temp_store();
    store
        .inner
        .writer
        .lock()
        .set_linker_capacity(CAPACITY)
        .unwrap();
    let mut linker = Linker::new(CAPACITY, DEFAULT_MAX_AGE_MS);

    let mut s = Script::new();
    let mut main = Session::new("eeee5555");
    main.user("Profile the checkout page.");
    let r = main.request();
    s.anthropic(
        ALICE,
        r,
        main.call("Read", json!({ "file_path": "src/a.rs" })),
    );
    let early_fork = main.clone();
    main.tool_result("a");
    let r = main.request();
    s.anthropic(
        ALICE,
        r,
        main.call("Read", json!({ "file_path": "src/b.rs" })),
    );
    // An early branch (1), long out of the window by the end.
    let mut early = early_fork;
    early.tool_result("different a");
    let r = early.request();
    s.anthropic(ALICE, r, early.reply("Stopping here."));
    let mut late_fork = main.clone();
    for i in 0..5 {
        main.tool_result(&format!("output {i}"));
        if i == 4 {
            late_fork = main.clone();
        }
        let r = main.request();
        s.anthropic(
            ALICE,
            r,
            main.call("Read", json!({ "file_path": format!("src/{i}.rs") })),
        );
    }
    let written = s.traces.len();
    let mut want = reference(&mut linker, &s.traces);
    insert_in_batches(&store, &s.traces, 2).await;
    assert_eq!(stored_links(&peek, &s.traces), want);

    // As after a restart: the linker only sees the newest traces, none of
    // the conversation's start.
    store
        .inner
        .writer
        .lock()
        .set_linker_capacity(CAPACITY)
        .unwrap();
    main.tool_result("output 5");
    let r = main.request();
    s.anthropic(ALICE, r, main.reply("Done profiling."));
    late_fork.rewind(1).tool_result("timeout");
    let r = late_fork.request();
    s.anthropic(ALICE, r, late_fork.reply("Retrying later."));
    late_fork.user("Try again now.");
    let r = late_fork.request();
    s.anthropic(ALICE, r, late_fork.reply("It worked."));
    let more = &s.traces[written..];
    want.extend(reference(&mut linker, more));
    insert_in_batches(&store, more, 1).await;

    let root = s.traces[0].id.to_string();
    let tail: Vec<_> = want[written..]
        .iter()
        .flatten()
        .map(|l| (l.conversation_id.as_str(), l.branch, l.kind))
        .collect();
    assert_eq!(
        tail,
        [
            (root.as_str(), 0, LinkKind::Turn),
            (root.as_str(), 2, LinkKind::Branch),
            (root.as_str(), 2, LinkKind::Turn)
        ],
        "the reference itself never forgot the conversation"
    );
    assert_eq!(stored_links(&peek, &s.traces), want);
    assert_conversations(
        &stored_conversations(&peek),
        &expected_conversations(&s.traces, &want),
    );
}
