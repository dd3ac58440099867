//! Checking predicate values against their field and operator, and
//! normalising them (times to epoch ms, ids to canonical UUIDs).

use chrono::{DateTime, NaiveDate};
use serde_json::Value as Json;
use uuid::Uuid;

use super::error::{index, quote, FilterError};
use super::field::{Column, Field, FieldKind, Op};
use super::{Value, MAX_LIST_LEN, MAX_TEXT_LEN, MAX_TOTAL_VALUES};
use crate::trace::{Outcome, Provider};

/// Earliest instant a filter may name: 0000-01-01T00:00:00Z.
pub const MIN_TIME_MS: i64 = -62_167_219_200_000;
/// Latest instant a filter may name: 9999-12-31T23:59:59.999Z.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// Checks `raw` as the value of `field op ...` and returns it normalised.
///
/// `remaining` is how many more values the whole filter may hold.
pub(crate) fn check_value(
    field: &Field,
    op: Op,
    raw: &Json,
    ptr: &str,
    remaining: usize,
) -> Result<Value, FilterError> {
    match op {
        Op::Exists => match raw {
            Json::Bool(b) => Ok(Value::Exists(*b)),
            other => Err(FilterError::wrong_type(
                ptr,
                format!("operator \"exists\" takes true or false, got {}", describe(other)),
            )),
        },
        Op::In | Op::NotIn => {
            let Json::Array(items) = raw else {
                return Err(FilterError::wrong_type(
                    ptr,
                    format!("operator \"{op}\" takes an array of values, got {}", describe(raw)),
                ));
            };
            if items.is_empty() {
                return Err(FilterError::malformed(
                    ptr,
                    format!("operator \"{op}\" needs at least one value"),
                ));
            }
            if items.len() > MAX_LIST_LEN {
                return Err(FilterError::too_large(
                    ptr,
                    format!(
                        "operator \"{op}\" takes at most {MAX_LIST_LEN} values, got {}",
                        items.len()
                    ),
                ));
            }
            if items.len() > remaining {
                return Err(too_many_values(ptr));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| scalar(field, op, item, &index(ptr, i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
        _ if remaining == 0 => Err(too_many_values(ptr)),
        _ => scalar(field, op, raw, ptr),
    }
}

fn too_many_values(ptr: &str) -> FilterError {
    FilterError::too_large(
        ptr,
        format!("a filter may hold at most {MAX_TOTAL_VALUES} values in all"),
    )
}

/// Checks one value (a whole value, or one item of an `in` list).
fn scalar(field: &Field, op: Op, raw: &Json, ptr: &str) -> Result<Value, FilterError> {
    if raw.is_null() {
        return Err(FilterError::wrong_type(
            ptr,
            "null is not a value; to match a missing field use {\"op\":\"exists\",\"value\":false}",
        ));
    }
    let col = match field {
        Field::Metadata(_) => return json_scalar(field, op, raw, ptr),
        Field::Column(col) => *col,
    };
    let expected = |what: &str| {
        FilterError::wrong_type(
            ptr,
            format!("field \"{field}\" takes {what}, got {}", describe(raw)),
        )
    };
    match col.kind() {
        FieldKind::Text => match raw {
            Json::String(s) => column_text(col, op, s, ptr),
            _ => Err(expected("a string")),
        },
        FieldKind::Int => match raw {
            Json::Number(n) => n.as_i64().map(Value::Int).ok_or_else(|| expected("an integer")),
            _ => Err(expected("an integer")),
        },
        FieldKind::Float => match raw {
            Json::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(expected("a finite number")),
            },
            _ => Err(expected("a number")),
        },
        FieldKind::Bool => match raw {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(expected("true or false")),
        },
        FieldKind::Time => time(field, raw, ptr),
        FieldKind::Json => json_scalar(field, op, raw, ptr),
    }
}

/// A text value of a fixed column: limited length, ids and enums validated.
fn column_text(col: Column, op: Op, s: &str, ptr: &str) -> Result<Value, FilterError> {
    if s.len() > MAX_TEXT_LEN {
        return Err(FilterError::too_large(
            ptr,
            format!("a text value may be at most {MAX_TEXT_LEN} bytes, got {}", s.len()),
        ));
    }
    let whole = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
    match col {
        Column::Id if whole => Uuid::parse_str(s)
            .map(|id| Value::Text(id.hyphenated().to_string()))
            .map_err(|_| {
                FilterError::wrong_type(ptr, format!("field \"id\" takes a UUID, got {}", quote(s)))
            }),
        Column::Id => {
            if s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                Ok(Value::Text(s.to_ascii_lowercase()))
            } else {
                Err(FilterError::wrong_type(
                    ptr,
                    format!("part of an id holds only hex digits and '-', got {}", quote(s)),
                ))
            }
        }
        Column::Provider if whole && Provider::parse(s).is_none() => Err(FilterError::wrong_type(
            ptr,
            format!("unknown provider {}; known providers: anthropic, openai", quote(s)),
        )),
        Column::Outcome if whole && Outcome::parse(s).is_none() => {
            let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            Err(FilterError::wrong_type(
                ptr,
                format!("unknown outcome {}; known outcomes: {}", quote(s), known.join(", ")),
            ))
        }
        _ => Ok(Value::Text(s.to_owned())),
    }
}

/// A time value: an RFC 3339 string, a `YYYY-MM-DD` date (midnight UTC) or epoch ms.
fn time(field: &Field, raw: &Json, ptr: &str) -> Result<Value, FilterError> {
    let ms = match raw {
        Json::String(s) => parse_time_str(s).ok_or_else(|| {
            FilterError::wrong_type(
                ptr,
                format!(
                    "field \"{field}\" takes an RFC 3339 time (e.g. \"2025-01-31T12:00:00Z\") \
                     or epoch milliseconds, got {}",
                    quote(s)
                ),
            )
        })?,
        Json::Number(n) => n.as_i64().ok_or_else(|| {
            FilterError::wrong_type(
                ptr,
                format!("field \"{field}\" takes whole epoch milliseconds, got {n}"),
            )
        })?,
        other => {
            return Err(FilterError::wrong_type(
                ptr,
                format!(
                    "field \"{field}\" takes an RFC 3339 time or epoch milliseconds, got {}",
                    describe(other)
                ),
            ))
        }
    };
    if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        return Err(FilterError::wrong_type(
            ptr,
            format!("time {ms} is outside years 0000-9999"),
        ));
    }
    Ok(Value::TimeMs(ms))
}

/// Parses an RFC 3339 time or a plain `YYYY-MM-DD` date into epoch ms.
pub(crate) fn parse_time_str(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// A metadata value: string, number or bool; the operator narrows which.
fn json_scalar(field: &Field, op: Op, raw: &Json, ptr: &str) -> Result<Value, FilterError> {
    let value = match raw {
        Json::String(s) if s.len() > MAX_TEXT_LEN => {
            return Err(FilterError::too_large(
                ptr,
                format!("a text value may be at most {MAX_TEXT_LEN} bytes, got {}", s.len()),
            ))
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) if f.is_finite() => Value::Float(f),
            _ => {
                return Err(FilterError::wrong_type(
                    ptr,
                    format!("field \"{field}\" takes a finite number, got {n}"),
                ))
            }
        },
        other => {
            return Err(FilterError::wrong_type(
                ptr,
                format!(
                    "field \"{field}\" takes a string, number or boolean, got {}",
                    describe(other)
                ),
            ))
        }
    };
    let fits = match op {
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => matches!(value, Value::Int(_) | Value::Float(_)),
        Op::Contains | Op::StartsWith => matches!(value, Value::Text(_)),
        _ => true,
    };
    if fits {
        Ok(value)
    } else {
        let what = if matches!(op, Op::Contains | Op::StartsWith) {
            "a string"
        } else {
            "a number"
        };
        Err(FilterError::wrong_type(
            ptr,
            format!(
                "operator \"{op}\" on field \"{field}\" needs {what}, got {}",
                describe(raw)
            ),
        ))
    }
}

/// Names the JSON type of a value for messages.
pub(crate) fn describe(raw: &Json) -> &'static str {
    match raw {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_dates_become_epoch_ms() {
        assert_eq!(parse_time_str("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time_str("2025-01-01T02:00:00+02:00"), Some(1_735_689_600_000));
        assert_eq!(parse_time_str("2025-01-01T00:00:00.123456Z"), Some(1_735_689_600_123));
        assert_eq!(parse_time_str("2025-01-01"), Some(1_735_689_600_000));
        assert_eq!(parse_time_str("2025-13-01"), None);
        assert_eq!(parse_time_str("yesterday"), None);
        assert_eq!(parse_time_str(""), None);
    }

    #[test]
    fn time_bounds_match_rfc3339_years() {
        assert_eq!(parse_time_str("0000-01-01T00:00:00Z"), Some(MIN_TIME_MS));
        assert_eq!(parse_time_str("9999-12-31T23:59:59.999Z"), Some(MAX_TIME_MS));
    }

    #[test]
    fn describe_names_every_json_type() {
        assert_eq!(describe(&Json::Null), "null");
        assert_eq!(describe(&serde_json::json!([1])), "an array");
        assert_eq!(describe(&serde_json::json!({})), "an object");
        assert_eq!(describe(&serde_json::json!(1.5)), "a number");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod matrix_tests {
    use serde_json::json;

    use super::super::{Filter, FilterErrorKind, Predicate};
    use super::*;

    const ID: &str = "0192f0c1-7d3e-7a4b-9c2d-1e2f3a4b5c6d";
    const JAN_1_2025: i64 = 1_735_689_600_000;

    fn parse(field: &str, op: &str, value: Json) -> Result<Filter, FilterError> {
        Filter::parse(&json!({"field": field, "op": op, "value": value}), "/filter")
    }

    fn value_of(field: &str, op: &str, value: Json) -> Value {
        match parse(field, op, value) {
            Ok(Filter::Leaf(Predicate { value, .. })) => value,
            other => panic!("{field} {op}: {other:?}"),
        }
    }

    fn refused(field: &str, op: &str, value: Json, kind: FilterErrorKind, pointer: &str) -> String {
        let e = parse(field, op, value.clone()).unwrap_err();
        assert_eq!((e.kind, e.pointer.as_str()), (kind, pointer), "{field} {op} {value}: {e}");
        e.message
    }

    /// A value fitting `field op`, and what it normalises to.
    fn sample(field: &Field, op: Op) -> (Json, Value) {
        let scalar = || match field {
            Field::Column(Column::Id) if op == Op::Eq || op == Op::Ne || op == Op::In || op == Op::NotIn => {
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
                    let msg = refused(&name, op.name(), raw, FilterErrorKind::WrongType, "/filter/op");
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
            refused(field, op, value, FilterErrorKind::WrongType, "/filter/value");
        }
    }

    #[test]
    fn time_accepts_rfc3339_dates_and_epoch_ms() {
        assert_eq!(value_of("ts", "gte", json!("2025-01-01T01:00:00+01:00")), Value::TimeMs(JAN_1_2025));
        assert_eq!(value_of("ts", "gte", json!("2025-01-01")), Value::TimeMs(JAN_1_2025));
        assert_eq!(value_of("started_at", "lt", json!(JAN_1_2025)), Value::TimeMs(JAN_1_2025));
        assert_eq!(value_of("started_at", "lt", json!(-1)), Value::TimeMs(-1));
        assert_eq!(
            value_of("started_at", "in", json!(["1970-01-01T00:00:00.005Z", 7])),
            Value::List(vec![Value::TimeMs(5), Value::TimeMs(7)])
        );
        let msg = refused("ts", "eq", json!("2025-02-30"), FilterErrorKind::WrongType, "/filter/value");
        assert!(msg.contains("RFC 3339"), "{msg}");
    }

    #[test]
    fn numbers_widen_only_where_lossless() {
        assert_eq!(value_of("duration_ms", "gt", json!(5)), Value::Float(5.0));
        assert_eq!(value_of("ttft_ms", "lt", json!(0.25)), Value::Float(0.25));
        assert_eq!(value_of("total_tokens", "gte", json!(-3)), Value::Int(-3));
        assert_eq!(value_of("metadata.n", "gt", json!(3)), Value::Int(3));
        assert_eq!(value_of("metadata.n", "gt", json!(3.0)), Value::Float(3.0));
        assert_eq!(value_of("metadata.n", "eq", json!(u64::MAX)), Value::Float(u64::MAX as f64));
    }

    #[test]
    fn metadata_values_and_operator_narrowing() {
        assert_eq!(value_of("metadata.user-id", "eq", json!("u1")), Value::Text("u1".into()));
        assert_eq!(value_of("metadata.a.b_c", "ne", json!(false)), Value::Bool(false));
        assert_eq!(
            value_of("metadata.x", "not_in", json!(["a", 1, 2.5, true])),
            Value::List(vec![
                Value::Text("a".into()),
                Value::Int(1),
                Value::Float(2.5),
                Value::Bool(true)
            ])
        );
        let msg = refused("metadata.x", "gt", json!("a"), FilterErrorKind::WrongType, "/filter/value");
        assert!(msg.contains("needs a number"), "{msg}");
        let msg = refused("metadata.x", "starts_with", json!(1), FilterErrorKind::WrongType, "/filter/value");
        assert!(msg.contains("needs a string"), "{msg}");
        refused("metadata.x", "in", json!(["a", [1]]), FilterErrorKind::WrongType, "/filter/value/1");
        refused(&format!("metadata.{}", "k".repeat(65)), "eq", json!(1), FilterErrorKind::UnknownField, "/filter/field");
    }

    #[test]
    fn ids_are_canonical_uuids() {
        let simple = ID.replace('-', "");
        assert_eq!(value_of("id", "eq", json!(simple)), Value::Text(ID.into()));
        assert_eq!(value_of("id", "starts_with", json!("0192F0C1")), Value::Text("0192f0c1".into()));
        let msg = refused("id", "eq", json!("0192f0c1"), FilterErrorKind::WrongType, "/filter/value");
        assert!(msg.contains("takes a UUID"), "{msg}");
        refused("id", "contains", json!("xyz"), FilterErrorKind::WrongType, "/filter/value");
        refused("id", "in", json!([ID, "nope"]), FilterErrorKind::WrongType, "/filter/value/1");
    }

    #[test]
    fn provider_and_outcome_values_are_checked() {
        for o in crate::trace::Outcome::ALL {
            assert_eq!(value_of("outcome", "eq", json!(o.as_str())), Value::Text(o.as_str().into()));
        }
        let msg = refused("provider", "eq", json!("azure"), FilterErrorKind::WrongType, "/filter/value");
        assert!(msg.contains("unknown provider \"azure\"; known providers: anthropic, openai"), "{msg}");
        let msg = refused("outcome", "not_in", json!(["ok", "fine"]), FilterErrorKind::WrongType, "/filter/value/1");
        assert!(msg.contains("timeout, cancelled"), "{msg}");
        refused("provider", "ne", json!("Anthropic"), FilterErrorKind::WrongType, "/filter/value");
        // Substring tests are not restricted to whole names.
        assert_eq!(value_of("outcome", "contains", json!("_error")), Value::Text("_error".into()));
    }
}
