//! `GET /api/v1/traces/{id}` (with its feedback), `GET /api/v1/stats/inflight`.

use axum::extract::{Path, State};
use axum::Json;
use tracegate_store::TraceDetail;

use super::principal::Principal;
use super::schema::InflightAnswer;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};

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

/// One trace with its request and response bodies.
#[utoipa::path(get, path = "/traces/{id}", tag = "traces", operation_id = "get_trace",
    params(("id" = String, Path, description = "The trace id (a UUID), also the x-request-id response header")),
    responses(
        (status = 200, description = "The trace", body = TraceDetail),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 404, description = "No such trace", body = ErrorBody),
    ))]
pub async fn get_one(
    State(s): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let uuid = parse_id(&id)?;
    // Another account's trace is as absent as one that does not exist.
    match s
        .store
        .get(uuid)
        .await?
        .filter(|t| principal.sees(t.summary.account.as_deref()))
    {
        Some(t) => Ok(Json(serde_json::to_value(t).unwrap_or_default())),
        None => Err(ApiError::not_found(format!("no trace with id {id}"))),
    }
}

/// Requests in flight now, longest first; those running longer than
/// `stuck_after_ms` are flagged as stuck. A read key sees its own account's only.
#[utoipa::path(get, path = "/stats/inflight", tag = "gateway",
    responses((status = 200, description = "Requests in flight", body = InflightAnswer)))]
pub async fn inflight(State(s): State<ApiState>, principal: Principal) -> Json<InflightAnswer> {
    let mut data = s.inflight.snapshot(s.stuck_after_ms);
    data.retain(|r| principal.sees(r.account.as_deref()));
    let stuck = data.iter().filter(|r| r.stuck).count();
    Json(InflightAnswer {
        count: data.len(),
        data,
        stuck,
        stuck_after_ms: s.stuck_after_ms,
    })
}
