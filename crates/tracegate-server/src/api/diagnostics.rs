//! `GET /api/v1/diagnostics?since=1h`: the diagnostics report as JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::ApiState;
use crate::diagnostics::{diagnose, Report};
use crate::error::{ApiError, ErrorBody};

/// The window used when none is given.
pub const DEFAULT_SINCE: &str = "1h";

/// Query of `GET /diagnostics`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiagnosticsParams {
    /// The window ending now: 1m to 31d (default 1h).
    since: Option<String>,
}

/// The diagnostics report over the window `since` ending now: an SLO table and findings
/// (severity P0-P3, evidence, recommendation) on latency, errors, stuck requests, hot
/// accounts, the recorder, the store and the host.
#[utoipa::path(get, path = "/diagnostics", tag = "gateway", operation_id = "diagnostics",
    params(DiagnosticsParams),
    responses(
        (status = 200, description = "The report (see the README's Troubleshooting section)"),
        (status = 400, description = "A bad window", body = ErrorBody),
    ))]
pub async fn diagnostics(
    State(s): State<ApiState>,
    params: Result<Query<DiagnosticsParams>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))?;
    let since = p
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SINCE);
    let report = diagnose(&s.diagnostics, since)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string(), Some("/query/since".into())))?;
    Ok(Json(report))
}
