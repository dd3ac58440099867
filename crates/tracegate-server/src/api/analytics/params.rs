//! Query parameters of the analytics routes: each bad one becomes a 400 that
//! points at it (`/query/<name>`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tracegate_store::analytics::window::{parse_time, DAY_MS, MIN_TIME_MS};
use tracegate_store::analytics::{QueryError, TimeRange};

use crate::analytics_cache::AnalyticsCache;
use crate::error::ApiError;

/// The response header telling whether an answer came from the cache.
pub const CACHE_HEADER: &str = "x-tracegate-cache";

/// The extracted query, or a 400 for a malformed query string.
pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text(), Some("/query".into())))
}

/// A 400 for parameter `name`.
pub fn bad(name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string(), Some(format!("/query/{name}")))
}

/// A parameter that is absent or empty counts as not given.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// A whole number in `min..=max`, `default` when not given.
pub fn number(
    name: &str,
    raw: &Option<String>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(default);
    };
    match raw.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(
            name,
            format!("{name} must be a whole number from {min} to {max}, got {raw:?}"),
        )),
    }
}

/// A time range from optional `from` and `to` (RFC 3339 or epoch ms): `to`
/// defaults to now, `from` to 24 hours before `to`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The range.
    pub range: TimeRange,
    /// `from` as given (epoch ms), `None` when defaulted.
    pub from_given: Option<i64>,
    /// `to` as given (epoch ms), `None` when it is "now".
    pub to_given: Option<i64>,
}

impl Range {
    /// Parses `from` and `to` as of `now_ms`.
    pub fn parse(
        from: &Option<String>,
        to: &Option<String>,
        now_ms: i64,
    ) -> Result<Range, ApiError> {
        let from_given = given(from)
            .map(parse_time)
            .transpose()
            .map_err(|e| bad("from", e))?;
        let to_given = given(to)
            .map(parse_time)
            .transpose()
            .map_err(|e| bad("to", e))?;
        let to_ms = to_given.unwrap_or(now_ms);
        let from_ms = from_given.unwrap_or(to_ms.saturating_sub(DAY_MS).max(MIN_TIME_MS));
        let range = TimeRange::new(from_ms, to_ms).map_err(|e| match e {
            QueryError::TimeOutOfRange(_) if to_given.is_none() && from_given.is_none() => {
                bad("to", e)
            }
            _ => bad("from", e),
        })?;
        Ok(Range {
            range,
            from_given,
            to_given,
        })
    }

    /// A cache key part that names the range as asked: relative parts stay relative.
    pub fn key(&self) -> String {
        let part = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |ms| ms.to_string());
        format!("{}..{}", part(self.from_given), part(self.to_given))
    }
}

/// Answers from the cache, or computes, caches and answers; marks which with [`CACHE_HEADER`].
pub async fn cached<T, F, Fut>(
    cache: &AnalyticsCache,
    scope: Option<&str>,
    key: String,
    ttl: Duration,
    compute: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let (value, hit): (Arc<serde_json::Value>, bool) = cache
        .get_or_compute(scope, key, ttl, || async {
            let answer = compute().await?;
            serde_json::to_value(answer).map_err(|e| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("answer could not be encoded: {e}"),
                pointer: None,
            })
        })
        .await?;
    let mut response = Json(&*value).into_response();
    response.headers_mut().insert(
        CACHE_HEADER,
        HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    Ok(response)
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
