//! Router-level tests: models, fallbacks, exchange log and inspection endpoints.

use serde_json::Value;

use crate::test_util::{
    app, app_with_log, events, get, post, send, with_fields, ANTHROPIC_BODY, OPENAI_BODY,
};
use crate::{MockConfig, RESPONSE_LOG_CAPACITY};

#[tokio::test]
async fn models_format_follows_the_headers() {
    let app = app();
    for headers in [
        &[("anthropic-version", "2023-06-01")][..],
        &[("x-api-key", "k")][..],
    ] {
        let r = send(&app, get("/v1/models", headers)).await;
        assert_eq!(r.status, 200);
        assert!(r.header("request-id").starts_with("req_"));
        let v = r.json();
        let data = v["data"].as_array().unwrap();
        assert!(!data.is_empty());
        for m in data {
            assert_eq!(m["type"], "model");
            assert!(m["id"].as_str().unwrap().starts_with("claude-"));
            assert!(m["display_name"].is_string());
            assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(v["has_more"], false);
        assert_eq!(v["first_id"], data[0]["id"]);
        assert_eq!(v["last_id"], data[data.len() - 1]["id"]);
    }
    let r = send(&app, get("/v1/models", &[("authorization", "Bearer sk")])).await;
    let v = r.json();
    assert_eq!(v["object"], "list");
    for m in v["data"].as_array().unwrap() {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_u64());
        assert!(m["owned_by"].is_string());
        assert!(m.get("type").is_none());
    }
    let r = send(&app, get("/v1/models", &[("x-mock-status", "503")])).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["type"], "server_error");
}

#[tokio::test]
async fn unknown_paths_get_provider_404s() {
    let app = app();
    let r = send(&app, post("/v1/completions", "{}", &[])).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"error":{"message":"Invalid URL (POST /v1/completions)","type":"invalid_request_error","param":null,"code":null}})
    );
    let r = send(
        &app,
        get("/v1/nothing", &[("anthropic-version", "2023-06-01")]),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"type":"error","error":{"type":"not_found_error","message":"Not found"}})
    );
    assert!(r.headers.contains_key("x-mock-response-id"));
    let r = send(&app, get("/v1/messages", &[])).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["type"], "error");
}

#[tokio::test]
async fn logged_responses_are_the_exact_bytes_sent() {
    let app = app();
    let stream = with_fields(ANTHROPIC_BODY, r#""stream":true"#);
    let cases = [
        post("/v1/messages", ANTHROPIC_BODY, &[]),
        post("/v1/messages", &stream, &[]),
        post(
            "/v1/chat/completions",
            &with_fields(OPENAI_BODY, r#""stream":true"#),
            &[],
        ),
        post("/v1/chat/completions", "bad", &[]),
        get("/v1/models", &[]),
    ];
    let mut ids = Vec::new();
    for req in cases {
        let r = send(&app, req).await;
        let id = r.response_id();
        let logged = send(&app, get(&format!("/_mock/responses/{id}"), &[])).await;
        assert_eq!(logged.status, 200);
        assert_eq!(logged.body, r.body);
        assert_eq!(logged.header("content-type"), r.header("content-type"));
        assert_eq!(logged.header("x-mock-original-status"), r.status.as_str());
        assert!(!logged.headers.contains_key("x-mock-response-id"));
        ids.push(id);
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    let r = send(&app, get("/_mock/responses/424242", &[])).await;
    assert_eq!(r.status, 404);
    let r = send(&app, get("/_mock/responses/abc", &[])).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn logged_requests_show_headers_and_body() {
    let app = app();
    let body = "{ \"model\": \"gpt-4o\", \"messages\": [ {\"role\":\"user\",\"content\":\"x\"} ] }";
    let r = send(
        &app,
        post(
            "/v1/chat/completions?trace=1",
            body,
            &[("authorization", "Bearer sk-1"), ("x-extra", "yes")],
        ),
    )
    .await;
    let id = r.response_id();
    let view = send(&app, get(&format!("/_mock/requests/{id}"), &[])).await;
    assert_eq!(view.status, 200);
    assert!(
        view.text().contains(&format!("\"body\":{body}")),
        "{}",
        view.text()
    );
    let v = view.json();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/v1/chat/completions?trace=1");
    assert_eq!(v["headers"]["authorization"], "Bearer sk-1");
    assert_eq!(v["headers"]["x-extra"], "yes");
    assert_eq!(v["headers"]["content-type"], "application/json");
    assert_eq!(v["body"]["model"], "gpt-4o");
    let raw = send(&app, get(&format!("/_mock/requests/{id}/body"), &[])).await;
    assert_eq!(raw.body, body.as_bytes());

    let r = send(&app, get("/v1/models", &[])).await;
    let v = send(
        &app,
        get(&format!("/_mock/requests/{}", r.response_id()), &[]),
    )
    .await
    .json();
    assert_eq!(v["body"], Value::Null);
    assert_eq!(v["method"], "GET");
}

#[tokio::test]
async fn the_log_is_bounded() {
    let app = crate::router(MockConfig::default());
    let first = send(&app, get("/v1/models", &[])).await.response_id();
    let mut last = String::new();
    for _ in 0..RESPONSE_LOG_CAPACITY {
        last = send(&app, get("/v1/models", &[])).await.response_id();
    }
    let gone = send(&app, get(&format!("/_mock/responses/{first}"), &[])).await;
    assert_eq!(gone.status, 404);
    let gone = send(&app, get(&format!("/_mock/requests/{first}"), &[])).await;
    assert_eq!(gone.status, 404);
    let kept = send(&app, get(&format!("/_mock/responses/{last}"), &[])).await;
    assert_eq!(kept.status, 200);

    let (small, st) = app_with_log(MockConfig::default(), 3);
    for _ in 0..10 {
        send(&small, get("/v1/models", &[])).await;
    }
    assert_eq!(st.log.len(), 3);
}

#[tokio::test]
async fn oversized_requests_are_rejected() {
    let app = app();
    let req = axum::http::Request::post("/v1/messages")
        .header("content-length", (crate::MAX_REQUEST_BYTES + 1).to_string())
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["type"], "request_too_large");
    assert!(r.headers.contains_key("x-mock-response-id"));
}

#[tokio::test]
async fn a_streamed_log_entry_matches_the_parsed_stream() {
    let app = app();
    let body = with_fields(
        OPENAI_BODY,
        r#""stream":true,"stream_options":{"include_usage":true}"#,
    );
    let r = send(
        &app,
        post(
            "/v1/chat/completions",
            &body,
            &[("x-mock-inter-token-ms", "2")],
        ),
    )
    .await;
    let logged = send(
        &app,
        get(&format!("/_mock/responses/{}", r.response_id()), &[]),
    )
    .await;
    assert_eq!(events(&logged.text()), events(&r.text()));
}

#[tokio::test]
async fn latency_delays_the_response_headers() {
    let app = app();
    let began = std::time::Instant::now();
    let r = send(&app, get("/v1/models", &[("x-mock-latency-ms", "120")])).await;
    assert_eq!(r.status, 200);
    assert!(began.elapsed() >= std::time::Duration::from_millis(120));
    let began = std::time::Instant::now();
    let r = send(
        &app,
        post(
            "/v1/messages",
            ANTHROPIC_BODY,
            &[("x-mock-latency-ms", "120"), ("x-mock-status", "529")],
        ),
    )
    .await;
    assert_eq!(r.status, 529);
    assert!(began.elapsed() >= std::time::Duration::from_millis(120));
}
