//! `POST /api/v1/traces/{id}/feedback`: attaches a feedback entry to a trace.
//!
//! The body `{score, comment, source}` is checked by the domain layer
//! (`tracegate_core::feedback`), which also gives the entry its id and time;
//! the answer is 201 with the entry. Searches that filter on `feedback.score`
//! are never answered from the cache (see `search`), and a trace's detail is
//! read fresh on every request, so new feedback shows at once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use tracegate_core::feedback::{Feedback, FeedbackInput};
use tracegate_store::StoreError;

use super::principal::Principal;
use super::traces::parse_id;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};

/// Attaches a feedback entry (`{score, comment, source}`) to a trace; a trace may have several.
#[utoipa::path(post, path = "/traces/{id}/feedback", tag = "traces", operation_id = "post_feedback",
    params(("id" = String, Path, description = "The trace id (a UUID)")),
    request_body = super::schema::FeedbackBody,
    responses(
        (status = 201, description = "The entry, with its id and time", body = Feedback),
        (status = 400, description = "A bad id or body, named by the pointer", body = ErrorBody),
        (status = 404, description = "No such trace", body = ErrorBody),
    ))]
pub async fn post(
    State(s): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Feedback>), ApiError> {
    let trace_id = parse_id(&id)?;
    if let Some(own) = principal.account() {
        // A read key gives feedback on its own account's traces only; another's is as
        // absent as one that does not exist.
        let trace = s.store.get(trace_id).await?;
        if trace.is_none_or(|t| t.summary.account.as_deref() != Some(own)) {
            return Err(ApiError::not_found(format!("no trace with id {id}")));
        }
    }
    let input = FeedbackInput::parse(&body)
        .map_err(|e| ApiError::bad_request(e.message, Some(e.pointer)))?;
    let feedback = Feedback::new(trace_id, input);
    match s.store.add_feedback(&feedback).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(feedback))),
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!("no trace with id {id}"))),
        Err(e) => Err(e.into()),
    }
}
