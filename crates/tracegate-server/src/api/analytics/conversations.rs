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
use crate::api::principal::Principal;
use crate::api::ApiState;
use crate::error::{ApiError, ErrorBody};

/// Query of `GET /conversations`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this account's conversations.
    account: Option<String>,
    /// Active at or after: RFC 3339 or epoch ms.
    from: Option<String>,
    /// Active before: RFC 3339 or epoch ms.
    to: Option<String>,
    /// Page size (default 50).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Conversations by most recent activity, newest first, a page at a time.
#[utoipa::path(get, path = "/conversations", tag = "analytics", operation_id = "list_conversations",
    params(ListParams),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationPage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn list(
    State(s): State<ApiState>,
    principal: Principal,
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
    let account = principal.account_param(given(&p.account))?;
    let q = ConversationQuery::new(account, from, to, limit, cursor).map_err(|e| match e {
        QueryError::EmptyRange { .. } => bad("from", e),
        _ => bad("limit", e),
    })?;
    Ok(Json(s.store.conversations(q).await?))
}

/// One conversation with its traces (and its sub-tasks') as a tree.
#[utoipa::path(get, path = "/conversations/{id}", tag = "analytics", operation_id = "get_conversation",
    params(("id" = String, Path, description = "The conversation id: the id of its first trace")),
    responses(
        (status = 200, description = "The conversation", body = ConversationTree),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
    ))]
pub async fn get_one(
    State(s): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ConversationTree>, ApiError> {
    let uuid = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::bad_request(
            format!("{id:?} is not a conversation id (a UUID)"),
            Some("/path/id".into()),
        )
    })?;
    let tree = s.store.conversation(uuid).await?;
    // Another account's conversation is as absent as one that does not exist.
    let tree = match principal.account() {
        Some(own) => tree.and_then(|t| t.only_account(own)),
        None => tree,
    };
    match tree {
        Some(tree) => Ok(Json(tree)),
        None => Err(ApiError::not_found(format!("no conversation with id {id}"))),
    }
}
