//! Router-level tests of the Anthropic endpoints.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::test_util::{app, app_with_log, events, post, send, with_fields, Event, ANTHROPIC_BODY};
use crate::MockConfig;

const HEADERS: &[(&str, &str)] = &[("anthropic-version", "2023-06-01"), ("x-api-key", "k")];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn stream_body() -> String {
    with_fields(ANTHROPIC_BODY, r#""stream":true"#)
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn non_stream_message_matches_the_api() {
    let r = send(&app(), post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("request-id").starts_with("req_01"));
    let v = r.json();
    assert_eq!(
        keys(&v),
        [
            "id",
            "type",
            "role",
            "model",
            "content",
            "stop_reason",
            "stop_sequence",
            "usage"
        ]
    );
    assert!(v["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-20250514");
    assert_eq!(v["content"].as_array().unwrap().len(), 1);
    assert_eq!(v["content"][0]["type"], "text");
    let text = v["content"][0]["text"].as_str().unwrap();
    assert_eq!(text.split(' ').count(), 16);
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    let usage = &v["usage"];
    assert_eq!(
        keys(usage),
        [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens"
        ]
    );
    let messages_len = r#"[{"role":"user","content":"Hello, Claude"}]"#.len() as u64;
    assert_eq!(usage["input_tokens"], messages_len / 4);
    assert_eq!(usage["cache_creation_input_tokens"], 0);
    assert_eq!(usage["cache_read_input_tokens"], 0);
    assert_eq!(usage["output_tokens"], 16);
}

#[tokio::test]
async fn text_is_deterministic_per_request_body() {
    let app = app();
    let text = |r: &crate::test_util::Collected| r.json()["content"][0]["text"].clone();
    let a = send(&app, post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
    let b = send(&app, post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
    let other = ANTHROPIC_BODY.replace("Hello, Claude", "Good morning");
    let c = send(&app, post("/v1/messages", &other, HEADERS)).await;
    assert_eq!(text(&a), text(&b));
    assert_ne!(text(&a), text(&c));
    assert_ne!(a.json()["id"], b.json()["id"]);
}

#[tokio::test]
async fn stream_follows_the_real_event_sequence() {
    let app = app();
    let headers = [HEADERS, &[("x-mock-output-tokens", "5")]].concat();
    let r = send(&app, post("/v1/messages", &stream_body(), &headers)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/event-stream; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-cache");
    assert!(r.header("request-id").starts_with("req_"));
    let evs = events(&r.text());
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for e in &evs {
        assert_eq!(e.json()["type"], e.event.clone().unwrap());
    }
    let start = evs[0].json();
    let message = &start["message"];
    assert!(message["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!(message["content"], serde_json::json!([]));
    assert_eq!(message["stop_reason"], Value::Null);
    assert_eq!(message["model"], "claude-sonnet-4-20250514");
    assert_eq!(message["usage"]["output_tokens"], 1);
    assert!(message["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        evs[1].json(),
        serde_json::json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
    );
    assert_eq!(evs[2].data, r#"{"type": "ping"}"#);
    let streamed: String = evs[3..8]
        .iter()
        .map(|e| {
            let v = e.json();
            assert_eq!(v["index"], 0);
            assert_eq!(v["delta"]["type"], "text_delta");
            v["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(evs[8].json()["index"], 0);
    let delta = evs[9].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["delta"]["stop_sequence"], Value::Null);
    assert_eq!(delta["usage"]["output_tokens"], 5);

    assert_eq!(streamed.split(' ').count(), 5);

    // The same prompt without streaming yields the same text.
    let plain = send(&app, post("/v1/messages", ANTHROPIC_BODY, &headers)).await;
    assert_eq!(plain.json()["content"][0]["text"], streamed.as_str());
}

#[tokio::test]
async fn max_tokens_truncates_with_max_tokens_stop_reason() {
    let body = ANTHROPIC_BODY.replace("1024", "3");
    let r = send(&app(), post("/v1/messages", &body, HEADERS)).await;
    let v = r.json();
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["usage"]["output_tokens"], 3);
    assert_eq!(
        v["content"][0]["text"].as_str().unwrap().split(' ').count(),
        3
    );
}

#[tokio::test]
async fn forced_errors_use_anthropic_bodies() {
    let app = app();
    for (status, kind) in [
        ("429", "rate_limit_error"),
        ("500", "api_error"),
        ("529", "overloaded_error"),
    ] {
        let headers = [HEADERS, &[("x-mock-status", status)]].concat();
        let r = send(&app, post("/v1/messages", ANTHROPIC_BODY, &headers)).await;
        assert_eq!(r.status.as_str(), status);
        assert_eq!(r.header("content-type"), "application/json");
        let v = r.json();
        assert_eq!(keys(&v), ["type", "error"]);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        assert!(r.header("request-id").starts_with("req_"));
        assert_eq!(r.headers.contains_key("retry-after"), status == "429");
    }
    let headers = [
        HEADERS,
        &[("x-mock-status", "429"), ("x-mock-retry-after", "7")],
    ]
    .concat();
    let r = send(&app, post("/v1/messages", &stream_body(), &headers)).await;
    assert_eq!(r.header("retry-after"), "7");
}

#[tokio::test]
async fn fail_first_fails_only_the_first_requests_of_a_key() {
    let app = app();
    let with = |key: &'static str| {
        [
            HEADERS,
            &[
                ("x-mock-status", "529"),
                ("x-mock-fail-first", "2"),
                ("x-mock-fail-key", key),
            ],
        ]
        .concat()
    };
    let mut statuses = Vec::new();
    for key in ["a", "a", "b", "a", "b", "b", "a"] {
        let r = send(&app, post("/v1/messages", ANTHROPIC_BODY, &with(key))).await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [529, 529, 529, 200, 529, 200, 200]);
}

#[tokio::test]
async fn error_rate_injects_the_configured_status() {
    let always = crate::router(MockConfig {
        error_rate: 1.0,
        error_status: 529,
        seed: Some(1),
        ..MockConfig::default()
    });
    for _ in 0..5 {
        let r = send(&always, post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
        assert_eq!(r.status, 529);
        assert_eq!(r.json()["error"]["type"], "overloaded_error");
    }
    let half = crate::router(MockConfig {
        error_rate: 0.5,
        error_status: 429,
        seed: Some(1),
        ..MockConfig::default()
    });
    let mut errors = 0;
    for _ in 0..200 {
        let r = send(&half, post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
        if r.status == 429 {
            errors += 1;
            assert!(r.headers.contains_key("retry-after"));
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert!((60..140).contains(&errors), "{errors}");
}

#[tokio::test]
async fn error_after_ends_the_stream_with_an_error_event() {
    let headers = [HEADERS, &[("x-mock-error-after", "2")]].concat();
    let r = send(&app(), post("/v1/messages", &stream_body(), &headers)).await;
    assert_eq!(r.status, 200);
    let evs = events(&r.text());
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        evs[5].data,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
    );
    let headers = [
        HEADERS,
        &[("x-mock-error-after", "99"), ("x-mock-output-tokens", "3")],
    ]
    .concat();
    let r = send(&app(), post("/v1/messages", &stream_body(), &headers)).await;
    let evs = events(&r.text());
    assert_eq!(names(&evs).last(), Some(&"error"));
    assert_eq!(
        names(&evs)
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count(),
        3
    );
}

#[tokio::test]
async fn bad_requests_get_invalid_request_errors() {
    let app = app();
    for body in [
        "{not json",
        "[1,2]",
        r#"{"model":"m"}"#,
        r#"{"model":"m","messages":"x"}"#,
        r#"{"messages":[]}"#,
    ] {
        let r = send(&app, post("/v1/messages", body, HEADERS)).await;
        assert_eq!(r.status, 400, "{body}");
        let v = r.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn count_tokens_matches_message_usage() {
    let app = app();
    let r = send(
        &app,
        post("/v1/messages/count_tokens", ANTHROPIC_BODY, HEADERS),
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(keys(&v), ["input_tokens"]);
    let m = send(&app, post("/v1/messages", ANTHROPIC_BODY, HEADERS)).await;
    assert_eq!(v["input_tokens"], m.json()["usage"]["input_tokens"]);
    let headers = [HEADERS, &[("x-mock-status", "500")]].concat();
    let r = send(
        &app,
        post("/v1/messages/count_tokens", ANTHROPIC_BODY, &headers),
    )
    .await;
    assert_eq!(r.status, 500);
    let r = send(&app, post("/v1/messages/count_tokens", "nope", HEADERS)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn prompt_caching_reports_creation_then_read() {
    let app = app();
    let system = "You are a careful assistant. ".repeat(40);
    let body = format!(
        r#"{{"model":"claude-sonnet-4-20250514","max_tokens":100,"system":[{{"type":"text","text":"{system}","cache_control":{{"type":"ephemeral"}}}}],"messages":[{{"role":"user","content":"Hi"}}]}}"#
    );
    let first = send(&app, post("/v1/messages", &body, HEADERS))
        .await
        .json();
    let second = send(
        &app,
        post(
            "/v1/messages",
            &with_fields(&body, r#""stream":true"#),
            HEADERS,
        ),
    )
    .await;
    let start = events(&second.text())[0].json();
    let (u1, u2) = (&first["usage"], &start["message"]["usage"]);
    let created = u1["cache_creation_input_tokens"].as_u64().unwrap();
    assert!(created > 200, "{u1}");
    assert_eq!(u1["cache_read_input_tokens"], 0);
    assert_eq!(u2["cache_read_input_tokens"].as_u64().unwrap(), created);
    assert_eq!(u2["cache_creation_input_tokens"], 0);
    assert_eq!(u1["input_tokens"], u2["input_tokens"]);
}

#[tokio::test]
async fn stream_is_paced_and_written_incrementally() {
    let headers = [
        HEADERS,
        &[
            ("x-mock-ttft-ms", "300"),
            ("x-mock-inter-token-ms", "40"),
            ("x-mock-output-tokens", "3"),
        ],
    ]
    .concat();
    let began = Instant::now();
    let resp = app()
        .oneshot(post("/v1/messages", &stream_body(), &headers))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let mut arrivals = Vec::new();
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        arrivals.push((began.elapsed(), String::from_utf8(data.to_vec()).unwrap()));
    }
    let first_delta = arrivals
        .iter()
        .position(|(_, t)| t.contains("content_block_delta"))
        .unwrap();
    assert!(arrivals[0].1.starts_with("event: message_start"));
    assert!(
        arrivals[0].0 < Duration::from_millis(250),
        "{:?}",
        arrivals[0].0
    );
    assert!(arrivals[first_delta].0 >= Duration::from_millis(300));
    let last_delta = arrivals
        .iter()
        .rposition(|(_, t)| t.contains("content_block_delta"))
        .unwrap();
    assert_eq!(last_delta - first_delta, 2);
    assert!(arrivals[last_delta].0 >= Duration::from_millis(380));
}

#[tokio::test]
async fn disconnect_stops_the_generator_and_logs_what_was_sent() {
    let (app, st) = app_with_log(MockConfig::default(), 10);
    let headers = [
        HEADERS,
        &[
            ("x-mock-inter-token-ms", "10"),
            ("x-mock-output-tokens", "10000"),
        ],
    ]
    .concat();
    let resp = app
        .oneshot(post("/v1/messages", &stream_body(), &headers))
        .await
        .unwrap();
    let id: u64 = resp.headers()["x-mock-response-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut body = resp.into_body();
    for _ in 0..5 {
        body.frame().await.unwrap().unwrap();
    }
    assert_eq!(st.active_streams(), 1);
    assert!(
        st.log.response(id).is_none(),
        "not logged while still streaming"
    );
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(2);
    while st.active_streams() > 0 {
        assert!(Instant::now() < deadline, "generator kept running");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let logged = String::from_utf8(st.log.response(id).unwrap().body.to_vec()).unwrap();
    assert!(logged.starts_with("event: message_start"));
    assert_eq!(logged.matches("event: content_block_delta").count(), 2);
    assert!(!logged.contains("message_stop"));
}
