//! Conversations: the list query with its keyset cursor, the summaries it
//! returns, and one conversation's traces as a tree.

mod scope;
mod tree;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracegate_core::conversation::LinkKind;
use tracegate_core::{Outcome, TraceId};

use super::window::{MAX_TIME_MS, MIN_TIME_MS};
use super::QueryError;

pub(crate) use tree::build_tree;

/// The most conversations one page may hold.
pub const MAX_CONVERSATION_LIMIT: u32 = 500;

/// A page of conversations, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationQuery {
    account: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    limit: u32,
    cursor: Option<ConversationCursor>,
}

impl ConversationQuery {
    /// Conversations of `account` (all when `None` or empty) with activity in
    /// `[from_ms, to_ms)` (either end open when `None`), `limit` (1..=500) per
    /// page, after `cursor`.
    pub fn new(
        account: Option<String>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: u32,
        cursor: Option<ConversationCursor>,
    ) -> Result<ConversationQuery, QueryError> {
        if let (Some(from_ms), Some(to_ms)) = (from_ms, to_ms) {
            if from_ms >= to_ms {
                return Err(QueryError::EmptyRange { from_ms, to_ms });
            }
        }
        if !(1..=MAX_CONVERSATION_LIMIT).contains(&limit) {
            return Err(QueryError::BadLimit {
                got: limit,
                max: MAX_CONVERSATION_LIMIT,
            });
        }
        Ok(ConversationQuery {
            account: account.filter(|a| !a.is_empty()),
            from_ms,
            to_ms,
            limit,
            cursor,
        })
    }

    /// The account asked for.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Only conversations whose last activity is at or after this.
    pub fn from_ms(&self) -> Option<i64> {
        self.from_ms
    }

    /// Only conversations whose first activity is before this.
    pub fn to_ms(&self) -> Option<i64> {
        self.to_ms
    }

    /// Page size.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Where the page starts: after this conversation.
    pub fn cursor(&self) -> Option<&ConversationCursor> {
        self.cursor.as_ref()
    }
}

/// The position after a conversation in the list: its last activity and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationCursor {
    /// Last activity, epoch ms.
    pub last_ts: i64,
    /// The conversation id.
    pub id: TraceId,
}

impl ConversationCursor {
    /// The cursor as handed to clients: `<last_ts>_<id>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.last_ts, self.id)
    }

    /// Reads a cursor written by [`ConversationCursor::encode`].
    pub fn parse(s: &str) -> Result<ConversationCursor, QueryError> {
        let bad = || QueryError::BadCursor(s.to_owned());
        let (ts, id) = s.split_once('_').ok_or_else(bad)?;
        if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let last_ts: i64 = ts.parse().map_err(|_| bad())?;
        if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&last_ts) {
            return Err(bad());
        }
        let id = TraceId::parse_str(id).map_err(|_| bad())?;
        Ok(ConversationCursor { last_ts, id })
    }
}

/// A few fields of a conversation's latest trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatestTrace {
    /// Its id.
    pub id: String,
    /// When it started; `None` if the trace is no longer stored.
    pub started_at: Option<DateTime<Utc>>,
    /// The model that answered.
    pub model: Option<String>,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// HTTP status sent to the client.
    pub status: Option<u16>,
}

/// One conversation as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    /// The id of its first (root) trace.
    pub id: String,
    /// The credential fingerprint it ran under.
    pub account: Option<String>,
    /// First activity.
    pub first_ts: DateTime<Utc>,
    /// Latest activity.
    pub last_ts: DateTime<Utc>,
    /// Number of requests.
    pub requests: u64,
    /// Number of branches (1 when it never diverged).
    pub branches: u32,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache read tokens.
    pub cache_read_tokens: u64,
    /// Cache write tokens.
    pub cache_write_tokens: u64,
    /// Cost in US dollars, when known.
    pub cost_usd: Option<f64>,
    /// Distinct models that answered, sorted.
    pub models: Vec<String>,
    /// The most recent trace.
    pub latest_trace: LatestTrace,
}

/// One page of conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationPage {
    /// The conversations, most recent activity first.
    pub data: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One trace of a conversation, without bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationTrace {
    /// The trace id.
    #[schema(value_type = String, format = Uuid)]
    pub id: TraceId,
    /// When it started (RFC 3339, UTC).
    pub started_at: DateTime<Utc>,
    /// The conversation it belongs to (a sub-task's own conversation for sub-task traces).
    pub conversation_id: Option<String>,
    /// The trace it follows: previous turn, branch point, continued or calling trace.
    pub parent_id: Option<String>,
    /// 0 = main line, 1.. = nth divergence.
    pub branch: u32,
    /// How it joined its conversation.
    pub link_kind: Option<LinkKind>,
    /// The request path.
    pub endpoint: String,
    /// The account it ran under (a conversation may take in another account's trace that
    /// continues it).
    #[serde(default)]
    pub account: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status sent to the client.
    pub status: Option<u16>,
    /// Total duration.
    pub duration_ms: f64,
    /// Time to first token.
    pub ttft_ms: Option<f64>,
    /// Input tokens.
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Cache read tokens.
    pub cache_read_tokens: Option<u64>,
    /// Cache write tokens.
    pub cache_write_tokens: Option<u64>,
    /// Cost in US dollars.
    pub cost_usd: Option<f64>,
}

/// A trace in the tree, with the lines that fork off it.
///
/// A line is a run of traces each following the previous one; it continues
/// with the child that has the most descendants in the same conversation, so
/// a long conversation is one flat line and nesting grows only with forks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreeNode {
    /// The trace.
    #[serde(flatten)]
    pub trace: ConversationTrace,
    /// The other children of this trace, each starting a line of its own:
    /// branches, retries and sub-tasks, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub forks: Vec<Vec<TreeNode>>,
}

/// One conversation: its summary and its traces as a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationTree {
    /// The conversation as listed.
    #[serde(flatten)]
    pub conversation: ConversationSummary,
    /// Ids of the sub-task conversations started by its traces (and theirs), included in `tree`.
    pub sub_tasks: Vec<String>,
    /// Number of traces in `tree`.
    pub trace_count: u64,
    /// The lines that start the tree, normally one (the root trace's line).
    pub tree: Vec<Vec<TreeNode>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = ConversationCursor {
            last_ts: 1_748_736_000_123,
            id: uuid::Uuid::now_v7(),
        };
        assert_eq!(ConversationCursor::parse(&c.encode()), Ok(c.clone()));
        for bad in [
            "",
            "_",
            "123",
            "abc_def",
            "-1_0190b2c4-0000-7000-8000-000000000000",
            "123_not-a-uuid",
            "99999999999999999999_0190b2c4-0000-7000-8000-000000000000",
        ] {
            assert!(
                matches!(
                    ConversationCursor::parse(bad),
                    Err(QueryError::BadCursor(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn queries_check_limit_and_range() {
        assert!(ConversationQuery::new(None, Some(5), Some(5), 10, None).is_err());
        assert!(ConversationQuery::new(None, Some(5), Some(6), 10, None).is_ok());
        assert!(ConversationQuery::new(None, None, None, 0, None).is_err());
        assert!(ConversationQuery::new(None, None, None, 501, None).is_err());
        let q = ConversationQuery::new(Some(String::new()), None, None, 500, None).unwrap();
        assert_eq!(q.account(), None);
    }
}
