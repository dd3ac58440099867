//! The `x-mock-tool-use` header: parsing, and the answers of both providers, streamed or not.

use axum::http::HeaderValue;
use serde_json::{json, Value};

use super::*;
use crate::test_util::{app, events, post, send, with_fields, ANTHROPIC_BODY, OPENAI_BODY};

const TASK: &str =
    r#"{"name":"Task","input":{"description":"check","prompt":"Find why the index is slow"}}"#;

fn parse(value: &str) -> Option<ToolUse> {
    let mut h = HeaderMap::new();
    h.insert(HEADER_TOOL_USE, HeaderValue::from_str(value).unwrap());
    ToolUse::from_headers(&h)
}

#[test]
fn parses_name_and_input_and_ignores_the_malformed() {
    let t = parse(r#"{"name":"Task","input":{"prompt":"look \u00e9"}}"#).unwrap();
    assert_eq!(t.name, "Task");
    assert_eq!(t.input["prompt"], "look é");
    assert_eq!(parse(r#"{"name":"Read"}"#).unwrap().arguments(), "{}");
    for bad in [
        "",
        "Task",
        r#"{"name":""}"#,
        r#"{"input":{}}"#,
        r#"{"name":"T","input":[1]}"#,
    ] {
        assert_eq!(parse(bad), None, "{bad}");
    }
    assert_eq!(ToolUse::from_headers(&HeaderMap::new()), None);
}

#[test]
fn streamed_pieces_join_to_the_arguments() {
    let t = parse(r#"{"name":"Task","input":{"prompt":"naïve café ✓","n":1}}"#).unwrap();
    let pieces = t.argument_pieces();
    assert_eq!(pieces.len(), STREAMED_PIECES);
    assert_eq!(pieces.concat(), t.arguments());
    let empty = parse(r#"{"name":"T"}"#).unwrap();
    assert_eq!(empty.argument_pieces().concat(), "{}");
}

const ANTHROPIC: &[(&str, &str)] = &[
    ("anthropic-version", "2023-06-01"),
    ("x-api-key", "k"),
    (HEADER_TOOL_USE, TASK),
];
const OPENAI: &[(&str, &str)] = &[("authorization", "Bearer k"), (HEADER_TOOL_USE, TASK)];

#[tokio::test]
async fn anthropic_answer_ends_with_the_tool_use_block() {
    let r = send(&app(), post("/v1/messages", ANTHROPIC_BODY, ANTHROPIC)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["stop_reason"], "tool_use");
    let content = v["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["type"], "text");
    let call = &content[1];
    assert_eq!(call["type"], "tool_use");
    assert!(call["id"].as_str().unwrap().starts_with("toolu_01"));
    assert_eq!(call["name"], "Task");
    assert_eq!(call["input"]["prompt"], "Find why the index is slow");
}

#[tokio::test]
async fn anthropic_stream_streams_the_tool_input() {
    let body = with_fields(ANTHROPIC_BODY, r#""stream":true"#);
    let r = send(&app(), post("/v1/messages", &body, ANTHROPIC)).await;
    let evs: Vec<Value> = events(&r.text()).iter().map(|e| e.json()).collect();
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(starts[1]["content_block"]["type"], "tool_use");
    assert_eq!(starts[1]["content_block"]["name"], "Task");
    assert_eq!(starts[1]["content_block"]["input"], json!({}));
    let input: String = evs
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| {
            assert_eq!(e["index"], 1);
            e["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    let input: Value = serde_json::from_str(&input).unwrap();
    assert_eq!(input["prompt"], "Find why the index is slow");
    let stops = evs
        .iter()
        .filter(|e| e["type"] == "content_block_stop")
        .count();
    assert_eq!(stops, 2);
    let delta = evs.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(evs.last().unwrap()["type"], "message_stop");
}

#[tokio::test]
async fn openai_answer_carries_tool_calls() {
    let r = send(&app(), post("/v1/chat/completions", OPENAI_BODY, OPENAI)).await;
    assert_eq!(r.status, 200);
    let choice = &r.json()["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "Task");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["prompt"], "Find why the index is slow");
    // Without the header, no tool_calls member at all.
    let plain = send(
        &app(),
        post("/v1/chat/completions", OPENAI_BODY, &OPENAI[..1]),
    )
    .await;
    assert!(plain.json()["choices"][0]["message"]
        .get("tool_calls")
        .is_none());
}

#[tokio::test]
async fn openai_stream_streams_the_arguments() {
    let body = with_fields(OPENAI_BODY, r#""stream":true"#);
    let r = send(&app(), post("/v1/chat/completions", &body, OPENAI)).await;
    let text = r.text();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let evs: Vec<Value> = events(&text)
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| e.json())
        .collect();
    let calls: Vec<&Value> = evs
        .iter()
        .filter_map(|e| e["choices"][0]["delta"].get("tool_calls"))
        .map(|c| &c[0])
        .collect();
    assert!(calls.len() > 1);
    assert_eq!(calls[0]["function"]["name"], "Task");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    let args: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args["prompt"], "Find why the index is slow");
    let last = evs.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
}
