//! `GET /usage/window`, `GET /usage/daily` and `GET /usage/accounts`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tracegate_store::analytics::window::parse_window;
use tracegate_store::analytics::{AccountUsage, Bucket, TimeRange, UsageQuery, UsageReport};

use super::params::{bad, cached, given, now_ms, number, query};
use crate::analytics_cache::AnalyticsCache;
use crate::api::principal::Principal;
use crate::api::ApiState;
use crate::error::{ApiError, ErrorBody};

/// The window used when none is given.
const DEFAULT_WINDOW: &str = "5h";

/// Query of `GET /usage/window`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// Only this account (default: every account).
    account: Option<String>,
    /// The window's length: 30m, 5h, 7d (default 5h).
    window: Option<String>,
}

/// The window ending now, as asked: its length in ms and the range.
fn window_range(raw: &Option<String>, now: i64) -> Result<(i64, TimeRange), ApiError> {
    let len = parse_window(given(raw).unwrap_or(DEFAULT_WINDOW)).map_err(|e| bad("window", e))?;
    let range = TimeRange::ending_at(now, len).map_err(|e| bad("window", e))?;
    Ok((len, range))
}

/// Tokens, requests and cost over a rolling window ending now, by model, with
/// a 5-minute series.
#[utoipa::path(get, path = "/usage/window", tag = "analytics",
    params(WindowParams),
    responses(
        (status = 200, description = "Usage in the window", body = UsageReport),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn window(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<WindowParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let now = now_ms();
    let (len, range) = window_range(&p.window, now)?;
    let account = principal.account_param(given(&p.account))?;
    let key = format!("usage/window|{account:?}|{len}");
    let q = UsageQuery::new(account, range, Bucket::FiveMinutes, false)
        .map_err(|e| bad("window", e))?;
    usage_answer(&s, &principal, key, now, q).await
}

/// Query of `GET /usage/daily`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyParams {
    /// Only this account (default: every account).
    account: Option<String>,
    /// Days back from today, 1 to 366 (default 30).
    #[param(value_type = Option<u32>)]
    days: Option<String>,
}

/// Tokens, requests and cost per UTC day, by model, for the last `days` days.
#[utoipa::path(get, path = "/usage/daily", tag = "analytics",
    params(DailyParams),
    responses(
        (status = 200, description = "Usage per day", body = UsageReport),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn daily(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<DailyParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let days = number("days", &p.days, 30, 1, 366)?;
    let now = now_ms();
    let range = TimeRange::last_days(now, days).map_err(|e| bad("days", e))?;
    let account = principal.account_param(given(&p.account))?;
    let key = format!("usage/daily|{account:?}|{days}");
    let q = UsageQuery::new(account, range, Bucket::Day, true).map_err(|e| bad("days", e))?;
    usage_answer(&s, &principal, key, now, q).await
}

/// The answer to a usage query ending `now`, from the response cache when it is there.
async fn usage_answer(
    s: &ApiState,
    principal: &Principal,
    key: String,
    now: i64,
    q: UsageQuery,
) -> Result<Response, ApiError> {
    let store = s.store.clone();
    cached(
        &s.analytics_cache,
        principal.account(),
        key,
        AnalyticsCache::ttl_for(now, now),
        || async move { Ok(store.usage(q).await?) },
    )
    .await
}

/// Query of `GET /usage/accounts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountsParams {
    /// The window's length: 30m, 5h, 7d (default 5h).
    window: Option<String>,
}

/// Accounts active in a window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accounts {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    /// Most tokens first.
    data: Vec<AccountUsage>,
}

/// Every account active in a rolling window ending now, most tokens first.
#[utoipa::path(get, path = "/usage/accounts", tag = "analytics",
    params(AccountsParams),
    responses(
        (status = 200, description = "Accounts by tokens", body = Accounts),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
pub async fn accounts(
    State(s): State<ApiState>,
    principal: Principal,
    params: Result<Query<AccountsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let now = now_ms();
    let (len, range) = window_range(&p.window, now)?;
    let store = s.store.clone();
    let scope = principal.clone();
    cached(
        &s.analytics_cache,
        principal.account(),
        format!("usage/accounts|{len}"),
        AnalyticsCache::ttl_for(now, now),
        || async move {
            Ok(Accounts {
                from: range.from_time(),
                to: range.to_time(),
                data: store
                    .usage_by_account(range)
                    .await?
                    .into_iter()
                    .filter(|a| scope.sees(a.account.as_deref()))
                    .collect(),
            })
        },
    )
    .await
}
