//! A fake Anthropic and OpenAI provider for tests, demos and benchmarks.
//!
//! It answers `POST /v1/messages`, `POST /v1/messages/count_tokens`,
//! `POST /v1/chat/completions` and `GET /v1/models` with the wire formats of the
//! real APIs, streams with configurable pacing, injects errors, and keeps the exact
//! bytes of recent exchanges for inspection under `/_mock/`.
//!
//! Per-request `x-mock-*` headers override the [`MockConfig`]:
//! `x-mock-status`, `x-mock-output-tokens`, `x-mock-ttft-ms`, `x-mock-inter-token-ms`,
//! `x-mock-latency-ms`, `x-mock-error-after`, `x-mock-retry-after`,
//! `x-mock-fail-first: N` (with `x-mock-status`: only the first N requests carrying the
//! same `x-mock-fail-key` fail, so an SDK's retry succeeds) and
//! `x-mock-usage-override` (a JSON object written over the answer's `usage`),
//! `x-mock-error-rate: 0.3` (that fraction of requests fail, with `x-mock-status` or the
//! configured error status; 529 is Anthropic's `overloaded_error`),
//! `x-mock-abort-after: N` (a stream's connection closes after N events, without its end);
//! and
//! `x-mock-tool-use: {"name":"Task","input":{"prompt":"..."}}` ends the answer with that tool
//! call (an Anthropic `tool_use` block, OpenAI `tool_calls`), streamed or not.
//! Every logged response carries `x-mock-response-id`; `GET /_mock/responses/{id}`
//! returns its body as sent, `GET /_mock/requests/{id}` the request as received
//! (`{"method","path","headers","body"}`) and `GET /_mock/requests/{id}/body` the raw
//! request body.

mod anthropic;
mod cache;
mod config;
mod errors;
mod exchange_log;
mod ids;
mod inspect;
mod models;
mod openai;
mod recording;
mod reply;
mod router;
mod sse;
mod state;
#[cfg(test)]
mod test_util;
mod text;
mod tool_use;
mod usage_override;

pub use config::{
    MockConfig, HEADER_ERROR_AFTER, HEADER_INTER_TOKEN_MS, HEADER_LATENCY_MS, HEADER_OUTPUT_TOKENS,
    HEADER_RETRY_AFTER, HEADER_STATUS, HEADER_TTFT_MS, HEADER_USAGE_OVERRIDE, MAX_DELAY_MS,
    MAX_OUTPUT_TOKENS,
};
pub use exchange_log::{RESPONSE_LOG_CAPACITY, RESPONSE_LOG_MAX_BYTES};
pub use recording::{HEADER_RESPONSE_ID, MAX_REQUEST_BYTES};
pub use tool_use::HEADER_TOOL_USE;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The mock's router, with fresh state (exchange log, prompt cache) for `cfg`.
pub fn router(cfg: MockConfig) -> axum::Router {
    router::for_config(cfg)
}

/// Serves the mock on `listener` (HTTP/1.1, `TCP_NODELAY`) until `shutdown` is
/// cancelled, then stops accepting and waits for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    cfg: MockConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(cfg))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_over_tcp_and_shuts_down() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancellationToken::new();
        let server = tokio::spawn(serve(listener, MockConfig::default(), token.clone()));

        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body =
            r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        conn.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 200 OK"), "{raw}");
        assert!(raw.contains("content-type: text/event-stream; charset=utf-8"));
        assert!(raw.contains("transfer-encoding: chunked"));
        assert!(raw.contains("x-mock-response-id: 1"));
        assert!(raw.contains("data: [DONE]"));

        token.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(result.is_ok());
    }
}
