//! `tracegate demo`: a gateway in front of the built-in mock provider, some synthetic
//! traffic that exercises every feature, and a guide to what to look at, so a new user
//! sees traces without any API key.

mod guide;
mod traffic;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_server::config::{UpstreamConfig, UpstreamKind};
use tracegate_server::Config;

use crate::client::{http_client, send, HttpClient};

/// How long the demo waits for its traces to be written before it shows the guide anyway.
const RECORD_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address the demo gateway listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// SQLite file for the demo's traces.
    #[arg(long, default_value = "tracegate-demo.db")]
    db: PathBuf,
    /// Single requests sent besides the scripted scenario.
    #[arg(long, default_value_t = 12)]
    requests: usize,
    /// Exit once the traffic is recorded instead of serving until Ctrl-C.
    #[arg(long, alias = "exit-after-traffic")]
    exit: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();

    let mock_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mock_addr = mock_listener.local_addr()?;
    let mock_config = tracegate_mock::MockConfig {
        ttft_ms: 40,
        inter_token_ms: 5,
        latency_ms: 20,
        ..tracegate_mock::MockConfig::default()
    };
    tasks.spawn(tracegate_mock::serve(
        mock_listener,
        mock_config,
        stop.clone(),
    ));

    let base = format!("http://{mock_addr}");
    let config = Config {
        listen: args.listen.clone(),
        db: args.db.clone(),
        upstreams: vec![
            UpstreamConfig::new("anthropic", UpstreamKind::Anthropic, &base),
            UpstreamConfig::new("openai", UpstreamKind::Openai, &base),
        ],
        ..Config::default()
    };
    let listener = tracegate_server::listen::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let gw = format!("http://{}", listener.local_addr()?);
    let gateway = tasks.spawn(tracegate_server::serve(
        config,
        listener,
        stop.clone().cancelled_owned(),
    ));

    let client = http_client();
    let run_id = format!("{:04x}", rand::random::<u16>());
    let traffic = traffic::Traffic::new(client.clone(), gw.clone(), run_id);
    let landmarks = traffic.run(args.requests).await;
    if !wait_recorded(&client, &gw, landmarks.sent).await {
        tracing::warn!(
            sent = landmarks.sent,
            "not every demo trace was written in time; the guide's examples may find fewer"
        );
    }
    guide::print(&gw, &base, &args.db, &landmarks);
    if !args.exit {
        guide::print_wait();
        crate::shutdown::signal().await;
    }
    stop.cancel();
    tasks.close();
    if let Ok(Err(e)) = gateway.await {
        return Err(e.into());
    }
    tasks.wait().await;
    Ok(())
}

/// Waits until the gateway's recorder has written (or dropped) `sent` traces.
async fn wait_recorded(client: &HttpClient, gw: &str, sent: usize) -> bool {
    let url = format!("{gw}/api/v1/recorder");
    let deadline = tokio::time::Instant::now() + RECORD_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok((status, _, body)) =
            send(client, http::Method::GET, &url, &[], Bytes::new()).await
        {
            let done = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .filter(|_| status.is_success())
                .map(|v| {
                    let n = |k: &str| v[k].as_u64().unwrap_or(0);
                    n("written") + n("dropped_queue_full") + n("dropped_store_error")
                });
            if done.is_some_and(|d| d >= sent as u64) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
