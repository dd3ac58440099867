//! Feedback on a trace: a score given after the fact (by a user, an app, an
//! evaluator), with an optional comment and source. A trace may have several.
//!
//! [`FeedbackInput::parse`] checks a request body completely; [`Feedback::new`]
//! gives the entry its id and time, so a store writes what it is given.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::trace::TraceId;

/// Lowest score accepted.
pub const MIN_SCORE: f64 = -1000.0;
/// Highest score accepted.
pub const MAX_SCORE: f64 = 1000.0;
/// Longest comment, in bytes of UTF-8.
pub const MAX_COMMENT_BYTES: usize = 4096;
/// Longest source, in characters.
pub const MAX_SOURCE_CHARS: usize = 64;

/// The members a feedback body may have.
const KEYS: [&str; 3] = ["score", "comment", "source"];

/// One feedback entry on one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Feedback {
    /// A UUIDv7, so entries sort by creation time.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The trace it is about.
    #[schema(value_type = String, format = Uuid)]
    pub trace_id: TraceId,
    /// When it was given, to the millisecond.
    #[serde(with = "crate::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Finite, within [`MIN_SCORE`]..=[`MAX_SCORE`].
    pub score: f64,
    /// At most [`MAX_COMMENT_BYTES`].
    pub comment: Option<String>,
    /// Who gave it (`user`, `app`, ...): 1 to [`MAX_SOURCE_CHARS`] characters, no control characters.
    pub source: Option<String>,
}

impl Feedback {
    /// A new entry on `trace_id` with a fresh id, given now.
    pub fn new(trace_id: TraceId, input: FeedbackInput) -> Feedback {
        let now = Utc::now();
        Feedback {
            id: Uuid::now_v7(),
            trace_id,
            created_at: DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now),
            score: input.score,
            comment: input.comment,
            source: input.source,
        }
    }
}

/// A checked feedback request body: `{score, comment, source}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackInput {
    pub score: f64,
    pub comment: Option<String>,
    pub source: Option<String>,
}

/// Why a feedback body was refused, and where (a JSON pointer into the body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {pointer:?})")]
pub struct FeedbackError {
    /// `""` for the whole body, else `/score`, `/comment`, `/source` or the unknown member.
    pub pointer: String,
    pub message: String,
}

impl FeedbackError {
    fn new(pointer: &str, message: impl Into<String>) -> Self {
        FeedbackError {
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }
}

impl FeedbackInput {
    /// Reads and checks a request body: a JSON object with a number `score` and
    /// optional strings `comment` and `source` (null counts as absent).
    pub fn parse(body: &[u8]) -> Result<FeedbackInput, FeedbackError> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| FeedbackError::new("", format!("the body is not valid JSON: {e}")))?;
        let Value::Object(obj) = json else {
            return Err(FeedbackError::new(
                "",
                format!(
                    "the body must be a JSON object {{\"score\", \"comment\", \"source\"}}, got {}",
                    describe(&json)
                ),
            ));
        };
        FeedbackInput::from_object(&obj)
    }

    fn from_object(obj: &Map<String, Value>) -> Result<FeedbackInput, FeedbackError> {
        if let Some(key) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
            return Err(FeedbackError::new(
                &pointer,
                format!(
                    "unknown member {}; feedback has: {}",
                    quote(key),
                    KEYS.join(", ")
                ),
            ));
        }
        let score = match obj.get("score") {
            None | Some(Value::Null) => {
                return Err(FeedbackError::new("/score", "score is required: a number"))
            }
            Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                FeedbackError::new("/score", format!("score must be a finite number, got {n}"))
            })?,
            Some(other) => {
                return Err(FeedbackError::new(
                    "/score",
                    format!("score must be a number, got {}", describe(other)),
                ))
            }
        };
        if !(MIN_SCORE..=MAX_SCORE).contains(&score) {
            return Err(FeedbackError::new(
                "/score",
                format!("score must be from {MIN_SCORE} to {MAX_SCORE}, got {score}"),
            ));
        }
        let comment = optional_str(obj, "comment")?;
        if let Some(c) = &comment {
            if c.len() > MAX_COMMENT_BYTES {
                return Err(FeedbackError::new(
                    "/comment",
                    format!(
                        "comment may be at most {MAX_COMMENT_BYTES} bytes, got {}",
                        c.len()
                    ),
                ));
            }
        }
        let source = optional_str(obj, "source")?;
        if let Some(s) = &source {
            let chars = s.chars().count();
            if chars == 0 || chars > MAX_SOURCE_CHARS || s.chars().any(char::is_control) {
                return Err(FeedbackError::new(
                    "/source",
                    format!(
                        "source must be 1 to {MAX_SOURCE_CHARS} characters without control \
                         characters (e.g. \"user\", \"app\"), got {chars} characters"
                    ),
                ));
            }
        }
        Ok(FeedbackInput {
            score,
            comment,
            source,
        })
    }
}

/// An optional string member; null counts as absent.
fn optional_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, FeedbackError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(FeedbackError::new(
            &format!("/{key}"),
            format!("{key} must be a string, got {}", describe(other)),
        )),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A member name for a message, cut short: it comes from the client.
fn quote(key: &str) -> String {
    let short: String = key.chars().take(64).collect();
    format!("{short:?}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<FeedbackInput, FeedbackError> {
        FeedbackInput::parse(v.to_string().as_bytes())
    }

    #[test]
    fn a_full_body_and_a_bare_score_are_read() {
        let input = parse(json!({"score": 4.5, "comment": "good — 👍", "source": "user"})).unwrap();
        assert_eq!(input.score, 4.5);
        assert_eq!(input.comment.as_deref(), Some("good — 👍"));
        assert_eq!(input.source.as_deref(), Some("user"));
        let bare = parse(json!({"score": -1, "comment": null})).unwrap();
        assert_eq!((bare.score, bare.comment, bare.source), (-1.0, None, None));
        for edge in [MIN_SCORE, MAX_SCORE, 0.0] {
            assert_eq!(parse(json!({"score": edge})).unwrap().score, edge);
        }
    }

    #[test]
    fn bad_bodies_point_at_the_bad_member() {
        let long = "x".repeat(MAX_COMMENT_BYTES + 1);
        let cases = [
            (json!({}), "/score"),
            (json!({"score": null}), "/score"),
            (json!({"score": "5"}), "/score"),
            (json!({"score": 1000.5}), "/score"),
            (json!({"score": -1e9}), "/score"),
            (json!({"score": 1, "comment": 7}), "/comment"),
            (json!({"score": 1, "comment": long}), "/comment"),
            (json!({"score": 1, "source": ""}), "/source"),
            (json!({"score": 1, "source": "s".repeat(65)}), "/source"),
            (json!({"score": 1, "source": "a\nb"}), "/source"),
            (json!({"score": 1, "source": ["user"]}), "/source"),
            (json!({"score": 1, "rating/x": 2}), "/rating~1x"),
            (json!([1]), ""),
        ];
        for (body, pointer) in cases {
            let err = parse(body.clone()).unwrap_err();
            assert_eq!(err.pointer, pointer, "{body}: {err}");
        }
        let err = FeedbackInput::parse(b"{\"score\": 1e999}").unwrap_err();
        assert_eq!(err.pointer, "");
        assert_eq!(FeedbackInput::parse(b"").unwrap_err().pointer, "");
    }

    #[test]
    fn sixty_four_characters_of_any_script_are_a_source() {
        let source = "é".repeat(MAX_SOURCE_CHARS);
        assert!(parse(json!({"score": 1, "source": source})).is_ok());
    }

    #[test]
    fn new_entries_get_an_id_and_a_time_to_the_millisecond() {
        let trace = Uuid::now_v7();
        let input = parse(json!({"score": 1})).unwrap();
        let a = Feedback::new(trace, input.clone());
        let b = Feedback::new(trace, input);
        assert!(a.id < b.id);
        assert_eq!(a.trace_id, trace);
        assert_eq!(a.created_at.timestamp_subsec_nanos() % 1_000_000, 0);
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["score"], 1.0);
        assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(serde_json::from_value::<Feedback>(json).unwrap(), a);
    }
}
