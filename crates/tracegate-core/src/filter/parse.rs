//! Parsing a filter tree from JSON, within the depth and size limits.

use serde_json::{Map, Value as Json};

use super::error::{child, index, quote, suggest, FilterError, FilterErrorKind};
use super::field::{Column, Field, Op, FEEDBACK_SCORE, METADATA_PREFIX};
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
                format!(
                    "\"{key}\" takes an array of filters, got {}",
                    describe(inner)
                ),
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
        if !field.takes(op) {
            return Err(FilterError::wrong_type(
                &child(ptr, "op"),
                format!(
                    "operator \"{op}\" does not apply to {} field \"{field}\"; it takes: {}",
                    field.kind().name(),
                    field.op_names()
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
fn required_str<'a>(
    obj: &'a Map<String, Json>,
    key: &str,
    ptr: &str,
) -> Result<&'a str, FilterError> {
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
    if name == FEEDBACK_SCORE {
        return Ok(Field::FeedbackScore);
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
    let names = Column::ALL
        .iter()
        .map(|c| c.name())
        .chain(["ts", FEEDBACK_SCORE]);
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
mod tests;
