//! Choosing which fields of each trace a search returns.

use serde_json::{Map, Value};

use super::error::{quote, SearchError, SearchErrorKind};
use crate::model::TraceSummary;

/// The fields of a trace summary, as named in JSON, in their order.
pub const SUMMARY_FIELDS: [&str; 29] = [
    "id",
    "started_at",
    "upstream",
    "provider",
    "endpoint",
    "method",
    "model_requested",
    "model",
    "stream",
    "status",
    "outcome",
    "error",
    "duration_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "cost_usd",
    "account",
    "client_ip",
    "user_agent",
    "metadata",
    "conversation_id",
    "parent_id",
    "branch",
    "link_kind",
    "cache_saved_usd",
];

/// Checks a list of field names (`ts` is an alias of `started_at`); the
/// result has no repeats and keeps the order of [`SUMMARY_FIELDS`].
/// `pointer` locates the list; errors point at the bad item.
pub fn parse_fields<S: AsRef<str>>(
    names: &[S],
    pointer: &str,
) -> Result<Vec<&'static str>, SearchError> {
    if names.is_empty() {
        return Err(SearchError::new(
            SearchErrorKind::UnknownField,
            pointer,
            "fields lists no field; leave it out to get every field",
        ));
    }
    let mut wanted = [false; SUMMARY_FIELDS.len()];
    for (i, name) in names.iter().enumerate() {
        let name = match name.as_ref().trim() {
            "ts" => "started_at",
            other => other,
        };
        let Some(at) = SUMMARY_FIELDS.iter().position(|f| *f == name) else {
            return Err(SearchError::new(
                SearchErrorKind::UnknownField,
                format!("{pointer}/{i}"),
                format!(
                    "unknown field {}; fields are: {}",
                    quote(name),
                    SUMMARY_FIELDS.join(", ")
                ),
            ));
        };
        wanted[at] = true;
    }
    Ok(SUMMARY_FIELDS
        .iter()
        .zip(wanted)
        .filter_map(|(f, w)| w.then_some(*f))
        .collect())
}

/// The JSON of `summary` with only `fields` (all when `None`).
pub fn project(summary: &TraceSummary, fields: Option<&[&str]>) -> Value {
    let json = serde_json::to_value(summary).unwrap_or(Value::Null);
    match (fields, json) {
        (Some(fields), Value::Object(mut all)) => {
            let mut out = Map::with_capacity(fields.len());
            for f in fields {
                if let Some(v) = all.remove(*f) {
                    out.insert((*f).to_owned(), v);
                }
            }
            Value::Object(out)
        }
        (_, json) => json,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tracegate_core::{Provider, Trace};

    #[test]
    fn summary_fields_are_the_serialized_keys_in_order() {
        let t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        let json = serde_json::to_value(TraceSummary::from_trace(&t)).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, SUMMARY_FIELDS);
    }

    #[test]
    fn fields_are_checked_deduplicated_and_ordered() {
        assert_eq!(
            parse_fields(&["model", "id", "ts", "model"], "/fields").unwrap(),
            vec!["id", "started_at", "model"]
        );
        let e = parse_fields(&["id", "modle"], "/fields").unwrap_err();
        assert_eq!(e.kind, SearchErrorKind::UnknownField);
        assert_eq!(e.pointer, "/fields/1");
        assert!(e.message.contains("\"modle\""), "{e}");
        assert!(parse_fields::<&str>(&[], "/fields").is_err());
    }

    #[test]
    fn projection_keeps_only_the_asked_fields() {
        let t = Trace::begin(Provider::Openai, "POST", "/v1/chat/completions");
        let s = TraceSummary::from_trace(&t);
        let v = project(&s, Some(&["id", "endpoint"]));
        assert_eq!(
            v,
            serde_json::json!({"id": t.id.to_string(), "endpoint": "/v1/chat/completions"})
        );
        assert_eq!(
            project(&s, None).as_object().unwrap().len(),
            SUMMARY_FIELDS.len()
        );
    }
}
