//! Builds the tree of a conversation's traces from their parent links.
//!
//! Each line continues with the child that has the most descendants (ties:
//! the child on the same branch, then the earliest), never with a sub-task.
//! Every other child starts a fork. A fork's subtree is at most half of its
//! parent's, so forks nest at most log2(traces) deep however long the
//! conversation: the answer stays shallow enough for any JSON reader.

use std::collections::HashMap;

use tracegate_core::conversation::LinkKind;

use super::{ConversationTrace, TreeNode};

/// The traces as lines of [`TreeNode`]s. Traces whose parent is not among
/// them start lines of their own; broken links (cycles) never lose a trace.
pub(crate) fn build_tree(mut traces: Vec<ConversationTrace>) -> Vec<Vec<TreeNode>> {
    traces.sort_by_key(|t| t.started_at);
    let n = traces.len();
    let index: HashMap<String, usize> = traces
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.to_string(), i))
        .collect();
    let parent: Vec<Option<usize>> = traces
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = t.parent_id.as_deref().and_then(|p| index.get(p)).copied();
            p.filter(|&p| p != i)
        })
        .collect();
    let mut links = vec![Vec::new(); n];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            links[*p].push(i);
        }
    }

    // Spanning forest: from the traces without a parent, then from any trace
    // still unreached (only links that go round in a circle leave one).
    let mut reached = vec![false; n];
    let mut children = vec![Vec::new(); n];
    let mut preorder = Vec::with_capacity(n);
    let mut roots = Vec::new();
    let starts = (0..n)
        .filter(|&i| parent[i].is_none())
        .chain(0..n)
        .collect::<Vec<_>>();
    for start in starts {
        if reached[start] {
            continue;
        }
        reached[start] = true;
        roots.push(start);
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            preorder.push(v);
            for &c in &links[v] {
                if !reached[c] {
                    reached[c] = true;
                    children[v].push(c);
                    stack.push(c);
                }
            }
        }
    }
    let mut size = vec![1usize; n];
    for &v in preorder.iter().rev() {
        let below: usize = children[v].iter().map(|&c| size[c]).sum();
        size[v] += below;
    }
    roots.sort_unstable();

    let mut builder = Builder {
        slots: traces.into_iter().map(Some).collect(),
        children,
        size,
    };
    roots.into_iter().map(|r| builder.line(r)).collect()
}

struct Builder {
    slots: Vec<Option<ConversationTrace>>,
    children: Vec<Vec<usize>>,
    size: Vec<usize>,
}

impl Builder {
    /// The line starting at `start`, with its forks.
    fn line(&mut self, start: usize) -> Vec<TreeNode> {
        let mut out = Vec::new();
        let mut next = Some(start);
        while let Some(v) = next {
            let Some(trace) = self.slots.get_mut(v).and_then(Option::take) else {
                break;
            };
            let kids = self.children.get(v).cloned().unwrap_or_default();
            next = kids
                .iter()
                .copied()
                .filter(|&c| self.continues(&trace, c))
                .max_by(|&a, &b| {
                    self.size[a]
                        .cmp(&self.size[b])
                        .then(
                            self.same_branch(&trace, a)
                                .cmp(&self.same_branch(&trace, b)),
                        )
                        .then(b.cmp(&a))
                });
            let forks = kids
                .into_iter()
                .filter(|&c| Some(c) != next)
                .map(|c| self.line(c))
                .collect();
            out.push(TreeNode { trace, forks });
        }
        out
    }

    /// Whether child `c` may continue the line of `parent`: same conversation, not a sub-task.
    fn continues(&self, parent: &ConversationTrace, c: usize) -> bool {
        self.slots[c].as_ref().is_some_and(|t| {
            t.link_kind != Some(LinkKind::SubTask) && t.conversation_id == parent.conversation_id
        })
    }

    fn same_branch(&self, parent: &ConversationTrace, c: usize) -> bool {
        self.slots[c]
            .as_ref()
            .is_some_and(|t| t.branch == parent.branch)
    }
}

#[cfg(test)]
mod tests;
