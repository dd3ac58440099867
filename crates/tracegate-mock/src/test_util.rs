//! Helpers for router tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::exchange_log::ExchangeLog;
use crate::state::{AppState, Shared};
use crate::MockConfig;

/// A router and its state, with an exchange log of `capacity` entries.
pub(crate) fn app_with_log(cfg: MockConfig, capacity: usize) -> (Router, AppState) {
    let st = Arc::new(Shared::with_log(
        cfg,
        ExchangeLog::new(capacity, usize::MAX),
    ));
    (crate::router::build(Arc::clone(&st)), st)
}

/// A router with a seeded default config.
pub(crate) fn app() -> Router {
    crate::router(MockConfig {
        seed: Some(7),
        ..MockConfig::default()
    })
}

/// A collected response.
#[derive(Debug)]
pub(crate) struct Collected {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Collected {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .to_str()
            .unwrap()
    }

    pub fn response_id(&self) -> String {
        self.header(crate::HEADER_RESPONSE_ID).to_owned()
    }
}

/// Sends `req` and collects the whole response.
pub(crate) async fn send(app: &Router, req: Request<Body>) -> Collected {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A POST of `body` to `path` with extra `headers`.
pub(crate) fn post(path: &str, body: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

/// A GET of `path` with extra `headers`.
pub(crate) fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::empty()).unwrap()
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("bad data ({e}): {}", self.data))
    }
}

/// Parses an event stream strictly: every event ends with a blank line and has one data line.
pub(crate) fn events(text: &str) -> Vec<Event> {
    assert!(
        text.ends_with("\n\n"),
        "stream must end with a blank line: {text:?}"
    );
    text.trim_end_matches('\n')
        .split("\n\n")
        .map(|block| {
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    assert!(event.replace(name.to_owned()).is_none(), "{block}");
                } else if let Some(d) = line.strip_prefix("data: ") {
                    assert!(data.replace(d.to_owned()).is_none(), "{block}");
                } else {
                    panic!("unexpected line {line:?}");
                }
            }
            Event {
                event,
                data: data.expect("data line"),
            }
        })
        .collect()
}

pub(crate) const ANTHROPIC_BODY: &str = r#"{"model":"claude-sonnet-4-20250514","max_tokens":1024,"messages":[{"role":"user","content":"Hello, Claude"}]}"#;

pub(crate) const OPENAI_BODY: &str =
    r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hello there"}]}"#;

/// `body` with `"stream":true` (and any extra fields) added after the opening brace.
pub(crate) fn with_fields(body: &str, fields: &str) -> String {
    format!("{{{fields},{}", &body[1..])
}
