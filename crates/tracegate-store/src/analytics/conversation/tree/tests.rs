#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use tracegate_core::Outcome;
use uuid::Uuid;

use super::*;

/// A trace numbered `n` (its id and time derive from `n`).
fn t(
    n: u64,
    conversation: u64,
    parent: Option<u64>,
    branch: u32,
    kind: LinkKind,
) -> ConversationTrace {
    ConversationTrace {
        id: id(n),
        started_at: DateTime::<Utc>::from_timestamp_millis(1_748_736_000_000 + n as i64 * 1000)
            .unwrap(),
        conversation_id: Some(id(conversation).to_string()),
        parent_id: parent.map(|p| id(p).to_string()),
        branch,
        link_kind: Some(kind),
        endpoint: "/v1/messages".into(),
        account: None,
        model: None,
        outcome: Outcome::Ok,
        status: Some(200),
        duration_ms: 1.0,
        ttft_ms: None,
        input_tokens: None,
        output_tokens: None,
        cache_read_tokens: None,
        cache_write_tokens: None,
        cost_usd: None,
    }
}

fn id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7000, n)
}

/// The tree as text: a line is `[a b c]`, a node with forks `b{[x y][z]}`.
fn shape(lines: &[Vec<TreeNode>]) -> String {
    lines.iter().map(|l| line(l)).collect::<Vec<_>>().join(" ")
}

fn line(nodes: &[TreeNode]) -> String {
    let parts: Vec<String> = nodes
        .iter()
        .map(|n| {
            let me = n.trace.id.as_u64_pair().1.to_string();
            if n.forks.is_empty() {
                me
            } else {
                format!("{me}{{{}}}", shape(&n.forks))
            }
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

fn depth(lines: &[Vec<TreeNode>]) -> usize {
    lines
        .iter()
        .flatten()
        .map(|n| 1 + depth(&n.forks))
        .max()
        .unwrap_or(0)
}

#[test]
fn a_linear_conversation_is_one_flat_line() {
    let mut traces = vec![t(1, 1, None, 0, LinkKind::Root)];
    for n in 2..=500 {
        traces.push(t(n, 1, Some(n - 1), 0, LinkKind::Turn));
    }
    traces.reverse();
    let tree = build_tree(traces);
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].len(), 500);
    assert_eq!(depth(&tree), 1);
    assert_eq!(tree[0][0].trace.id, id(1));
    assert_eq!(tree[0][499].trace.id, id(500));
}

#[test]
fn a_branch_forks_where_it_diverged_and_the_longer_line_continues() {
    // 1-2-3-4 on branch 0; 5 diverges from 2 (branch 1) and goes on to 6, 7.
    let traces = vec![
        t(1, 1, None, 0, LinkKind::Root),
        t(2, 1, Some(1), 0, LinkKind::Turn),
        t(3, 1, Some(2), 0, LinkKind::Turn),
        t(4, 1, Some(3), 0, LinkKind::Turn),
        t(5, 1, Some(2), 1, LinkKind::Branch),
        t(6, 1, Some(5), 1, LinkKind::Turn),
        t(7, 1, Some(6), 1, LinkKind::Turn),
    ];
    assert_eq!(shape(&build_tree(traces.clone())), "[1 2{[3 4]} 5 6 7]");
    // Equal lengths: the same branch continues.
    let short: Vec<_> = traces.into_iter().filter(|t| t.id != id(7)).collect();
    assert_eq!(shape(&build_tree(short)), "[1 2{[5 6]} 3 4]");
}

#[test]
fn retries_and_sub_tasks_fork_and_orphans_start_lines() {
    // 3 is a retry of 2 (same parent, same branch); the conversation went on from 3.
    // 10 is a sub-task started by 4 (its own conversation) with a turn 11.
    // 20's parent is not among the traces.
    let traces = vec![
        t(1, 1, None, 0, LinkKind::Root),
        t(2, 1, Some(1), 0, LinkKind::Turn),
        t(3, 1, Some(1), 0, LinkKind::Turn),
        t(4, 1, Some(3), 0, LinkKind::Turn),
        t(10, 10, Some(4), 0, LinkKind::SubTask),
        t(11, 10, Some(10), 0, LinkKind::Turn),
        t(12, 10, Some(11), 0, LinkKind::Turn),
        t(20, 1, Some(99), 0, LinkKind::Turn),
    ];
    assert_eq!(shape(&build_tree(traces)), "[1{[2]} 3 4{[10 11 12]}] [20]");
}

#[test]
fn circular_links_lose_no_trace() {
    let traces = vec![
        t(1, 1, Some(2), 0, LinkKind::Turn),
        t(2, 1, Some(1), 0, LinkKind::Turn),
        t(3, 1, Some(3), 0, LinkKind::Turn),
    ];
    let tree = build_tree(traces);
    let count: usize = tree.iter().map(Vec::len).sum();
    assert_eq!(count, 3);
    assert_eq!(shape(&tree), "[1 2] [3]");
}

#[test]
fn nesting_stays_logarithmic_with_many_branches() {
    // Every trace has two children: a complete binary tree of 2^12 - 1 traces,
    // the worst case for nesting.
    let n = (1u64 << 12) - 1;
    let traces: Vec<_> = (1..=n)
        .map(|i| {
            let parent = (i > 1).then_some(i / 2);
            t(i, 1, parent, (i % 2) as u32, LinkKind::Turn)
        })
        .collect();
    let tree = build_tree(traces);
    assert!(depth(&tree) <= 13, "depth {}", depth(&tree));
    fn count(lines: &[Vec<TreeNode>]) -> usize {
        lines.iter().flatten().map(|n| 1 + count(&n.forks)).sum()
    }
    assert_eq!(count(&tree), n as usize);
    // A comb (a fork at every step of a long line) stays at depth 2.
    let mut comb = vec![t(1, 1, None, 0, LinkKind::Root)];
    for i in 1..=300u64 {
        comb.push(t(2 * i, 1, Some(2 * i - 1), 0, LinkKind::Turn));
        comb.push(t(2 * i + 1, 1, Some(2 * i - 1), i as u32, LinkKind::Branch));
    }
    assert_eq!(depth(&build_tree(comb)), 2);
}
