//! The full-text document of a trace: what is new in the request (not the
//! resent history), what the answer said, and the error, if any.

use rusqlite::{params, Transaction};
use serde_json::Value;
use tracegate_core::conversation::{new_user_text, response_text};
use tracegate_core::Trace;

use crate::error::StoreError;

/// Longest document indexed per trace, in bytes; longer text is cut.
pub(super) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The text to index for a trace, given its parsed bodies (`None` when a body
/// is not JSON); empty when there is nothing to index.
pub(super) fn document(t: &Trace, request: Option<&Value>, response: Option<&Value>) -> String {
    let asked = request.map(|r| new_user_text(t.provider, r));
    let answered = response.map(|r| response_text(t.provider, r));
    let parts = [asked.as_deref(), answered.as_deref(), t.error.as_deref()]
        .map(|part| part.map_or("", str::trim));
    let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut doc = String::with_capacity(len.min(MAX_DOCUMENT_BYTES + 1));
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        if !doc.is_empty() {
            doc.push('\n');
        }
        doc.push_str(part);
        if doc.len() >= MAX_DOCUMENT_BYTES {
            break;
        }
    }
    truncate(&mut doc, MAX_DOCUMENT_BYTES);
    doc
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// Indexes the document of the trace at `rowid` (nothing when it is empty).
pub(super) fn insert(tx: &Transaction<'_>, rowid: i64, doc: &str) -> Result<(), StoreError> {
    if doc.is_empty() {
        return Ok(());
    }
    tx.prepare_cached("INSERT INTO traces_fts (rowid, body) VALUES (?1, ?2)")?
        .execute(params![rowid, doc])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use tracegate_core::Provider;

    #[test]
    fn document_joins_new_text_answer_and_error() {
        let mut t = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
        t.error = Some("  overloaded ".into());
        let request = json!({"messages": [
            {"role": "user", "content": "old question"},
            {"role": "assistant", "content": "old answer"},
            {"role": "user", "content": "new question"}
        ]});
        let response = json!({"content": [{"type": "text", "text": "the answer"}]});
        assert_eq!(
            document(&t, Some(&request), Some(&response)),
            "new question\nthe answer\noverloaded"
        );
        assert_eq!(document(&t, None, None), "overloaded");
        t.error = None;
        assert_eq!(document(&t, None, Some(&json!({"content": []}))), "");
    }

    #[test]
    fn long_documents_are_cut_on_a_character_boundary() {
        let t = Trace::begin(Provider::Openai, "POST", "/v1/chat/completions");
        let text = "é".repeat(MAX_DOCUMENT_BYTES);
        let request = json!({"messages": [{"role": "user", "content": text}]});
        let doc = document(&t, Some(&request), None);
        assert!(doc.len() <= MAX_DOCUMENT_BYTES && doc.len() > MAX_DOCUMENT_BYTES - 4);
        assert!(doc.chars().all(|c| c == 'é'));
    }
}
