//! The simple query-string filter form: `?model=a,b&status=200&from=...`.

use serde_json::Value as Json;

use super::error::{quote, FilterError};
use super::field::{Column, Field, Op};
use super::value::{check_value, parse_time_str};
use super::{Filter, Predicate, MAX_TOTAL_VALUES};

/// Query parameters [`from_simple_params`] reads; it ignores all others.
pub const SIMPLE_PARAMS: [&str; 8] = [
    "model",
    "model_requested",
    "provider",
    "account",
    "status",
    "outcome",
    "from",
    "to",
];

/// Builds a filter from simple query parameters.
///
/// `model`, `model_requested`, `provider`, `account`, `status` and `outcome` test equality;
/// a comma-separated list (`model=a,b`) means `in`. `from` and `to` bound
/// `started_at` as `gte` and `lt`, and take RFC 3339, `YYYY-MM-DD` or epoch ms.
/// Parameters not in [`SIMPLE_PARAMS`] are ignored; `None` means no filter.
/// Several parameters are joined with `and`, in the order given. Error
/// pointers are `/query/<name>`.
pub fn from_simple_params(params: &[(String, String)]) -> Result<Option<Filter>, FilterError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut leaves = Vec::new();
    for (name, raw) in params {
        let Some(name) = SIMPLE_PARAMS.into_iter().find(|p| p == name) else {
            continue;
        };
        let ptr = format!("/query/{name}");
        if seen.contains(&name) {
            return Err(FilterError::malformed(
                &ptr,
                format!("parameter \"{name}\" is given more than once; list values as {name}=a,b"),
            ));
        }
        seen.push(name);
        let leaf = simple_leaf(name, raw.trim(), &ptr).map_err(|mut e| {
            e.pointer.clone_from(&ptr);
            e
        })?;
        leaves.push(leaf);
    }
    Ok(match leaves.len() {
        0 => None,
        1 => leaves.pop(),
        _ => Some(Filter::And(leaves)),
    })
}

fn simple_leaf(name: &str, raw: &str, ptr: &str) -> Result<Filter, FilterError> {
    if raw.is_empty() {
        return Err(FilterError::malformed(
            ptr,
            format!("parameter \"{name}\" is empty"),
        ));
    }
    let (col, op, json) = match name {
        "from" => (Column::StartedAt, Op::Gte, time_json(raw)),
        "to" => (Column::StartedAt, Op::Lt, time_json(raw)),
        _ => {
            let col = Column::parse(name).ok_or_else(|| {
                FilterError::malformed(ptr, format!("parameter \"{name}\" is not a field"))
            })?;
            let mut items = raw
                .split(',')
                .map(|item| item_json(col, item.trim(), name, ptr))
                .collect::<Result<Vec<_>, _>>()?;
            match items.pop() {
                Some(only) if items.is_empty() => (col, Op::Eq, only),
                Some(last) => {
                    items.push(last);
                    (col, Op::In, Json::Array(items))
                }
                None => return Err(FilterError::malformed(ptr, "no values")),
            }
        }
    };
    let field = Field::Column(col);
    let value = check_value(&field, op, &json, ptr, MAX_TOTAL_VALUES)?;
    Ok(Filter::Leaf(Predicate { field, op, value }))
}

/// One comma-separated item as the JSON the predicate parser expects.
fn item_json(col: Column, item: &str, name: &str, ptr: &str) -> Result<Json, FilterError> {
    if item.is_empty() {
        return Err(FilterError::malformed(
            ptr,
            format!("parameter \"{name}\" has an empty item"),
        ));
    }
    if col == Column::Status {
        return item.parse::<i64>().map(Json::from).map_err(|_| {
            FilterError::wrong_type(
                ptr,
                format!("parameter \"{name}\" takes integers, got {}", quote(item)),
            )
        });
    }
    Ok(Json::String(item.to_owned()))
}

/// A `from`/`to` value: epoch ms if it is an integer, else a time string.
///
/// A `+` in an unencoded offset arrives as a space; it is put back.
fn time_json(raw: &str) -> Json {
    if let Ok(ms) = raw.parse::<i64>() {
        return Json::from(ms);
    }
    if parse_time_str(raw).is_none() {
        if let Some(at) = raw.rfind(' ') {
            let fixed = format!("{}+{}", &raw[..at], &raw[at + 1..]);
            if parse_time_str(&fixed).is_some() {
                return Json::String(fixed);
            }
        }
    }
    Json::String(raw.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{FilterErrorKind, Value};
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn leaf(col: Column, op: Op, value: Value) -> Filter {
        Filter::Leaf(Predicate {
            field: Field::Column(col),
            op,
            value,
        })
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    #[test]
    fn no_filter_params_means_no_filter() {
        assert_eq!(from_simple_params(&[]), Ok(None));
        let other = params(&[("limit", "10"), ("sort", "cost_usd"), ("q", "hi")]);
        assert_eq!(from_simple_params(&other), Ok(None));
    }

    #[test]
    fn single_value_is_eq_and_list_is_in() {
        let f = from_simple_params(&params(&[("model", "claude-sonnet-4-5")])).unwrap();
        assert_eq!(
            f,
            Some(leaf(Column::Model, Op::Eq, text("claude-sonnet-4-5")))
        );
        let f = from_simple_params(&params(&[("model", "a, b")])).unwrap();
        assert_eq!(
            f,
            Some(leaf(
                Column::Model,
                Op::In,
                Value::List(vec![text("a"), text("b")])
            ))
        );
    }

    #[test]
    fn all_params_join_with_and_in_order() {
        let f = from_simple_params(&params(&[
            ("status", "200,429"),
            ("limit", "5"),
            ("provider", "openai"),
            ("outcome", "timeout"),
            ("account", "acct-1"),
            ("from", "2025-01-01"),
            ("to", "1735776000000"),
        ]))
        .unwrap();
        let expected = Filter::And(vec![
            leaf(
                Column::Status,
                Op::In,
                Value::List(vec![Value::Int(200), Value::Int(429)]),
            ),
            leaf(Column::Provider, Op::Eq, text("openai")),
            leaf(Column::Outcome, Op::Eq, text("timeout")),
            leaf(Column::Account, Op::Eq, text("acct-1")),
            leaf(Column::StartedAt, Op::Gte, Value::TimeMs(1_735_689_600_000)),
            leaf(Column::StartedAt, Op::Lt, Value::TimeMs(1_735_776_000_000)),
        ]);
        assert_eq!(f, Some(expected.clone()));
        assert_eq!(Filter::parse(&expected.to_json(), "/filter"), Ok(expected));
    }

    #[test]
    fn rfc3339_with_a_decoded_plus_is_repaired() {
        let f = from_simple_params(&params(&[("from", "2025-01-01T02:00:00 02:00")])).unwrap();
        assert_eq!(
            f,
            Some(leaf(
                Column::StartedAt,
                Op::Gte,
                Value::TimeMs(1_735_689_600_000)
            ))
        );
    }

    #[test]
    fn errors_point_at_the_parameter() {
        let cases: [(&str, &str, FilterErrorKind); 8] = [
            ("provider", "azure", FilterErrorKind::WrongType),
            ("outcome", "ok,fine", FilterErrorKind::WrongType),
            ("status", "2xx", FilterErrorKind::WrongType),
            ("from", "last week", FilterErrorKind::WrongType),
            ("to", "99999999999999999", FilterErrorKind::WrongType),
            ("model", "", FilterErrorKind::Malformed),
            ("model", "a,,b", FilterErrorKind::Malformed),
            ("account", &"x".repeat(5000), FilterErrorKind::TooLarge),
        ];
        for (name, value, kind) in cases {
            let err = from_simple_params(&params(&[(name, value)])).unwrap_err();
            assert_eq!(err.kind, kind, "{name}={value}: {err}");
            assert_eq!(err.pointer, format!("/query/{name}"));
        }
    }

    #[test]
    fn repeated_param_is_refused() {
        let err = from_simple_params(&params(&[("model", "a"), ("model", "b")])).unwrap_err();
        assert_eq!(err.kind, FilterErrorKind::Malformed);
        assert_eq!(err.pointer, "/query/model");
        assert!(err.message.contains("model=a,b"), "{}", err.message);
    }

    #[test]
    fn long_lists_are_too_large() {
        let many = vec!["m"; 1001].join(",");
        let err = from_simple_params(&params(&[("model", &many)])).unwrap_err();
        assert_eq!(err.kind, FilterErrorKind::TooLarge);
        assert_eq!(err.pointer, "/query/model");
    }
}
