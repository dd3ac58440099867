//! `GET /api/v1/traces/{id}` (with its feedback), `GET /api/v1/stats/inflight`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::json;

use super::ApiState;
use crate::error::ApiError;

/// A trace id from the path, or a 400 that points at it.
pub fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| {
        let shown: String = id.chars().take(64).collect();
        ApiError::bad_request(
            format!("{shown:?} is not a trace id (a UUID)"),
            Some("/path/id".into()),
        )
    })
}

pub async fn get_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let uuid = parse_id(&id)?;
    match s.store.get(uuid).await? {
        Some(t) => Ok(Json(serde_json::to_value(t).unwrap_or_default())),
        None => Err(ApiError::not_found(format!("no trace with id {id}"))),
    }
}

pub async fn inflight(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let data = s.inflight.snapshot(s.stuck_after_ms);
    let stuck = data.iter().filter(|r| r.stuck).count();
    Json(
        json!({ "data": data, "count": data.len(), "stuck": stuck, "stuck_after_ms": s.stuck_after_ms }),
    )
}
