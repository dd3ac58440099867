//! `GET /v1/models` in the Anthropic or OpenAI format, chosen by the request headers.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use crate::errors::ApiError;
use crate::reply::{self, Provider};
use crate::state::AppState;

/// Anthropic models listed: id, display name, creation time.
const ANTHROPIC_MODELS: [(&str, &str, &str); 5] = [
    (
        "claude-opus-4-1-20250805",
        "Claude Opus 4.1",
        "2025-08-05T00:00:00Z",
    ),
    (
        "claude-opus-4-20250514",
        "Claude Opus 4",
        "2025-05-22T00:00:00Z",
    ),
    (
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        "2025-05-22T00:00:00Z",
    ),
    (
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        "2025-02-24T00:00:00Z",
    ),
    (
        "claude-3-5-haiku-20241022",
        "Claude Haiku 3.5",
        "2024-10-22T00:00:00Z",
    ),
];

/// OpenAI models listed: id, creation time, owner.
const OPENAI_MODELS: [(&str, u64, &str); 5] = [
    ("gpt-4.1", 1_744_316_542, "system"),
    ("gpt-4.1-mini", 1_744_318_173, "system"),
    ("gpt-4o", 1_715_367_049, "system"),
    ("gpt-4o-mini", 1_721_172_741, "system"),
    ("o3-mini", 1_737_146_383, "system"),
];

#[derive(Serialize)]
struct AnthropicList {
    data: Vec<AnthropicModel>,
    has_more: bool,
    first_id: Option<&'static str>,
    last_id: Option<&'static str>,
}

#[derive(Serialize)]
struct AnthropicModel {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'static str,
    display_name: &'static str,
    created_at: &'static str,
}

#[derive(Serialize)]
struct OpenAiList {
    object: &'static str,
    data: Vec<OpenAiModel>,
}

#[derive(Serialize)]
struct OpenAiModel {
    id: &'static str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

/// `GET /v1/models`: Anthropic format when `anthropic-version` or `x-api-key` is present.
pub(crate) async fn list(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let provider = Provider::detect("/v1/models", &headers);
    let params = st.params(&headers);
    params.wait_latency().await;
    if let Some(status) = params.forced_status {
        return ApiError::new(status).response(provider, &st, params.retry_after_secs);
    }
    let body = match provider {
        Provider::Anthropic => reply::to_json(&AnthropicList {
            data: ANTHROPIC_MODELS
                .iter()
                .map(|&(id, display_name, created_at)| AnthropicModel {
                    kind: "model",
                    id,
                    display_name,
                    created_at,
                })
                .collect(),
            has_more: false,
            first_id: ANTHROPIC_MODELS.first().map(|m| m.0),
            last_id: ANTHROPIC_MODELS.last().map(|m| m.0),
        }),
        Provider::OpenAi => reply::to_json(&OpenAiList {
            object: "list",
            data: OPENAI_MODELS
                .iter()
                .map(|&(id, created, owned_by)| OpenAiModel {
                    id,
                    object: "model",
                    created,
                    owned_by,
                })
                .collect(),
        }),
    };
    let mut resp = reply::json(StatusCode::OK, body);
    reply::add_request_id(&mut resp, provider, &st);
    resp
}
