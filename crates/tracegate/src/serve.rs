//! `tracegate serve` and `tracegate migrate`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tracegate_server::{Config, Overrides};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TRACEGATE_LISTEN")]
    listen: Option<SocketAddr>,
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

pub fn load(config: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<Config> {
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, known = ?Config::ENV_KEYS, "ignoring an environment variable that is not a tracegate setting");
    }
    Ok(Config::load(config.as_deref(), overrides)?)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        db: args.db,
        metrics: args.no_metrics.then_some(false),
        debug_sql: args.debug_sql.then_some(true),
    };
    let config = load(args.config, overrides)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracegate_server::serve(config, listener, crate::shutdown::signal()).await?;
    Ok(())
}

pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        db: args.db,
        ..Overrides::default()
    };
    let config = load(args.config, overrides)?;
    let store = tracegate_server::open_store(&config).await?;
    store.migrate().await?;
    tracing::info!(db = %config.db.display(), "migrations applied");
    Ok(())
}
