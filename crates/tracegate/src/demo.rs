//! `tracegate demo`: a gateway in front of a mock upstream, with a little synthetic traffic,
//! so a new user sees traces without any API key.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_server::config::{UpstreamConfig, UpstreamKind};
use tracegate_server::Config;

use crate::client::{http_client, send, HttpClient};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address the demo gateway listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// SQLite file for the demo's traces.
    #[arg(long, default_value = "tracegate-demo.db")]
    db: PathBuf,
    /// Synthetic requests to send.
    #[arg(long, default_value_t = 24)]
    requests: usize,
    /// Exit after the traffic instead of serving until Ctrl-C.
    #[arg(long)]
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
    let mut ok = 0;
    for i in 0..args.requests {
        match demo_request(&client, &gw, i).await {
            Ok(()) => ok += 1,
            Err(error) => tracing::warn!(%error, "demo request failed"),
        }
    }
    println!("tracegate demo: gateway on {gw}, mock upstream on {base}, {ok}/{} requests sent, traces in {}", args.requests, args.db.display());
    println!("  newest traces:   curl -s '{gw}/api/v1/traces?limit=5'");
    println!("  one trace:       curl -s {gw}/api/v1/traces/<id>");
    println!("  search:          curl -s '{gw}/api/v1/traces?q=slow&outcome=ok'");
    println!("  latency by model: curl -s '{gw}/api/v1/stats?bucket=1h&group_by=model'");
    println!("  who used what:   curl -s '{gw}/api/v1/usage/accounts?window=1h'");
    println!("  try it yourself: ANTHROPIC_BASE_URL={gw} ANTHROPIC_API_KEY=demo <your client>");
    if !args.exit {
        println!("Ctrl-C to stop.");
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

async fn demo_request(client: &HttpClient, gw: &str, i: usize) -> anyhow::Result<()> {
    let accounts = ["alice", "bob", "ci-bot"];
    let account = accounts[i % accounts.len()];
    let stream = i.is_multiple_of(2);
    let metadata = json!({ "demo": true, "n": i }).to_string();
    let (url, body, key_header) = if i % 3 == 2 {
        let body = json!({
            "model": if i.is_multiple_of(4) { "gpt-4o-mini" } else { "gpt-4.1" },
            "stream": stream,
            "messages": [{ "role": "user", "content": format!("Demo question {i}: why is my service slow?") }],
        });
        (
            format!("{gw}/v1/chat/completions"),
            body,
            ("authorization", "Bearer demo-openai-key"),
        )
    } else {
        let body = json!({
            "model": if i.is_multiple_of(5) { "claude-haiku-4-5" } else { "claude-sonnet-4-5" },
            "max_tokens": 256,
            "stream": stream,
            "messages": [{ "role": "user", "content": format!("Demo question {i}: what did this cost?") }],
        });
        (
            format!("{gw}/v1/messages"),
            body,
            ("x-api-key", "demo-anthropic-key"),
        )
    };
    let mut headers = vec![
        ("content-type", "application/json"),
        ("anthropic-version", "2023-06-01"),
        ("x-tracegate-account", account),
        ("x-tracegate-metadata", metadata.as_str()),
        key_header,
    ];
    if url.ends_with("/chat/completions") {
        headers.retain(|(k, _)| *k != "anthropic-version");
    }
    if i % 7 == 6 {
        headers.push(("x-mock-status", "429"));
    }
    send(
        client,
        http::Method::POST,
        &url,
        &headers,
        Bytes::from(body.to_string()),
    )
    .await?;
    Ok(())
}
