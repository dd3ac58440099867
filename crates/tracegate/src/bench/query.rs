//! `tracegate bench query`: generates a synthetic corpus into a fresh store, then runs each
//! class of analytics query many times through the HTTP API (in process, cache off) and
//! prints p50/p95/p99 and queries per second.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use axum::body::Body;
use clap::Args;
use http_body_util::BodyExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tower::ServiceExt;
use tracegate_server::{Config, Gateway};

use super::corpus::Corpus;
use super::stats::Samples;

#[derive(Debug, Args)]
pub struct QueryBenchArgs {
    /// Traces in the generated corpus.
    #[arg(long, default_value_t = 1_000_000)]
    traces: u64,
    /// Days the corpus spans, ending now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Runs of each query class.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Keep the generated database here (default: a temporary directory, removed after).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Reuse an existing corpus in --db instead of generating one.
    #[arg(long)]
    reuse: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

struct Class {
    name: &'static str,
    iterations: usize,
    make: Box<dyn Fn(usize) -> (http::Method, String, Option<Value>)>,
}

pub async fn run(args: QueryBenchArgs) -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracegate-bench-query-{}", uuid::Uuid::now_v7()));
    let db = match &args.db {
        Some(p) => p.clone(),
        None => {
            std::fs::create_dir_all(&tmp)?;
            tmp.join("corpus.db")
        }
    };
    anyhow::ensure!(
        args.reuse || !db.exists(),
        "{} exists: remove it or pass --reuse",
        db.display()
    );
    let config = Config {
        db: db.clone(),
        api_cache_entries: 0,
        ..Config::default()
    };
    let store = tracegate_server::open_store(&config).await?;
    if !args.reuse {
        generate(&*store, &args).await?;
    }
    let stats = store.stats().await?;
    println!(
        "corpus: {} traces, database {:.1} MB ({})",
        stats.trace_count,
        stats.total_bytes as f64 / 1e6,
        db.display()
    );

    let gateway = Gateway::build(&config, store)?;
    let router = gateway.router.clone();
    println!(
        "{:<34} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "query class", "runs", "p50 ms", "p95 ms", "p99 ms", "qps", "errors"
    );
    for class in classes(args.iterations) {
        let mut lat = Vec::with_capacity(class.iterations);
        let mut errors = 0;
        let mut first_error = None;
        let started = Instant::now();
        for i in 0..class.iterations {
            let (method, uri, body) = (class.make)(i);
            let mut req = http::Request::builder().method(method).uri(&uri);
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))?;
            let t0 = Instant::now();
            let resp = router.clone().oneshot(req).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                errors += 1;
                first_error.get_or_insert_with(|| {
                    format!("{uri}: {status} {}", String::from_utf8_lossy(&bytes))
                });
            }
        }
        let elapsed = started.elapsed();
        let s = Samples::new(lat);
        println!(
            "{:<34} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>7}",
            class.name,
            s.len(),
            s.pct(50.0),
            s.pct(95.0),
            s.pct(99.0),
            s.len() as f64 / elapsed.as_secs_f64(),
            errors
        );
        if let Some(e) = first_error {
            println!("  first error: {}", e.chars().take(300).collect::<String>());
        }
    }
    gateway.flush().await;
    if args.db.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

async fn generate(store: &dyn tracegate_store::Store, args: &QueryBenchArgs) -> anyhow::Result<()> {
    let bar = ProgressBar::new(args.traces);
    bar.set_style(ProgressStyle::with_template(
        "generating {bar:40} {pos}/{len} traces {per_sec} eta {eta}",
    )?);
    let mut corpus = Corpus::new(args.traces, args.days, args.seed);
    let started = Instant::now();
    loop {
        let batch = corpus.batch(512);
        if batch.is_empty() {
            break;
        }
        let n = batch.len() as u64;
        store.insert_batch(batch).await?;
        bar.inc(n);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} traces in {:.1} s ({:.0} traces/s through insert_batch)",
        args.traces,
        secs,
        args.traces as f64 / secs
    );
    Ok(())
}

const MODELS: &[&str] = &[
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gpt-4o-mini",
    "gpt-4.1",
    "claude-opus-4-5",
    "gpt-5",
];
const TERMS: &[&str] = &[
    "latency",
    "timeout",
    "database",
    "index",
    "migration",
    "deadlock",
    "kubernetes",
    "retry",
    "invoice",
    "cache",
    "postgres",
    "checkout",
];

fn search(body: Value) -> (http::Method, String, Option<Value>) {
    (
        http::Method::POST,
        "/api/v1/traces/search".into(),
        Some(body),
    )
}

fn classes(n: usize) -> Vec<Class> {
    let m = |i: usize| MODELS[i % MODELS.len()];
    let acct = |i: usize| format!("acct-{:02}", i % 60);
    vec![
        Class {
            name: "simple equality, newest 50",
            iterations: n,
            make: Box::new(move |i| {
                search(
                    json!({ "filter": { "field": "model", "op": "eq", "value": m(i) }, "limit": 50 }),
                )
            }),
        },
        Class {
            name: "comparison (duration_ms > X)",
            iterations: n,
            make: Box::new(|i| {
                search(
                    json!({ "filter": { "field": "duration_ms", "op": "gt", "value": 2000 + (i % 20) * 1000 }, "limit": 50 }),
                )
            }),
        },
        Class {
            name: "IN of 3-5 values",
            iterations: n,
            make: Box::new(move |i| {
                let values: Vec<&str> = (0..3 + i % 3).map(|k| m(i + k)).collect();
                search(
                    json!({ "filter": { "field": "model", "op": "in", "value": values }, "limit": 50 }),
                )
            }),
        },
        Class {
            name: "contains / starts_with (text)",
            iterations: n,
            make: Box::new(|i| {
                if i % 2 == 0 {
                    let needle = ["429", "500", "504", "timeout"][i % 4];
                    search(
                        json!({ "filter": { "field": "error", "op": "contains", "value": needle }, "limit": 50 }),
                    )
                } else {
                    search(
                        json!({ "filter": { "field": "account", "op": "starts_with", "value": format!("acct-{}", i % 6) }, "limit": 50 }),
                    )
                }
            }),
        },
        Class {
            name: "full-text",
            iterations: n,
            make: Box::new(|i| search(json!({ "q": TERMS[i % TERMS.len()], "limit": 50 }))),
        },
        Class {
            name: "nested 3-5 levels",
            iterations: n,
            make: Box::new(move |i| {
                search(json!({ "filter": { "and": [
            { "or": [ { "field": "model", "op": "eq", "value": m(i) }, { "field": "model", "op": "eq", "value": m(i + 1) } ] },
            { "not": { "field": "outcome", "op": "eq", "value": "ok" } },
            { "or": [ { "and": [ { "field": "duration_ms", "op": "gt", "value": 1000 }, { "field": "account", "op": "in", "value": [acct(i), acct(i + 1)] } ] },
                      { "field": "metadata.team", "op": "eq", "value": "search" } ] } ] }, "limit": 50 }))
            }),
        },
        Class {
            name: "full-text + filters",
            iterations: n,
            make: Box::new(move |i| {
                search(json!({ "q": TERMS[i % TERMS.len()], "filter": { "and": [
            { "field": "provider", "op": "eq", "value": if i % 2 == 0 { "anthropic" } else { "openai" } },
            { "field": "ts", "op": "gte", "value": (chrono::Utc::now() - chrono::Duration::days(7)).timestamp_millis() } ] }, "limit": 50 }))
            }),
        },
        Class {
            name: "1000-row page",
            iterations: (n / 4).max(10),
            make: Box::new(move |i| {
                search(
                    json!({ "filter": { "field": "model", "op": "eq", "value": m(i) }, "limit": 1000 }),
                )
            }),
        },
        Class {
            name: "stats 30 days by model, p50-p99",
            iterations: n,
            make: Box::new(|i| {
                let to = chrono::Utc::now().timestamp_millis() - (i as i64 % 5) * 60_000;
                let from = to - 30 * 86_400_000;
                (
                    http::Method::GET,
                    format!("/api/v1/stats?from={from}&to={to}&bucket=1d&group_by=model"),
                    None,
                )
            }),
        },
        Class {
            name: "usage window 5h, one account",
            iterations: n,
            make: Box::new(move |i| {
                (
                    http::Method::GET,
                    format!("/api/v1/usage/window?account={}&window=5h", acct(i)),
                    None,
                )
            }),
        },
    ]
}
