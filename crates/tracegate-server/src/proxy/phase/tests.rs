//! Every phase's refusal is answered and recorded: requests through the gateway's router,
//! then the stored trace of each, found by its `x-request-id`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracegate_core::{Outcome, TraceId};
use tracegate_store::{SqliteStore, TraceStore};

use crate::config::{Config, UpstreamConfig, UpstreamKind};
use crate::proxy::headers::REQUEST_ID_HEADER;
use crate::Gateway;

/// One request that some phase refuses, and what it must be answered and recorded with.
struct Case {
    what: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    status: StatusCode,
    outcome: Outcome,
}

const JSON: (&str, &str) = ("content-type", "application/json");
const KEY: (&str, &str) = ("x-tracegate-account", "team-a");

const CASES: &[Case] = &[
    Case {
        what: "read: content type",
        path: "/v1/messages",
        headers: &[("content-type", "text/plain"), KEY],
        body: "{}",
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        outcome: Outcome::ClientError,
    },
    Case {
        what: "read: body too large",
        path: "/v1/messages",
        headers: &[JSON, KEY],
        body: r#"{"model":"claude-x","messages":[],"padding":"0123456789012345678901234567890123456789"}"#,
        status: StatusCode::PAYLOAD_TOO_LARGE,
        outcome: Outcome::ClientError,
    },
    Case {
        what: "read: not JSON",
        path: "/v1/chat/completions",
        headers: &[JSON, KEY],
        body: "nope",
        status: StatusCode::BAD_REQUEST,
        outcome: Outcome::ClientError,
    },
    Case {
        what: "route: no upstream for the model",
        path: "/v1/chat/completions",
        headers: &[JSON, KEY],
        body: r#"{"model":"llama"}"#,
        status: StatusCode::NOT_FOUND,
        outcome: Outcome::ClientError,
    },
    Case {
        what: "route: malformed cache directive",
        path: "/v1/chat/completions",
        headers: &[JSON, KEY, ("x-tracegate-cache", "forever please")],
        body: r#"{"model":"gpt-4.1"}"#,
        status: StatusCode::BAD_REQUEST,
        outcome: Outcome::ClientError,
    },
    Case {
        what: "upstream: unreachable",
        path: "/v1/chat/completions",
        headers: &[JSON, KEY],
        body: r#"{"model":"gpt-4.1"}"#,
        status: StatusCode::BAD_GATEWAY,
        outcome: Outcome::GatewayError,
    },
];

/// A gateway whose only upstream serves `gpt-*` at a port nothing listens on, and takes
/// bodies of at most 64 bytes.
fn gateway(store: Arc<SqliteStore>) -> Gateway {
    let mut openai = UpstreamConfig::new("openai", UpstreamKind::Openai, "http://127.0.0.1:1");
    openai.models = vec!["gpt-*".into()];
    let config = Config {
        upstreams: vec![openai],
        max_body_bytes: 64,
        spool_durability: crate::config::SpoolDurability::Memory,
        ..Config::default()
    };
    Gateway::build(&config, store).unwrap()
}

#[tokio::test]
async fn every_phase_refusal_is_answered_and_recorded() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let gw = gateway(store.clone());
    let mut ids = Vec::new();
    for case in CASES {
        let mut req = Request::post(case.path).header(header::HOST, "localhost");
        for (k, v) in case.headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Body::from(case.body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = gw.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), case.status, "{}", case.what);
        let id = resp.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["error"]["message"].is_string(),
            "{}: {json}",
            case.what
        );
        ids.push(id.parse::<TraceId>().unwrap());
    }
    gw.flush().await;
    for (case, id) in CASES.iter().zip(ids) {
        let t = store.get(id).await.unwrap().expect(case.what).summary;
        assert_eq!(t.outcome, case.outcome, "{}", case.what);
        assert_eq!(t.status, Some(case.status.as_u16()), "{}", case.what);
        assert!(t.error.is_some(), "{}", case.what);
        let upstream = matches!(case.outcome, Outcome::GatewayError).then_some("openai");
        assert_eq!(t.upstream.as_deref(), upstream, "{}", case.what);
        // The account is known before any refusal: authentication runs first.
        assert_eq!(t.account.as_deref(), Some("team-a"), "{}", case.what);
    }
}
