//! `GET /api/v1/alerts`: alerts firing now and those resolved lately.

use axum::{Extension, Json};

use crate::alerts::{Alerts, AlertsReport};

pub async fn list(alerts: Option<Extension<Alerts>>) -> Json<AlertsReport> {
    Json(alerts.map(|Extension(a)| a).unwrap_or_default().report())
}
