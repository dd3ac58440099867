//! `tracegate mock-upstream`: the fake provider, as its own process.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use tracegate_mock::MockConfig;

#[derive(Debug, Clone, Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    /// Delay before response headers, in ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Streams: delay from headers to the first content token, in ms.
    #[arg(long, default_value_t = 0)]
    pub ttft_ms: u64,
    /// Streams: delay between content tokens, in ms.
    #[arg(long, default_value_t = 0)]
    pub inter_token_ms: u64,
    /// Output tokens per response.
    #[arg(long, default_value_t = 16)]
    pub output_tokens: u32,
    /// Fraction of requests answered with an error, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Status of those errors: 429 or 500.
    #[arg(long, default_value_t = 500)]
    pub error_status: u16,
}

impl MockArgs {
    pub fn to_config(&self) -> anyhow::Result<MockConfig> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.error_rate),
            "--error-rate must be between 0 and 1"
        );
        anyhow::ensure!(
            matches!(self.error_status, 429 | 500 | 529),
            "--error-status must be 429, 500 or 529"
        );
        Ok(MockConfig {
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            inter_token_ms: self.inter_token_ms,
            output_tokens: self.output_tokens,
            error_rate: self.error_rate,
            error_status: self.error_status,
            ..MockConfig::default()
        })
    }
}

pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    let config = args.to_config()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "mock upstream is serving");
    let stop = CancellationToken::new();
    let server = tracegate_mock::serve(listener, config, stop.clone());
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = crate::shutdown::signal() => {
            stop.cancel();
            server.await?;
        }
    }
    Ok(())
}
