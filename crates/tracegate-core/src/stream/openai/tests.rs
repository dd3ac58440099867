#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use crate::stream::tests::run;
use crate::{Provider, Usage};

/// Builds an SSE body from chunk bodies, ending with `[DONE]` when asked.
fn sse(chunks: &[Value], done: bool) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if done {
        s.push_str("data: [DONE]\n\n");
    }
    s
}

fn chunk(choices: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
           "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1",
           "choices": choices, "usage": null})
}

#[test]
fn text_stream_with_usage_reassembles_into_a_completion() {
    let body = sse(
        &[
            chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null},
                          "logprobs": null, "finish_reason": null}]),
            ),
            chunk(json!([{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}])),
            chunk(json!([{"index": 0, "delta": {"content": " world"}, "finish_reason": null}])),
            chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
                   "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1", "choices": [],
                   "usage": {"prompt_tokens": 2000, "completion_tokens": 3, "total_tokens": 2003,
                             "prompt_tokens_details": {"cached_tokens": 1920}}}),
        ],
        true,
    );
    let (infos, summary) = run(Provider::Openai, &body);
    let firsts: Vec<bool> = infos.iter().map(|i| i.first_content).collect();
    assert_eq!(firsts, vec![false, true, false, false, false, false]);
    assert_eq!(
        summary.message.unwrap(),
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 3, "total_tokens": 2003,
                      "prompt_tokens_details": {"cached_tokens": 1920}},
            "system_fingerprint": "fp_1"
        })
    );
    assert_eq!(
        summary.usage,
        Usage {
            input_tokens: Some(80),
            output_tokens: Some(3),
            cache_read_tokens: Some(1920),
            cache_write_tokens: None,
        }
    );
    assert_eq!(summary.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert!(summary.complete);
    assert_eq!(summary.error, None);
}

#[test]
fn tool_call_fragments_are_concatenated() {
    let body = sse(
        &[
            chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": null,
                "tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "get_weather", "arguments": ""}}]}}]),
            ),
            chunk(json!([{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": "{\"loc"}}]}}])),
            chunk(json!([{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": "\":\"Paris\"}"}},
                {"index": 1, "id": "call_b", "type": "function",
                 "function": {"name": "get_time", "arguments": "{}"}}]}}])),
            chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
        ],
        false,
    );
    let (infos, summary) = run(Provider::Openai, &body);
    assert!(infos[0].first_content, "a tool call fragment is content");
    assert!(infos[1..].iter().all(|i| !i.first_content));
    let message = summary.message.unwrap();
    assert_eq!(
        message["choices"][0]["message"],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"loc\":\"Paris\"}"}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_time", "arguments": "{}"}}
        ]})
    );
    assert_eq!(message["choices"][0]["finish_reason"], "tool_calls");
    assert!(summary.complete, "a finish_reason completes the stream");
    assert!(summary.usage.is_empty(), "no usage chunk was asked for");
}

#[test]
fn refusal_and_reasoning_are_content_and_kept() {
    let body = sse(
        &[
            chunk(json!([{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hm"}}])),
            chunk(json!([{"index": 0, "delta": {"refusal": "I can't"}}])),
            chunk(json!([{"index": 0, "delta": {"refusal": " help."}, "finish_reason": "stop"}])),
        ],
        true,
    );
    let (infos, summary) = run(Provider::Openai, &body);
    assert!(infos[0].first_content);
    let msg = &summary.message.unwrap()["choices"][0]["message"];
    assert_eq!(msg["refusal"], "I can't help.");
    assert_eq!(msg["reasoning_content"], "hm");
    assert_eq!(msg["content"], Value::Null);
}

#[test]
fn several_choices_are_kept_apart_in_index_order() {
    let body = sse(
        &[
            chunk(json!([{"index": 1, "delta": {"content": "B"}}])),
            chunk(json!([{"index": 0, "delta": {"content": "A"}}])),
            chunk(json!([{"index": 1, "delta": {"content": "b"}, "finish_reason": "length"}])),
        ],
        true,
    );
    let (_, summary) = run(Provider::Openai, &body);
    let choices = summary.message.unwrap()["choices"].clone();
    assert_eq!(choices[0]["message"]["content"], "A");
    assert_eq!(choices[0]["finish_reason"], Value::Null);
    assert_eq!(choices[1]["message"]["content"], "Bb");
    assert_eq!(choices[1]["finish_reason"], "length");
}

#[test]
fn logprobs_lists_are_joined() {
    let lp = |t: &str| json!({"token": t, "logprob": -0.1, "top_logprobs": []});
    let body = sse(
        &[
            chunk(json!([{"index": 0, "delta": {"content": "a"},
                          "logprobs": {"content": [lp("a")], "refusal": null}}])),
            chunk(json!([{"index": 0, "delta": {"content": "b"},
                          "logprobs": {"content": [lp("b")], "refusal": null}}])),
        ],
        true,
    );
    let (_, summary) = run(Provider::Openai, &body);
    let logprobs = summary.message.unwrap()["choices"][0]["logprobs"].clone();
    assert_eq!(logprobs, json!({"content": [lp("a"), lp("b")]}));
}

#[test]
fn mid_stream_error_is_reported() {
    let body = sse(
        &[
            chunk(json!([{"index": 0, "delta": {"content": "par"}}])),
            json!({"error": {"message": "The server had an error", "type": "server_error",
                             "param": null, "code": null}}),
        ],
        false,
    );
    let (infos, summary) = run(Provider::Openai, &body);
    assert!(!infos[0].is_error);
    assert!(infos[1].is_error);
    assert!(!infos[1].first_content);
    assert_eq!(
        summary.error.as_deref(),
        Some("server_error: The server had an error")
    );
    assert!(!summary.complete);
    assert_eq!(
        summary.message.unwrap()["choices"][0]["message"]["content"],
        "par"
    );
}

#[test]
fn done_alone_completes_and_cut_streams_do_not() {
    let (_, summary) = run(Provider::Openai, "data: [DONE]\n\n");
    assert!(summary.complete);
    assert_eq!(summary.message, None);
    let body = sse(
        &[chunk(json!([{"index": 0, "delta": {"content": "x"}}]))],
        false,
    );
    let (_, summary) = run(Provider::Openai, &body);
    assert!(!summary.complete);
    assert!(summary.message.is_some());
}

#[test]
fn empty_content_is_not_the_first_token() {
    let body = sse(
        &[
            chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}}])),
            chunk(json!([{"index": 0, "delta": {"content": ""}}])),
        ],
        true,
    );
    let (infos, summary) = run(Provider::Openai, &body);
    assert!(infos.iter().all(|i| !i.first_content));
    assert_eq!(
        summary.message.unwrap()["choices"][0]["message"]["content"],
        ""
    );
}
