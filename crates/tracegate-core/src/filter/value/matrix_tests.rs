//! Every operator against every field type, through the full parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::super::{Filter, FilterErrorKind, Predicate};
use super::*;

const ID: &str = "0192f0c1-7d3e-7a4b-9c2d-1e2f3a4b5c6d";
const JAN_1_2025: i64 = 1_735_689_600_000;

fn parse(field: &str, op: &str, value: Json) -> Result<Filter, FilterError> {
    Filter::parse(
        &json!({"field": field, "op": op, "value": value}),
        "/filter",
    )
}

fn value_of(field: &str, op: &str, value: Json) -> Value {
    match parse(field, op, value) {
        Ok(Filter::Leaf(Predicate { value, .. })) => value,
        other => panic!("{field} {op}: {other:?}"),
    }
}

fn refused(field: &str, op: &str, value: Json, kind: FilterErrorKind, pointer: &str) -> String {
    let e = parse(field, op, value.clone()).unwrap_err();
    assert_eq!(
        (e.kind, e.pointer.as_str()),
        (kind, pointer),
        "{field} {op} {value}: {e}"
    );
    e.message
}

/// A value fitting `field op`, and what it normalises to.
fn sample(field: &Field, op: Op) -> (Json, Value) {
    let scalar = || match field {
        Field::Column(Column::Id)
            if op == Op::Eq || op == Op::Ne || op == Op::In || op == Op::NotIn =>
        {
            (json!(ID.to_uppercase()), Value::Text(ID.into()))
        }
        Field::Column(Column::Provider) => (json!("openai"), Value::Text("openai".into())),
        Field::Column(Column::Outcome) => (json!("timeout"), Value::Text("timeout".into())),
        _ => match field.kind() {
            FieldKind::Text => (json!("abc"), Value::Text("abc".into())),
            FieldKind::Int => (json!(42), Value::Int(42)),
            FieldKind::Float => (json!(42), Value::Float(42.0)),
            FieldKind::Bool => (json!(false), Value::Bool(false)),
            FieldKind::Time => (json!("2025-01-01T00:00:00Z"), Value::TimeMs(JAN_1_2025)),
            FieldKind::Json => match op {
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => (json!(2.5), Value::Float(2.5)),
                Op::Contains | Op::StartsWith => (json!("abc"), Value::Text("abc".into())),
                _ => (json!(true), Value::Bool(true)),
            },
        },
    };
    match op {
        Op::Exists => (json!(true), Value::Exists(true)),
        Op::In | Op::NotIn => {
            let (j, v) = scalar();
            (json!([j.clone(), j]), Value::List(vec![v.clone(), v]))
        }
        _ => scalar(),
    }
}

#[test]
fn every_operator_on_every_field() {
    let fields = Column::ALL
        .into_iter()
        .map(Field::Column)
        .chain([Field::Metadata("team.name".into())]);
    let mut accepted = 0;
    for field in fields {
        for op in Op::ALL {
            let (raw, expected) = sample(&field, op);
            let name = field.name();
            if op.applies_to(field.kind()) {
                assert_eq!(value_of(&name, op.name(), raw), expected, "{name} {op}");
                accepted += 1;
            } else {
                let msg = refused(
                    &name,
                    op.name(),
                    raw,
                    FilterErrorKind::WrongType,
                    "/filter/op",
                );
                assert!(msg.contains(&format!("\"{op}\" does not apply")), "{msg}");
            }
        }
    }
    // 13 text x 7, 6 int x 9, 3 float x 9, 1 bool x 5, 1 time x 9, 1 metadata x 11.
    assert_eq!(accepted, 13 * 7 + 6 * 9 + 3 * 9 + 5 + 9 + 11);
}

#[test]
fn values_of_the_wrong_type_are_refused() {
    let cases = [
        ("model", "eq", json!(1)),
        ("model", "contains", json!(true)),
        ("status", "eq", json!("200")),
        ("status", "gt", json!(1.5)),
        ("status", "lt", json!(9_223_372_036_854_775_808_u64)),
        ("cost_usd", "gte", json!("1.5")),
        ("cost_usd", "eq", json!(f64::NAN)),
        ("cost_usd", "eq", json!(f64::INFINITY)),
        ("stream", "eq", json!("true")),
        ("stream", "ne", json!(1)),
        ("started_at", "gte", json!(true)),
        ("started_at", "gte", json!(1.5)),
        ("started_at", "gte", json!("yesterday")),
        ("started_at", "lt", json!(MAX_TIME_MS + 1)),
        ("started_at", "gt", json!(MIN_TIME_MS - 1)),
        ("metadata.k", "eq", json!({"a": 1})),
        ("metadata.k", "eq", json!([1])),
        ("model", "exists", json!("yes")),
        ("model", "exists", json!(null)),
    ];
    for (field, op, value) in cases {
        refused(
            field,
            op,
            value,
            FilterErrorKind::WrongType,
            "/filter/value",
        );
    }
}

#[test]
fn time_accepts_rfc3339_dates_and_epoch_ms() {
    assert_eq!(
        value_of("ts", "gte", json!("2025-01-01T01:00:00+01:00")),
        Value::TimeMs(JAN_1_2025)
    );
    assert_eq!(
        value_of("ts", "gte", json!("2025-01-01")),
        Value::TimeMs(JAN_1_2025)
    );
    assert_eq!(
        value_of("started_at", "lt", json!(JAN_1_2025)),
        Value::TimeMs(JAN_1_2025)
    );
    assert_eq!(value_of("started_at", "lt", json!(-1)), Value::TimeMs(-1));
    assert_eq!(
        value_of("started_at", "in", json!(["1970-01-01T00:00:00.005Z", 7])),
        Value::List(vec![Value::TimeMs(5), Value::TimeMs(7)])
    );
    let msg = refused(
        "ts",
        "eq",
        json!("2025-02-30"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    assert!(msg.contains("RFC 3339"), "{msg}");
}

#[test]
fn numbers_widen_only_where_lossless() {
    assert_eq!(value_of("duration_ms", "gt", json!(5)), Value::Float(5.0));
    assert_eq!(value_of("ttft_ms", "lt", json!(0.25)), Value::Float(0.25));
    assert_eq!(value_of("total_tokens", "gte", json!(-3)), Value::Int(-3));
    assert_eq!(value_of("metadata.n", "gt", json!(3)), Value::Int(3));
    assert_eq!(value_of("metadata.n", "gt", json!(3.0)), Value::Float(3.0));
    assert_eq!(
        value_of("metadata.n", "eq", json!(u64::MAX)),
        Value::Float(u64::MAX as f64)
    );
}

#[test]
fn metadata_values_and_operator_narrowing() {
    assert_eq!(
        value_of("metadata.user-id", "eq", json!("u1")),
        Value::Text("u1".into())
    );
    assert_eq!(
        value_of("metadata.a.b_c", "ne", json!(false)),
        Value::Bool(false)
    );
    assert_eq!(
        value_of("metadata.x", "not_in", json!(["a", 1, 2.5, true])),
        Value::List(vec![
            Value::Text("a".into()),
            Value::Int(1),
            Value::Float(2.5),
            Value::Bool(true)
        ])
    );
    let msg = refused(
        "metadata.x",
        "gt",
        json!("a"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    assert!(msg.contains("needs a number"), "{msg}");
    let msg = refused(
        "metadata.x",
        "starts_with",
        json!(1),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    assert!(msg.contains("needs a string"), "{msg}");
    refused(
        "metadata.x",
        "in",
        json!(["a", [1]]),
        FilterErrorKind::WrongType,
        "/filter/value/1",
    );
    refused(
        &format!("metadata.{}", "k".repeat(65)),
        "eq",
        json!(1),
        FilterErrorKind::UnknownField,
        "/filter/field",
    );
}

#[test]
fn ids_are_canonical_uuids() {
    let simple = ID.replace('-', "");
    assert_eq!(value_of("id", "eq", json!(simple)), Value::Text(ID.into()));
    assert_eq!(
        value_of("id", "starts_with", json!("0192F0C1")),
        Value::Text("0192f0c1".into())
    );
    let msg = refused(
        "id",
        "eq",
        json!("0192f0c1"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    assert!(msg.contains("takes a UUID"), "{msg}");
    refused(
        "id",
        "contains",
        json!("xyz"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    refused(
        "id",
        "in",
        json!([ID, "nope"]),
        FilterErrorKind::WrongType,
        "/filter/value/1",
    );
}

#[test]
fn provider_and_outcome_values_are_checked() {
    for o in crate::trace::Outcome::ALL {
        assert_eq!(
            value_of("outcome", "eq", json!(o.as_str())),
            Value::Text(o.as_str().into())
        );
    }
    let msg = refused(
        "provider",
        "eq",
        json!("azure"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    assert!(
        msg.contains("unknown provider \"azure\"; known providers: anthropic, openai"),
        "{msg}"
    );
    let msg = refused(
        "outcome",
        "not_in",
        json!(["ok", "fine"]),
        FilterErrorKind::WrongType,
        "/filter/value/1",
    );
    assert!(msg.contains("timeout, cancelled"), "{msg}");
    refused(
        "provider",
        "ne",
        json!("Anthropic"),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    // Substring tests are not restricted to whole names.
    assert_eq!(
        value_of("outcome", "contains", json!("_error")),
        Value::Text("_error".into())
    );
}
