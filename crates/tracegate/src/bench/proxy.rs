//! `tracegate bench proxy`: the gateway's added latency, throughput and memory.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use serde_json::json;

use super::load::{open_loop, LoadResult, Shot};
use super::procs::{free_addr, Proc};
use super::stats::{median, Samples};
use crate::client::{http_client, send};

#[derive(Debug, Args)]
pub struct ProxyBenchArgs {
    /// Requests per second, open loop.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Ask for streaming (SSE) responses.
    #[arg(long)]
    stream: bool,
    /// Rounds of (direct, gateway); medians across rounds are reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Output tokens per mock response.
    #[arg(long, default_value_t = 16)]
    output_tokens: u32,
    /// Approximate request body size in KiB.
    #[arg(long, default_value_t = 2)]
    body_kib: usize,
    /// Also run a second gateway with `--no-metrics` and report what recording metrics
    /// adds: both gateways' p50 and p99 (medians of rounds) and the difference.
    #[arg(long)]
    compare_metrics: bool,
    /// Also measure the gateway with this many clients reading the live feed
    /// (`GET /api/v1/live`) in each round, right after the phase without them, and report
    /// both (medians of rounds) and their ratio.
    #[arg(long, default_value_t = 0)]
    live_subscribers: usize,
}

struct Phase {
    p50: f64,
    p99: f64,
    throughput: f64,
    errors: u64,
    n: usize,
    sent: u64,
}

fn phase(r: &LoadResult) -> Phase {
    let s = Samples::new(r.latencies_ms.clone());
    Phase {
        p50: s.pct(50.0),
        p99: s.pct(99.0),
        throughput: r.throughput(),
        errors: r.errors,
        n: s.len(),
        sent: r.sent,
    }
}

pub async fn run(args: ProxyBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0 && args.duration > 0 && args.rounds > 0,
        "--rate, --duration and --rounds must be positive"
    );
    let client = http_client();
    let dir = std::env::temp_dir().join(format!("tracegate-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;

    let mock_addr = free_addr()?;
    let mock_listen = mock_addr.to_string();
    let tokens = args.output_tokens.to_string();
    let mock = Proc::start(
        &client,
        &[
            "mock-upstream",
            "--listen",
            &mock_listen,
            "--output-tokens",
            &tokens,
        ],
        &[("TRACEGATE_LOG", "warn")],
        mock_addr,
        "/v1/models",
    )
    .await?;

    let gw_addr = free_addr()?;
    let config = dir.join("bench.toml");
    std::fs::write(&config, format!("[[upstreams]]\nname = \"anthropic\"\nkind = \"anthropic\"\nbase_url = \"http://{mock_addr}\"\n"))?;
    let db = dir.join("bench.db");
    let (gw_listen, config_s, db_s) = (
        gw_addr.to_string(),
        config.display().to_string(),
        db.display().to_string(),
    );
    let gateway = Proc::start(
        &client,
        &[
            "serve", "--listen", &gw_listen, "--config", &config_s, "--db", &db_s,
        ],
        &[("TRACEGATE_LOG", "warn")],
        gw_addr,
        "/health",
    )
    .await?;

    let bare = if args.compare_metrics {
        let addr = free_addr()?;
        let (listen, db) = (
            addr.to_string(),
            dir.join("bench-bare.db").display().to_string(),
        );
        let p = Proc::start(
            &client,
            &[
                "serve",
                "--listen",
                &listen,
                "--config",
                &config_s,
                "--db",
                &db,
                "--no-metrics",
            ],
            &[("TRACEGATE_LOG", "warn")],
            addr,
            "/health",
        )
        .await?;
        Some((p, addr))
    } else {
        None
    };

    let body = request_body(args.stream, args.body_kib);
    let shot = |addr: std::net::SocketAddr| -> anyhow::Result<Arc<Shot>> {
        Ok(Arc::new(Shot {
            url: format!("http://{addr}/v1/messages").parse()?,
            headers: vec![
                (
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                ),
                (
                    http::HeaderName::from_static("anthropic-version"),
                    http::HeaderValue::from_static("2023-06-01"),
                ),
                (
                    http::HeaderName::from_static("x-api-key"),
                    http::HeaderValue::from_static("bench-key"),
                ),
            ],
            body: body.clone(),
        }))
    };
    let (direct, via) = (shot(mock_addr)?, shot(gw_addr)?);
    let via_bare = match &bare {
        Some((_, addr)) => Some(shot(*addr)?),
        None => None,
    };
    let phase_len = Duration::from_secs(args.duration);
    let drain = Duration::from_secs(10);

    println!("tracegate bench proxy: rate={} req/s, duration={}s x {} rounds, stream={}, body~{} KiB, output_tokens={}",
        args.rate, args.duration, args.rounds, args.stream, args.body_kib, args.output_tokens);
    // Warm both paths (connections, caches) before measuring.
    open_loop(
        &client,
        direct.clone(),
        args.rate,
        Duration::from_secs(1),
        drain,
    )
    .await;
    open_loop(
        &client,
        via.clone(),
        args.rate,
        Duration::from_secs(1),
        drain,
    )
    .await;
    if let Some(b) = &via_bare {
        open_loop(&client, b.clone(), args.rate, Duration::from_secs(1), drain).await;
    }

    println!(
        "{:<6} {:<8} {:>9} {:>9} {:>11} {:>7} {:>8} {:>8}",
        "round", "path", "p50 ms", "p99 ms", "req/s", "errors", "ok", "sent"
    );
    let (mut add50, mut add99, mut thr, mut dthr) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut errors = 0;
    let mut with_without = Vec::new();
    let mut with_live = Vec::new();
    let mut live_read = super::live::LiveRead::default();
    for round in 1..=args.rounds {
        let d = phase(&open_loop(&client, direct.clone(), args.rate, phase_len, drain).await);
        let g = phase(&open_loop(&client, via.clone(), args.rate, phase_len, drain).await);
        for (name, p) in [("direct", &d), ("gateway", &g)] {
            println!(
                "{round:<6} {name:<8} {:>9.3} {:>9.3} {:>11.1} {:>7} {:>8} {:>8}",
                p.p50, p.p99, p.throughput, p.errors, p.n, p.sent
            );
        }
        if let Some(b) = &via_bare {
            let n = phase(&open_loop(&client, b.clone(), args.rate, phase_len, drain).await);
            println!(
                "{round:<6} {:<8} {:>9.3} {:>9.3} {:>11.1} {:>7} {:>8} {:>8}",
                "nometric", n.p50, n.p99, n.throughput, n.errors, n.n, n.sent
            );
            with_without.push((g.p50, n.p50, g.p99, n.p99));
        }
        if args.live_subscribers > 0 {
            let readers =
                super::live::LiveReaders::start(&client, &gw_listen, args.live_subscribers).await?;
            let l = phase(&open_loop(&client, via.clone(), args.rate, phase_len, drain).await);
            let read = readers.stop().await;
            println!(
                "{round:<6} {:<8} {:>9.3} {:>9.3} {:>11.1} {:>7} {:>8} {:>8}",
                "live", l.p50, l.p99, l.throughput, l.errors, l.n, l.sent
            );
            live_read.events += read.events;
            live_read.lagged += read.lagged;
            with_live.push((l.p50, g.p50, l.p99, g.p99));
            errors += l.errors;
        }
        add50.push(g.p50 - d.p50);
        add99.push(g.p99 - d.p99);
        thr.push(g.throughput);
        dthr.push(d.throughput);
        errors += g.errors;
    }
    let rss = gateway.peak_rss_bytes();
    let gw_url = format!("http://{gw_addr}/api/v1/recorder");
    let recorder = send(&client, http::Method::GET, &gw_url, &[], Bytes::new())
        .await
        .ok()
        .map(|(_, _, b)| String::from_utf8_lossy(&b).to_string());
    gateway.stop().await?;
    if let Some((p, _)) = bare {
        p.stop().await?;
    }
    mock.stop().await?;

    println!();
    println!(
        "added latency p50 (median of rounds): {:.3} ms",
        median(add50)
    );
    println!(
        "added latency p99 (median of rounds): {:.3} ms",
        median(add99)
    );
    println!("throughput via gateway (median): {:.1} req/s (direct {:.1} req/s), gateway errors: {errors}", median(thr), median(dthr));
    if !with_without.is_empty() {
        print_metrics_cost(&with_without);
    }
    if !with_live.is_empty() {
        print_live_cost(&with_live, args.live_subscribers, live_read);
    }
    match rss {
        Some(b) => println!("gateway peak RSS: {:.1} MB", b as f64 / 1e6),
        None => println!("gateway peak RSS: not available"),
    }
    println!(
        "recorder: {}",
        recorder.unwrap_or_else(|| "not available".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// What recording metrics costs: per round (p50 on, p50 off, p99 on, p99 off) in ms.
fn print_metrics_cost(rounds: &[(f64, f64, f64, f64)]) {
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| median(rounds.iter().map(f).collect());
    let (on50, off50) = (col(|r| r.0), col(|r| r.1));
    let (on99, off99) = (col(|r| r.2), col(|r| r.3));
    let diff50 = col(|r| r.0 - r.1);
    let diff99 = col(|r| r.2 - r.3);
    println!(
        "metrics on vs off, p50 (median of rounds): {on50:.3} ms vs {off50:.3} ms, difference {:.1} us (median of per-round differences)",
        diff50 * 1000.0
    );
    println!(
        "metrics on vs off, p99 (median of rounds): {on99:.3} ms vs {off99:.3} ms, difference {:.1} us",
        diff99 * 1000.0
    );
}

/// What the live feed's readers cost: per round (p50 with, p50 without, p99 with, p99
/// without) in ms.
fn print_live_cost(rounds: &[(f64, f64, f64, f64)], n: usize, read: super::live::LiveRead) {
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| median(rounds.iter().map(f).collect());
    let (with50, without50) = (col(|r| r.0), col(|r| r.1));
    let (with99, without99) = (col(|r| r.2), col(|r| r.3));
    println!(
        "live feed, {n} subscribers vs 0, p50 (median of rounds): {with50:.3} ms vs {without50:.3} ms, ratio {:.2}",
        with50 / without50.max(1e-9)
    );
    println!(
        "live feed, {n} subscribers vs 0, p99 (median of rounds): {with99:.3} ms vs {without99:.3} ms, ratio {:.2}",
        with99 / without99.max(1e-9)
    );
    println!(
        "live feed: {} events read by the subscribers, {} lagged notices",
        read.events, read.lagged
    );
}

fn request_body(stream: bool, kib: usize) -> Bytes {
    let filler =
        "The quick brown fox checks why the service is slow. ".repeat((kib * 1024 / 52).max(1));
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{ "role": "user", "content": filler }],
    });
    Bytes::from(body.to_string())
}
