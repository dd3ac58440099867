//! The full-text part of a search, `q`: words, `"quoted phrases"` and
//! `prefix*` terms, all of which must match.
//!
//! Nothing in `q` is an operator: `AND`, `OR`, `NOT`, `-`, `:`, `(`, `^` are
//! plain text. A term without a letter or digit (`-`, `*`, `:)`) cannot match
//! anything and is dropped; a `q` left without terms is refused.

use serde_json::json;

use super::error::{quote, SearchError, SearchErrorKind};

/// Longest `q`, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Most terms (words and phrases) in `q`.
pub const MAX_TERMS: usize = 16;
/// Fewest letters or digits before a prefix `*`: shorter prefixes match too much to be fast.
pub const MIN_PREFIX_CHARS: usize = 2;

/// One term of a text query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// The text as written (without quotes and trailing `*`); the backend
    /// splits it into words, so `foo-bar` is the phrase `foo bar`.
    pub text: String,
    /// Written in double quotes.
    pub phrase: bool,
    /// Ends in `*`: the last word is a prefix.
    pub prefix: bool,
}

/// A parsed, checked `q`: at least one term, each with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextQuery {
    terms: Vec<Term>,
}

impl TextQuery {
    /// Parses `q`; `None` when it is blank. `pointer` locates `q` in the request.
    pub fn parse(q: &str, pointer: &str) -> Result<Option<TextQuery>, SearchError> {
        let bad = |message: String| SearchError::new(SearchErrorKind::BadText, pointer, message);
        if q.len() > MAX_TEXT_BYTES {
            return Err(bad(format!(
                "q may be at most {MAX_TEXT_BYTES} bytes, got {}",
                q.len()
            )));
        }
        if q.chars().all(is_space) {
            return Ok(None);
        }
        let mut terms = Vec::new();
        for term in split(q) {
            if !term.text.chars().any(char::is_alphanumeric) {
                continue;
            }
            if term.prefix && last_word_len(&term.text) < MIN_PREFIX_CHARS {
                return Err(bad(format!(
                    "a prefix search needs at least {MIN_PREFIX_CHARS} letters or digits \
                     before the *, got {}",
                    quote(&format!("{}*", term.text))
                )));
            }
            terms.push(term);
        }
        if terms.is_empty() {
            return Err(bad(format!(
                "q {} has nothing to search for: it needs a word with letters or digits",
                quote(q)
            )));
        }
        if terms.len() > MAX_TERMS {
            return Err(bad(format!(
                "q may have at most {MAX_TERMS} words and phrases, got {}",
                terms.len()
            )));
        }
        Ok(Some(TextQuery { terms }))
    }

    /// The terms, in the order written.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// A stable text form, for telling queries apart.
    pub fn canonical(&self) -> String {
        let terms: Vec<_> = self
            .terms
            .iter()
            .map(|t| json!([t.text, t.phrase, t.prefix]))
            .collect();
        serde_json::Value::Array(terms).to_string()
    }
}

/// Whitespace and control characters separate terms.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Splits `q` into raw terms: quoted phrases (an unclosed quote runs to the
/// end) and bare words; a trailing `*` marks a prefix.
fn split(q: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        let (mut text, phrase) = if c == '"' {
            chars.next();
            let mut text = String::new();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(if is_space(c) { ' ' } else { c });
            }
            (text, true)
        } else {
            let mut text = String::new();
            while let Some(&c) = chars.peek() {
                if is_space(c) || c == '"' {
                    break;
                }
                text.push(c);
                chars.next();
            }
            (text, false)
        };
        let mut prefix = false;
        if phrase {
            while chars.peek() == Some(&'*') {
                chars.next();
                prefix = true;
            }
        } else {
            while text.ends_with('*') {
                text.pop();
                prefix = true;
            }
        }
        out.push(Term {
            text,
            phrase,
            prefix,
        });
    }
    out
}

/// Letters and digits in the last word of `text`, the part a prefix applies to.
fn last_word_len(text: &str) -> usize {
    text.chars()
        .rev()
        .skip_while(|c| !c.is_alphanumeric())
        .take_while(|c| c.is_alphanumeric())
        .count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Vec<(String, bool, bool)> {
        TextQuery::parse(q, "/q")
            .unwrap()
            .unwrap()
            .terms()
            .iter()
            .map(|t| (t.text.clone(), t.phrase, t.prefix))
            .collect()
    }

    fn t(text: &str, phrase: bool, prefix: bool) -> (String, bool, bool) {
        (text.to_owned(), phrase, prefix)
    }

    #[test]
    fn words_phrases_and_prefixes() {
        assert_eq!(
            terms(r#"  rust "borrow checker" async* "error ha"* "#),
            vec![
                t("rust", false, false),
                t("borrow checker", true, false),
                t("async", false, true),
                t("error ha", true, true),
            ]
        );
    }

    #[test]
    fn operators_and_punctuation_are_plain_text_or_dropped() {
        assert_eq!(
            terms("a OR b -c NOT d:e (f) ^g * : - )"),
            vec![
                t("a", false, false),
                t("OR", false, false),
                t("b", false, false),
                t("-c", false, false),
                t("NOT", false, false),
                t("d:e", false, false),
                t("(f)", false, false),
                t("^g", false, false),
            ]
        );
        assert_eq!(
            terms("x'; DROP TABLE traces; --"),
            vec![
                t("x';", false, false),
                t("DROP", false, false),
                t("TABLE", false, false),
                t("traces;", false, false),
            ]
        );
    }

    #[test]
    fn unbalanced_quotes_run_to_the_end() {
        assert_eq!(
            terms(r#"hello "open phrase"#),
            vec![t("hello", false, false), t("open phrase", true, false)]
        );
        assert_eq!(
            terms(r#"a"b"#),
            vec![t("a", false, false), t("b", true, false)]
        );
        assert_eq!(terms("\"\"\"x"), vec![t("x", true, false)]);
    }

    #[test]
    fn blank_is_no_query_and_punctuation_only_is_refused() {
        assert_eq!(TextQuery::parse("", "/q"), Ok(None));
        assert_eq!(TextQuery::parse(" \t\n", "/q"), Ok(None));
        assert_eq!(TextQuery::parse("\u{0}\r", "/q"), Ok(None));
        for q in ["*", ":", "\"\"", "- ( ) ^", "\"*\"*", "\u{0}:"] {
            let e = TextQuery::parse(q, "/q").unwrap_err();
            assert_eq!(e.kind, SearchErrorKind::BadText, "{q:?}");
            assert_eq!(e.pointer, "/q");
            assert!(e.message.contains("nothing to search for"), "{e}");
        }
    }

    #[test]
    fn short_prefixes_and_long_queries_are_refused() {
        for q in ["a*", "foo-b*", "\"x y\"*"] {
            let e = TextQuery::parse(q, "/q").unwrap_err();
            assert!(e.message.contains("at least 2"), "{q}: {e}");
        }
        assert_eq!(terms("ab*"), vec![t("ab", false, true)]);
        assert_eq!(terms("foo-*"), vec![t("foo-", false, true)]);
        let many = vec!["w"; MAX_TERMS + 1].join(" ");
        assert!(TextQuery::parse(&many, "/q").is_err());
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        assert!(TextQuery::parse(&long, "/q").is_err());
    }

    #[test]
    fn canonical_tells_queries_apart() {
        let a = TextQuery::parse("ab*", "/q").unwrap().unwrap();
        let b = TextQuery::parse("\"ab\"", "/q").unwrap().unwrap();
        let c = TextQuery::parse("  ab*  ", "/q").unwrap().unwrap();
        assert_ne!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), c.canonical());
    }
}
