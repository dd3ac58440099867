#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;
use crate::conversation::fixtures::summary_answer;

fn anthropic(text: &str) -> Value {
    json!({ "type": "message", "content": [
        { "type": "thinking", "thinking": "private", "signature": "s" },
        { "type": "text", "text": text }
    ] })
}

fn summary() -> String {
    summary_answer(
        "the coupon discount applied twice to the cart total",
        "src/cart.rs",
        "total() subtracted cart.discount() twice; the fix keeps a single subtraction",
    )
}

#[test]
fn words_turn_tags_into_names_and_drop_closing_tags() {
    assert_eq!(
        words("<summary>\n## Files:  a_b.rs</summary> x < y <system-reminder>r</system-reminder>"),
        vec!["summary", "files", "a", "b", "rs", "x", "y"]
    );
    assert_eq!(
        words("Summary:\nFiles: a_b.rs x<y"),
        vec!["summary", "files", "a", "b", "rs", "x", "y"]
    );
}

#[test]
fn the_rewritten_summary_matches_its_answer() {
    let answer = summary();
    let fp = answer_fingerprint(Provider::Anthropic, &anthropic(&answer)).unwrap();
    assert_eq!(fp.0.len(), SAMPLE);
    let rewritten = answer
        .replace("<analysis>\n", "Analysis:\n")
        .replace("</analysis>", "")
        .replace("<summary>\n", "# Summary\n\n")
        .replace("</summary>", "")
        .replace('\n', "\n\n  ");
    let continuation = format!("This session is being continued from a previous conversation that ran out of context. The conversation is summarized below:\n{rewritten}\nPlease continue the conversation from where we left it off without asking the user any further questions. Continue with the last task that you were asked to work on.");
    let shingles = summary_shingles(&continuation);
    assert!(shingles.matches(&fp), "{}%", shingles.contains_percent(&fp));
    // Another summary in the same template does not.
    let other = summary_answer(
        "the invoice PDF rendering wrong currency symbols",
        "src/invoice/pdf.rs",
        "the formatter ignored the locale and always printed dollars",
    );
    let other_fp = answer_fingerprint(Provider::Anthropic, &anthropic(&other)).unwrap();
    let percent = shingles.contains_percent(&other_fp);
    assert!(percent < MATCH_PERCENT, "{percent}%");
}

#[test]
fn short_answers_have_no_fingerprint_and_bytes_round_trip() {
    assert_eq!(
        answer_fingerprint(Provider::Anthropic, &anthropic("Done.")),
        None
    );
    assert_eq!(
        answer_fingerprint(Provider::Anthropic, &json!({ "error": {} })),
        None
    );
    let openai =
        json!({ "choices": [{ "message": { "role": "assistant", "content": summary() } }] });
    let fp = answer_fingerprint(Provider::Openai, &openai).unwrap();
    assert_eq!(
        Some(&fp),
        answer_fingerprint(Provider::Anthropic, &anthropic(&summary())).as_ref()
    );
    assert_eq!(AnswerFingerprint::from_bytes(&fp.to_bytes()), Some(fp));
    assert_eq!(AnswerFingerprint::from_bytes(&[1, 2, 3]), None);
    assert_eq!(AnswerFingerprint::from_bytes(&[]), None);
}
