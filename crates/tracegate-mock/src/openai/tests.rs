//! Router-level tests of the OpenAI chat completions endpoint.

use serde_json::Value;

use crate::test_util::{app, events, post, send, with_fields, Event, OPENAI_BODY};

const HEADERS: &[(&str, &str)] = &[("authorization", "Bearer sk-test")];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn data(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| {
            assert_eq!(e.event, None, "OpenAI streams have no event names");
            e.data.as_str()
        })
        .collect()
}

#[tokio::test]
async fn non_stream_completion_matches_the_api() {
    let r = send(&app(), post("/v1/chat/completions", OPENAI_BODY, HEADERS)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("x-request-id").starts_with("req_"));
    let v = r.json();
    assert_eq!(
        keys(&v),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "service_tier",
            "system_fingerprint"
        ]
    );
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(v["model"], "gpt-4o");
    assert!(v["system_fingerprint"].as_str().unwrap().starts_with("fp_"));
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["message"]["annotations"], serde_json::json!([]));
    let content = choice["message"]["content"].as_str().unwrap();
    assert_eq!(content.split(' ').count(), 16);
    let usage = &v["usage"];
    let prompt = r#"[{"role":"user","content":"Hello there"}]"#.len() as u64 / 4;
    assert_eq!(usage["prompt_tokens"], prompt);
    assert_eq!(usage["completion_tokens"], 16);
    assert_eq!(usage["total_tokens"], prompt + 16);
    assert_eq!(
        usage["prompt_tokens_details"],
        serde_json::json!({"cached_tokens":0,"audio_tokens":0})
    );
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage() {
    for extra in [
        r#""stream":true"#,
        r#""stream":true,"stream_options":{"include_usage":false}"#,
    ] {
        let r = send(
            &app(),
            post(
                "/v1/chat/completions",
                &with_fields(OPENAI_BODY, extra),
                HEADERS,
            ),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), "text/event-stream; charset=utf-8");
        let text = r.text();
        assert!(!text.contains("usage"), "{text}");
        let evs = events(&text);
        let data = data(&evs);
        assert_eq!(data.len(), 1 + 16 + 1 + 1);
        assert_eq!(*data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = evs[..evs.len() - 1].iter().map(Event::json).collect();
        let id = chunks[0]["id"].clone();
        for c in &chunks {
            assert_eq!(
                keys(c),
                [
                    "id",
                    "object",
                    "created",
                    "model",
                    "service_tier",
                    "system_fingerprint",
                    "choices"
                ]
            );
            assert_eq!(c["object"], "chat.completion.chunk");
            assert_eq!(c["id"], id);
            assert_eq!(c["model"], "gpt-4o");
        }
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            serde_json::json!({"role":"assistant","content":"","refusal":null})
        );
        assert_eq!(chunks[0]["choices"][0]["finish_reason"], Value::Null);
        let content: String = chunks[1..17]
            .iter()
            .map(|c| {
                let delta = &c["choices"][0]["delta"];
                assert_eq!(keys(delta), ["content"]);
                delta["content"].as_str().unwrap().to_owned()
            })
            .collect();
        let last = &chunks[17]["choices"][0];
        assert_eq!(last["delta"], serde_json::json!({}));
        assert_eq!(last["finish_reason"], "stop");

        let plain = send(&app(), post("/v1/chat/completions", OPENAI_BODY, HEADERS)).await;
        assert_eq!(
            plain.json()["choices"][0]["message"]["content"],
            content.as_str()
        );
    }
}

#[tokio::test]
async fn include_usage_adds_null_usage_and_a_final_usage_chunk() {
    let body = with_fields(
        OPENAI_BODY,
        r#""stream":true,"stream_options":{"include_usage":true}"#,
    );
    let headers = [HEADERS, &[("x-mock-output-tokens", "4")]].concat();
    let r = send(&app(), post("/v1/chat/completions", &body, &headers)).await;
    let evs = events(&r.text());
    let data = data(&evs);
    assert_eq!(data.len(), 1 + 4 + 1 + 1 + 1);
    assert_eq!(*data.last().unwrap(), "[DONE]");
    for raw in &data[..6] {
        assert!(raw.ends_with(r#","usage":null}"#), "{raw}");
    }
    let usage_chunk = evs[6].json();
    assert_eq!(usage_chunk["choices"], serde_json::json!([]));
    assert_eq!(keys(&usage_chunk).last(), Some(&"usage"));
    let usage = &usage_chunk["usage"];
    assert_eq!(usage["completion_tokens"], 4);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 4
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["audio_tokens"], 0);
}

#[tokio::test]
async fn forced_errors_use_openai_bodies() {
    let app = app();
    let headers = [HEADERS, &[("x-mock-status", "429")]].concat();
    let r = send(&app, post("/v1/chat/completions", OPENAI_BODY, &headers)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), "1");
    let v = r.json();
    assert_eq!(keys(&v["error"]), ["message", "type", "param", "code"]);
    assert_eq!(v["error"]["type"], "requests");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["param"], Value::Null);
    let headers = [HEADERS, &[("x-mock-status", "500")]].concat();
    let r = send(&app, post("/v1/chat/completions", OPENAI_BODY, &headers)).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["type"], "server_error");
    assert!(!r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn error_after_sends_an_error_object_and_no_done() {
    let body = with_fields(OPENAI_BODY, r#""stream":true"#);
    let headers = [HEADERS, &[("x-mock-error-after", "3")]].concat();
    let r = send(&app(), post("/v1/chat/completions", &body, &headers)).await;
    assert_eq!(r.status, 200);
    let evs = events(&r.text());
    assert_eq!(evs.len(), 1 + 3 + 1);
    assert!(!r.text().contains("[DONE]"));
    let err = evs[4].json();
    assert_eq!(keys(&err), ["error"]);
    assert_eq!(err["error"]["type"], "server_error");
    assert_eq!(evs[3].json()["choices"][0]["finish_reason"], Value::Null);
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let app = app();
    let r = send(&app, post("/v1/chat/completions", "{oops", HEADERS)).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], Value::Null);
    assert_eq!(v["error"]["code"], Value::Null);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("could not parse the JSON body"));
    let r = send(
        &app,
        post("/v1/chat/completions", r#"{"model":"gpt-4o"}"#, HEADERS),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["param"], "messages");
    assert_eq!(r.json()["error"]["code"], "missing_required_parameter");
}

#[tokio::test]
async fn max_tokens_truncates_with_length() {
    for field in [r#""max_tokens":2"#, r#""max_completion_tokens":2"#] {
        let body = with_fields(OPENAI_BODY, field);
        let v = send(&app(), post("/v1/chat/completions", &body, HEADERS))
            .await
            .json();
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["completion_tokens"], 2);
    }
}

#[tokio::test]
async fn long_repeated_prompts_report_cached_tokens() {
    let app = app();
    let long = "lorem ipsum ".repeat(600);
    let body = format!(
        r#"{{"model":"gpt-4o","messages":[{{"role":"system","content":"{long}"}},{{"role":"user","content":"hi"}}]}}"#
    );
    let first = send(&app, post("/v1/chat/completions", &body, HEADERS))
        .await
        .json();
    let second = send(&app, post("/v1/chat/completions", &body, HEADERS))
        .await
        .json();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached >= 1024 && cached % 128 == 0, "{cached}");
    assert!(cached <= second["usage"]["prompt_tokens"].as_u64().unwrap());
}
