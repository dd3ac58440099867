//! `GET /api/v1/traces/export`: every trace a search matches, as NDJSON.
//!
//! One JSON object per line, in the order of the search, written as the
//! store's pages are read (see [`tracegate_store::export`]): the response
//! holds one page at a time however many traces match, and waits for the
//! client when the client reads slowly. Never cached. A bad request, or a
//! store that does not answer the first page, is the API's JSON error before
//! anything is sent; a failure after that ends the stream with a last line
//! `{"error": {"kind", "message"}}`.

pub mod request;

#[cfg(test)]
mod tests;

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tracegate_store::export::{Export, ExportQuery};
use tracegate_store::search::SearchError;
use tracegate_store::{Store, TraceSummary};

use super::principal::Principal;
use super::schema::ExportParams;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};

/// Bytes gathered before they are handed to the connection.
const CHUNK_BYTES: usize = 64 * 1024;

/// The NDJSON media type.
pub const NDJSON: &str = "application/x-ndjson";

/// Every trace a search matches, streamed as NDJSON: one trace per line, in
/// the order of the search. A failure after the first line ends the stream
/// with a line `{"error": {"kind", "message"}}`.
#[utoipa::path(get, path = "/traces/export", tag = "traces", operation_id = "export_traces",
    params(ExportParams),
    responses(
        (status = 200, description = "One JSON object per line: the trace's fields, and \
            request_body and response_body with bodies=true", body = TraceSummary,
            content_type = "application/x-ndjson"),
        (status = 400, description = "A bad parameter, named by the pointer", body = ErrorBody),
        (status = 503, description = "The store does not answer", body = ErrorBody),
    ))]
pub async fn export(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))?;
    let query = request::from_params(&params, principal.account()).map_err(bad_request)?;
    let body = ndjson(s.store.clone(), query).await?;
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn bad_request(e: SearchError) -> ApiError {
    ApiError::bad_request(e.message, Some(e.pointer))
}

/// The export of `query` as a streamed NDJSON body, its first page already read.
pub async fn ndjson(
    store: std::sync::Arc<dyn Store>,
    query: ExportQuery,
) -> Result<Body, ApiError> {
    let mut export = Export::new(store, query);
    export.start().await?;
    let chunks = futures_util::stream::unfold(Some(export), |state| async move {
        let mut export = state?;
        let (chunk, more) = next_chunk(&mut export).await;
        Some((Ok::<_, Infallible>(chunk), more.then_some(export)))
    });
    Ok(Body::from_stream(chunks))
}

/// The next lines of `export`: up to [`CHUNK_BYTES`], or fewer when the
/// next row would wait for a page. `false` when the export is over.
async fn next_chunk(export: &mut Export<dyn Store>) -> (Bytes, bool) {
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 1024);
    loop {
        match export.next_row().await {
            Ok(Some(row)) => {
                if serde_json::to_writer(&mut buf, &row).is_err() {
                    buf.extend_from_slice(b"null");
                }
                buf.push(b'\n');
                if buf.len() >= CHUNK_BYTES || !export.has_pending() {
                    return (Bytes::from(buf), true);
                }
            }
            Ok(None) => return (Bytes::from(buf), false),
            Err(e) => {
                let exported = export.exported();
                tracing::error!(error = %e, exported, "export stopped: the store failed");
                let err = ApiError::from(e);
                if serde_json::to_writer(&mut buf, &err.body()).is_ok() {
                    buf.push(b'\n');
                }
                return (Bytes::from(buf), false);
            }
        }
    }
}
