//! `tracegate diagnose`: the diagnostics report of a running gateway (`--url`,
//! from `GET /api/v1/diagnostics`) or of a store file (`--db`, computed here
//! without the live sections). Exits with 1 when a P0 or P1 finding is
//! present, 0 otherwise, and 2 when it cannot make a report at all.

#![allow(clippy::print_stdout)]

mod render;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use bytes::Bytes;
use clap::Args;
use tracegate_server::diagnostics::{self, Report, Sources};
use tracegate_store::SqliteStore;

use crate::client::{http_client, send};

/// Exit status when a P0 or P1 finding is present.
const EXIT_FAILING: i32 = 1;
/// Exit status when no report could be made (usage, connection, store).
const EXIT_UNUSABLE: i32 = 2;
/// How long the gateway gets to answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The window to look at, ending now: 1m to 31d (e.g. 30m, 1h, 24h, 7d).
    #[arg(long, default_value = "1h")]
    since: String,
    /// Print the report as JSON (the same as GET /api/v1/diagnostics).
    #[arg(long)]
    json: bool,
    /// The running gateway to ask (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080", conflicts_with = "db")]
    url: String,
    /// Read this store file directly instead (no live sections).
    #[arg(long)]
    db: Option<PathBuf>,
    /// TOML configuration file, for the `[slo]` targets with --db.
    #[arg(long, env = "TRACEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// The gateway's admin token.
    #[arg(
        long = "admin-token",
        env = "TRACEGATE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
}

pub async fn run(args: DiagnoseArgs) -> anyhow::Result<()> {
    let made = match &args.db {
        Some(db) => from_store(&args, db.clone()).await,
        None => from_gateway(&args).await,
    };
    let code = match made {
        Ok((report, json)) => {
            let text = if args.json {
                format!("{json}\n")
            } else {
                render::text(&report, &origin(&args))
            };
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // A reader that stopped early (`| head`) is no failure of the report.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
            if report.is_failing() {
                EXIT_FAILING
            } else {
                0
            }
        }
        Err(error) => {
            eprintln!("tracegate diagnose: {error:#}");
            EXIT_UNUSABLE
        }
    };
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// Where the report came from, for its heading.
fn origin(args: &DiagnoseArgs) -> String {
    match &args.db {
        Some(db) => format!("store {}", db.display()),
        None => format!("gateway {}", args.url.trim_end_matches('/')),
    }
}

/// Computes the report from a store file, read-only.
async fn from_store(args: &DiagnoseArgs, db: PathBuf) -> anyhow::Result<(Report, String)> {
    let config = crate::serve::load(
        args.config.clone(),
        tracegate_server::Overrides {
            db: Some(db.clone()),
            ..Default::default()
        },
    )?;
    let path = db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open_read_only(&path))
        .await?
        .with_context(|| format!("cannot read the store {}", db.display()))?;
    let sources = Sources {
        store: Arc::new(store),
        slo: config.slo,
        store_path: Some(db),
        live: None,
    };
    let report = diagnostics::diagnose(&sources, &args.since)
        .await
        .map_err(|e| anyhow!("--since: {e}"))?;
    let json = serde_json::to_string_pretty(&report)?;
    Ok((report, json))
}

/// Fetches the report from a running gateway.
async fn from_gateway(args: &DiagnoseArgs) -> anyhow::Result<(Report, String)> {
    let base = args.url.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(anyhow!(
            "--url must be an http:// address of the gateway, got {base:?}"
        ));
    }
    diagnostics::parse_since(&args.since).map_err(|e| anyhow!("--since: {e}"))?;
    let url = format!("{base}/api/v1/diagnostics?since={}", args.since);
    url.parse::<http::Uri>()
        .map_err(|e| anyhow!("--url {base:?} is not a valid address: {e}"))?;
    let bearer = args
        .admin_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}"));
    let mut headers = vec![("accept", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let client = http_client();
    let fetched = tokio::time::timeout(
        FETCH_TIMEOUT,
        send(&client, http::Method::GET, &url, &headers, Bytes::new()),
    )
    .await
    .map_err(|_| anyhow!("the gateway at {base} did not answer within {FETCH_TIMEOUT:?}"))?;
    let (status, _, body) = fetched.map_err(|e| {
        anyhow!("cannot reach the gateway at {base} ({e}): is it running? (--url, or --db to read a store file)")
    })?;
    let text = String::from_utf8_lossy(&body);
    match status.as_u16() {
        200 => {}
        401 | 403 => {
            return Err(anyhow!(
                "the gateway at {base} refused the request ({status}): set TRACEGATE_ADMIN_TOKEN to its admin token"
            ))
        }
        404 => {
            return Err(anyhow!(
                "{base} has no /api/v1/diagnostics (404): is it a tracegate gateway of this version?"
            ))
        }
        _ => return Err(anyhow!("the gateway at {base} answered {status}: {text}")),
    }
    let report: Report = serde_json::from_slice(&body)
        .with_context(|| format!("the gateway at {base} sent a report this version cannot read"))?;
    let json = serde_json::to_string_pretty(&serde_json::from_slice::<serde_json::Value>(&body)?)?;
    Ok((report, json))
}
