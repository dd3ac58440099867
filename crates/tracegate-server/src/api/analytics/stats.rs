//! `GET /stats` and `GET /stats/slowest`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tracegate_store::analytics::{Bucket, GroupBy, SlowestQuery, StatsQuery, MAX_SLOWEST_LIMIT};

use super::params::{bad, cached, given, now_ms, number, query, Range};
use crate::analytics_cache::AnalyticsCache;
use crate::api::ApiState;
use crate::error::ApiError;

/// Query of `GET /stats`.
#[derive(Debug, Deserialize)]
pub struct StatsParams {
    from: Option<String>,
    to: Option<String>,
    bucket: Option<String>,
    group_by: Option<String>,
}

/// Requests, errors, latency percentiles, tokens and cost per bucket and group.
pub async fn stats(
    State(s): State<ApiState>,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let now = now_ms();
    let range = Range::parse(&p.from, &p.to, now)?;
    let bucket = match given(&p.bucket) {
        Some(b) => Bucket::parse(b).map_err(|e| bad("bucket", e))?,
        None => Bucket::auto(range.range),
    };
    let group_by = given(&p.group_by)
        .map(GroupBy::parse)
        .transpose()
        .map_err(|e| bad("group_by", e))?;
    let q = StatsQuery::new(range.range, bucket, group_by).map_err(|e| bad("bucket", e))?;
    let key = format!(
        "stats|{}|{}|{}",
        range.key(),
        bucket.as_str(),
        group_by.map_or("", GroupBy::as_str)
    );
    let store = s.store.clone();
    let ttl = AnalyticsCache::ttl_for(range.range.to_ms(), now);
    cached(&s.analytics_cache, key, ttl, || async move {
        Ok(store.request_stats(q).await?)
    })
    .await
}

/// Query of `GET /stats/slowest`.
#[derive(Debug, Deserialize)]
pub struct SlowestParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

/// Endpoints, models and upstreams by p95 duration, slowest first.
pub async fn slowest(
    State(s): State<ApiState>,
    params: Result<Query<SlowestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let now = now_ms();
    let range = Range::parse(&p.from, &p.to, now)?;
    let limit = number("limit", &p.limit, 10, 1, MAX_SLOWEST_LIMIT)?;
    let q = SlowestQuery::new(range.range, limit).map_err(|e| bad("from", e))?;
    let key = format!("stats/slowest|{}|{limit}", range.key());
    let store = s.store.clone();
    let ttl = AnalyticsCache::ttl_for(range.range.to_ms(), now);
    cached(&s.analytics_cache, key, ttl, || async move {
        Ok(store.slowest(q).await?)
    })
    .await
}
