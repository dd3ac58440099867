//! Property tests: the parser never panics, and valid trees round-trip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};

use super::*;
use crate::trace::{Outcome, Provider};

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        4 => prop::sample::select(Column::ALL.to_vec()).prop_map(Field::Column),
        1 => "[A-Za-z0-9_.-]{1,64}".prop_map(Field::Metadata),
        1 => Just(Field::FeedbackScore),
    ]
}

/// One valid, already normalised scalar for `field op`.
fn scalar(field: &Field, op: Op) -> BoxedStrategy<Value> {
    let whole = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
    let text = |re: &'static str| re.prop_map(Value::Text).boxed();
    match field {
        Field::Column(Column::Id) if whole => any::<u128>()
            .prop_map(|n| Value::Text(uuid::Uuid::from_u128(n).hyphenated().to_string()))
            .boxed(),
        Field::Column(Column::Id) => text("[0-9a-f-]{0,36}"),
        Field::Column(Column::Provider) if whole => {
            prop::sample::select(vec![Provider::Anthropic, Provider::Openai])
                .prop_map(|p| Value::Text(p.as_str().to_owned()))
                .boxed()
        }
        Field::Column(Column::Outcome) if whole => prop::sample::select(Outcome::ALL.to_vec())
            .prop_map(|o| Value::Text(o.as_str().to_owned()))
            .boxed(),
        Field::Column(col) => match col.kind() {
            FieldKind::Text => text("(?s).{0,40}"),
            FieldKind::Int => any::<i64>().prop_map(Value::Int).boxed(),
            FieldKind::Float => finite_f64().prop_map(Value::Float).boxed(),
            FieldKind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            FieldKind::Time => (MIN_TIME_MS..=MAX_TIME_MS).prop_map(Value::TimeMs).boxed(),
            FieldKind::Json => unreachable!("columns are never json"),
        },
        Field::FeedbackScore => finite_f64().prop_map(Value::Float).boxed(),
        Field::Metadata(_) => match op {
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => prop_oneof![
                any::<i64>().prop_map(Value::Int),
                finite_f64().prop_map(Value::Float),
            ]
            .boxed(),
            Op::Contains | Op::StartsWith => text("(?s).{0,40}"),
            _ => prop_oneof![
                "(?s).{0,40}".prop_map(Value::Text),
                any::<i64>().prop_map(Value::Int),
                finite_f64().prop_map(Value::Float),
                any::<bool>().prop_map(Value::Bool),
            ]
            .boxed(),
        },
    }
}

fn predicate() -> impl Strategy<Value = Predicate> {
    field()
        .prop_flat_map(|field| {
            let ops: Vec<Op> = Op::ALL.into_iter().filter(|op| field.takes(*op)).collect();
            (Just(field), prop::sample::select(ops))
        })
        .prop_flat_map(|(field, op)| {
            let value = match op {
                Op::Exists => any::<bool>().prop_map(Value::Exists).boxed(),
                Op::In | Op::NotIn => prop::collection::vec(scalar(&field, op), 1..6)
                    .prop_map(Value::List)
                    .boxed(),
                _ => scalar(&field, op),
            };
            (Just(field), Just(op), value)
        })
        .prop_map(|(field, op, value)| Predicate { field, op, value })
}

/// Valid trees: depth at most 8 (7 branch levels over a predicate).
fn valid_filter() -> impl Strategy<Value = Filter> {
    predicate()
        .prop_map(Filter::Leaf)
        .prop_recursive(7, 64, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..5).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 1..5).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .prop_filter("within the size limits", |f| {
            f.node_count() <= MAX_NODES && f.depth() <= MAX_DEPTH
        })
}

/// Trees as deep as allowed: a chain of up to 7 branches over a predicate,
/// with a sibling predicate beside each `and`/`or` level.
fn deep_filter() -> impl Strategy<Value = Filter> {
    (
        predicate(),
        prop::collection::vec((0..3u8, predicate()), 0..=MAX_DEPTH - 1),
    )
        .prop_map(|(base, levels)| {
            levels
                .into_iter()
                .fold(Filter::Leaf(base), |inner, (kind, sibling)| {
                    let sibling = Filter::Leaf(sibling);
                    match kind {
                        0 => Filter::Not(Box::new(inner)),
                        1 => Filter::And(vec![inner, sibling]),
                        _ => Filter::Or(vec![sibling, inner]),
                    }
                })
        })
}

/// Strings that are often meaningful to the parser.
fn near_string() -> impl Strategy<Value = String> {
    let mut words: Vec<String> = Column::ALL.iter().map(|c| c.name().to_owned()).collect();
    words.extend(Op::ALL.iter().map(|o| o.name().to_owned()));
    words.extend(
        [
            "and",
            "or",
            "not",
            "field",
            "op",
            "value",
            "ts",
            "metadata",
            "metadata.k",
            "metadata.",
            "anthropic",
            "openai",
            "ok",
            "timeout",
            "2025-01-01",
            "2025-01-01T00:00:00Z",
            "0192f0c1-7d3e-7a4b-9c2d-1e2f3a4b5c6d",
            "",
        ]
        .map(str::to_owned),
    );
    prop_oneof![3 => prop::sample::select(words), 1 => "(?s).{0,12}"]
}

fn arbitrary_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        finite_f64().prop_map(Json::from),
        near_string().prop_map(Json::String),
    ];
    leaf.prop_recursive(12, 96, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec((near_string(), inner), 0..5)
                .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One edit of a JSON tree, applied at the node a path leads to.
#[derive(Debug, Clone)]
enum Edit {
    /// Put this value in place of the node.
    Replace(Json),
    /// Drop the n-th member of an object or array (modulo its length).
    Remove(usize),
    /// Add a member to an object, or an item to an array.
    Insert(String, Json),
}

fn small_json() -> impl Strategy<Value = Json> {
    prop_oneof![
        4 => near_string().prop_map(Json::String),
        2 => any::<i64>().prop_map(Json::from),
        1 => finite_f64().prop_map(Json::from),
        1 => any::<bool>().prop_map(Json::Bool),
        1 => Just(Json::Null),
        1 => Just(json!([])),
        1 => Just(json!({})),
        2 => arbitrary_json(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => small_json().prop_map(Edit::Replace),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => (near_string(), small_json()).prop_map(|(k, v)| Edit::Insert(k, v)),
    ]
}

/// Follows `path` (indices modulo the number of children) as far as it
/// goes, then applies `edit` there.
fn mutate(json: &mut Json, path: &[usize], edit: Edit) {
    let Some((i, rest)) = path.split_first() else {
        return apply(json, edit);
    };
    match json {
        Json::Array(items) if !items.is_empty() => {
            let n = items.len();
            mutate(&mut items[i % n], rest, edit);
        }
        Json::Object(map) if !map.is_empty() => {
            let n = map.len();
            if let Some(child) = map.values_mut().nth(i % n) {
                mutate(child, rest, edit);
            }
        }
        _ => apply(json, edit),
    }
}

fn apply(json: &mut Json, edit: Edit) {
    match (json, edit) {
        (json, Edit::Replace(with)) => *json = with,
        (Json::Array(items), Edit::Remove(i)) if !items.is_empty() => {
            let n = items.len();
            items.remove(i % n);
        }
        (Json::Object(map), Edit::Remove(i)) if !map.is_empty() => {
            let n = map.len();
            if let Some(key) = map.keys().nth(i % n).cloned() {
                map.shift_remove(&key);
            }
        }
        (Json::Array(items), Edit::Insert(_, v)) => items.push(v),
        (Json::Object(map), Edit::Insert(k, v)) => {
            map.insert(k, v);
        }
        (json, _) => *json = Json::Null,
    }
}

/// What must hold for any input: no panic, errors located under the prefix,
/// accepted filters within limits and stable under a round trip.
fn check_any(json: &Json) -> Result<(), TestCaseError> {
    match Filter::parse(json, "/filter") {
        Ok(f) => {
            prop_assert!(f.depth() <= MAX_DEPTH);
            prop_assert!(f.node_count() <= MAX_NODES);
            prop_assert_eq!(Filter::parse(&f.to_json(), "/filter"), Ok(f));
        }
        Err(e) => {
            prop_assert!(e.pointer.starts_with("/filter"), "{}", e.pointer);
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_trees_round_trip(f in prop_oneof![valid_filter(), deep_filter()]) {
        prop_assert_eq!(Filter::parse(&f.to_json(), "/filter"), Ok(f));
    }

    #[test]
    fn arbitrary_json_never_panics(json in arbitrary_json()) {
        check_any(&json)?;
    }

    #[test]
    fn near_valid_filters_never_panic(
        f in prop_oneof![valid_filter(), deep_filter()],
        edits in prop::collection::vec(
            (prop::collection::vec(any::<usize>(), 0..10), edit()), 1..3),
    ) {
        let mut json = f.to_json();
        for (path, edit) in edits {
            mutate(&mut json, &path, edit);
        }
        check_any(&json)?;
    }

    #[test]
    fn simple_params_never_panic(
        pairs in prop::collection::vec(
            (prop::sample::select(SIMPLE_PARAMS.to_vec()), near_string()), 0..5),
    ) {
        let params: Vec<(String, String)> =
            pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        match from_simple_params(&params) {
            Ok(Some(f)) => prop_assert_eq!(Filter::parse(&f.to_json(), "/filter"), Ok(f)),
            Ok(None) => prop_assert!(params.is_empty()),
            Err(e) => prop_assert!(e.pointer.starts_with("/query/"), "{}", e.pointer),
        }
    }
}

#[test]
fn mutate_replaces_the_chosen_node() {
    let mut j = json!({"and": [1, {"not": 2}]});
    mutate(&mut j, &[0, 3, 0], Edit::Replace(json!("x")));
    assert_eq!(j, json!({"and": [1, {"not": "x"}]}));
    mutate(&mut j, &[0, 1], Edit::Insert("field".into(), json!(1)));
    assert_eq!(j, json!({"and": [1, {"not": "x", "field": 1}]}));
    mutate(&mut j, &[0], Edit::Remove(0));
    assert_eq!(j, json!({"and": [{"not": "x", "field": 1}]}));
    mutate(&mut j, &[], Edit::Replace(json!(null)));
    assert_eq!(j, Json::Null);
}
