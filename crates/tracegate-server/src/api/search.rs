//! `POST /api/v1/traces/search` and the query-parameter form of `GET /api/v1/traces`.
//!
//! Both answer `{data, next_cursor, has_more, took_ms}`. First pages (no
//! cursor) are cached briefly, longer when the time range lies wholly in the
//! past; pages after a cursor are always read fresh, and so are answers
//! that filter on feedback, which is given after a trace is written.
//! `took_ms` is the time this request took, cache hit or not.

pub(super) mod request;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use tracegate_core::filter::{Column, Field, Filter, Op, Value as FilterValue};
use tracegate_store::search::{project, SearchError};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::principal::Principal;
use super::schema::{SearchAnswer, SearchBody, TracesParams};
use super::ApiState;
use crate::analytics_cache::AnalyticsCache;
use crate::error::{ApiError, ErrorBody};
use request::SearchRequest;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(search))
}

/// Search with query parameters: the simple filters (`model=a,b` means
/// either), full text, sort, fields and keyset paging.
#[utoipa::path(get, path = "/traces", tag = "traces", operation_id = "list_traces",
    params(TracesParams),
    responses(
        (status = 200, description = "A page of traces", body = SearchAnswer),
        (status = 400, description = "A bad parameter, named by the pointer", body = ErrorBody),
    ))]
async fn list(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(params) =
        params.map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))?;
    let req = request::from_params(&params, principal.account()).map_err(bad_request)?;
    respond(&s, &principal, &req, started).await
}

/// Search with a filter tree, full text, sort, fields and keyset paging.
#[utoipa::path(post, path = "/traces/search", tag = "traces", operation_id = "search_traces",
    request_body = SearchBody,
    responses(
        (status = 200, description = "A page of traces", body = SearchAnswer),
        (status = 400, description = "A bad request, the pointer naming the bad part", body = ErrorBody),
    ))]
async fn search(
    State(s): State<ApiState>,
    principal: Principal,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let req = request::from_body(&body, principal.account()).map_err(bad_request)?;
    respond(&s, &principal, &req, started).await
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
    principal: &Principal,
    req: &SearchRequest,
    started: Instant,
) -> Result<Response, ApiError> {
    let cacheable =
        req.query.after.is_none() && !req.query.filter.as_ref().is_some_and(tests_feedback);
    let (page, hit) = if cacheable {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let to_ms = req
            .query
            .filter
            .as_ref()
            .and_then(upper_time_bound)
            .unwrap_or(now_ms);
        let ttl = AnalyticsCache::ttl_for(to_ms, now_ms);
        s.analytics_cache
            .get_or_compute(principal.account(), cache_key(req), ttl, || page(s, req))
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

/// Whether the filter tests feedback (`feedback.score`) anywhere.
fn tests_feedback(f: &Filter) -> bool {
    match f {
        Filter::Leaf(p) => p.field == Field::FeedbackScore,
        Filter::Not(child) => tests_feedback(child),
        Filter::And(children) | Filter::Or(children) => children.iter().any(tests_feedback),
    }
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
