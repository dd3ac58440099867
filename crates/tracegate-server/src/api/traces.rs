//! `GET /api/v1/traces`, `GET /api/v1/traces/{id}`, `GET /api/v1/stats/inflight`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::ApiState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    limit: Option<String>,
}

pub async fn list(
    State(s): State<ApiState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))?;
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    format!("limit must be a whole number from 1 to 1000, got {raw:?}"),
                    Some("/query/limit".into()),
                ))
            }
        },
    };
    let data = s.store.recent(limit).await?;
    Ok(Json(json!({ "data": data })))
}

pub async fn get_one(State(s): State<ApiState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a trace id (a UUID)"), Some("/path/id".into())))?;
    match s.store.get(uuid).await? {
        Some(t) => Ok(Json(serde_json::to_value(t).unwrap_or_default())),
        None => Err(ApiError::not_found(format!("no trace with id {id}"))),
    }
}

pub async fn inflight(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let data = s.inflight.snapshot(s.stuck_after_ms);
    let stuck = data.iter().filter(|r| r.stuck).count();
    Json(json!({ "data": data, "count": data.len(), "stuck": stuck, "stuck_after_ms": s.stuck_after_ms }))
}
