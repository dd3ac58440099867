//! The auth phase through the gateway's router in `keys` mode: refusals answered and
//! recorded with their outcome and account, a revocation through the API at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{header, Request, StatusCode};
use tower::ServiceExt;
use tracegate_core::account::credential_fingerprint;
use tracegate_core::keys::{KeySpec, VirtualKey};
use tracegate_core::{Outcome, TraceId};
use tracegate_store::{KeyStore, SqliteStore, TraceStore};

use crate::config::{AuthMode, Config, UpstreamConfig, UpstreamKind};
use crate::proxy::headers::REQUEST_ID_HEADER;
use crate::Gateway;

/// A `keys` gateway whose only upstream serves `gpt-*` at a port nothing listens on. Its
/// key comes from `PATH`, a variable every test process has.
fn gateway(store: Arc<SqliteStore>) -> Gateway {
    let mut openai = UpstreamConfig::new("openai", UpstreamKind::Openai, "http://127.0.0.1:1");
    openai.models = vec!["gpt-*".into()];
    openai.api_key_env = Some("PATH".into());
    let config = Config {
        upstreams: vec![openai],
        auth: AuthMode::Keys,
        spool_durability: crate::config::SpoolDurability::Memory,
        ..Config::default()
    };
    config.validate().unwrap();
    Gateway::build(&config, store).unwrap()
}

async fn call(
    gw: &Gateway,
    method: &str,
    path: &str,
    key: Option<&str>,
    model: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost")
        .header("content-type", "application/json")
        .header("x-tracegate-account", "someone-else");
    if let Some(k) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let body = format!(r#"{{"model":"{model}","messages":[]}}"#);
    let mut req = req.body(Body::from(body)).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = gw.router.clone().oneshot(req).await.unwrap();
    let id = resp
        .headers()
        .get(REQUEST_ID_HEADER)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status(), id)
}

/// What is sent (label, credential, model) and what must come back and be recorded.
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    StatusCode,
    Outcome,
    Option<String>,
);

#[tokio::test]
async fn keys_mode_refuses_bad_keys_and_charges_the_keys_account() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let (key, secret) = VirtualKey::issue(&KeySpec {
        account: "team-k".into(),
        models: vec!["gpt-4*".into()],
        ..KeySpec::default()
    })
    .unwrap();
    store.create_key(&key).await.unwrap();
    let gw = gateway(store.clone());
    let unknown = format!("tg-{}", "0".repeat(64));
    let cases: Vec<Case> = vec![
        (
            "no key",
            None,
            "gpt-4o",
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            None,
        ),
        (
            "provider key",
            Some("sk-abc"),
            "gpt-4o",
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            Some(credential_fingerprint("sk-abc")),
        ),
        (
            "unknown key",
            Some(&unknown),
            "gpt-4o",
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            Some(credential_fingerprint(&unknown)),
        ),
        (
            "model outside globs",
            Some(&secret),
            "gpt-3.5",
            StatusCode::FORBIDDEN,
            Outcome::ClientError,
            Some("team-k".into()),
        ),
        (
            "valid key",
            Some(&secret),
            "gpt-4o",
            StatusCode::BAD_GATEWAY,
            Outcome::GatewayError,
            Some("team-k".into()),
        ),
    ];
    let mut ids = Vec::new();
    for (what, k, model, status, _, _) in &cases {
        let (got, id) = call(&gw, "POST", "/v1/chat/completions", *k, model).await;
        assert_eq!(got, *status, "{what}");
        ids.push(id.parse::<TraceId>().unwrap());
    }

    let (status, _) = call(&gw, "DELETE", &format!("/api/v1/keys/{}", key.id), None, "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, id) = call(&gw, "POST", "/v1/chat/completions", Some(&secret), "gpt-4o").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoked through the API: at once"
    );

    gw.flush().await;
    for ((what, _, _, _, outcome, account), id) in cases.iter().zip(ids) {
        let t = store.get(id).await.unwrap().expect(what).summary;
        assert_eq!(t.outcome, *outcome, "{what}");
        assert_eq!(
            t.account, *account,
            "{what}: X-Tracegate-Account is ignored"
        );
    }
    let t = store
        .get(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .summary;
    assert_eq!(t.outcome, Outcome::Unauthorized);
}
