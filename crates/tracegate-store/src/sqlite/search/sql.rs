//! SQL text with its bound values, built in order.
//!
//! User input only ever becomes a bound value: SQL text comes from the fixed
//! strings of this module tree (column names from [`column`]).

use rusqlite::types::Value;
use tracegate_core::filter::Column;

/// A piece of SQL and the values of its `?` placeholders, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Sql {
    pub text: String,
    pub params: Vec<Value>,
}

impl Sql {
    /// Appends fixed SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `?` bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// Appends `(?, ?, ...)` bound to `values`.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    /// Appends another piece, text and values.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
        self
    }
}

/// The SQL column of a filter column; the only way a field name reaches SQL.
pub(super) fn column(c: Column) -> &'static str {
    match c {
        Column::Id => "t.id",
        Column::StartedAt => "t.ts",
        Column::Upstream => "t.upstream",
        Column::Provider => "t.provider",
        Column::Endpoint => "t.endpoint",
        Column::Method => "t.method",
        // The model that answered, else the model asked for (migration 0006).
        Column::Model => "t.model_eff",
        Column::ModelRequested => "t.model_requested",
        Column::Outcome => "t.outcome",
        Column::Error => "t.error",
        Column::Account => "t.account",
        Column::ClientIp => "t.client_ip",
        Column::UserAgent => "t.user_agent",
        Column::ConversationId => "t.conversation_id",
        Column::Stream => "t.stream",
        Column::Status => "t.status",
        Column::DurationMs => "t.duration_ms",
        Column::TtftMs => "t.ttft_ms",
        Column::CostUsd => "t.cost_usd",
        Column::InputTokens => "t.input_tokens",
        Column::OutputTokens => "t.output_tokens",
        Column::CacheReadTokens => "t.cache_read_tokens",
        Column::CacheWriteTokens => "t.cache_write_tokens",
        Column::TotalTokens => "t.total_tokens",
    }
}

/// Whether the column may hold NULL (see the migrations).
pub(super) fn nullable(c: Column) -> bool {
    !matches!(
        c,
        Column::Id
            | Column::StartedAt
            | Column::Provider
            | Column::Endpoint
            | Column::Method
            | Column::Outcome
            | Column::Stream
            | Column::DurationMs
            | Column::TotalTokens
    )
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
pub(super) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_keeps_text_and_values_in_step() {
        let mut a = Sql::default();
        a.push("x = ").bind(1i64).push(" AND y IN ");
        a.bind_list(vec![Value::Text("a".into()), Value::Integer(2)]);
        let mut b = Sql::default();
        b.push("(").append(&a).push(")");
        assert_eq!(b.text, "(x = ? AND y IN (?, ?))");
        assert_eq!(b.params.len(), 3);
        assert_eq!(b.text.matches('?').count(), b.params.len());
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape(r"50%_off\x"), r"50\%\_off\\x");
        assert_eq!(like_escape("plain"), "plain");
    }

    #[test]
    fn every_column_maps_to_a_plain_name() {
        for c in Column::ALL {
            let name = column(c);
            assert!(name.starts_with("t."), "{name}");
            assert!(name[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
