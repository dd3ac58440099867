//! One account's view of a conversation. The linker may join a trace of another account
//! to a conversation (same messages, no better parent of its own account); an account's
//! reader sees the conversation without those traces, and figures without their share.

use std::collections::HashSet;

use super::{ConversationTrace, ConversationTree, LatestTrace, TreeNode};

impl ConversationTree {
    /// The conversation as `account` may see it: `None` when it is another account's,
    /// else without the traces of other accounts (the forks of a dropped trace move up a
    /// level) and with its figures recounted without them.
    pub fn only_account(mut self, account: &str) -> Option<ConversationTree> {
        if self.conversation.account.as_deref() != Some(account) {
            return None;
        }
        let mut dropped = Vec::new();
        let mut lifted = Vec::new();
        let mut lines: Vec<Vec<TreeNode>> = std::mem::take(&mut self.tree)
            .into_iter()
            .map(|line| prune(line, account, &mut dropped, &mut lifted))
            .filter(|l| !l.is_empty())
            .collect();
        lines.extend(lifted);
        self.tree = lines;
        if dropped.is_empty() {
            return Some(self);
        }
        let mut kept = Vec::new();
        collect(&self.tree, &mut kept);
        self.trace_count = kept.len() as u64;
        let own: HashSet<&str> = kept
            .iter()
            .filter_map(|t| t.conversation_id.as_deref())
            .collect();
        self.sub_tasks.retain(|id| own.contains(id.as_str()));
        let id = self.conversation.id.clone();
        let c = &mut self.conversation;
        for t in dropped
            .iter()
            .filter(|t| t.conversation_id.as_deref() == Some(id.as_str()))
        {
            c.requests = c.requests.saturating_sub(1);
            c.input_tokens = c.input_tokens.saturating_sub(t.input_tokens.unwrap_or(0));
            c.output_tokens = c.output_tokens.saturating_sub(t.output_tokens.unwrap_or(0));
            c.cache_read_tokens = c
                .cache_read_tokens
                .saturating_sub(t.cache_read_tokens.unwrap_or(0));
            c.cache_write_tokens = c
                .cache_write_tokens
                .saturating_sub(t.cache_write_tokens.unwrap_or(0));
            if let (Some(total), Some(cost)) = (c.cost_usd, t.cost_usd) {
                c.cost_usd = Some((total - cost).max(0.0));
            }
        }
        let main: Vec<&ConversationTrace> = kept
            .iter()
            .copied()
            .filter(|t| t.conversation_id.as_deref() == Some(id.as_str()))
            .collect();
        let mut models: Vec<String> = main.iter().filter_map(|t| t.model.clone()).collect();
        models.sort();
        models.dedup();
        c.models = models;
        if let Some(latest) = main.iter().max_by_key(|t| t.started_at) {
            c.last_ts = latest.started_at;
            c.latest_trace = LatestTrace {
                id: latest.id.to_string(),
                started_at: Some(latest.started_at),
                model: latest.model.clone(),
                outcome: Some(latest.outcome),
                status: latest.status,
            };
        }
        Some(self)
    }
}

/// The nodes of `line` of `account`; the dropped traces go to `dropped` and their forks,
/// pruned in turn, to `lifted`.
fn prune(
    line: Vec<TreeNode>,
    account: &str,
    dropped: &mut Vec<ConversationTrace>,
    lifted: &mut Vec<Vec<TreeNode>>,
) -> Vec<TreeNode> {
    let mut out = Vec::with_capacity(line.len());
    for mut node in line {
        let mut forks = Vec::new();
        for fork in std::mem::take(&mut node.forks) {
            let f = prune(fork, account, dropped, &mut forks);
            if !f.is_empty() {
                forks.push(f);
            }
        }
        if node.trace.account.as_deref() == Some(account) {
            node.forks = forks;
            out.push(node);
        } else {
            dropped.push(node.trace);
            lifted.extend(forks);
        }
    }
    out
}

fn collect<'a>(lines: &'a [Vec<TreeNode>], out: &mut Vec<&'a ConversationTrace>) {
    for node in lines.iter().flatten() {
        out.push(&node.trace);
        collect(&node.forks, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn node(n: u32, account: &str, forks: Vec<Vec<Value>>) -> Value {
        json!({
            "id": format!("0190a000-0000-7000-8000-{n:012}"),
            "started_at": format!("2026-01-01T00:00:{n:02}Z"),
            "conversation_id": "0190a000-0000-7000-8000-000000000001",
            "parent_id": null, "branch": 0, "link_kind": null, "endpoint": "/v1/messages",
            "account": account, "model": format!("m-{account}"), "outcome": "ok",
            "status": 200, "duration_ms": 1.0, "ttft_ms": null, "input_tokens": 10,
            "output_tokens": 1, "cache_read_tokens": null, "cache_write_tokens": null,
            "cost_usd": 1.0, "forks": forks,
        })
    }

    fn tree(owner: &str) -> ConversationTree {
        let lines = json!([[
            node(1, "a", vec![]),
            node(2, "b", vec![vec![node(4, "a", vec![])]]),
            node(3, "a", vec![]),
        ]]);
        serde_json::from_value(json!({
            "id": "0190a000-0000-7000-8000-000000000001", "account": owner,
            "first_ts": "2026-01-01T00:00:01Z", "last_ts": "2026-01-01T00:00:04Z",
            "requests": 4, "branches": 2, "input_tokens": 40, "output_tokens": 4,
            "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 4.0,
            "models": ["m-a", "m-b"],
            "latest_trace": {"id": "0190a000-0000-7000-8000-000000000004",
                "started_at": "2026-01-01T00:00:04Z", "model": "m-a", "outcome": "ok", "status": 200},
            "sub_tasks": [], "trace_count": 4, "tree": lines,
        }))
        .unwrap()
    }

    #[test]
    fn another_accounts_traces_and_figures_are_taken_out() {
        assert!(tree("a").only_account("b").is_none(), "b does not own it");
        let t = tree("a").only_account("a").unwrap();
        let text = serde_json::to_string(&t).unwrap();
        assert!(!text.contains("m-b") && !text.contains("\"b\""), "{text}");
        assert_eq!(t.trace_count, 3);
        assert_eq!(t.conversation.requests, 3);
        assert_eq!(t.conversation.input_tokens, 30);
        assert_eq!(t.conversation.cost_usd, Some(3.0));
        assert_eq!(t.conversation.models, vec!["m-a".to_owned()]);
        // The fork under b's trace moved up a level.
        assert_eq!(t.tree.len(), 2);
    }
}
