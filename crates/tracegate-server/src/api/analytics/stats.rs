//! `GET /stats` and `GET /stats/slowest`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tracegate_store::analytics::{
    Bucket, GroupBy, Slowest, SlowestQuery, StatsQuery, StatsReport, MAX_SLOWEST_LIMIT,
};

use super::params::{bad, cached, given, now_ms, number, query, Range};
use crate::analytics_cache::AnalyticsCache;
use crate::api::principal::Principal;
use crate::api::ApiState;
use crate::error::{ApiError, ErrorBody};

/// Query of `GET /stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Start: RFC 3339 or epoch ms (default: 24 hours before `to`).
    from: Option<String>,
    /// End: RFC 3339 or epoch ms (default: now).
    to: Option<String>,
    /// 1m, 5m, 1h or 1d (default: by the range).
    bucket: Option<String>,
    /// model, provider, upstream, endpoint, account or outcome.
    group_by: Option<String>,
}

/// Requests, errors, latency percentiles, tokens and cost per bucket and group.
#[utoipa::path(get, path = "/stats", tag = "analytics",
    params(StatsParams),
    responses(
        (status = 200, description = "Statistics per bucket and group", body = StatsReport),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn stats(
    State(s): State<ApiState>,
    principal: Principal,
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
    let q = StatsQuery::new(range.range, bucket, group_by)
        .map_err(|e| bad("bucket", e))?
        .of_account(principal.account().map(str::to_owned));
    let key = format!(
        "stats|{}|{}|{}",
        range.key(),
        bucket.as_str(),
        group_by.map_or("", GroupBy::as_str)
    );
    let store = s.store.clone();
    let ttl = AnalyticsCache::ttl_for(range.range.to_ms(), now);
    cached(
        &s.analytics_cache,
        principal.account(),
        key,
        ttl,
        || async move { Ok(store.request_stats(q).await?) },
    )
    .await
}

/// Query of `GET /stats/slowest`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlowestParams {
    /// Start: RFC 3339 or epoch ms.
    from: Option<String>,
    /// End: RFC 3339 or epoch ms.
    to: Option<String>,
    /// Rows per ranking (default 10).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
}

/// Endpoints, models and upstreams by p95 duration, slowest first.
#[utoipa::path(get, path = "/stats/slowest", tag = "analytics",
    params(SlowestParams),
    responses(
        (status = 200, description = "The slowest endpoints, models and upstreams", body = Slowest),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn slowest(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<SlowestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let now = now_ms();
    let range = Range::parse(&p.from, &p.to, now)?;
    let limit = number("limit", &p.limit, 10, 1, MAX_SLOWEST_LIMIT)?;
    let q = SlowestQuery::new(range.range, limit)
        .map_err(|e| bad("from", e))?
        .of_account(principal.account().map(str::to_owned));
    let key = format!("stats/slowest|{}|{limit}", range.key());
    let store = s.store.clone();
    let ttl = AnalyticsCache::ttl_for(range.range.to_ms(), now);
    cached(
        &s.analytics_cache,
        principal.account(),
        key,
        ttl,
        || async move { Ok(store.slowest(q).await?) },
    )
    .await
}
