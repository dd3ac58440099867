//! Index covers: a few ranges of one `(column, ts)` index that together hold
//! every trace a filter can match.
//!
//! A top-level conjunct that tests only one indexed column (`model in
//! [a, b]`, `not outcome eq ok`, `or [account eq x, account eq y]`) limits
//! the matches to a set of values of that column. Each value is one range of
//! the column's `(column, ts)` index, already in start-time order, so the
//! newest matches are the newest of a few ordered ranges merged. A negated
//! test is turned into the values it leaves, read from the index itself (a
//! column with too many distinct values gives no cover).

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use tracegate_core::filter::{Column, Field, Filter, Op, Predicate, Value};

use super::sql::{column, nullable};
use crate::error::StoreError;

/// Most ranges one cover may have.
pub(super) const MAX_ARMS: usize = 16;
/// Most distinct values of a column read to resolve `contains` and
/// `starts_with` on it (one index seek each).
const MAX_SCANNED_VALUES: usize = 512;

/// Ranges of one index that hold every match: one per value, `None` for NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cover {
    pub column: Column,
    /// The index over `(column, ts)`.
    pub index: &'static str,
    /// Distinct values, in order; empty when nothing can match.
    pub values: Vec<Option<String>>,
}

impl Cover {
    /// The SQL column.
    pub fn sql_column(&self) -> &'static str {
        column(self.column)
    }
}

/// The `(column, ts)` index of a column, if it has one.
fn ts_index(c: Column) -> Option<&'static str> {
    match c {
        Column::Model => Some("traces_model_eff_ts"),
        Column::Account => Some("traces_account_ts"),
        Column::Provider => Some("traces_provider_ts"),
        Column::Outcome => Some("traces_outcome_ts"),
        Column::ConversationId => Some("traces_conversation_ts"),
        _ => None,
    }
}

/// The values of one column a condition accepts, NULL (`None`) included.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Set {
    /// Exactly these.
    Only(BTreeSet<Option<String>>),
    /// Every value but these.
    AllBut(BTreeSet<Option<String>>),
}

impl Set {
    fn not(self) -> Set {
        match self {
            Set::Only(s) => Set::AllBut(s),
            Set::AllBut(s) => Set::Only(s),
        }
    }

    fn or(self, other: Set) -> Set {
        match (self, other) {
            (Set::Only(a), Set::Only(b)) => Set::Only(&a | &b),
            (Set::Only(a), Set::AllBut(b)) | (Set::AllBut(b), Set::Only(a)) => Set::AllBut(&b - &a),
            (Set::AllBut(a), Set::AllBut(b)) => Set::AllBut(&a & &b),
        }
    }

    fn and(self, other: Set) -> Set {
        self.not().or(other.not()).not()
    }
}

/// The covers of `f`'s top-level conjuncts, one per indexed column tested
/// alone (several conjuncts on one column are intersected), each resolved to
/// its values. A column whose cover would need more than [`MAX_ARMS`] values
/// gives none.
pub(super) fn covers(c: &Connection, f: &Filter) -> Result<Vec<Cover>, StoreError> {
    let mut sets: Vec<(Column, Set)> = Vec::new();
    for conjunct in conjuncts(f) {
        let Some(col) = only_column(conjunct).filter(|col| ts_index(*col).is_some()) else {
            continue;
        };
        // `contains` and `starts_with` select among the values stored: read
        // them (a column with too many gives no cover).
        let stored = if matches_text(conjunct) {
            distinct(c, col, MAX_SCANNED_VALUES)?
        } else {
            None
        };
        let Some(set) = exact(conjunct, col, stored.as_ref()) else {
            continue;
        };
        match sets.iter_mut().find(|(c, _)| *c == col) {
            Some((_, have)) => *have = have.clone().and(set),
            None => sets.push((col, set)),
        }
    }
    let mut out = Vec::new();
    for (col, set) in sets {
        let Some(index) = ts_index(col) else {
            continue;
        };
        let values = match set {
            Set::Only(values) => Some(values),
            Set::AllBut(excluded) => all_but(c, col, &excluded)?,
        };
        if let Some(values) = values.filter(|v| v.len() <= MAX_ARMS) {
            out.push(Cover {
                column: col,
                index,
                values: values.into_iter().collect(),
            });
        }
    }
    Ok(out)
}

/// The children of the top-level `and` (flattened), or `f` itself.
fn conjuncts(f: &Filter) -> Vec<&Filter> {
    match f {
        Filter::And(children) => children.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// The one column every predicate of `f` tests, if there is one.
fn only_column(f: &Filter) -> Option<Column> {
    match f {
        Filter::Leaf(Predicate {
            field: Field::Column(c),
            ..
        }) => Some(*c),
        Filter::Leaf(_) => None,
        Filter::Not(child) => only_column(child),
        Filter::And(children) | Filter::Or(children) => {
            let mut cols = children.iter().map(only_column);
            let first = cols.next()??;
            cols.all(|c| c == Some(first)).then_some(first)
        }
    }
}

/// Whether `f` has a `contains` or `starts_with` test.
fn matches_text(f: &Filter) -> bool {
    match f {
        Filter::Leaf(p) => matches!(p.op, Op::Contains | Op::StartsWith),
        Filter::Not(child) => matches_text(child),
        Filter::And(children) | Filter::Or(children) => children.iter().any(matches_text),
    }
}

/// The set of `col` values for which `f` holds, when `f` tests only `col`
/// with operators a set of text values describes. `stored` is every non-NULL
/// value of the column, when it was read.
fn exact(f: &Filter, col: Column, stored: Option<&BTreeSet<Option<String>>>) -> Option<Set> {
    match f {
        Filter::Leaf(p) => leaf(p, col, stored),
        Filter::Not(child) => exact(child, col, stored).map(Set::not),
        Filter::Or(children) => children
            .iter()
            .map(|child| exact(child, col, stored))
            .reduce(|a, b| Some(a?.or(b?)))?,
        Filter::And(children) => children
            .iter()
            .map(|child| exact(child, col, stored))
            .reduce(|a, b| Some(a?.and(b?)))?,
    }
}

/// As compiled (see `filter`): `eq` and `in` never hold for NULL, `ne` and
/// `not_in` always do, `exists` tests NULL alone; `contains` and
/// `starts_with` are SQL `LIKE` (ASCII letters in any case) and never hold for
/// NULL, so they hold for the stored values that match. (Under `not`, such a
/// set also keeps NULL, where SQL's `NOT (NULL LIKE ..)` does not hold: a
/// cover may hold more traces than match, never fewer.)
fn leaf(p: &Predicate, col: Column, stored: Option<&BTreeSet<Option<String>>>) -> Option<Set> {
    if p.field != Field::Column(col) {
        return None;
    }
    let texts = |v: &Value| -> Option<BTreeSet<Option<String>>> {
        let items = match v {
            Value::List(items) => items.as_slice(),
            other => std::slice::from_ref(other),
        };
        items
            .iter()
            .map(|item| match item {
                Value::Text(s) => Some(Some(s.clone())),
                _ => None,
            })
            .collect()
    };
    let null = || BTreeSet::from([None]);
    match (p.op, &p.value) {
        (Op::Eq | Op::In, v) => texts(v).map(Set::Only),
        (Op::Ne | Op::NotIn, v) => texts(v).map(Set::AllBut),
        (Op::Exists, Value::Exists(true)) => Some(Set::AllBut(null())),
        (Op::Exists, Value::Exists(false)) => Some(Set::Only(null())),
        (Op::Contains | Op::StartsWith, Value::Text(needle)) => {
            let needle = needle.to_ascii_lowercase();
            let matching = stored?
                .iter()
                .filter(|v| v.as_deref().is_some_and(|v| like(p.op, v, &needle)))
                .cloned()
                .collect();
            Some(Set::Only(matching))
        }
        _ => None,
    }
}

/// `value LIKE '%needle%'` (or `'needle%'`) as SQLite evaluates it: ASCII
/// letters match in either case, everything else exactly. `needle` is lower case.
fn like(op: Op, value: &str, needle: &str) -> bool {
    let value = value.to_ascii_lowercase();
    match op {
        Op::StartsWith => value.starts_with(needle),
        _ => value.contains(needle),
    }
}

/// Every value of `col` but `excluded` (NULL included for a nullable
/// column), read from its index; `None` beyond [`MAX_ARMS`] values.
fn all_but(
    c: &Connection,
    col: Column,
    excluded: &BTreeSet<Option<String>>,
) -> Result<Option<BTreeSet<Option<String>>>, StoreError> {
    let Some(mut values) = distinct(c, col, MAX_ARMS + excluded.len())? else {
        return Ok(None);
    };
    if nullable(col) {
        values.insert(None);
    }
    Ok(Some(&values - excluded))
}

/// The distinct non-NULL values of `col`, at most `max`, in a few index
/// seeks (one per value); `None` when there are more, or one is not text.
fn distinct(
    c: &Connection,
    col: Column,
    max: usize,
) -> Result<Option<BTreeSet<Option<String>>>, StoreError> {
    let name = column(col).trim_start_matches("t.");
    let sql = format!(
        "WITH RECURSIVE v (x) AS (
             SELECT (SELECT min({name}) FROM traces)
             UNION ALL
             SELECT (SELECT min({name}) FROM traces WHERE {name} > v.x) FROM v
             WHERE v.x IS NOT NULL LIMIT ?1
         )
         SELECT x FROM v WHERE x IS NOT NULL"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([max as i64 + 2], |r| r.get::<_, SqlValue>(0))?;
    let mut out = BTreeSet::new();
    for row in rows {
        match row? {
            SqlValue::Text(s) => out.insert(Some(s)),
            _ => return Ok(None),
        };
    }
    Ok((out.len() <= max).then_some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Filter {
        Filter::parse(&v, "/filter").unwrap()
    }

    fn store_with(rows: &[(Option<&str>, &str)]) -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::sqlite::migrate::apply(&mut c).unwrap();
        for (i, (model, outcome)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO traces (id, ts, provider, endpoint, method, model, model_eff, stream,
                     outcome, duration_ms, total_tokens)
                 VALUES (?1, ?2, 'openai', '/v1/x', 'POST', ?3, ?3, 0, ?4, 1.0, 0)",
                rusqlite::params![vec![i as u8; 16], i as i64, model, outcome],
            )
            .unwrap();
        }
        c
    }

    fn values(c: &Cover) -> Vec<Option<&str>> {
        c.values.iter().map(Option::as_deref).collect()
    }

    #[test]
    fn conjuncts_on_one_indexed_column_give_covers() {
        let c = store_with(&[
            (Some("a"), "ok"),
            (Some("b"), "timeout"),
            (None, "cancelled"),
        ]);
        let f = parse(json!({"and": [
            {"or": [{"field": "model", "op": "eq", "value": "b"},
                    {"field": "model", "op": "in", "value": ["a", "b"]}]},
            {"not": {"field": "outcome", "op": "eq", "value": "ok"}},
            {"or": [{"field": "duration_ms", "op": "gt", "value": 3},
                    {"field": "account", "op": "eq", "value": "x"}]},
            {"field": "metadata.team", "op": "eq", "value": "search"},
        ]}));
        let covers = covers(&c, &f).unwrap();
        assert_eq!(covers.len(), 2, "{covers:?}");
        assert_eq!(covers[0].index, "traces_model_eff_ts");
        assert_eq!(values(&covers[0]), vec![Some("a"), Some("b")]);
        // Outcome is never NULL: the values left are those stored.
        assert_eq!(covers[1].index, "traces_outcome_ts");
        assert_eq!(values(&covers[1]), vec![Some("cancelled"), Some("timeout")]);
    }

    #[test]
    fn negations_keep_null_for_nullable_columns() {
        let c = store_with(&[(Some("a"), "ok"), (Some("b"), "ok"), (Some("c"), "ok")]);
        let cover = |v: serde_json::Value| covers(&c, &parse(v)).unwrap();
        let ne = cover(json!({"field": "model", "op": "ne", "value": "a"}));
        assert_eq!(values(&ne[0]), vec![None, Some("b"), Some("c")]);
        let not_in = cover(json!({"field": "model", "op": "not_in", "value": ["a", "c"]}));
        assert_eq!(values(&not_in[0]), vec![None, Some("b")]);
        let twice = cover(json!({"not": {"not": {"field": "model", "op": "eq", "value": "c"}}}));
        assert_eq!(values(&twice[0]), vec![Some("c")]);
        let missing = cover(json!({"field": "model", "op": "exists", "value": false}));
        assert_eq!(values(&missing[0]), vec![None]);
        let present = cover(json!({"field": "model", "op": "exists", "value": true}));
        assert_eq!(values(&present[0]), vec![Some("a"), Some("b"), Some("c")]);
        // Two conjuncts on one column intersect; disjoint ones leave nothing.
        let both = cover(json!({"and": [
            {"field": "model", "op": "in", "value": ["a", "b"]},
            {"field": "model", "op": "ne", "value": "a"}]}));
        assert_eq!(values(&both[0]), vec![Some("b")]);
        let none = cover(json!({"and": [
            {"field": "model", "op": "eq", "value": "a"},
            {"field": "model", "op": "eq", "value": "b"}]}));
        assert!(none[0].values.is_empty());
    }

    #[test]
    fn what_cannot_be_covered_is_left_out() {
        let many: Vec<(Option<String>, &str)> = (0..=MAX_ARMS)
            .map(|i| (Some(format!("m{i:02}")), "ok"))
            .collect();
        let rows: Vec<(Option<&str>, &str)> =
            many.iter().map(|(m, o)| (m.as_deref(), *o)).collect();
        let c = store_with(&rows);
        for f in [
            // Too many values left by a negation.
            json!({"field": "model", "op": "ne", "value": "m00"}),
            // Another column in the same branch, or a column without a (column, ts) index.
            json!({"or": [{"field": "model", "op": "eq", "value": "a"},
                          {"field": "account", "op": "eq", "value": "x"}]}),
            json!({"field": "endpoint", "op": "eq", "value": "/v1/x"}),
            // Text matches that leave too many values.
            json!({"field": "model", "op": "starts_with", "value": "m"}),
            json!({"field": "model", "op": "contains", "value": "M"}),
        ] {
            assert_eq!(covers(&c, &parse(f.clone())).unwrap(), vec![], "{f}");
        }
        let listed: Vec<String> = (0..=MAX_ARMS).map(|i| format!("m{i:02}")).collect();
        let f = json!({"field": "model", "op": "in", "value": listed});
        assert_eq!(covers(&c, &parse(f)).unwrap(), vec![]);
    }

    #[test]
    fn text_matches_become_the_stored_values_they_match() {
        let c = store_with(&[
            (Some("claude-sonnet-4-5"), "ok"),
            (Some("Claude-Opus"), "ok"),
            (Some("gpt-4o"), "ok"),
            (Some("gpt_4o"), "ok"),
            (None, "ok"),
        ]);
        let cover = |v: serde_json::Value| covers(&c, &parse(v)).unwrap();
        let claude = cover(json!({"field": "model", "op": "contains", "value": "CLAUDE"}));
        assert_eq!(
            values(&claude[0]),
            vec![Some("Claude-Opus"), Some("claude-sonnet-4-5")]
        );
        let gpt = cover(json!({"field": "model", "op": "starts_with", "value": "gpt_"}));
        assert_eq!(values(&gpt[0]), vec![Some("gpt_4o")], "_ is no wildcard");
        let not_claude =
            cover(json!({"not": {"field": "model", "op": "contains", "value": "claude"}}));
        assert_eq!(
            values(&not_claude[0]),
            vec![None, Some("gpt-4o"), Some("gpt_4o")]
        );
        let nothing = cover(json!({"field": "model", "op": "contains", "value": "zzz"}));
        assert!(nothing[0].values.is_empty());
        let either = cover(json!({"or": [
            {"field": "model", "op": "contains", "value": "opus"},
            {"field": "model", "op": "eq", "value": "gpt-4o"}]}));
        assert_eq!(
            values(&either[0]),
            vec![Some("Claude-Opus"), Some("gpt-4o")]
        );
    }
}
