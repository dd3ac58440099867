//! The reference linker: links traces into conversations over an in-memory,
//! bounded window of recent traces. The store's SQL linking must give the same
//! answers; the rules, tried in this order, are:
//!
//! 1. **Retry.** An earlier trace with the same `self_hash` (same account
//!    preferred, most recent first) is the same node: the trace joins that
//!    trace's conversation as a [`LinkKind::Turn`] with the same parent and
//!    branch. A request without a `parent_hash` (one or two messages) only counts
//!    as a retry of a trace of the same account at most [`RETRY_WINDOW_MS`]
//!    older, and not when a sub-task call (rule 4) was seen after that trace.
//! 2. **Parent.** The most recent trace whose `self_hash` equals this
//!    `parent_hash` (same account preferred) is the parent. If the parent node
//!    (conversation + `self_hash`) has no child yet, or already has this very
//!    continuation, the trace is a `Turn` on the parent's branch (or that
//!    child's branch). Otherwise it diverges: a [`LinkKind::Branch`] with the
//!    conversation's next branch number (1, 2, ...).
//! 3. **Continuation.** A compacted continuation without a parent links to the
//!    most recent trace of the same account at most [`CONTINUATION_WINDOW_MS`]
//!    older that belongs to a main conversation (not a sub-task's) and is not a
//!    one-off request (it has 3+ messages or is itself a continuation). It joins
//!    that conversation on that trace's branch, with that trace as parent.
//! 4. **Sub-task.** A single-user-message request whose first user text hash
//!    equals a Task/Agent prompt hash of a trace at most [`TASK_WINDOW_MS`] older
//!    (same account preferred, most recent first) is a [`LinkKind::SubTask`]. It
//!    starts its own conversation (`conversation_id` = its own trace id, branch
//!    0) and `parent_trace` points at the calling trace, so the sub-agent's turns
//!    group together and the caller stays reachable.
//! 5. Otherwise a [`LinkKind::Root`]: a new conversation named after the trace.
//!
//! An absent account is an account of its own (all `None` traces share it).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Hash, LinkKeys};

/// Default number of recent traces the linker remembers.
pub const DEFAULT_MAX_TRACES: usize = 10_000;
/// Default age after which a trace is forgotten: 24 h.
pub const DEFAULT_MAX_AGE_MS: i64 = 24 * 3_600_000;
/// How far back a continuation looks for the conversation it continues: 24 h.
pub const CONTINUATION_WINDOW_MS: i64 = 24 * 3_600_000;
/// How far back a sub-task looks for the Task call that started it: 1 h.
pub const TASK_WINDOW_MS: i64 = 3_600_000;
/// How far back a request of one or two messages counts as a retry: 15 min.
pub const RETRY_WINDOW_MS: i64 = 15 * 60_000;

/// How a trace joined its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// First trace of a new conversation.
    Root,
    /// Next turn on the same branch (also a retry of an earlier request).
    Turn,
    /// First trace of a new branch: it diverges from an existing child of its parent.
    Branch,
    /// Compacted continuation of an earlier conversation.
    Continuation,
    /// Request of a sub-agent started by a Task/Agent call of its parent trace.
    SubTask,
}

impl LinkKind {
    /// All kinds, in declaration order.
    pub const ALL: [LinkKind; 5] = [
        LinkKind::Root,
        LinkKind::Turn,
        LinkKind::Branch,
        LinkKind::Continuation,
        LinkKind::SubTask,
    ];

    /// The name stored in columns and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Root => "root",
            LinkKind::Turn => "turn",
            LinkKind::Branch => "branch",
            LinkKind::Continuation => "continuation",
            LinkKind::SubTask => "sub_task",
        }
    }

    /// Parses a name written by [`LinkKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        LinkKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A reference to another trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceRef {
    /// Id of the referenced trace.
    pub trace_id: String,
}

/// Where a trace sits in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedTrace {
    /// Id of the conversation's root trace.
    pub conversation_id: String,
    /// The trace this one follows: previous turn, branch point, continued or calling trace.
    pub parent_trace: Option<TraceRef>,
    /// 0 = main line, 1.. = nth divergence within the conversation.
    pub branch: u32,
    /// How the trace joined.
    pub kind: LinkKind,
}

struct Entry {
    trace_id: String,
    at_ms: i64,
    account: Option<String>,
    self_hash: Hash,
    prefix_len: usize,
    continuation: bool,
    task_prompts: Vec<Hash>,
    linked: LinkedTrace,
}

#[derive(Default)]
struct Conversation {
    next_branch: u32,
    sub_task: bool,
    traces: usize,
}

#[derive(Default)]
struct Node {
    /// Distinct continuations seen from this node: child `self_hash` and its branch.
    children: Vec<(Hash, u32)>,
    traces: usize,
}

/// Links traces into conversations, remembering a bounded window of recent traces.
pub struct Linker {
    max_traces: usize,
    max_age_ms: i64,
    next_seq: u64,
    entries: BTreeMap<u64, Entry>,
    by_self: HashMap<Hash, Vec<u64>>,
    by_task: HashMap<Hash, Vec<u64>>,
    conversations: HashMap<String, Conversation>,
    nodes: HashMap<(String, Hash), Node>,
}

impl Default for Linker {
    fn default() -> Self {
        Linker::new(DEFAULT_MAX_TRACES, DEFAULT_MAX_AGE_MS)
    }
}

impl Linker {
    /// A linker that remembers at most `max_traces` traces, none older than
    /// `max_age_ms` before the newest one linked.
    pub fn new(max_traces: usize, max_age_ms: i64) -> Self {
        Linker {
            max_traces: max_traces.max(1),
            max_age_ms,
            next_seq: 0,
            entries: BTreeMap::new(),
            by_self: HashMap::new(),
            by_task: HashMap::new(),
            conversations: HashMap::new(),
            nodes: HashMap::new(),
        }
    }

    /// Number of traces remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no trace is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Links a trace, in the order traces are recorded, and remembers it.
    /// `task_prompts` are the [`task_prompt_hashes`](super::task_prompt_hashes)
    /// of this trace's response.
    pub fn link(
        &mut self,
        trace_id: &str,
        at_ms: i64,
        account: Option<&str>,
        keys: &LinkKeys,
        task_prompts: &[Hash],
    ) -> LinkedTrace {
        self.evict(at_ms);
        let (linked, child_of) = self.resolve(trace_id, at_ms, account, keys);
        self.remember(Entry {
            trace_id: trace_id.to_owned(),
            at_ms,
            account: account.map(str::to_owned),
            self_hash: keys.self_hash,
            prefix_len: keys.prefix_len,
            continuation: keys.continuation,
            task_prompts: task_prompts.to_vec(),
            linked: linked.clone(),
        });
        if let Some(parent_hash) = child_of {
            let node = self
                .nodes
                .entry((linked.conversation_id.clone(), parent_hash))
                .or_default();
            if !node.children.iter().any(|(h, _)| *h == keys.self_hash) {
                node.children.push((keys.self_hash, linked.branch));
            }
        }
        linked
    }

    /// The link of a new trace, and the parent node hash it becomes a child of.
    fn resolve(
        &mut self,
        trace_id: &str,
        at_ms: i64,
        account: Option<&str>,
        keys: &LinkKeys,
    ) -> (LinkedTrace, Option<Hash>) {
        let caller = match (keys.single_user_message, keys.first_user_text_hash) {
            (true, Some(h)) => self.pick(self.by_task.get(&h), account, false, |e| {
                at_ms - e.at_ms <= TASK_WINDOW_MS
            }),
            _ => None,
        };
        let short = keys.parent_hash.is_none();
        let retry_of = self.pick(self.by_self.get(&keys.self_hash), account, short, |e| {
            !short || at_ms - e.at_ms <= RETRY_WINDOW_MS
        });
        if let Some(seq) = retry_of.filter(|s| caller.is_none_or(|c| c < *s)) {
            if let Some(e) = self.entries.get(&seq) {
                let linked = LinkedTrace {
                    kind: LinkKind::Turn,
                    ..e.linked.clone()
                };
                return (linked, None);
            }
        }
        if let Some(parent_hash) = keys.parent_hash {
            let parent = self.pick(self.by_self.get(&parent_hash), account, false, |_| true);
            if let Some(p) = parent.and_then(|s| self.entries.get(&s)) {
                let conversation_id = p.linked.conversation_id.clone();
                let parent_trace = Some(TraceRef {
                    trace_id: p.trace_id.clone(),
                });
                let parent_branch = p.linked.branch;
                let node = self.nodes.get(&(conversation_id.clone(), parent_hash));
                let children = node.map_or(&[][..], |n| n.children.as_slice());
                let known = children.iter().find(|(h, _)| *h == keys.self_hash);
                let (branch, kind) = match (known.map(|(_, b)| *b), children.is_empty()) {
                    (Some(b), _) => (b, LinkKind::Turn),
                    (None, true) => (parent_branch, LinkKind::Turn),
                    (None, false) => (self.take_branch(&conversation_id), LinkKind::Branch),
                };
                let linked = LinkedTrace {
                    conversation_id,
                    parent_trace,
                    branch,
                    kind,
                };
                return (linked, Some(parent_hash));
            }
        }
        if keys.continuation {
            if let Some(t) = self.continued_trace(at_ms, account) {
                let linked = LinkedTrace {
                    conversation_id: t.linked.conversation_id.clone(),
                    parent_trace: Some(TraceRef {
                        trace_id: t.trace_id.clone(),
                    }),
                    branch: t.linked.branch,
                    kind: LinkKind::Continuation,
                };
                return (linked, None);
            }
        }
        let (parent_trace, kind) = match caller.and_then(|s| self.entries.get(&s)) {
            Some(c) => (
                Some(TraceRef {
                    trace_id: c.trace_id.clone(),
                }),
                LinkKind::SubTask,
            ),
            None => (None, LinkKind::Root),
        };
        let linked = LinkedTrace {
            conversation_id: trace_id.to_owned(),
            parent_trace,
            branch: 0,
            kind,
        };
        (linked, None)
    }

    /// The most recent trace among `seqs` that passes `ok`, preferring the same
    /// account (or requiring it with `same_account_only`).
    fn pick(
        &self,
        seqs: Option<&Vec<u64>>,
        account: Option<&str>,
        same_account_only: bool,
        ok: impl Fn(&Entry) -> bool,
    ) -> Option<u64> {
        let mut other = None;
        for &seq in seqs.into_iter().flatten().rev() {
            let Some(e) = self.entries.get(&seq).filter(|e| ok(e)) else {
                continue;
            };
            if e.account.as_deref() == account {
                return Some(seq);
            }
            if other.is_none() && !same_account_only {
                other = Some(seq);
            }
        }
        other
    }

    /// The trace a continuation continues (rule 3).
    fn continued_trace(&self, at_ms: i64, account: Option<&str>) -> Option<&Entry> {
        self.entries.values().rev().find(|e| {
            e.account.as_deref() == account
                && at_ms - e.at_ms <= CONTINUATION_WINDOW_MS
                && (e.prefix_len >= 3 || e.continuation)
                && !self
                    .conversations
                    .get(&e.linked.conversation_id)
                    .is_some_and(|c| c.sub_task)
        })
    }

    fn take_branch(&mut self, conversation_id: &str) -> u32 {
        let c = self
            .conversations
            .entry(conversation_id.to_owned())
            .or_default();
        c.next_branch = c.next_branch.max(1);
        let b = c.next_branch;
        c.next_branch = c.next_branch.saturating_add(1);
        b
    }

    fn remember(&mut self, e: Entry) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_self.entry(e.self_hash).or_default().push(seq);
        for h in &e.task_prompts {
            let seqs = self.by_task.entry(*h).or_default();
            if seqs.last() != Some(&seq) {
                seqs.push(seq);
            }
        }
        let c = self
            .conversations
            .entry(e.linked.conversation_id.clone())
            .or_default();
        c.traces += 1;
        if e.linked.kind == LinkKind::SubTask && e.linked.conversation_id == e.trace_id {
            c.sub_task = true;
        }
        let key = (e.linked.conversation_id.clone(), e.self_hash);
        self.nodes.entry(key).or_default().traces += 1;
        self.entries.insert(seq, e);
    }

    /// Forgets traces beyond the size bound or older than the age bound.
    fn evict(&mut self, now_ms: i64) {
        while let Some((&seq, oldest)) = self.entries.first_key_value() {
            let too_many = self.entries.len() >= self.max_traces;
            if !too_many && now_ms.saturating_sub(oldest.at_ms) <= self.max_age_ms {
                break;
            }
            let Some(e) = self.entries.remove(&seq) else {
                break;
            };
            forget(&mut self.by_self, e.self_hash, seq);
            for h in &e.task_prompts {
                forget(&mut self.by_task, *h, seq);
            }
            let conv = e.linked.conversation_id;
            if let Some(c) = self.conversations.get_mut(&conv) {
                c.traces = c.traces.saturating_sub(1);
                if c.traces == 0 {
                    self.conversations.remove(&conv);
                }
            }
            let key = (conv, e.self_hash);
            if let Some(n) = self.nodes.get_mut(&key) {
                n.traces = n.traces.saturating_sub(1);
                if n.traces == 0 {
                    self.nodes.remove(&key);
                }
            }
        }
    }
}

fn forget(index: &mut HashMap<Hash, Vec<u64>>, h: Hash, seq: u64) {
    if let Some(seqs) = index.get_mut(&h) {
        seqs.retain(|s| *s != seq);
        if seqs.is_empty() {
            index.remove(&h);
        }
    }
}

#[cfg(test)]
mod tests;
