//! `GET /api/v1/diagnostics?since=1h`: the diagnostics report as JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::ApiState;
use crate::diagnostics::{diagnose, Report};
use crate::error::ApiError;

/// The window used when none is given.
pub const DEFAULT_SINCE: &str = "1h";

/// Query of `GET /diagnostics`.
#[derive(Debug, Deserialize)]
pub struct DiagnosticsParams {
    since: Option<String>,
}

/// The report over the window `since` (1m to 31d) ending now.
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
