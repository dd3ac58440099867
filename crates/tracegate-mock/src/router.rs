//! Route table of the mock and its fallbacks.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::errors::ApiError;
use crate::reply::Provider;
use crate::state::{AppState, Shared};
use crate::{anthropic, inspect, models, openai, recording};

/// The router of a mock instance around `st`.
pub(crate) fn build(st: AppState) -> Router {
    Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(models::list))
        .route("/_mock/responses/{id}", get(inspect::response))
        .route("/_mock/requests/{id}", get(inspect::request))
        .route("/_mock/requests/{id}/body", get(inspect::request_body))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&st),
            recording::record,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(st)
}

/// A fresh router for `cfg`.
pub(crate) fn for_config(cfg: crate::MockConfig) -> Router {
    build(Arc::new(Shared::new(cfg)))
}

/// Unknown paths: 404 in the format of the provider the request looks addressed to.
async fn not_found(State(st): State<AppState>, req: Request) -> Response {
    let provider = Provider::detect(req.uri().path(), req.headers());
    let message = match provider {
        Provider::Anthropic => "Not found".to_owned(),
        Provider::OpenAi => format!("Invalid URL ({} {})", req.method(), req.uri().path()),
    };
    ApiError::new(StatusCode::NOT_FOUND)
        .with_message(message)
        .response(provider, &st, 1)
}

/// Known paths with the wrong method: 405 in the provider's format.
async fn method_not_allowed(State(st): State<AppState>, req: Request) -> Response {
    let provider = Provider::detect(req.uri().path(), req.headers());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_message(format!(
            "Method {} is not allowed for {}",
            req.method(),
            req.uri().path()
        ))
        .response(provider, &st, 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
