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
