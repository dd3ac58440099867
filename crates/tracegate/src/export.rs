//! `tracegate export`: every trace a search matches, as JSON lines or CSV.
//!
//! Reads the store directly (`--db`; SQLite's write-ahead log lets it run
//! while the gateway writes) or a running gateway's `GET /api/v1/traces/export`
//! (`--url`). Both take the same filter language as the search API and read
//! one page of traces at a time, so memory stays flat however many match.

mod remote;
mod sink;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tracegate_store::export::{Export, ExportQuery};
use tracegate_store::SqliteStore;

use sink::Sink;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row with the fields, then one row per trace; metadata and bodies as JSON text.
    Csv,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Filter tree as JSON, as in the search API:
    /// '{"field":"model","op":"eq","value":"claude-sonnet-4-5"}'.
    #[arg(long)]
    filter: Option<String>,
    /// Full-text query over what was asked and answered: words, "exact phrases", prefix*.
    #[arg(long)]
    q: Option<String>,
    /// Traces started at or after this: RFC 3339, YYYY-MM-DD, epoch ms, or a duration back
    /// from now (90s, 30m, 24h, 7d, 2w).
    #[arg(long)]
    since: Option<String>,
    /// Traces started before this (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// Fields to export, comma-separated [default: every summary field].
    #[arg(long)]
    fields: Option<String>,
    /// Add request_body and response_body to each trace.
    #[arg(long)]
    bodies: bool,
    /// Sort key: ts, duration_ms, ttft_ms, cost_usd or total_tokens [default: ts].
    #[arg(long)]
    sort: Option<String>,
    /// asc or desc [default: desc, newest first].
    #[arg(long)]
    order: Option<String>,
    /// At most this many traces.
    #[arg(long)]
    limit: Option<u64>,
    /// SQLite database file to read [default: ./tracegate.db].
    #[arg(long, env = "TRACEGATE_DB")]
    db: Option<PathBuf>,
    /// Read from a running gateway instead of the database, e.g. http://127.0.0.1:8080
    /// (the admin token is read from TRACEGATE_ADMIN_TOKEN).
    #[arg(long)]
    url: Option<String>,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let params = params(&args, chrono::Utc::now().timestamp_millis())?;
    let query = tracegate_server::api::export::request::from_params(&params, None)
        .map_err(|e| anyhow::anyhow!("{}: {}", option_name(&e.pointer), e.message))?;
    let mut sink = Sink::open(args.format, args.output.as_deref(), query.columns())?;
    let dest = match &args.output {
        Some(p) => p.display().to_string(),
        None => "standard output".to_owned(),
    };
    let result = match &args.url {
        Some(url) => {
            let bar = progress(query.max_rows);
            remote::export(url, &params, &mut sink, &bar).await
        }
        None => local(&args, query, &mut sink).await,
    };
    let count = sink.rows();
    let finished = result.and_then(|()| sink.finish());
    if let Err(e) = finished {
        return Err(e.context(format!(
            "export stopped after {count} traces; {dest} holds only those"
        )));
    }
    eprintln!("exported {count} traces to {dest}");
    Ok(())
}

/// Reads the traces from the database file.
async fn local(args: &ExportArgs, query: ExportQuery, sink: &mut Sink) -> anyhow::Result<()> {
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from("tracegate.db"));
    anyhow::ensure!(
        db.is_file(),
        "no database at {}: pass --db PATH, or --url of a running gateway",
        db.display()
    );
    let path = db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await?
        .with_context(|| format!("cannot open {}", db.display()))?;
    let bar = progress(query.max_rows);
    let mut export = Export::new(Arc::new(store), query);
    while let Some(row) = export.next_row().await? {
        sink.row(&row)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Progress on standard error (drawn only when it is a terminal): a bar when `--limit`
/// gives a total, else a count and a rate.
fn progress(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "exporting {bar:40} {human_pos}/{human_len} traces {per_sec} eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "exporting {spinner} {human_pos} traces in {elapsed} ({per_sec})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The export's query parameters, as `GET /api/v1/traces/export` takes them.
fn params(args: &ExportArgs, now_ms: i64) -> anyhow::Result<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut add = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            params.push((name.to_owned(), v.clone()));
        }
    };
    add("filter", &args.filter);
    add("q", &args.q);
    add("fields", &args.fields);
    add("sort", &args.sort);
    add("order", &args.order);
    add("limit", &args.limit.map(|n| n.to_string()));
    if args.bodies {
        params.push(("bodies".into(), "true".into()));
    }
    for (name, value) in [("from", &args.since), ("to", &args.until)] {
        if let Some(v) = value {
            params.push((name.into(), time_param(v, now_ms)?));
        }
    }
    Ok(params)
}

/// A time as the `from`/`to` parameters take it; a duration means that long before now.
fn time_param(raw: &str, now_ms: i64) -> anyhow::Result<String> {
    let raw = raw.trim();
    let Some(unit) = raw.chars().last() else {
        anyhow::bail!("--since/--until is empty");
    };
    let digits = &raw[..raw.len() - unit.len_utf8()];
    let unit_ms: i64 = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return Ok(raw.to_owned()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(raw.to_owned());
    }
    let back = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| *ms <= now_ms)
        .with_context(|| format!("{raw:?} reaches back before 1970"))?;
    Ok((now_ms - back).to_string())
}

/// The command-line option a parameter's error pointer names.
fn option_name(pointer: &str) -> String {
    let name = pointer
        .strip_prefix("/query/")
        .unwrap_or(pointer)
        .split('/')
        .next()
        .unwrap_or_default();
    let option = match name {
        "from" => "since",
        "to" => "until",
        other => other,
    };
    let rest = pointer
        .strip_prefix("/query/")
        .and_then(|p| p.split_once('/'))
        .map(|(_, rest)| format!(" (at /{rest})"))
        .unwrap_or_default();
    format!("--{option}{rest}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_from_now_and_times_pass_through() {
        let now = 10 * 86_400_000;
        assert_eq!(
            time_param("24h", now).unwrap(),
            (9 * 86_400_000).to_string()
        );
        assert_eq!(time_param("90s", now).unwrap(), (now - 90_000).to_string());
        assert_eq!(time_param("1w", now).unwrap(), (3 * 86_400_000).to_string());
        assert_eq!(time_param("2025-01-02", now).unwrap(), "2025-01-02");
        assert_eq!(
            time_param("2025-01-02T03:04:05Z", now).unwrap(),
            "2025-01-02T03:04:05Z"
        );
        assert_eq!(time_param("1700000000000", now).unwrap(), "1700000000000");
        assert!(time_param("11d", now).is_err());
        assert!(time_param("", now).is_err());
    }

    #[test]
    fn error_pointers_name_the_option() {
        assert_eq!(option_name("/query/from"), "--since");
        assert_eq!(
            option_name("/query/filter/and/1/op"),
            "--filter (at /and/1/op)"
        );
        assert_eq!(option_name("/query/fields/2"), "--fields (at /2)");
    }
}
