//! Parsing a filter tree from JSON, within the depth and size limits.

use serde_json::{Map, Value as Json};

use super::error::{child, index, quote, suggest, FilterError, FilterErrorKind};
use super::field::{Column, Field, Op, METADATA_PREFIX};
use super::value::{check_value, describe};
use super::{Filter, Predicate, MAX_DEPTH, MAX_METADATA_KEY_LEN, MAX_NODES, MAX_TOTAL_VALUES};

/// Keys that make an object a branch.
const BRANCH_KEYS: [&str; 3] = ["and", "or", "not"];
/// Keys of a predicate object.
const LEAF_KEYS: [&str; 3] = ["field", "op", "value"];

/// Parses a whole filter; see [`Filter::parse`].
pub(crate) fn parse(json: &Json, pointer: &str) -> Result<Filter, FilterError> {
    Parser::default().node(json, pointer, 1)
}

/// Running totals across one filter.
#[derive(Default)]
struct Parser {
    nodes: usize,
    values: usize,
}

impl Parser {
    fn node(&mut self, json: &Json, ptr: &str, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError::new(
                FilterErrorKind::TooDeep,
                ptr,
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(FilterError::too_large(
                ptr,
                format!("a filter may have at most {MAX_NODES} predicates and branches"),
            ));
        }
        let Json::Object(obj) = json else {
            return Err(FilterError::malformed(
                ptr,
                format!(
                    "expected an object: a predicate {{\"field\",\"op\",\"value\"}} \
                     or one of {{\"and\":[...]}}, {{\"or\":[...]}}, {{\"not\":{{...}}}}; got {}",
                    describe(json)
                ),
            ));
        };
        match obj.keys().find(|k| BRANCH_KEYS.contains(&k.as_str())) {
            Some(key) => self.branch(obj, key, ptr, depth),
            None => self.leaf(obj, ptr),
        }
    }

    fn branch(
        &mut self,
        obj: &Map<String, Json>,
        key: &str,
        ptr: &str,
        depth: usize,
    ) -> Result<Filter, FilterError> {
        if let Some(other) = obj.keys().find(|k| k.as_str() != key) {
            return Err(FilterError::malformed(
                &child(ptr, other),
                format!(
                    "\"{key}\" must be the only key of its object, but {} is there too",
                    quote(other)
                ),
            ));
        }
        let ptr = child(ptr, key);
        let inner = obj.get(key).unwrap_or(&Json::Null);
        if key == "not" {
            return Ok(Filter::Not(Box::new(self.node(inner, &ptr, depth + 1)?)));
        }
        let Json::Array(items) = inner else {
            return Err(FilterError::malformed(
                &ptr,
                format!("\"{key}\" takes an array of filters, got {}", describe(inner)),
            ));
        };
        if items.is_empty() {
            return Err(FilterError::malformed(
                &ptr,
                format!("\"{key}\" needs at least one filter"),
            ));
        }
        let children = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, &index(&ptr, i), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if key == "and" {
            Filter::And(children)
        } else {
            Filter::Or(children)
        })
    }

    fn leaf(&mut self, obj: &Map<String, Json>, ptr: &str) -> Result<Filter, FilterError> {
        if obj.is_empty() {
            return Err(FilterError::malformed(
                ptr,
                "empty object: expected a predicate {\"field\",\"op\",\"value\"} or one of and/or/not",
            ));
        }
        if let Some(key) = obj.keys().find(|k| !LEAF_KEYS.contains(&k.as_str())) {
            let hint = suggest(key, LEAF_KEYS.into_iter().chain(BRANCH_KEYS))
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            return Err(FilterError::malformed(
                &child(ptr, key),
                format!(
                    "unknown key {}{hint}; a predicate has \"field\", \"op\" and \"value\", \
                     a branch one of \"and\", \"or\", \"not\"",
                    quote(key)
                ),
            ));
        }
        let field_name = required_str(obj, "field", ptr)?;
        let field = parse_field(field_name, &child(ptr, "field"))?;
        let op_name = required_str(obj, "op", ptr)?;
        let op = parse_op(op_name, &child(ptr, "op"))?;
        let kind = field.kind();
        if !op.applies_to(kind) {
            return Err(FilterError::wrong_type(
                &child(ptr, "op"),
                format!(
                    "operator \"{op}\" does not apply to {} field \"{field}\"; it takes: {}",
                    kind.name(),
                    Op::names_for(kind)
                ),
            ));
        }
        let Some(raw) = obj.get("value") else {
            return Err(FilterError::malformed(
                ptr,
                "predicate has no \"value\" (for \"exists\" it is true or false)",
            ));
        };
        let remaining = MAX_TOTAL_VALUES.saturating_sub(self.values);
        let value = check_value(&field, op, raw, &child(ptr, "value"), remaining)?;
        self.values += value.count();
        Ok(Filter::Leaf(Predicate { field, op, value }))
    }
}

/// A string member of a predicate that must be there.
fn required_str<'a>(obj: &'a Map<String, Json>, key: &str, ptr: &str) -> Result<&'a str, FilterError> {
    match obj.get(key) {
        Some(Json::String(s)) => Ok(s),
        Some(other) => Err(FilterError::malformed(
            &child(ptr, key),
            format!("\"{key}\" must be a string, got {}", describe(other)),
        )),
        None => Err(FilterError::malformed(
            ptr,
            format!("predicate has no \"{key}\""),
        )),
    }
}

/// Resolves a field name; `ptr` points at the name.
pub(crate) fn parse_field(name: &str, ptr: &str) -> Result<Field, FilterError> {
    if let Some(col) = Column::parse(name) {
        return Ok(Field::Column(col));
    }
    let unknown = |message: String| FilterError::new(FilterErrorKind::UnknownField, ptr, message);
    if let Some(key) = name.strip_prefix(METADATA_PREFIX) {
        return if Field::is_valid_metadata_key(key) {
            Ok(Field::Metadata(key.to_owned()))
        } else {
            Err(unknown(format!(
                "invalid metadata key {}: a key is 1 to {MAX_METADATA_KEY_LEN} characters \
                 of A-Z a-z 0-9 _ . -",
                quote(key)
            )))
        };
    }
    if name == "metadata" {
        return Err(unknown(
            "field \"metadata\" needs a key, e.g. \"metadata.user\"".to_owned(),
        ));
    }
    let names = Column::ALL.iter().map(|c| c.name()).chain(["ts"]);
    let hint = suggest(name, names)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default();
    Err(unknown(format!(
        "unknown field {}{hint}; known fields: {}",
        quote(name),
        Field::known_names()
    )))
}

/// Resolves an operator name; `ptr` points at the name.
pub(crate) fn parse_op(name: &str, ptr: &str) -> Result<Op, FilterError> {
    Op::parse(name).ok_or_else(|| {
        let hint = suggest(name, Op::ALL.iter().map(|o| o.name()))
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        let known: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        FilterError::new(
            FilterErrorKind::UnknownOperator,
            ptr,
            format!(
                "unknown operator {}{hint}; known operators: {}",
                quote(name),
                known.join(", ")
            ),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
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
        let e = check(deep, FilterErrorKind::TooDeep, &format!("/filter{}", "/not".repeat(8)));
        assert!(e.message.contains("deeper than 8"), "{e}");
    }

    #[test]
    fn unknown_field_names_the_field_and_suggests() {
        let e = check(
            json!({"and": [eq_leaf(), {"field": "modle", "op": "eq", "value": "x"}]}),
            FilterErrorKind::UnknownField,
            "/filter/and/1/field",
        );
        assert!(e.message.starts_with("unknown field \"modle\" (did you mean \"model\"?)"), "{e}");
        assert!(e.message.contains("known fields: id, ts, started_at"), "{e}");
        check(json!({"field": "metadata", "op": "eq", "value": 1}), FilterErrorKind::UnknownField, "/filter/field");
        check(json!({"field": "metadata.a b", "op": "eq", "value": 1}), FilterErrorKind::UnknownField, "/filter/field");
        check(json!({"field": "metadata.", "op": "eq", "value": 1}), FilterErrorKind::UnknownField, "/filter/field");
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
        assert!(e.message.contains("does not apply to text field \"model\""), "{e}");
        check(json!({"field": "status", "op": "eq", "value": "200"}), FilterErrorKind::WrongType, "/filter/value");
        check(json!({"field": "status", "op": "in", "value": [200, "x"]}), FilterErrorKind::WrongType, "/filter/value/1");
        check(json!({"field": "model", "op": "eq", "value": null}), FilterErrorKind::WrongType, "/filter/value");
        check(json!({"field": "model", "op": "in", "value": "x"}), FilterErrorKind::WrongType, "/filter/value");
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
        assert_eq!(Filter::parse(&json!({ "and": items }), "/filter").unwrap().node_count(), MAX_NODES);
    }

    #[test]
    fn too_large_lists_and_totals() {
        let list: Vec<i64> = (0..1001).collect();
        check(json!({"field": "status", "op": "in", "value": list}), FilterErrorKind::TooLarge, "/filter/value");
        let list: Vec<i64> = (0..1000).collect();
        let leaves: Vec<Json> = (0..11)
            .map(|_| json!({"field": "status", "op": "not_in", "value": list}))
            .collect();
        let e = check(json!({ "or": leaves }), FilterErrorKind::TooLarge, "/filter/or/10/value");
        assert!(e.message.contains("10000"), "{e}");
        let long = "x".repeat(MAX_TEXT_LEN + 1);
        check(json!({"field": "error", "op": "contains", "value": long}), FilterErrorKind::TooLarge, "/filter/value");
        check(json!({"field": "metadata.k", "op": "eq", "value": long}), FilterErrorKind::TooLarge, "/filter/value");
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
            (json!({"field": 3, "op": "eq", "value": "x"}), "/filter/field"),
            (json!({"field": "model", "op": ["eq"], "value": "x"}), "/filter/op"),
            (json!({"field": "model", "op": "eq", "value": "x", "a/b": 1}), "/filter/a~1b"),
            (json!({"field": "model", "op": "in", "value": []}), "/filter/value"),
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
        let Filter::Or(children) = &f else { panic!("{f:?}") };
        assert_eq!(children.len(), 2);
        assert!(matches!(&children[0], Filter::Leaf(p) if p.value == Value::Int(500)));
        assert!(matches!(&children[1], Filter::And(c) if matches!(c[1], Filter::Not(_))));
    }
}
