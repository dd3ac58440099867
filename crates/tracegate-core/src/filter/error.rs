//! Errors of filter parsing, located by a JSON pointer into the request.

use serde::Serialize;

/// What kind of problem a filter has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterErrorKind {
    /// The field name is not a known field (or a bad metadata key).
    UnknownField,
    /// The operator name is not a known operator.
    UnknownOperator,
    /// The operator does not apply to the field, or the value has the wrong type.
    WrongType,
    /// The tree nests deeper than [`super::MAX_DEPTH`].
    TooDeep,
    /// Too many nodes, list items, values or characters.
    TooLarge,
    /// The JSON does not have the shape of a filter.
    Malformed,
}

impl FilterErrorKind {
    /// Snake-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterErrorKind::UnknownField => "unknown_field",
            FilterErrorKind::UnknownOperator => "unknown_operator",
            FilterErrorKind::WrongType => "wrong_type",
            FilterErrorKind::TooDeep => "too_deep",
            FilterErrorKind::TooLarge => "too_large",
            FilterErrorKind::Malformed => "malformed",
        }
    }
}

/// A filter the API refuses; maps to an HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} (at {pointer})")]
pub struct FilterError {
    /// JSON pointer to the offending part of the request, e.g. `/filter/and/1/op`.
    pub pointer: String,
    /// Plain description of the problem.
    pub message: String,
    /// Category of the problem.
    pub kind: FilterErrorKind,
}

impl FilterError {
    /// Makes an error.
    pub fn new(
        kind: FilterErrorKind,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FilterError {
            pointer: pointer.into(),
            message: message.into(),
            kind,
        }
    }

    pub(crate) fn malformed(pointer: &str, message: impl Into<String>) -> Self {
        Self::new(FilterErrorKind::Malformed, pointer, message)
    }

    pub(crate) fn wrong_type(pointer: &str, message: impl Into<String>) -> Self {
        Self::new(FilterErrorKind::WrongType, pointer, message)
    }

    pub(crate) fn too_large(pointer: &str, message: impl Into<String>) -> Self {
        Self::new(FilterErrorKind::TooLarge, pointer, message)
    }
}

/// Appends an object key to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub(crate) fn child(pointer: &str, key: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + key.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for ch in key.chars() {
        match ch {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(ch),
        }
    }
    out
}

/// Appends an array index to a JSON pointer.
pub(crate) fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}

/// Quotes a user-supplied string for a message, shortening long ones.
pub(crate) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    if s.chars().count() <= MAX_CHARS {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_CHARS).collect();
        format!("{head:?}...")
    }
}

/// The candidate closest to `input` by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if input.len() > 64 {
        return None;
    }
    let limit = (input.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(input, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance over lower-cased chars, counting an adjacent swap as one
/// edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_keys_are_escaped() {
        assert_eq!(child("/filter", "and"), "/filter/and");
        assert_eq!(child("/filter", "a/b~c"), "/filter/a~1b~0c");
        assert_eq!(child("", "x"), "/x");
        assert_eq!(index("/filter/or", 3), "/filter/or/3");
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let names = ["model", "method", "account"];
        assert_eq!(suggest("modle", names), Some("model"));
        assert_eq!(suggest("acount", names), Some("account"));
        assert_eq!(suggest("zzzzzz", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("modle", "model"), 1);
        assert_eq!(edit_distance("AND", "and"), 0);
    }

    #[test]
    fn display_and_serialization() {
        let e = FilterError::new(FilterErrorKind::TooDeep, "/filter/not", "too deep");
        assert_eq!(e.to_string(), "too deep (at /filter/not)");
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["kind"], "too_deep");
        assert_eq!(json["pointer"], "/filter/not");
        assert_eq!(FilterErrorKind::TooDeep.as_str(), "too_deep");
    }

    #[test]
    fn long_strings_are_shortened_in_messages() {
        assert_eq!(quote("ab"), "\"ab\"");
        let long = "x".repeat(100);
        assert!(quote(&long).ends_with("\"..."));
        assert!(quote(&long).len() < 80);
    }
}
