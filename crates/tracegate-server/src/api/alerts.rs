//! `GET /api/v1/alerts`: alerts firing now and those resolved lately.

use axum::{Extension, Json};

use crate::alerts::{Alerts, AlertsReport};

/// Alerts firing now (severity, since, labels, value against threshold) and those resolved
/// lately, from the built-in rules (see the README's Alerts section).
#[utoipa::path(get, path = "/alerts", tag = "gateway", operation_id = "alerts",
    responses((status = 200, description = "`{enabled, firing, resolved}`")))]
pub async fn list(alerts: Option<Extension<Alerts>>) -> Json<AlertsReport> {
    Json(alerts.map(|Extension(a)| a).unwrap_or_default().report())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use tracegate_store::SqliteStore;

    use crate::config::{AlertsConfig, Secret};
    use crate::{Config, Gateway};

    async fn get(gw: &Gateway, token: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut req = Request::get("/api/v1/alerts").header(header::HOST, "localhost");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = gw
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_route_is_behind_the_admin_token() {
        let config = Config {
            admin_token: Some(Secret::new("a-long-enough-admin-token")),
            spool_durability: crate::config::SpoolDurability::Memory,
            ..Config::default()
        };
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let gw = Gateway::build(&config, store).unwrap();
        assert_eq!(get(&gw, None).await.0, StatusCode::UNAUTHORIZED);
        let (status, body) = get(&gw, Some("a-long-enough-admin-token")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"enabled": true, "firing": [], "resolved": []})
        );
        gw.flush().await;
    }

    #[tokio::test]
    async fn disabled_alerts_say_so() {
        let config = Config {
            alerts: AlertsConfig {
                enabled: false,
                ..AlertsConfig::default()
            },
            spool_durability: crate::config::SpoolDurability::Memory,
            ..Config::default()
        };
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let gw = Gateway::build(&config, store).unwrap();
        let (status, body) = get(&gw, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["enabled"], false);
    }
}
