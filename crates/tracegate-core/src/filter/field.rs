//! Filterable fields and their value types.

use std::fmt;

/// The value type of a field; decides which operators and values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A string.
    Text,
    /// A signed 64-bit integer.
    Int,
    /// A finite floating-point number (integers are accepted too).
    Float,
    /// `true` or `false`.
    Bool,
    /// An instant, held as epoch milliseconds.
    Time,
    /// A value inside the JSON metadata object: string, number or bool.
    Json,
}

impl FieldKind {
    /// Lower-case name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Int => "integer",
            FieldKind::Float => "number",
            FieldKind::Bool => "boolean",
            FieldKind::Time => "time",
            FieldKind::Json => "metadata",
        }
    }
}

/// A fixed (non-metadata) trace field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Id,
    StartedAt,
    Upstream,
    Provider,
    Endpoint,
    Method,
    /// The model that answered, else the model asked for (`Trace::effective_model`):
    /// a request that failed before any answer still counts under the model it asked for.
    Model,
    /// The model the client asked for.
    ModelRequested,
    Outcome,
    Error,
    Account,
    ClientIp,
    UserAgent,
    ConversationId,
    Stream,
    Status,
    DurationMs,
    TtftMs,
    CostUsd,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    TotalTokens,
}

impl Column {
    /// Every column, in the order error messages list them.
    pub const ALL: [Column; 24] = [
        Column::Id,
        Column::StartedAt,
        Column::Upstream,
        Column::Provider,
        Column::Endpoint,
        Column::Method,
        Column::Model,
        Column::ModelRequested,
        Column::Outcome,
        Column::Error,
        Column::Account,
        Column::ClientIp,
        Column::UserAgent,
        Column::ConversationId,
        Column::Stream,
        Column::Status,
        Column::DurationMs,
        Column::TtftMs,
        Column::CostUsd,
        Column::InputTokens,
        Column::OutputTokens,
        Column::CacheReadTokens,
        Column::CacheWriteTokens,
        Column::TotalTokens,
    ];

    /// Canonical name, as written by `Filter::to_json`.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::StartedAt => "started_at",
            Column::Upstream => "upstream",
            Column::Provider => "provider",
            Column::Endpoint => "endpoint",
            Column::Method => "method",
            Column::Model => "model",
            Column::ModelRequested => "model_requested",
            Column::Outcome => "outcome",
            Column::Error => "error",
            Column::Account => "account",
            Column::ClientIp => "client_ip",
            Column::UserAgent => "user_agent",
            Column::ConversationId => "conversation_id",
            Column::Stream => "stream",
            Column::Status => "status",
            Column::DurationMs => "duration_ms",
            Column::TtftMs => "ttft_ms",
            Column::CostUsd => "cost_usd",
            Column::InputTokens => "input_tokens",
            Column::OutputTokens => "output_tokens",
            Column::CacheReadTokens => "cache_read_tokens",
            Column::CacheWriteTokens => "cache_write_tokens",
            Column::TotalTokens => "total_tokens",
        }
    }

    /// The value type of the column.
    pub fn kind(self) -> FieldKind {
        match self {
            Column::StartedAt => FieldKind::Time,
            Column::Stream => FieldKind::Bool,
            Column::DurationMs | Column::TtftMs | Column::CostUsd => FieldKind::Float,
            Column::Status
            | Column::InputTokens
            | Column::OutputTokens
            | Column::CacheReadTokens
            | Column::CacheWriteTokens
            | Column::TotalTokens => FieldKind::Int,
            Column::Id
            | Column::Upstream
            | Column::Provider
            | Column::Endpoint
            | Column::Method
            | Column::Model
            | Column::ModelRequested
            | Column::Outcome
            | Column::Error
            | Column::Account
            | Column::ClientIp
            | Column::UserAgent
            | Column::ConversationId => FieldKind::Text,
        }
    }

    /// Looks a column up by name; `ts` is an alias of `started_at`.
    pub fn parse(name: &str) -> Option<Column> {
        if name == "ts" {
            return Some(Column::StartedAt);
        }
        Column::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Prefix of metadata fields: `metadata.<key>`.
pub const METADATA_PREFIX: &str = "metadata.";

/// Longest metadata key.
pub const MAX_METADATA_KEY_LEN: usize = 64;

/// Name of the feedback score field.
pub const FEEDBACK_SCORE: &str = "feedback.score";

/// A field a predicate tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A fixed column of the trace.
    Column(Column),
    /// A key of the trace's metadata object; the key matches `[A-Za-z0-9_.-]{1,64}`.
    Metadata(String),
    /// The score of the trace's feedback entries: a test holds when it holds
    /// for any one entry (`exists false`: the trace has no feedback).
    FeedbackScore,
}

impl Field {
    /// The value type of the field.
    pub fn kind(&self) -> FieldKind {
        match self {
            Field::Column(c) => c.kind(),
            Field::Metadata(_) => FieldKind::Json,
            Field::FeedbackScore => FieldKind::Float,
        }
    }

    /// Whether `op` applies to this field: as its kind says, except that
    /// feedback scores take no lists (`in`, `not_in`).
    pub fn takes(&self, op: Op) -> bool {
        match self {
            Field::FeedbackScore => {
                op.applies_to(FieldKind::Float) && !matches!(op, Op::In | Op::NotIn)
            }
            _ => op.applies_to(self.kind()),
        }
    }

    /// Names of the operators this field takes, for error messages.
    pub fn op_names(&self) -> String {
        let names: Vec<&str> = Op::ALL
            .into_iter()
            .filter(|o| self.takes(*o))
            .map(Op::name)
            .collect();
        names.join(", ")
    }

    /// Canonical name, e.g. `model` or `metadata.user`.
    pub fn name(&self) -> String {
        match self {
            Field::Column(c) => c.name().to_owned(),
            Field::Metadata(key) => format!("{METADATA_PREFIX}{key}"),
            Field::FeedbackScore => FEEDBACK_SCORE.to_owned(),
        }
    }

    /// Whether `key` is a valid metadata key.
    pub fn is_valid_metadata_key(key: &str) -> bool {
        !key.is_empty()
            && key.len() <= MAX_METADATA_KEY_LEN
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    }

    /// Every accepted field name, for error messages.
    pub fn known_names() -> String {
        let mut names: Vec<&str> = vec!["id", "ts", "started_at"];
        names.extend(Column::ALL.iter().skip(2).map(|c| c.name()));
        names.push("metadata.<key>");
        names.push(FEEDBACK_SCORE);
        names.join(", ")
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Column(c) => f.write_str(c.name()),
            Field::Metadata(key) => write!(f, "{METADATA_PREFIX}{key}"),
            Field::FeedbackScore => f.write_str(FEEDBACK_SCORE),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Contains,
    StartsWith,
    Exists,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 11] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::StartsWith,
        Op::Exists,
    ];

    /// Name as written in a filter.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::Exists => "exists",
        }
    }

    /// Looks an operator up by name.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether the operator applies to fields of `kind`.
    ///
    /// For metadata fields the value decides further: ordering needs a
    /// number, `contains`/`starts_with` need a string.
    pub fn applies_to(self, kind: FieldKind) -> bool {
        match self {
            Op::Eq | Op::Ne | Op::In | Op::NotIn | Op::Exists => true,
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => matches!(
                kind,
                FieldKind::Int | FieldKind::Float | FieldKind::Time | FieldKind::Json
            ),
            Op::Contains | Op::StartsWith => matches!(kind, FieldKind::Text | FieldKind::Json),
        }
    }

    /// Names of the operators that apply to `kind`, for error messages.
    pub fn names_for(kind: FieldKind) -> String {
        let names: Vec<&str> = Op::ALL
            .into_iter()
            .filter(|o| o.applies_to(kind))
            .map(Op::name)
            .collect();
        names.join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_through_their_names() {
        for c in Column::ALL {
            assert_eq!(Column::parse(c.name()), Some(c));
        }
        assert_eq!(Column::parse("ts"), Some(Column::StartedAt));
        assert_eq!(Column::parse("Model"), None);
        assert_eq!(Column::parse("metadata"), None);
    }

    #[test]
    fn ops_round_trip_through_their_names() {
        for o in Op::ALL {
            assert_eq!(Op::parse(o.name()), Some(o));
        }
        assert_eq!(Op::parse("EQ"), None);
        assert_eq!(Op::parse("like"), None);
    }

    #[test]
    fn kinds_of_some_columns() {
        assert_eq!(Column::StartedAt.kind(), FieldKind::Time);
        assert_eq!(Column::Stream.kind(), FieldKind::Bool);
        assert_eq!(Column::Status.kind(), FieldKind::Int);
        assert_eq!(Column::TotalTokens.kind(), FieldKind::Int);
        assert_eq!(Column::CostUsd.kind(), FieldKind::Float);
        assert_eq!(Column::ConversationId.kind(), FieldKind::Text);
        assert_eq!(Field::Metadata("k".into()).kind(), FieldKind::Json);
    }

    #[test]
    fn feedback_scores_take_comparisons_and_exists() {
        let f = Field::FeedbackScore;
        assert_eq!(f.kind(), FieldKind::Float);
        assert_eq!(f.name(), "feedback.score");
        assert_eq!(f.op_names(), "eq, ne, gt, gte, lt, lte, exists");
        assert!(!f.takes(Op::In) && !f.takes(Op::Contains));
        assert!(Field::Column(Column::CostUsd).takes(Op::In));
    }

    #[test]
    fn metadata_key_rules() {
        for ok in ["user", "a.b", "A-Z_09", &"k".repeat(64)] {
            assert!(Field::is_valid_metadata_key(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "a$", &"k".repeat(65)] {
            assert!(!Field::is_valid_metadata_key(bad), "{bad}");
        }
    }

    #[test]
    fn operator_applicability() {
        assert_eq!(Op::names_for(FieldKind::Bool), "eq, ne, in, not_in, exists");
        assert!(!Op::Gt.applies_to(FieldKind::Text));
        assert!(Op::Gt.applies_to(FieldKind::Time));
        assert!(!Op::Contains.applies_to(FieldKind::Int));
        assert!(Op::StartsWith.applies_to(FieldKind::Json));
    }

    #[test]
    fn known_names_lists_aliases_and_metadata() {
        let names = Field::known_names();
        assert!(names.starts_with("id, ts, started_at, upstream"));
        assert!(names.ends_with("total_tokens, metadata.<key>, feedback.score"));
        assert_eq!(names.matches("started_at").count(), 1);
    }
}
