//! The FTS5 query of a [`TextQuery`]: every term a double-quoted string
//! (`"` doubled inside), a prefix term followed by `*`, terms side by side
//! (implicit AND). Nothing the user wrote is read as FTS5 syntax.

use crate::search::{Term, TextQuery};

/// The FTS5 `MATCH` expression of `q`, to be bound as a parameter.
pub(super) fn match_expr(q: &TextQuery) -> String {
    let terms: Vec<String> = q.terms().iter().map(quoted).collect();
    terms.join(" ")
}

/// One term as an FTS5 string, `*` after it for a prefix.
fn quoted(term: &Term) -> String {
    let star = if term.prefix { "*" } else { "" };
    format!("\"{}\"{star}", term.text.replace('"', "\"\""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    fn expr(q: &str) -> String {
        match_expr(&TextQuery::parse(q, "/q").unwrap().unwrap())
    }

    #[test]
    fn terms_are_quoted_and_prefixes_starred() {
        assert_eq!(
            expr(r#"rust "borrow checker" asy*"#),
            r#""rust" "borrow checker" "asy"*"#
        );
        assert_eq!(
            expr("NEAR(a b) OR c:d -e"),
            r#""NEAR(a" "b)" "OR" "c:d" "-e""#
        );
    }

    #[test]
    fn quotes_inside_a_term_are_doubled() {
        let term = Term {
            text: r#"a"b""#.into(),
            phrase: true,
            prefix: true,
        };
        assert_eq!(quoted(&term), r#""a""b"""*"#);
        assert_eq!(expr(r#"it's say"what"#), r#""it's" "say" "what""#);
    }
}
