//! `tracegate relink`: recompute the conversation links of stored traces under
//! the current linking rules (see the README, "Conversations").

// The summary line is the command's output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tracegate_server::config::Config;
use tracegate_store::SqliteStore;

#[derive(Debug, clap::Args)]
pub struct RelinkArgs {
    /// Relink the traces started on or after this date (`YYYY-MM-DD`, UTC, or
    /// an RFC 3339 time) [default: every trace].
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// SQLite database file [default: ./tracegate.db].
    #[arg(long, env = "TRACEGATE_DB")]
    db: Option<PathBuf>,
    /// TOML configuration file (for `db` and `subtask_window_secs`).
    #[arg(long, env = "TRACEGATE_CONFIG")]
    config: Option<PathBuf>,
}

impl RelinkArgs {
    /// The configuration, read before logging starts (it sets the log format).
    pub fn config(&self) -> anyhow::Result<Config> {
        crate::serve::load(
            self.config.clone(),
            tracegate_server::Overrides {
                db: self.db.clone(),
                ..Default::default()
            },
        )
    }

    fn since_ms(&self) -> Option<i64> {
        self.since.map(|t| t.timestamp_millis())
    }
}

fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("expected YYYY-MM-DD or an RFC 3339 time, got {s:?}"))
}

pub async fn run(args: RelinkArgs, config: Config) -> anyhow::Result<()> {
    let since = args.since_ms();
    let path = config.db.clone();
    let window_ms =
        i64::try_from(config.subtask_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store =
            SqliteStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        store.set_subtask_window_ms(window_ms)?;
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template(
            "relinking {bar:40} {pos}/{len} traces {per_sec} eta {eta}",
        )?);
        let report = store.relink(since, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
        Ok(report)
    })
    .await??;
    println!(
        "relinked {} traces: {} links changed, {} conversations recomputed",
        report.traces, report.changed, report.conversations
    );
    println!("restart a gateway running on this database so it links from the new state");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(
            parse_since("2026-03-01").unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-03-01T12:30:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-03-01T10:30:00+00:00"
        );
        assert!(parse_since("yesterday").unwrap_err().contains("YYYY-MM-DD"));
    }
}
