#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::stream::tests::run;
use crate::stream::EventInfo;
use crate::{Provider, Usage};

/// Builds an SSE body from (event name, JSON data) pairs.
fn sse(events: &[(&str, serde_json::Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

fn start(usage: serde_json::Value) -> (&'static str, serde_json::Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_01", "type": "message", "role": "assistant", "content": [],
            "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "stop_sequence": null,
            "usage": usage}}),
    )
}

fn delta(index: u64, delta: serde_json::Value) -> (&'static str, serde_json::Value) {
    (
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn block_start(index: u64, block: serde_json::Value) -> (&'static str, serde_json::Value) {
    (
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn block_stop(index: u64) -> (&'static str, serde_json::Value) {
    (
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

#[test]
fn full_stream_reassembles_thinking_text_and_tool_use() {
    let body = sse(&[
        start(
            json!({"input_tokens": 472, "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 0, "output_tokens": 2}),
        ),
        block_start(
            0,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ),
        delta(0, json!({"type": "thinking_delta", "thinking": "Let me "})),
        delta(0, json!({"type": "thinking_delta", "thinking": "think."})),
        delta(
            0,
            json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        ),
        block_stop(0),
        block_start(1, json!({"type": "text", "text": ""})),
        ("ping", json!({"type": "ping"})),
        delta(1, json!({"type": "text_delta", "text": "Okay"})),
        delta(1, json!({"type": "text_delta", "text": ", checking."})),
        block_stop(1),
        block_start(
            2,
            json!({"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}),
        ),
        delta(2, json!({"type": "input_json_delta", "partial_json": ""})),
        delta(
            2,
            json!({"type": "input_json_delta", "partial_json": "{\"location\":"}),
        ),
        delta(
            2,
            json!({"type": "input_json_delta", "partial_json": " \"Paris\"}"}),
        ),
        block_stop(2),
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"output_tokens": 89}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let (infos, summary) = run(Provider::Anthropic, &body);
    let firsts: Vec<usize> = (0..infos.len())
        .filter(|&i| infos[i].first_content)
        .collect();
    assert_eq!(firsts, vec![2], "the first content_block_delta only");
    assert!(infos.iter().all(|i| !i.is_error));
    assert_eq!(
        summary.message.unwrap(),
        json!({
            "id": "msg_01", "type": "message", "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
                {"type": "text", "text": "Okay, checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                 "input": {"location": "Paris"}}
            ],
            "model": "claude-sonnet-4-5-20250929", "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 89}
        })
    );
    assert_eq!(
        summary.usage,
        Usage {
            input_tokens: Some(472),
            output_tokens: Some(89),
            cache_read_tokens: Some(0),
            cache_write_tokens: Some(0),
        }
    );
    assert_eq!(summary.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert!(summary.complete);
    assert_eq!(summary.error, None);
}

#[test]
fn later_usage_figures_win_and_nulls_do_not_erase() {
    let body = sse(&[
        start(json!({"input_tokens": 10, "cache_read_input_tokens": 0, "output_tokens": 1})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"input_tokens": 12, "cache_read_input_tokens": 4000,
                             "cache_creation_input_tokens": null, "output_tokens": 30}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let (_, summary) = run(Provider::Anthropic, &body);
    assert_eq!(
        summary.usage,
        Usage {
            input_tokens: Some(12),
            output_tokens: Some(30),
            cache_read_tokens: Some(4000),
            cache_write_tokens: None,
        }
    );
    let message = summary.message.unwrap();
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["content"], json!([]));
}

#[test]
fn tool_input_that_does_not_parse_is_kept_as_text() {
    let body = sse(&[
        start(json!({"input_tokens": 1, "output_tokens": 1})),
        block_start(
            0,
            json!({"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        ),
        delta(
            0,
            json!({"type": "input_json_delta", "partial_json": "{\"a\": tru"}),
        ),
        block_stop(0),
        block_start(
            1,
            json!({"type": "tool_use", "id": "u", "name": "g", "input": {}}),
        ),
        block_stop(1),
    ]);
    let (_, summary) = run(Provider::Anthropic, &body);
    let message = summary.message.unwrap();
    assert_eq!(message["content"][0]["input"], json!("{\"a\": tru"));
    assert_eq!(
        message["content"][1]["input"],
        json!({}),
        "no deltas: input stays"
    );
    assert!(!summary.complete, "no message_stop");
}

#[test]
fn citations_are_collected_on_their_block() {
    let cite = |n: u64| json!({"type": "char_location", "cited_text": "x", "document_index": n});
    let body = sse(&[
        start(json!({})),
        block_start(0, json!({"type": "text", "text": ""})),
        delta(0, json!({"type": "citations_delta", "citation": cite(0)})),
        delta(0, json!({"type": "text_delta", "text": "cited"})),
        delta(0, json!({"type": "citations_delta", "citation": cite(1)})),
        block_stop(0),
    ]);
    let (infos, summary) = run(Provider::Anthropic, &body);
    assert!(infos[2].first_content, "a citations delta is content too");
    let block = &summary.message.unwrap()["content"][0];
    assert_eq!(block["text"], "cited");
    assert_eq!(block["citations"], json!([cite(0), cite(1)]));
}

#[test]
fn error_event_is_reported_and_partial_message_kept() {
    let body = sse(&[
        start(json!({"input_tokens": 5, "output_tokens": 1})),
        block_start(0, json!({"type": "text", "text": ""})),
        delta(0, json!({"type": "text_delta", "text": "Hal"})),
        (
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ]);
    let (infos, summary) = run(Provider::Anthropic, &body);
    assert_eq!(
        infos.last(),
        Some(&EventInfo {
            first_content: false,
            is_error: true
        })
    );
    assert_eq!(
        summary.error.as_deref(),
        Some("overloaded_error: Overloaded")
    );
    assert!(!summary.complete);
    assert_eq!(summary.message.unwrap()["content"][0]["text"], "Hal");
    assert_eq!(summary.usage.input_tokens, Some(5));
}

#[test]
fn error_event_with_text_data_is_still_an_error() {
    let (infos, summary) = run(
        Provider::Anthropic,
        "event: error\ndata: upstream went away\n\n",
    );
    assert!(infos[0].is_error);
    assert_eq!(summary.error.as_deref(), Some("upstream went away"));
    assert_eq!(summary.message, None);
}

#[test]
fn stream_cut_mid_block_keeps_what_arrived() {
    let body = sse(&[
        start(json!({"input_tokens": 3, "output_tokens": 1})),
        block_start(
            0,
            json!({"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        ),
        delta(
            0,
            json!({"type": "input_json_delta", "partial_json": "{\"q\": 1}"}),
        ),
    ]);
    let (_, summary) = run(Provider::Anthropic, &body);
    assert_eq!(
        summary.message.unwrap()["content"][0]["input"],
        json!({"q": 1})
    );
    assert!(!summary.complete);
}

#[test]
fn deltas_without_a_start_still_build_a_message() {
    let body = sse(&[
        delta(0, json!({"type": "text_delta", "text": "hi"})),
        delta(1, json!({"type": "thinking_delta", "thinking": "hm"})),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let (_, summary) = run(Provider::Anthropic, &body);
    assert_eq!(
        summary.message.unwrap(),
        json!({"type": "message", "role": "assistant", "content": [
            {"type": "text", "text": "hi"},
            {"type": "thinking", "thinking": "hm"}
        ]})
    );
    assert!(summary.usage.is_empty());
    assert_eq!(summary.model, None);
}

#[test]
fn event_type_falls_back_to_the_sse_event_name() {
    let body = "event: message_stop\ndata: {}\n\n";
    let (_, summary) = run(Provider::Anthropic, body);
    assert!(summary.complete);
}
