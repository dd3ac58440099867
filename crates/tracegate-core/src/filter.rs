//! The trace filter language of the search API.
//!
//! A filter is JSON: a predicate `{"field":"model","op":"eq","value":"x"}`
//! or a branch `{"and":[...]}`, `{"or":[...]}`, `{"not":{...}}`.
//! [`Filter::parse`] checks it completely (fields, operators, value types,
//! enum values, size and depth limits) and normalises values: times become
//! epoch milliseconds and ids canonical lower-case UUIDs. The AST is
//! dialect-free; a query compiler binds every [`Value`] as a parameter.

mod error;
mod field;
mod parse;
mod simple;
mod value;

#[cfg(test)]
mod proptests;

use serde_json::{json, Value as Json};

pub use error::{FilterError, FilterErrorKind};
pub use field::{
    Column, Field, FieldKind, Op, FEEDBACK_SCORE, MAX_METADATA_KEY_LEN, METADATA_PREFIX,
};
pub use simple::{from_simple_params, SIMPLE_PARAMS};
pub use value::{MAX_TIME_MS, MIN_TIME_MS};

/// Deepest nesting allowed: a bare predicate has depth 1, each `and`/`or`/`not` adds one.
pub const MAX_DEPTH: usize = 8;
/// Most nodes (predicates and branches) a filter may have.
pub const MAX_NODES: usize = 256;
/// Most values an `in`/`not_in` list may hold.
pub const MAX_LIST_LEN: usize = 1000;
/// Most values a whole filter may hold, so that binding each one stays well
/// below SQLite's limit of 32766 parameters.
pub const MAX_TOTAL_VALUES: usize = 10_000;
/// Longest text value, in bytes.
pub const MAX_TEXT_LEN: usize = 4096;

/// A filter tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every child matches; never empty when parsed.
    And(Vec<Filter>),
    /// Some child matches; never empty when parsed.
    Or(Vec<Filter>),
    /// The child does not match.
    Not(Box<Filter>),
    /// A single test of one field.
    Leaf(Predicate),
}

/// A test of one field: `field op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub field: Field,
    pub op: Op,
    pub value: Value,
}

/// A checked, normalised predicate value.
///
/// Which variant appears follows from the field and operator: `in`/`not_in`
/// hold a `List` of scalars, `exists` holds `Exists`, time fields hold
/// `TimeMs`, float fields `Float` (integers are widened), metadata fields
/// `Text`, `Int`, `Float` or `Bool` as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    /// Always finite.
    Float(f64),
    Bool(bool),
    /// Milliseconds since the Unix epoch, within [`MIN_TIME_MS`]..=[`MAX_TIME_MS`].
    TimeMs(i64),
    /// Non-empty, at most [`MAX_LIST_LEN`] scalars.
    List(Vec<Value>),
    /// `true`: the field is not null; `false`: it is null.
    Exists(bool),
}

impl Filter {
    /// `filter AND account = account`: what a reader limited to one account may match,
    /// whatever the request asked.
    pub fn of_account(filter: Option<Filter>, account: &str) -> Filter {
        let own = Filter::Leaf(Predicate {
            field: Field::Column(Column::Account),
            op: Op::Eq,
            value: Value::Text(account.to_owned()),
        });
        match filter {
            None => own,
            Some(Filter::And(mut all)) => {
                all.push(own);
                Filter::And(all)
            }
            Some(other) => Filter::And(vec![other, own]),
        }
    }

    /// Parses and checks a filter; `pointer` locates `json` in the request
    /// body (e.g. `"/filter"`) and prefixes every error pointer.
    pub fn parse(json: &Json, pointer: &str) -> Result<Filter, FilterError> {
        parse::parse(json, pointer)
    }

    /// The canonical JSON form; `Filter::parse(&f.to_json(), p) == Ok(f)` for a parsed `f`.
    pub fn to_json(&self) -> Json {
        match self {
            Filter::And(children) => {
                json!({ "and": children.iter().map(Filter::to_json).collect::<Vec<_>>() })
            }
            Filter::Or(children) => {
                json!({ "or": children.iter().map(Filter::to_json).collect::<Vec<_>>() })
            }
            Filter::Not(child) => json!({ "not": child.to_json() }),
            Filter::Leaf(p) => p.to_json(),
        }
    }

    /// Nesting depth: 1 for a predicate, one more per `and`/`or`/`not` level.
    pub fn depth(&self) -> usize {
        match self {
            Filter::And(children) | Filter::Or(children) => {
                1 + children.iter().map(Filter::depth).max().unwrap_or(0)
            }
            Filter::Not(child) => 1 + child.depth(),
            Filter::Leaf(_) => 1,
        }
    }

    /// Number of nodes: predicates plus branches.
    pub fn node_count(&self) -> usize {
        match self {
            Filter::And(children) | Filter::Or(children) => {
                1 + children.iter().map(Filter::node_count).sum::<usize>()
            }
            Filter::Not(child) => 1 + child.node_count(),
            Filter::Leaf(_) => 1,
        }
    }
}

impl Predicate {
    /// The canonical JSON form `{"field","op","value"}`.
    pub fn to_json(&self) -> Json {
        json!({ "field": self.field.name(), "op": self.op.name(), "value": self.value.to_json() })
    }
}

impl Value {
    /// The JSON form: times as epoch ms, lists as arrays, `Exists` as a boolean.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Text(s) => Json::String(s.clone()),
            Value::Int(i) | Value::TimeMs(i) => Json::from(*i),
            Value::Float(f) => Json::from(*f),
            Value::Bool(b) | Value::Exists(b) => Json::Bool(*b),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
        }
    }

    /// How many bound values this is: the list length, or 1.
    pub fn count(&self) -> usize {
        match self {
            Value::List(items) => items.len(),
            _ => 1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn leaf(col: Column, op: Op, value: Value) -> Filter {
        Filter::Leaf(Predicate {
            field: Field::Column(col),
            op,
            value,
        })
    }

    #[test]
    fn to_json_writes_the_canonical_form() {
        let f = Filter::And(vec![
            leaf(Column::StartedAt, Op::Gte, Value::TimeMs(1_735_689_600_000)),
            Filter::Not(Box::new(leaf(
                Column::Model,
                Op::In,
                Value::List(vec![Value::Text("a".into()), Value::Text("b".into())]),
            ))),
            Filter::Leaf(Predicate {
                field: Field::Metadata("team".into()),
                op: Op::Exists,
                value: Value::Exists(true),
            }),
        ]);
        assert_eq!(
            f.to_json(),
            json!({"and": [
                {"field": "started_at", "op": "gte", "value": 1_735_689_600_000_i64},
                {"not": {"field": "model", "op": "in", "value": ["a", "b"]}},
                {"field": "metadata.team", "op": "exists", "value": true},
            ]})
        );
        assert_eq!(Filter::parse(&f.to_json(), "/filter"), Ok(f));
    }

    #[test]
    fn alias_and_rfc3339_come_back_canonical() {
        let input = json!({"field": "ts", "op": "lt", "value": "2025-01-01T00:00:00Z"});
        let f = Filter::parse(&input, "/filter").unwrap();
        assert_eq!(
            f.to_json(),
            json!({"field": "started_at", "op": "lt", "value": 1_735_689_600_000_i64})
        );
    }

    #[test]
    fn feedback_score_parses_round_trips_and_refuses_lists() {
        let input = json!({"not": {"field": "feedback.score", "op": "gte", "value": 4}});
        let f = Filter::parse(&input, "/filter").unwrap();
        let Filter::Not(leaf) = &f else {
            panic!("{f:?}")
        };
        assert_eq!(
            **leaf,
            Filter::Leaf(Predicate {
                field: Field::FeedbackScore,
                op: Op::Gte,
                value: Value::Float(4.0),
            })
        );
        assert_eq!(Filter::parse(&f.to_json(), "/filter"), Ok(f));
        let bad = |v: serde_json::Value| Filter::parse(&v, "/filter").unwrap_err();
        let err = bad(json!({"field": "feedback.score", "op": "in", "value": [1]}));
        assert_eq!(
            (err.kind, err.pointer.as_str()),
            (FilterErrorKind::WrongType, "/filter/op")
        );
        assert!(
            err.message.contains("eq, ne, gt, gte, lt, lte, exists"),
            "{}",
            err.message
        );
        let err = bad(json!({"field": "feedback.score", "op": "eq", "value": "5"}));
        assert_eq!(err.pointer, "/filter/value");
        let err = bad(json!({"field": "feedback.scor", "op": "eq", "value": 5}));
        assert!(
            err.message.contains("did you mean \"feedback.score\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn depth_and_node_count() {
        let p = leaf(Column::Stream, Op::Eq, Value::Bool(true));
        assert_eq!(p.depth(), 1);
        assert_eq!(p.node_count(), 1);
        let f = Filter::Or(vec![p.clone(), Filter::Not(Box::new(p.clone()))]);
        assert_eq!(f.depth(), 3);
        assert_eq!(f.node_count(), 4);
        assert_eq!(Filter::And(vec![]).depth(), 1);
    }

    #[test]
    fn value_counts() {
        assert_eq!(Value::Int(1).count(), 1);
        assert_eq!(Value::List(vec![Value::Int(1), Value::Int(2)]).count(), 2);
        assert_eq!(Value::Float(1.0).to_json(), json!(1.0));
        assert_eq!(Value::Exists(false).to_json(), json!(false));
    }
}
