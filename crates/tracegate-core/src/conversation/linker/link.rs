//! What the linker answers: how a trace joined its conversation, and the
//! evidence it links with besides the hashes.

use serde::{Deserialize, Serialize};

use crate::conversation::fingerprint::{AnswerFingerprint, SummaryShingles};
use crate::conversation::Hash;

/// How a trace joined its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// First trace of a new conversation.
    Root,
    /// Next turn on the same branch.
    Turn,
    /// First trace of a new branch: it diverges from an existing child of its parent.
    Branch,
    /// Compacted continuation of an earlier conversation.
    Continuation,
    /// Request of a sub-agent started by a Task/Agent call of its parent trace.
    SubTask,
    /// The same request sent again: a request of the conversation, not a turn.
    Retry,
}

impl LinkKind {
    /// All kinds, in declaration order.
    pub const ALL: [LinkKind; 6] = [
        LinkKind::Root,
        LinkKind::Turn,
        LinkKind::Branch,
        LinkKind::Continuation,
        LinkKind::SubTask,
        LinkKind::Retry,
    ];

    /// The name stored in columns and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Root => "root",
            LinkKind::Turn => "turn",
            LinkKind::Branch => "branch",
            LinkKind::Continuation => "continuation",
            LinkKind::SubTask => "sub_task",
            LinkKind::Retry => "retry",
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

/// What a trace brings besides its keys: evidence from its answer and, for a
/// continuation candidate, from its summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// The [`task_prompt_hashes`](super::task_prompt_hashes) of the answer.
    pub task_prompts: &'a [Hash],
    /// The [`answer_fingerprint`](super::answer_fingerprint) of the answer.
    pub answer: Option<&'a AnswerFingerprint>,
    /// The [`continuation_summary`](super::continuation_summary) of the request.
    pub summary: Option<&'a SummaryShingles>,
}
