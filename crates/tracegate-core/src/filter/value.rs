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
                format!(
                    "operator \"exists\" takes true or false, got {}",
                    describe(other)
                ),
            )),
        },
        Op::In | Op::NotIn => {
            let Json::Array(items) = raw else {
                return Err(FilterError::wrong_type(
                    ptr,
                    format!(
                        "operator \"{op}\" takes an array of values, got {}",
                        describe(raw)
                    ),
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
        Field::Column(col) => Some(*col),
        Field::FeedbackScore => None,
    };
    let expected = |what: &str| {
        FilterError::wrong_type(
            ptr,
            format!("field \"{field}\" takes {what}, got {}", describe(raw)),
        )
    };
    match field.kind() {
        FieldKind::Text => match (raw, col) {
            (Json::String(s), Some(col)) => column_text(col, op, s, ptr),
            _ => Err(expected("a string")),
        },
        FieldKind::Int => match raw {
            Json::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| expected("an integer")),
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
            format!(
                "a text value may be at most {MAX_TEXT_LEN} bytes, got {}",
                s.len()
            ),
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
                    format!(
                        "part of an id holds only hex digits and '-', got {}",
                        quote(s)
                    ),
                ))
            }
        }
        Column::Provider if whole && Provider::parse(s).is_none() => Err(FilterError::wrong_type(
            ptr,
            format!(
                "unknown provider {}; known providers: anthropic, openai",
                quote(s)
            ),
        )),
        Column::Outcome if whole && Outcome::parse(s).is_none() => {
            let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            Err(FilterError::wrong_type(
                ptr,
                format!(
                    "unknown outcome {}; known outcomes: {}",
                    quote(s),
                    known.join(", ")
                ),
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
                format!(
                    "a text value may be at most {MAX_TEXT_LEN} bytes, got {}",
                    s.len()
                ),
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
mod matrix_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_dates_become_epoch_ms() {
        assert_eq!(parse_time_str("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            parse_time_str("2025-01-01T02:00:00+02:00"),
            Some(1_735_689_600_000)
        );
        assert_eq!(
            parse_time_str("2025-01-01T00:00:00.123456Z"),
            Some(1_735_689_600_123)
        );
        assert_eq!(parse_time_str("2025-01-01"), Some(1_735_689_600_000));
        assert_eq!(parse_time_str("2025-13-01"), None);
        assert_eq!(parse_time_str("yesterday"), None);
        assert_eq!(parse_time_str(""), None);
    }

    #[test]
    fn time_bounds_match_rfc3339_years() {
        assert_eq!(parse_time_str("0000-01-01T00:00:00Z"), Some(MIN_TIME_MS));
        assert_eq!(
            parse_time_str("9999-12-31T23:59:59.999Z"),
            Some(MAX_TIME_MS)
        );
    }

    #[test]
    fn describe_names_every_json_type() {
        assert_eq!(describe(&Json::Null), "null");
        assert_eq!(describe(&serde_json::json!([1])), "an array");
        assert_eq!(describe(&serde_json::json!({})), "an object");
        assert_eq!(describe(&serde_json::json!(1.5)), "a number");
    }
}
