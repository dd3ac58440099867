//! `POST /api/v1/traces/search` and the query-parameter form of `GET /api/v1/traces`.
//!
//! Both answer `{data, next_cursor, has_more, took_ms}`. First pages (no
//! cursor) are cached briefly, longer when the time range lies wholly in the
//! past; pages after a cursor are always read fresh. `took_ms` is the time
//! this request took, cache hit or not.

mod request;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use tracegate_core::filter::{Column, Field, Filter, Op, Value as FilterValue};
use tracegate_store::search::{project, SearchError};

use super::ApiState;
use crate::cache::ResponseCache;
use crate::error::ApiError;
use request::SearchRequest;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/traces", get(list))
        .route("/traces/search", post(search))
}

/// `GET /api/v1/traces?model=..&q=..&limit=..&cursor=..`
async fn list(
    State(s): State<ApiState>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(params) =
        params.map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))?;
    let req = request::from_params(&params).map_err(bad_request)?;
    respond(&s, &req, started).await
}

/// `POST /api/v1/traces/search` with `{filter, q, sort, order, cursor, limit, fields}`.
async fn search(State(s): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let started = Instant::now();
    let req = request::from_body(&body).map_err(bad_request)?;
    respond(&s, &req, started).await
}

fn bad_request(e: SearchError) -> ApiError {
    ApiError::bad_request(e.message, Some(e.pointer))
}

/// The response body: the page plus the time taken.
#[derive(Serialize)]
struct Body<'a> {
    data: &'a Value,
    next_cursor: &'a Value,
    has_more: &'a Value,
    took_ms: f64,
}

async fn respond(
    s: &ApiState,
    req: &SearchRequest,
    started: Instant,
) -> Result<Response, ApiError> {
    let (page, hit) = if req.query.after.is_none() {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let to_ms = req
            .query
            .filter
            .as_ref()
            .and_then(upper_time_bound)
            .unwrap_or(now_ms);
        let ttl = ResponseCache::ttl_for(to_ms, now_ms);
        s.cache
            .get_or_compute(cache_key(req), ttl, || page(s, req))
            .await?
    } else {
        (Arc::new(page(s, req).await?), false)
    };
    let took_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let body = Body {
        data: &page["data"],
        next_cursor: &page["next_cursor"],
        has_more: &page["has_more"],
        took_ms,
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        super::CACHE_HEADER,
        axum::http::HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    Ok(response)
}

/// One page from the store as `{data, next_cursor, has_more}`.
async fn page(s: &ApiState, req: &SearchRequest) -> Result<Value, ApiError> {
    let page = s.store.search(&req.query).await?;
    let fields = req.fields.as_deref();
    let data: Vec<Value> = page.data.iter().map(|t| project(t, fields)).collect();
    Ok(json!({ "data": data, "next_cursor": page.next_cursor, "has_more": page.has_more }))
}

/// Everything that decides a first page's answer.
fn cache_key(req: &SearchRequest) -> String {
    let key = json!([req.query.canonical(), req.query.limit, req.fields]);
    format!("traces.search:{key}")
}

/// The latest start time the filter lets through, when it bounds it: `lt`,
/// `lte`, `eq` or `in` on `started_at`, combined through `and`/`or`.
fn upper_time_bound(f: &Filter) -> Option<i64> {
    match f {
        Filter::Leaf(p) if p.field == Field::Column(Column::StartedAt) => match (p.op, &p.value) {
            (Op::Lt | Op::Lte | Op::Eq, FilterValue::TimeMs(t)) => Some(*t),
            (Op::In, FilterValue::List(items)) => items
                .iter()
                .map(|v| match v {
                    FilterValue::TimeMs(t) => Some(*t),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .max(),
            _ => None,
        },
        Filter::And(children) => children.iter().filter_map(upper_time_bound).min(),
        Filter::Or(children) => children
            .iter()
            .map(upper_time_bound)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max(),
        Filter::Leaf(_) | Filter::Not(_) => None,
    }
}
