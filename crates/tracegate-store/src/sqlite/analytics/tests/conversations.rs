//! Conversation list and trees for linear, branching and sub-task sessions.

use serde_json::{json, Value};
use tracegate_core::conversation::LinkKind;

use super::session::Session;
use super::*;
use crate::analytics::{AnalyticsStore, ConversationCursor, ConversationQuery, TreeNode};
use crate::conformance::fixtures;

const ALICE: &str = "cred:a11ce";
const BOB: &str = "cred:b0b";
const PROMPT: &str = "Search the codebase for every place a coupon discount is applied to a cart total.\nReport file paths and line numbers.";

/// A Claude Code request of `account` at `ms`.
fn claude(ms: i64, account: &str, request: Value, response: Value) -> Trace {
    let mut t = fixtures::trace(Provider::Anthropic, time(ms), request, response);
    t.account = Some(account.to_owned());
    t
}

/// The stored fixtures: their traces in order, and the start of each scenario.
struct Stored {
    linear: Vec<Trace>,
    main: Vec<Trace>,
    agent: Vec<Trace>,
    branch: Vec<Trace>,
}

async fn store_sessions(store: &SqliteStore) -> Stored {
    let t0 = JUNE_2 + 9 * crate::analytics::window::HOUR_MS;
    let at = |scenario: i64, step: i64| t0 + scenario * 3_600_000 + step * 5_000;

    // Linear: read, test, fix, follow-up.
    let mut s = Session::new("linear01");
    s.user("The cart total is wrong when a coupon is applied. Find out why.");
    let mut linear = vec![];
    let (r, a) = (
        s.request(),
        s.call("Bash", json!({ "command": "cargo test cart" })),
    );
    linear.push(claude(at(0, 0), ALICE, r, a));
    s.tool_result("test cart::coupon ... FAILED");
    let (r, a) = (
        s.request(),
        s.call("Bash", json!({ "command": "grep -n discount src/cart.rs" })),
    );
    linear.push(claude(at(0, 1), ALICE, r, a));
    s.tool_result("41: total -= discount;\n57: total -= discount;");
    let (r, a) = (
        s.request(),
        s.reply("The discount is subtracted twice; fixed."),
    );
    linear.push(claude(at(0, 2), ALICE, r, a));
    s.user("Also add a regression test.");
    let (r, a) = (s.request(), s.reply("Added tests/coupon.rs."));
    linear.push(claude(at(0, 3), ALICE, r, a));

    // A Task call starts a sub-agent of two turns, then the main session goes on.
    let mut m = Session::new("mainsess");
    m.user("Audit how coupons are applied.");
    let task = json!({ "description": "Find coupon code", "prompt": PROMPT, "subagent_type": "general-purpose" });
    let (r, a) = (m.request(), m.call("Task", task));
    let mut main = vec![claude(at(1, 0), ALICE, r, a)];
    let mut g = Session::sub_agent("agent001", PROMPT);
    let (r, a) = (
        g.request(),
        g.call("Bash", json!({ "command": "grep -rn coupon src" })),
    );
    let mut agent = vec![claude(at(1, 1), ALICE, r, a)];
    g.tool_result("src/cart.rs:41\nsrc/cart.rs:57");
    let (r, a) = (g.request(), g.reply("Two places: src/cart.rs:41 and :57."));
    agent.push(claude(at(1, 2), ALICE, r, a));
    m.tool_result("Two places: src/cart.rs:41 and :57.");
    let (r, a) = (m.request(), m.reply("The agent found two places."));
    main.push(claude(at(1, 3), ALICE, r, a));

    // Three turns, then the user edits the third question and goes on.
    let mut b = Session::new("branch01");
    let mut branch = vec![];
    for (i, q) in ["What does cart.rs do?", "And coupons?", "Show the tests."]
        .iter()
        .enumerate()
    {
        b.user(q);
        let (r, a) = (b.request(), b.reply(&format!("Answer {i}.")));
        branch.push(claude(at(2, i as i64), BOB, r, a));
    }
    b.rewind(2).user("Show the failing tests only.");
    let (r, a) = (b.request(), b.reply("Only coupon::twice fails."));
    branch.push(claude(at(2, 3), BOB, r, a));
    b.user("Fix it.");
    let (r, a) = (b.request(), b.reply("Fixed."));
    branch.push(claude(at(2, 4), BOB, r, a));

    // Written one trace per batch, in time order, as the recorder would.
    let mut all: Vec<Trace> = linear
        .iter()
        .chain(&main)
        .chain(&agent)
        .chain(&branch)
        .cloned()
        .collect();
    all.sort_by_key(|t| t.started_at);
    for t in all {
        store.insert_batch(vec![t]).await.unwrap();
    }
    Stored {
        linear,
        main,
        agent,
        branch,
    }
}

/// The tree as text: `[a b{[x y]} c]` with traces named by `name`.
fn shape(lines: &[Vec<TreeNode>], name: &dyn Fn(&TreeNode) -> String) -> String {
    let line = |l: &Vec<TreeNode>| {
        let nodes: Vec<String> = l
            .iter()
            .map(|n| match n.forks.is_empty() {
                true => name(n),
                false => format!("{}{{{}}}", name(n), shape(&n.forks, name)),
            })
            .collect();
        format!("[{}]", nodes.join(" "))
    };
    lines.iter().map(line).collect::<Vec<_>>().join(" ")
}

fn namer(named: Vec<(&str, &[Trace])>) -> impl Fn(&TreeNode) -> String {
    let names: Vec<(String, uuid::Uuid)> = named
        .into_iter()
        .flat_map(|(prefix, ts)| {
            ts.iter()
                .enumerate()
                .map(move |(i, t)| (format!("{prefix}{}", i + 1), t.id))
        })
        .collect();
    move |n: &TreeNode| {
        names
            .iter()
            .find(|(_, id)| *id == n.trace.id)
            .map_or("?".into(), |(name, _)| name.clone())
    }
}

#[tokio::test]
async fn trees_of_linear_branching_and_sub_task_sessions() {
    let store = SqliteStore::open_in_memory().unwrap();
    let s = store_sessions(&store).await;

    let linear = store.conversation(s.linear[0].id).await.unwrap().unwrap();
    let name = namer(vec![("L", &s.linear)]);
    assert_eq!(shape(&linear.tree, &name), "[L1 L2 L3 L4]");
    assert_eq!(
        (linear.conversation.requests, linear.conversation.branches),
        (4, 1)
    );
    assert_eq!(linear.trace_count, 4);
    let kinds: Vec<_> = linear.tree[0].iter().map(|n| n.trace.link_kind).collect();
    assert_eq!(
        kinds,
        [
            LinkKind::Root,
            LinkKind::Turn,
            LinkKind::Turn,
            LinkKind::Turn
        ]
        .map(Some)
    );
    assert_eq!(
        linear.tree[0][2].trace.parent_id,
        Some(s.linear[1].id.to_string())
    );
    assert_eq!(
        linear.conversation.latest_trace.id,
        s.linear[3].id.to_string()
    );
    assert!(linear.sub_tasks.is_empty());

    let main = store.conversation(s.main[0].id).await.unwrap().unwrap();
    let name = namer(vec![("M", &s.main), ("A", &s.agent)]);
    assert_eq!(shape(&main.tree, &name), "[M1{[A1 A2]} M2]");
    assert_eq!(main.sub_tasks, vec![s.agent[0].id.to_string()]);
    assert_eq!((main.conversation.requests, main.trace_count), (2, 4));
    let a1 = &main.tree[0][0].forks[0][0].trace;
    assert_eq!(a1.link_kind, Some(LinkKind::SubTask));
    assert_eq!(a1.parent_id, Some(s.main[0].id.to_string()));
    assert_eq!(a1.conversation_id, Some(s.agent[0].id.to_string()));
    // The sub-task's own conversation stands alone too.
    let agent = store.conversation(s.agent[0].id).await.unwrap().unwrap();
    assert_eq!(shape(&agent.tree, &name), "[A1 A2]");

    let branch = store.conversation(s.branch[0].id).await.unwrap().unwrap();
    let name = namer(vec![("B", &s.branch)]);
    // B4 diverged from B2 and went on to B5: the longer line continues.
    assert_eq!(shape(&branch.tree, &name), "[B1 B2{[B3]} B4 B5]");
    assert_eq!(branch.conversation.branches, 2);
    let b4 = &branch.tree[0][2].trace;
    assert_eq!((b4.branch, b4.link_kind), (1, Some(LinkKind::Branch)));
    assert_eq!(branch.tree[0][3].trace.branch, 1);

    assert!(store
        .conversation(uuid::Uuid::now_v7())
        .await
        .unwrap()
        .is_none());
    assert!(
        store.conversation(s.linear[1].id).await.unwrap().is_none(),
        "a turn is no conversation"
    );
}

#[tokio::test]
async fn the_list_is_newest_first_and_pages_with_a_cursor() {
    let store = SqliteStore::open_in_memory().unwrap();
    let s = store_sessions(&store).await;
    let id = |t: &[Trace]| t[0].id.to_string();
    let all = |limit, cursor| ConversationQuery::new(None, None, None, limit, cursor).unwrap();

    let page = store.conversations(all(50, None)).await.unwrap();
    let ids: Vec<String> = page.data.iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        ids,
        vec![id(&s.branch), id(&s.main), id(&s.agent), id(&s.linear)]
    );
    assert_eq!(page.next_cursor, None);
    let branch = &page.data[0];
    assert_eq!(branch.account.as_deref(), Some(BOB));
    assert_eq!((branch.requests, branch.branches), (5, 2));
    assert_eq!(branch.models, vec!["claude-sonnet-4-5-20250929".to_owned()]);
    assert_eq!(branch.first_ts, s.branch[0].started_at.with_nanosecond_ms());
    assert_eq!(branch.latest_trace.id, s.branch[4].id.to_string());
    assert_eq!(
        branch.latest_trace.started_at,
        Some(s.branch[4].started_at.with_nanosecond_ms())
    );
    assert_eq!(branch.latest_trace.outcome, Some(Outcome::Ok));
    assert_eq!(branch.input_tokens, 5 * 1200);
    assert_eq!(branch.cache_read_tokens, 5 * 50_000);

    // One at a time, the cursor walks the same list.
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.conversations(all(1, cursor)).await.unwrap();
        walked.extend(page.data.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(ConversationCursor::parse(&next).unwrap()),
            None => break,
        }
    }
    assert_eq!(walked, ids);

    let bob = ConversationQuery::new(Some(BOB.into()), None, None, 50, None).unwrap();
    let page = store.conversations(bob).await.unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].id, id(&s.branch));

    // Activity in [from, to): from the main session's last turn to the branch session's start.
    let from = s.main[1].started_at.timestamp_millis();
    let to = s.branch[0].started_at.timestamp_millis();
    let q = ConversationQuery::new(None, Some(from), Some(to), 50, None).unwrap();
    let page = store.conversations(q).await.unwrap();
    assert_eq!(
        page.data.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![id(&s.main)]
    );
}

trait Millis {
    fn with_nanosecond_ms(self) -> Self;
}

impl Millis for chrono::DateTime<Utc> {
    /// The time as stored: cut to milliseconds.
    fn with_nanosecond_ms(self) -> Self {
        time(self.timestamp_millis())
    }
}
