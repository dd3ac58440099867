//! `x-mock-usage-override`: members written over the `usage` object of an answer.

use serde::Serialize;
use serde_json::{Map, Value};

/// What the `x-mock-usage-override` header asks for.
pub(crate) type UsageOverride = Map<String, Value>;

/// `value` as JSON, with the members of `over` written into its `usage` object.
pub(crate) fn to_json<T: Serialize>(value: &T, over: Option<&UsageOverride>) -> Vec<u8> {
    let Some(over) = over else {
        return crate::reply::to_json(value);
    };
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Some(Value::Object(usage)) = v.get_mut("usage") {
        for (k, val) in over {
            usage.insert(k.clone(), val.clone());
        }
    }
    crate::reply::to_json(&v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_replace_or_join_the_usage() {
        let over: UsageOverride =
            serde_json::from_str(r#"{"input_tokens": 18446744073709551615, "extra": 1}"#).unwrap();
        let out = to_json(
            &json!({"id": "m", "usage": {"input_tokens": 5, "output_tokens": 6}}),
            Some(&over),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["usage"]["input_tokens"].as_u64(), Some(u64::MAX));
        assert_eq!(v["usage"]["output_tokens"], 6);
        assert_eq!(v["usage"]["extra"], 1);
        assert_eq!(v["id"], "m");
        let plain = to_json(&json!({"usage": {"input_tokens": 5}}), None);
        assert_eq!(plain, br#"{"usage":{"input_tokens":5}}"#);
        let no_usage = to_json(&json!({"choices": []}), Some(&over));
        assert_eq!(no_usage, br#"{"choices":[]}"#);
    }
}
