//! `/api/v1/keys`: virtual keys. `POST` issues one and answers its text once; `GET`
//! lists them (never the key itself); `DELETE /keys/{id}` revokes one, at once for this
//! gateway's proxy (its cache entry is dropped).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use tracegate_core::keys::{KeySpec, VirtualKey};
use tracegate_store::StoreError;

use super::traces::parse_id;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};

/// A key just issued: the record, and the key's text, shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    /// The key to give the client (`tg-...`); the gateway keeps only its hash.
    pub key: String,
    #[serde(flatten)]
    pub record: VirtualKey,
}

/// Every virtual key, revoked ones included; never the keys themselves.
#[utoipa::path(get, path = "/keys", tag = "keys", operation_id = "list_keys",
    responses((status = 200, description = "The keys, oldest first", body = Vec<VirtualKey>)))]
pub async fn list(State(s): State<ApiState>) -> Result<Json<Vec<VirtualKey>>, ApiError> {
    Ok(Json(s.store.list_keys().await?))
}

/// Issues a virtual key. The answer holds the key's text, which is not shown again.
#[utoipa::path(post, path = "/keys", tag = "keys", operation_id = "create_key",
    request_body = KeySpec,
    responses(
        (status = 201, description = "The key and its record", body = IssuedKey),
        (status = 400, description = "A bad body", body = ErrorBody),
    ))]
pub async fn create(
    State(s): State<ApiState>,
    body: Bytes,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let spec: KeySpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad key body: {e}"), None))?;
    let (record, key) =
        VirtualKey::issue(&spec).map_err(|e| ApiError::bad_request(e.to_string(), None))?;
    s.store.create_key(&record).await?;
    Ok((StatusCode::CREATED, Json(IssuedKey { key, record })))
}

/// Revokes a virtual key; the proxy refuses it from now on.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", operation_id = "revoke_key",
    params(("id" = String, Path, description = "The key's id (a UUID)")),
    responses(
        (status = 200, description = "The revoked key", body = VirtualKey),
        (status = 400, description = "A bad id", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
    ))]
pub async fn revoke(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<VirtualKey>, ApiError> {
    let uuid = parse_id(&id)?;
    match s.store.revoke_key(uuid, chrono::Utc::now()).await {
        Ok(key) => {
            s.keys.forget(&key).await;
            Ok(Json(key))
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!("no key with id {id}"))),
        Err(e) => Err(e.into()),
    }
}
