//! Compiling a filter tree into a SQL condition over `traces t`.
//!
//! Every predicate is two-valued where it matters: `not` is compiled as
//! `(...) IS NOT 1`, so a predicate that is unknown for a NULL field counts
//! as false and its negation as true. Values are always bound.
//!
//! `feedback.score` tests a trace's feedback entries: the trace matches when
//! any entry passes (`t.rowid IN (SELECT trace_rowid FROM feedback WHERE ...)`,
//! one read of the score index per query, not per trace).

use rusqlite::types::Value as SqlValue;
use tracegate_core::filter::{Column, Field, Filter, Op, Predicate, Value};
use uuid::Uuid;

use super::sql::{column, like_escape, nullable, Sql};

/// Appends the condition of `f` to `sql`.
pub(super) fn compile(f: &Filter, sql: &mut Sql) {
    match f {
        Filter::And(children) => join(children, " AND ", "1", sql),
        Filter::Or(children) => join(children, " OR ", "0", sql),
        Filter::Not(child) => {
            sql.push("((");
            compile(child, sql);
            sql.push(") IS NOT 1)");
        }
        Filter::Leaf(p) => match &p.field {
            Field::Column(c) => column_predicate(*c, p, sql),
            Field::Metadata(key) => metadata_predicate(key, p, sql),
            Field::FeedbackScore => feedback_predicate(p, sql),
        },
    }
}

fn join(children: &[Filter], op: &str, empty: &str, sql: &mut Sql) {
    if children.is_empty() {
        sql.push(empty);
        return;
    }
    sql.push("(");
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            sql.push(op);
        }
        compile(child, sql);
    }
    sql.push(")");
}

/// The items of an `in` list (a lone value counts as a list of one).
fn items(v: &Value) -> &[Value] {
    match v {
        Value::List(items) => items,
        other => std::slice::from_ref(other),
    }
}

fn column_predicate(c: Column, p: &Predicate, sql: &mut Sql) {
    let col = column(c);
    let bind = |v: &Value| column_value(c, v);
    match p.op {
        Op::Exists => {
            let is = if matches!(p.value, Value::Exists(false)) {
                " IS NULL"
            } else {
                " IS NOT NULL"
            };
            sql.push("(").push(col).push(is).push(")");
        }
        Op::Eq | Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            sql.push("(")
                .push(col)
                .push(comparison(p.op))
                .bind(bind(&p.value))
                .push(")");
        }
        Op::Ne => {
            let ne = if nullable(c) { " IS NOT " } else { " <> " };
            sql.push("(")
                .push(col)
                .push(ne)
                .bind(bind(&p.value))
                .push(")");
        }
        Op::In => {
            sql.push("(").push(col).push(" IN ");
            sql.bind_list(items(&p.value).iter().map(bind)).push(")");
        }
        Op::NotIn => {
            sql.push("(");
            if nullable(c) {
                sql.push(col).push(" IS NULL OR ");
            }
            sql.push(col).push(" NOT IN ");
            sql.bind_list(items(&p.value).iter().map(bind)).push(")");
        }
        Op::Contains | Op::StartsWith => {
            let text = match &p.value {
                Value::Text(s) => s.as_str(),
                _ => "",
            };
            let (target, text) = if c == Column::Id {
                (
                    "lower(hex(t.id))",
                    text.replace('-', "").to_ascii_lowercase(),
                )
            } else {
                (col, text.to_owned())
            };
            sql.push("(").push(target).push(" LIKE ");
            sql.bind(like_pattern(p.op, &text)).push(" ESCAPE '\\')");
        }
    }
}

/// Whether some feedback entry of the trace passes `score <op> value`
/// (`exists`: whether the trace has any entry at all).
fn feedback_predicate(p: &Predicate, sql: &mut Sql) {
    match score_test(p) {
        Some(test) => {
            sql.push("(t.rowid IN (SELECT trace_rowid FROM feedback WHERE ")
                .append(&test)
                .push("))");
        }
        None => {
            sql.push("(t.rowid NOT IN (SELECT trace_rowid FROM feedback))");
        }
    }
}

/// The condition on `score` an entry of a matching trace passes (`1` for
/// any entry); `None` for `exists false`, which no entry stands for.
pub(super) fn score_test(p: &Predicate) -> Option<Sql> {
    let mut sql = Sql::default();
    match (p.op, &p.value) {
        (Op::Exists, Value::Exists(false)) => return None,
        (Op::Exists, _) => {
            sql.push("1");
        }
        (op, v) => {
            let cmp = if op == Op::Ne { " <> " } else { comparison(op) };
            sql.push("score").push(cmp).bind(scalar(v));
        }
    }
    Some(sql)
}

/// ` = `, ` > `, ...; other operators are not comparisons (they map to ` = `).
fn comparison(op: Op) -> &'static str {
    match op {
        Op::Gt => " > ",
        Op::Gte => " >= ",
        Op::Lt => " < ",
        Op::Lte => " <= ",
        _ => " = ",
    }
}

fn like_pattern(op: Op, text: &str) -> String {
    match op {
        Op::StartsWith => format!("{}%", like_escape(text)),
        _ => format!("%{}%", like_escape(text)),
    }
}

/// A value as stored in the column: ids as 16 bytes, booleans as 0/1.
fn column_value(c: Column, v: &Value) -> SqlValue {
    match (c, v) {
        (Column::Id, Value::Text(s)) => match Uuid::parse_str(s) {
            Ok(id) => SqlValue::Blob(id.as_bytes().to_vec()),
            Err(_) => SqlValue::Text(s.clone()),
        },
        _ => scalar(v),
    }
}

fn scalar(v: &Value) -> SqlValue {
    match v {
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Int(i) | Value::TimeMs(i) => SqlValue::Integer(*i),
        Value::Float(f) => SqlValue::Real(*f),
        Value::Bool(b) | Value::Exists(b) => SqlValue::Integer(i64::from(*b)),
        Value::List(_) => SqlValue::Null,
    }
}

/// The JSON type test a metadata value of `v`'s kind needs.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Text(_) => " = 'text'",
        Value::Bool(true) => " = 'true'",
        Value::Bool(false) => " = 'false'",
        _ => " IN ('integer', 'real')",
    }
}

/// `json_type(...)` and `json_extract(...)` of one metadata key; both NULL
/// for a key that cannot be in a path (never one the parser accepts).
struct JsonKey {
    path: Option<String>,
}

impl JsonKey {
    fn new(key: &str) -> Self {
        let path = Field::is_valid_metadata_key(key).then(|| format!("$.\"{key}\""));
        JsonKey { path }
    }

    fn type_of(&self, sql: &mut Sql) {
        match &self.path {
            Some(path) => sql
                .push("json_type(t.metadata, ")
                .bind(path.clone())
                .push(")"),
            None => sql.push("NULL"),
        };
    }

    fn value(&self, sql: &mut Sql) {
        match &self.path {
            Some(path) => sql
                .push("json_extract(t.metadata, ")
                .bind(path.clone())
                .push(")"),
            None => sql.push("NULL"),
        };
    }

    /// `(type test AND value <cmp> ?)`; booleans need only the type test.
    fn test(&self, v: &Value, cmp: &str, sql: &mut Sql) {
        sql.push("(");
        self.type_of(sql);
        sql.push(json_kind(v));
        if !matches!(v, Value::Bool(_)) {
            sql.push(" AND ");
            self.value(sql);
            sql.push(cmp).bind(scalar(v));
        }
        sql.push(")");
    }

    /// Any of `values`, grouped by JSON kind.
    fn any_of(&self, values: &[Value], sql: &mut Sql) {
        let texts: Vec<&Value> = values
            .iter()
            .filter(|v| matches!(v, Value::Text(_)))
            .collect();
        let numbers: Vec<&Value> = values
            .iter()
            .filter(|v| matches!(v, Value::Int(_) | Value::Float(_) | Value::TimeMs(_)))
            .collect();
        let mut groups = 0;
        sql.push("(");
        for (group, kind) in [(texts, " = 'text'"), (numbers, " IN ('integer', 'real')")] {
            if group.is_empty() {
                continue;
            }
            if groups > 0 {
                sql.push(" OR ");
            }
            groups += 1;
            sql.push("(");
            self.type_of(sql);
            sql.push(kind).push(" AND ");
            self.value(sql);
            sql.push(" IN ")
                .bind_list(group.into_iter().map(scalar))
                .push(")");
        }
        for b in [true, false] {
            if values.contains(&Value::Bool(b)) {
                if groups > 0 {
                    sql.push(" OR ");
                }
                groups += 1;
                self.test(&Value::Bool(b), "", sql);
            }
        }
        if groups == 0 {
            sql.push("0");
        }
        sql.push(")");
    }
}

fn metadata_predicate(key: &str, p: &Predicate, sql: &mut Sql) {
    let k = JsonKey::new(key);
    match p.op {
        Op::Exists => {
            sql.push("(coalesce(");
            k.type_of(sql);
            let cmp = if matches!(p.value, Value::Exists(false)) {
                "= 'null'"
            } else {
                "<> 'null'"
            };
            sql.push(", 'null') ").push(cmp).push(")");
        }
        Op::Eq | Op::Gt | Op::Gte | Op::Lt | Op::Lte => k.test(&p.value, comparison(p.op), sql),
        Op::Ne => {
            sql.push("(");
            k.test(&p.value, " = ", sql);
            sql.push(" IS NOT 1)");
        }
        Op::In => k.any_of(items(&p.value), sql),
        Op::NotIn => {
            sql.push("(");
            k.any_of(items(&p.value), sql);
            sql.push(" IS NOT 1)");
        }
        Op::Contains | Op::StartsWith => {
            let text = match &p.value {
                Value::Text(s) => s.as_str(),
                _ => "",
            };
            sql.push("(");
            k.type_of(sql);
            sql.push(" = 'text' AND ");
            k.value(sql);
            sql.push(" LIKE ")
                .bind(like_pattern(p.op, text))
                .push(" ESCAPE '\\')");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql_of(json: serde_json::Value) -> Sql {
        let f = Filter::parse(&json, "/filter").unwrap();
        let mut sql = Sql::default();
        compile(&f, &mut sql);
        assert_eq!(
            sql.text.matches('?').count(),
            sql.params.len(),
            "{}",
            sql.text
        );
        sql
    }

    #[test]
    fn values_are_bound_never_inlined() {
        let evil = "x'); DROP TABLE traces; --";
        let sql = sql_of(json!({"or": [
            {"field": "model", "op": "eq", "value": evil},
            {"field": "metadata.team", "op": "contains", "value": evil},
            {"field": "error", "op": "in", "value": [evil, "b"]},
        ]}));
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(sql.params.contains(&SqlValue::Text(evil.into())));
    }

    #[test]
    fn shapes_of_some_predicates() {
        let sql = sql_of(json!({"field": "model", "op": "ne", "value": "a"}));
        assert_eq!(sql.text, "(t.model_eff IS NOT ?)");
        let sql = sql_of(json!({"field": "provider", "op": "not_in", "value": ["openai"]}));
        assert_eq!(sql.text, "(t.provider NOT IN (?))");
        let sql = sql_of(json!({"not": {"field": "stream", "op": "eq", "value": true}}));
        assert_eq!(sql.text, "(((t.stream = ?)) IS NOT 1)");
        assert_eq!(sql.params, vec![SqlValue::Integer(1)]);
        let id = "0190c2a4-8b1e-7c3d-9e4f-a5b6c7d8e9f0";
        let sql = sql_of(json!({"field": "id", "op": "eq", "value": id}));
        assert_eq!(
            sql.params,
            vec![SqlValue::Blob(
                Uuid::parse_str(id).unwrap().as_bytes().to_vec()
            )]
        );
        let sql = sql_of(json!({"field": "id", "op": "starts_with", "value": "0190C2A4-8b"}));
        assert_eq!(sql.params, vec![SqlValue::Text("0190c2a48b%".into())]);
        let sql = sql_of(json!({"field": "metadata.run", "op": "gt", "value": 3}));
        assert_eq!(sql.params[0], SqlValue::Text("$.\"run\"".into()));
        let sql = sql_of(json!({"field": "feedback.score", "op": "gte", "value": 4}));
        assert_eq!(
            sql.text,
            "(t.rowid IN (SELECT trace_rowid FROM feedback WHERE score >= ?))"
        );
        assert_eq!(sql.params, vec![SqlValue::Real(4.0)]);
        let sql = sql_of(json!({"field": "feedback.score", "op": "exists", "value": false}));
        assert_eq!(
            sql.text,
            "(t.rowid NOT IN (SELECT trace_rowid FROM feedback))"
        );
    }
}
