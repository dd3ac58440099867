//! `tracegate serve` and `tracegate migrate`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tracegate_server::{Config, Overrides};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, host:port (127.0.0.1:8080, localhost:8080, [::1]:8080)
    /// [default: 127.0.0.1:8080].
    #[arg(long, env = "TRACEGATE_LISTEN")]
    listen: Option<String>,
    /// SQLite database file [default: ./tracegate.db].
    #[arg(long, env = "TRACEGATE_DB")]
    db: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "TRACEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Record no metrics and serve no /metrics (config `metrics = false`).
    #[arg(long)]
    no_metrics: bool,
    /// Log every store query with its duration at info (or TRACEGATE_DEBUG_SQL=1).
    #[arg(long)]
    debug_sql: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// SQLite database file [default: ./tracegate.db].
    #[arg(long, env = "TRACEGATE_DB")]
    db: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "TRACEGATE_CONFIG")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration, read before logging starts (it sets the log format).
    pub fn config(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            listen: self.listen.clone(),
            db: self.db.clone(),
            metrics: self.no_metrics.then_some(false),
            debug_sql: self.debug_sql.then_some(true),
        };
        load(self.config.clone(), overrides)
    }
}

impl MigrateArgs {
    /// The configuration, read before logging starts (it sets the log format).
    pub fn config(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            db: self.db.clone(),
            ..Overrides::default()
        };
        load(self.config.clone(), overrides)
    }
}

pub fn load(config: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<Config> {
    Ok(Config::load(config.as_deref(), overrides)?)
}

/// Warns about `TRACEGATE_*` variables that are no setting (once logging runs).
fn warn_unknown_env() {
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, known = ?Config::ENV_KEYS, "ignoring an environment variable that is not a tracegate setting");
    }
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    warn_unknown_env();
    let listener = tracegate_server::listen::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracegate_server::serve(config, listener, crate::shutdown::signal()).await?;
    Ok(())
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    warn_unknown_env();
    let store = tracegate_server::open_store(&config).await?;
    store.migrate().await?;
    tracing::info!(db = %config.db.display(), "migrations applied");
    Ok(())
}
