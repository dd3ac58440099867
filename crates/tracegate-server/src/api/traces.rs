//! `GET /api/v1/traces/{id}`, `GET /api/v1/stats/inflight`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::json;

use super::ApiState;
use crate::error::ApiError;

pub async fn get_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::bad_request(
            format!("{id:?} is not a trace id (a UUID)"),
            Some("/path/id".into()),
        )
    })?;
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
