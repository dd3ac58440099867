//! Shapes of requests and answers that handlers read or write as raw JSON,
//! so that the OpenAPI document can describe them. The search body and query
//! parameters are checked by hand (`search/request.rs`, `export/request.rs`)
//! to point at the bad part of a request; these types only describe them.

use serde::{Deserialize, Serialize};
use tracegate_store::TraceSummary;
use utoipa::{IntoParams, ToSchema};

use crate::inflight::InflightRequest;

/// `{"status": "ok"}` or `{"status": "ready"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    pub status: &'static str,
}

/// The body of `POST /api/v1/traces/search`; every member is optional.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchBody {
    /// A filter tree: a leaf `{"field": "model", "op": "eq", "value": "claude-sonnet-4-5"}`,
    /// or `{"and": [...]}`, `{"or": [...]}`, `{"not": {...}}`, at most 8 levels. Operators:
    /// eq ne gt gte lt lte in not_in contains starts_with exists.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// Full-text query: words, "exact phrases" and prefix*.
    pub q: Option<String>,
    /// ts (default), duration_ms, ttft_ms, cost_usd or total_tokens.
    pub sort: Option<String>,
    /// desc (default) or asc.
    pub order: Option<String>,
    /// The `next_cursor` of the previous page of the same query.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Trace fields to return (default: all).
    pub fields: Option<Vec<String>>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    /// Trace summaries, with only the asked `fields` when given.
    pub data: Vec<TraceSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Whether more traces follow this page.
    pub has_more: bool,
    /// Time this request took.
    pub took_ms: f64,
}

/// Query parameters of `GET /api/v1/traces`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TracesParams {
    /// Model, or several as `a,b`.
    pub model: Option<String>,
    /// anthropic or openai.
    pub provider: Option<String>,
    /// Account, or several as `a,b`.
    pub account: Option<String>,
    /// HTTP status, or several as `200,429`.
    pub status: Option<String>,
    /// ok, upstream_error, client_error, timeout, cancelled, gateway_error, cache_hit or unauthorized.
    pub outcome: Option<String>,
    /// Started at or after: RFC 3339, YYYY-MM-DD or epoch ms.
    pub from: Option<String>,
    /// Started before: RFC 3339, YYYY-MM-DD or epoch ms.
    pub to: Option<String>,
    /// Full-text query.
    pub q: Option<String>,
    /// ts (default), duration_ms, ttft_ms, cost_usd or total_tokens.
    pub sort: Option<String>,
    /// desc (default) or asc.
    pub order: Option<String>,
    /// Comma-separated trace fields (default: all).
    pub fields: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Query parameters of `GET /api/v1/traces/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// A filter tree as JSON (URL-encoded), as in the search body.
    pub filter: Option<String>,
    /// Model, or several as `a,b`.
    pub model: Option<String>,
    /// anthropic or openai.
    pub provider: Option<String>,
    /// Account, or several as `a,b`.
    pub account: Option<String>,
    /// HTTP status, or several as `200,429`.
    pub status: Option<String>,
    /// ok, upstream_error, client_error, timeout, cancelled, gateway_error, cache_hit or unauthorized.
    pub outcome: Option<String>,
    /// Started at or after: RFC 3339, YYYY-MM-DD or epoch ms.
    pub from: Option<String>,
    /// Started before: RFC 3339, YYYY-MM-DD or epoch ms.
    pub to: Option<String>,
    /// Full-text query.
    pub q: Option<String>,
    /// ts (default), duration_ms, ttft_ms, cost_usd or total_tokens.
    pub sort: Option<String>,
    /// desc (default) or asc.
    pub order: Option<String>,
    /// Comma-separated trace fields (default: all).
    pub fields: Option<String>,
    /// true adds request_body and response_body to each line.
    pub bodies: Option<bool>,
    /// The most traces to export in all (default: every match).
    pub limit: Option<u64>,
    /// Start after this `next_cursor` of a search of the same query.
    pub cursor: Option<String>,
}

/// Requests in flight now.
#[derive(Debug, Serialize, ToSchema)]
pub struct InflightAnswer {
    /// Longest running first.
    pub data: Vec<InflightRequest>,
    pub count: usize,
    /// How many have run longer than `stuck_after_ms`.
    pub stuck: usize,
    pub stuck_after_ms: f64,
}

/// The body of `POST /api/v1/traces/{id}/feedback` (checked by `tracegate_core::feedback`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackBody {
    /// A finite number from -1000 to 1000 (e.g. -1..1, or 1..5).
    pub score: f64,
    /// At most 4 KiB.
    pub comment: Option<String>,
    /// Who gave it (`user`, `app`, ...): 1 to 64 characters.
    pub source: Option<String>,
}
