//! `GET /conversations` and `GET /conversations/{id}`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use tracegate_store::analytics::window::parse_time;
use tracegate_store::analytics::{
    ConversationCursor, ConversationPage, ConversationQuery, ConversationTree, QueryError,
    MAX_CONVERSATION_LIMIT,
};

use super::params::{bad, given, number, query};
use crate::api::ApiState;
use crate::error::ApiError;

/// Query of `GET /conversations`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    account: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Conversations by most recent activity, newest first, a page at a time.
pub async fn list(
    State(s): State<ApiState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ConversationPage>, ApiError> {
    let p = query(params)?;
    let from = given(&p.from)
        .map(parse_time)
        .transpose()
        .map_err(|e| bad("from", e))?;
    let to = given(&p.to)
        .map(parse_time)
        .transpose()
        .map_err(|e| bad("to", e))?;
    let limit = number("limit", &p.limit, 50, 1, MAX_CONVERSATION_LIMIT)?;
    let cursor = given(&p.cursor)
        .map(ConversationCursor::parse)
        .transpose()
        .map_err(|e| bad("cursor", e))?;
    let q = ConversationQuery::new(p.account.clone(), from, to, limit, cursor).map_err(
        |e| match e {
            QueryError::EmptyRange { .. } => bad("from", e),
            _ => bad("limit", e),
        },
    )?;
    Ok(Json(s.store.conversations(q).await?))
}

/// One conversation with its traces (and its sub-tasks') as a tree.
pub async fn get_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ConversationTree>, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::bad_request(
            format!("{id:?} is not a conversation id (a UUID)"),
            Some("/path/id".into()),
        )
    })?;
    match s.store.conversation(uuid).await? {
        Some(tree) => Ok(Json(tree)),
        None => Err(ApiError::not_found(format!("no conversation with id {id}"))),
    }
}
