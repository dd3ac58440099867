//! Tree shapes, limits and error locations of the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::super::{Value, MAX_TEXT_LEN};
use super::*;

fn err(json: Json) -> FilterError {
    Filter::parse(&json, "/filter").unwrap_err()
}

fn check(json: Json, kind: FilterErrorKind, pointer: &str) -> FilterError {
    let e = err(json);
    assert_eq!((e.kind, e.pointer.as_str()), (kind, pointer), "{e}");
    e
}

fn eq_leaf() -> Json {
    json!({"field": "stream", "op": "eq", "value": true})
}

/// `levels` branches (alternating not / and / or) around one predicate.
fn nested(levels: usize) -> Json {
    (0..levels).fold(eq_leaf(), |inner, i| match i % 3 {
        0 => json!({ "not": inner }),
        1 => json!({ "and": [inner] }),
        _ => json!({ "or": [eq_leaf(), inner] }),
    })
}

#[test]
fn depth_eight_is_accepted_and_nine_refused() {
    let f = Filter::parse(&nested(7), "/filter").unwrap();
    assert_eq!(f.depth(), MAX_DEPTH);
    let e = check(nested(8), FilterErrorKind::TooDeep, &deep_pointer(8));
    assert!(e.message.contains("8 levels"), "{e}");
    assert_eq!(Filter::parse(&eq_leaf(), "/filter").unwrap().depth(), 1);
}

/// Pointer of the predicate under `levels` branches built by `nested`.
fn deep_pointer(levels: usize) -> String {
    let mut ptr = "/filter".to_owned();
    for i in (0..levels).rev() {
        ptr.push_str(match i % 3 {
            0 => "/not",
            1 => "/and/0",
            _ => "/or/1",
        });
    }
    ptr
}

#[test]
fn very_deep_input_stops_at_the_limit() {
    let deep = (0..1000).fold(eq_leaf(), |inner, _| json!({ "not": inner }));
    let e = check(
        deep,
        FilterErrorKind::TooDeep,
        &format!("/filter{}", "/not".repeat(8)),
    );
    assert!(e.message.contains("deeper than 8"), "{e}");
}

#[test]
fn unknown_field_names_the_field_and_suggests() {
    let e = check(
        json!({"and": [eq_leaf(), {"field": "modle", "op": "eq", "value": "x"}]}),
        FilterErrorKind::UnknownField,
        "/filter/and/1/field",
    );
    assert!(
        e.message
            .starts_with("unknown field \"modle\" (did you mean \"model\"?)"),
        "{e}"
    );
    assert!(
        e.message.contains("known fields: id, ts, started_at"),
        "{e}"
    );
    check(
        json!({"field": "metadata", "op": "eq", "value": 1}),
        FilterErrorKind::UnknownField,
        "/filter/field",
    );
    check(
        json!({"field": "metadata.a b", "op": "eq", "value": 1}),
        FilterErrorKind::UnknownField,
        "/filter/field",
    );
    check(
        json!({"field": "metadata.", "op": "eq", "value": 1}),
        FilterErrorKind::UnknownField,
        "/filter/field",
    );
}

#[test]
fn unknown_operator() {
    let e = check(
        json!({"or": [eq_leaf(), {"not": {"field": "model", "op": "like", "value": "x"}}]}),
        FilterErrorKind::UnknownOperator,
        "/filter/or/1/not/op",
    );
    assert!(e.message.contains("unknown operator \"like\""), "{e}");
    assert!(e.message.contains("starts_with, exists"), "{e}");
    let e = err(json!({"field": "model", "op": "startswith", "value": "x"}));
    assert!(e.message.contains("did you mean \"starts_with\""), "{e}");
}

#[test]
fn wrong_type_points_at_op_or_value() {
    let e = check(
        json!({"field": "model", "op": "gt", "value": "x"}),
        FilterErrorKind::WrongType,
        "/filter/op",
    );
    assert!(
        e.message.contains("does not apply to text field \"model\""),
        "{e}"
    );
    check(
        json!({"field": "status", "op": "eq", "value": "200"}),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    check(
        json!({"field": "status", "op": "in", "value": [200, "x"]}),
        FilterErrorKind::WrongType,
        "/filter/value/1",
    );
    check(
        json!({"field": "model", "op": "eq", "value": null}),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
    check(
        json!({"field": "model", "op": "in", "value": "x"}),
        FilterErrorKind::WrongType,
        "/filter/value",
    );
}

#[test]
fn too_large_node_count() {
    let items: Vec<Json> = (0..MAX_NODES).map(|_| eq_leaf()).collect();
    // The `and` itself is node 1, so the last item is node 257.
    let e = check(
        json!({ "and": items }),
        FilterErrorKind::TooLarge,
        &format!("/filter/and/{}", MAX_NODES - 1),
    );
    assert!(e.message.contains("256"), "{e}");
    let items: Vec<Json> = (0..MAX_NODES - 1).map(|_| eq_leaf()).collect();
    assert_eq!(
        Filter::parse(&json!({ "and": items }), "/filter")
            .unwrap()
            .node_count(),
        MAX_NODES
    );
}

#[test]
fn too_large_lists_and_totals() {
    let list: Vec<i64> = (0..1001).collect();
    check(
        json!({"field": "status", "op": "in", "value": list}),
        FilterErrorKind::TooLarge,
        "/filter/value",
    );
    let list: Vec<i64> = (0..1000).collect();
    let leaves: Vec<Json> = (0..11)
        .map(|_| json!({"field": "status", "op": "not_in", "value": list}))
        .collect();
    let e = check(
        json!({ "or": leaves }),
        FilterErrorKind::TooLarge,
        "/filter/or/10/value",
    );
    assert!(e.message.contains("10000"), "{e}");
    let long = "x".repeat(MAX_TEXT_LEN + 1);
    check(
        json!({"field": "error", "op": "contains", "value": long}),
        FilterErrorKind::TooLarge,
        "/filter/value",
    );
    check(
        json!({"field": "metadata.k", "op": "eq", "value": long}),
        FilterErrorKind::TooLarge,
        "/filter/value",
    );
}

#[test]
fn malformed_shapes() {
    let cases = [
        (json!([]), "/filter"),
        (json!("model"), "/filter"),
        (json!({}), "/filter"),
        (json!({"and": []}), "/filter/and"),
        (json!({"or": []}), "/filter/or"),
        (json!({"and": eq_leaf()}), "/filter/and"),
        (json!({"not": []}), "/filter/not"),
        (json!({"not": null}), "/filter/not"),
        (json!({"and": [eq_leaf()], "or": [eq_leaf()]}), "/filter/or"),
        (json!({"not": eq_leaf(), "field": "model"}), "/filter/field"),
        (json!({"field": "model", "op": "eq"}), "/filter"),
        (json!({"op": "eq", "value": "x"}), "/filter"),
        (json!({"field": "model", "value": "x"}), "/filter"),
        (
            json!({"field": 3, "op": "eq", "value": "x"}),
            "/filter/field",
        ),
        (
            json!({"field": "model", "op": ["eq"], "value": "x"}),
            "/filter/op",
        ),
        (
            json!({"field": "model", "op": "eq", "value": "x", "a/b": 1}),
            "/filter/a~1b",
        ),
        (
            json!({"field": "model", "op": "in", "value": []}),
            "/filter/value",
        ),
    ];
    for (json, pointer) in cases {
        check(json, FilterErrorKind::Malformed, pointer);
    }
    let e = err(json!({"AND": [eq_leaf()]}));
    assert!(e.message.contains("did you mean \"and\""), "{e}");
}

#[test]
fn pointer_prefix_is_a_parameter() {
    let e = Filter::parse(&json!({"not": {"field": "x", "op": "eq", "value": 1}}), "").unwrap_err();
    assert_eq!(e.pointer, "/not/field");
    let e = Filter::parse(&json!(1), "/body/filter").unwrap_err();
    assert_eq!(e.pointer, "/body/filter");
}

#[test]
fn branches_keep_their_order() {
    let f = Filter::parse(
        &json!({"or": [
            {"field": "status", "op": "eq", "value": 500},
            {"and": [{"field": "status", "op": "eq", "value": 429}, {"not": eq_leaf()}]},
        ]}),
        "/filter",
    )
    .unwrap();
    let Filter::Or(children) = &f else {
        panic!("{f:?}")
    };
    assert_eq!(children.len(), 2);
    assert!(matches!(&children[0], Filter::Leaf(p) if p.value == Value::Int(500)));
    assert!(matches!(&children[1], Filter::And(c) if matches!(c[1], Filter::Not(_))));
}
