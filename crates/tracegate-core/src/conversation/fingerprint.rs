//! Evidence for compaction: a continuation is linked to the conversation whose
//! answer its summary repeats.
//!
//! The client does not resend the summary verbatim: it turns `<summary>`-style
//! tags into headings (`Summary:`), drops closing tags, changes whitespace and
//! appends an instruction. Both sides are therefore reduced to words: system
//! reminders removed, an opening tag replaced by its name, closing tags dropped,
//! everything that is not a letter or digit a separator, lower case. The words
//! are cut into overlapping shingles of [`SHINGLE_WORDS`] words and hashed.
//!
//! An answer keeps a small sample of its shingles: the [`SAMPLE`] smallest
//! hashes (a bottom-k sketch), 4 bytes each, stored with its trace. A
//! continuation keeps the set of all its shingles. The two match when at least
//! [`MATCH_PERCENT`] % of the answer's sample is found in the continuation:
//! an estimate of how much of the answer the continuation contains, whatever
//! preamble or trailing instruction surrounds it. Answers shorter than
//! [`MIN_WORDS`] words are no summary and get no fingerprint.

use std::collections::HashSet;

use serde_json::Value;

use super::normalize::strip_reminders;
use crate::Provider;

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 6;
/// Shingle hashes an answer fingerprint keeps.
pub const SAMPLE: usize = 32;
/// Words an answer needs to get a fingerprint.
pub const MIN_WORDS: usize = 64;
/// Share of an answer's sample a continuation must contain to match it.
pub const MATCH_PERCENT: usize = 70;

/// The fingerprint of an answer: its smallest shingle hashes, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerFingerprint(Vec<u32>);

impl AnswerFingerprint {
    /// The stored form: 4 bytes (little-endian) per hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    /// Reads [`AnswerFingerprint::to_bytes`]; `None` when malformed or empty.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) || bytes.len() > SAMPLE * 4 {
            return None;
        }
        let hashes = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(AnswerFingerprint(hashes))
    }
}

/// The shingles of a continuation's first user message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryShingles(HashSet<u32>);

impl SummaryShingles {
    /// The share (in percent) of `answer`'s sample found in this summary.
    pub fn contains_percent(&self, answer: &AnswerFingerprint) -> usize {
        if answer.0.is_empty() {
            return 0;
        }
        let found = answer.0.iter().filter(|h| self.0.contains(h)).count();
        found * 100 / answer.0.len()
    }

    /// True when this summary repeats `answer` (see the module docs).
    pub fn matches(&self, answer: &AnswerFingerprint) -> bool {
        self.contains_percent(answer) >= MATCH_PERCENT
    }
}

/// The fingerprint of a (reassembled) response body's text; `None` when the
/// answer is too short to be a summary.
pub fn answer_fingerprint(provider: Provider, response_body: &Value) -> Option<AnswerFingerprint> {
    let text = answer_text(provider, response_body);
    let words = words(&text);
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut hashes: Vec<u32> = shingles(&words).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes.truncate(SAMPLE);
    Some(AnswerFingerprint(hashes))
}

/// The shingles of a text (a continuation's first user message).
pub fn summary_shingles(text: &str) -> SummaryShingles {
    SummaryShingles(shingles(&words(text)).collect())
}

/// The text blocks of an answer (tool calls and thinking left out).
fn answer_text(provider: Provider, body: &Value) -> String {
    let mut out: Vec<&str> = Vec::new();
    match provider {
        Provider::Anthropic => {
            let blocks = body.get("content").and_then(Value::as_array);
            for b in blocks.into_iter().flatten() {
                if b.get("type").and_then(Value::as_str) == Some("text") {
                    out.extend(b.get("text").and_then(Value::as_str));
                }
            }
        }
        Provider::Openai => {
            let choices = body.get("choices").and_then(Value::as_array);
            for c in choices.into_iter().flatten() {
                match c.pointer("/message/content") {
                    Some(Value::String(s)) => out.push(s),
                    Some(Value::Array(parts)) => {
                        out.extend(parts.iter().filter_map(|p| p.get("text")?.as_str()))
                    }
                    _ => {}
                }
            }
        }
    }
    out.join("\n")
}

/// Lower-case words of a text: reminders removed, an opening tag `<name ...>`
/// replaced by its name, closing tags dropped.
fn words(text: &str) -> Vec<String> {
    let text = strip_reminders(text);
    let mut plain = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match tag(after) {
            Some((name, len)) => {
                plain.push(' ');
                plain.push_str(name);
                plain.push(' ');
                rest = &after[len..];
            }
            None => {
                plain.push(' ');
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A tag after its `<`: the name to keep (empty for a closing tag) and the
/// length up to and including `>`.
fn tag(after: &str) -> Option<(&str, usize)> {
    let end = after.find('>')?;
    let inner = &after[..end];
    if inner.is_empty() || inner.len() > 64 || inner.contains('<') || inner.contains('\n') {
        return None;
    }
    if let Some(closing) = inner.strip_prefix('/') {
        let ok = !closing.is_empty()
            && closing
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        return ok.then_some(("", end + 1));
    }
    let name = inner.split_whitespace().next().unwrap_or("");
    let first_ok = name.chars().next().is_some_and(char::is_alphabetic);
    let ok = first_ok
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    ok.then_some((name, end + 1))
}

fn shingles(words: &[String]) -> impl Iterator<Item = u32> + '_ {
    words.windows(SHINGLE_WORDS).map(|w| {
        let mut h = blake3::Hasher::new();
        h.update(b"tracegate.conversation.shingle.v1");
        for word in w {
            h.update(word.as_bytes());
            h.update(b" ");
        }
        let b = h.finalize();
        let b = b.as_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

#[cfg(test)]
mod tests;
