//! The `/api` credentials through the whole router: admin token, read keys, the session
//! cookie and its CSRF rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use tracegate_core::keys::{KeySpec, VirtualKey};
use tracegate_store::{KeyStore, SqliteStore};

use crate::api::auth::AdminAuth;
use crate::api::{router, ApiState};
use crate::config::Secret;

const ADMIN: &str = "admin-secret";

async fn key(store: &SqliteStore, scope: &str) -> (VirtualKey, String) {
    let (record, key) = VirtualKey::issue(&KeySpec {
        account: "team-a".into(),
        scope: Some(scope.into()),
        ..Default::default()
    })
    .unwrap();
    store.create_key(&record).await.unwrap();
    (record, key)
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, cookie, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn keys_are_checked_at_once_and_cookies_follow_the_same_rules() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (read, read_key) = key(&store, "read").await;
    let (_, proxy_key) = key(&store, "proxy").await;
    let store: Arc<dyn tracegate_store::Store> = Arc::new(store);
    let app = router(
        ApiState::for_tests(store),
        AdminAuth::new(Some(Secret::new(ADMIN))),
        Default::default(),
    );
    let bearer = |t: &str| format!("Bearer {t}");
    let traces = "/api/v1/traces";

    assert_eq!(
        send(&app, "GET", traces, &[], "").await.0,
        StatusCode::UNAUTHORIZED
    );
    let admin = bearer(ADMIN);
    assert_eq!(
        send(&app, "GET", traces, &[("authorization", &admin)], "")
            .await
            .0,
        StatusCode::OK
    );
    let wrong = bearer("nope");
    assert_eq!(
        send(&app, "GET", traces, &[("authorization", &wrong)], "")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let unknown = bearer(&format!("tg-{}", "0".repeat(64)));
    let (status, _, body) = send(&app, "GET", traces, &[("authorization", &unknown)], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"unauthorized\""), "{body}");
    let proxy = bearer(&proxy_key);
    assert_eq!(
        send(&app, "GET", traces, &[("authorization", &proxy)], "")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "GET", traces, &[("x-api-key", &read_key)], "")
            .await
            .0,
        StatusCode::OK
    );

    // Log in with the read key; the cookie reads, and may write only from the same origin.
    let login = format!(r#"{{"token": "{read_key}"}}"#);
    let (status, set, body) = send(&app, "POST", "/api/v1/session", &[], &login).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let set = set.unwrap();
    assert!(!set.contains(&read_key));
    let cookie = set.split(';').next().unwrap().to_owned();
    let with_cookie = [("cookie", cookie.as_str()), ("host", "gw.test")];
    assert_eq!(
        send(&app, "GET", traces, &with_cookie, "").await.0,
        StatusCode::OK
    );
    let (_, _, info) = send(&app, "GET", "/api/v1/session", &with_cookie, "").await;
    assert!(info.contains(r#""principal":"account""#), "{info}");
    let feedback = format!("/api/v1/traces/{}/feedback", uuid::Uuid::now_v7());
    let score = r#"{"score": 1}"#;
    let (status, _, _) = send(&app, "POST", &feedback, &with_cookie, score).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no Origin");
    let cross = [
        ("cookie", cookie.as_str()),
        ("host", "gw.test"),
        ("origin", "http://evil.test"),
    ];
    assert_eq!(
        send(&app, "POST", &feedback, &cross, score).await.0,
        StatusCode::FORBIDDEN
    );
    let same = [
        ("cookie", cookie.as_str()),
        ("host", "gw.test"),
        ("origin", "http://gw.test"),
    ];
    assert_eq!(
        send(&app, "POST", &feedback, &same, score).await.0,
        StatusCode::NOT_FOUND
    );

    // Revoking the key through the API ends both the key and its session at once.
    let revoke = format!("/api/v1/keys/{}", read.id);
    assert_eq!(
        send(&app, "DELETE", &revoke, &[("authorization", &admin)], "")
            .await
            .0,
        StatusCode::OK
    );
    let by_key = bearer(&read_key);
    assert_eq!(
        send(&app, "GET", traces, &[("authorization", &by_key)], "")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "GET", traces, &with_cookie, "").await.0,
        StatusCode::UNAUTHORIZED
    );

    // A tampered cookie is refused; a wrong token gets no cookie.
    let tampered = format!("{}0", cookie);
    assert_eq!(
        send(&app, "GET", traces, &[("cookie", &tampered)], "")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, set, _) = send(&app, "POST", "/api/v1/session", &[], r#"{"token": "nope"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(set.is_none());
    let (status, set, _) = send(&app, "DELETE", "/api/v1/session", &[], "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(set.unwrap().contains("Max-Age=0"));
}
