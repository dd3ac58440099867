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

pub fn load(
    config: Option<PathBuf>,
    listen: Option<String>,
    db: Option<PathBuf>,
) -> anyhow::Result<Config> {
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, known = ?Config::ENV_KEYS, "ignoring an environment variable that is not a tracegate setting");
    }
    Ok(Config::load(config.as_deref(), Overrides { listen, db })?)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = load(args.config, args.listen, args.db)?;
    let listener = tracegate_server::listen::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracegate_server::serve(config, listener, crate::shutdown::signal()).await?;
    Ok(())
}

pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let config = load(args.config, None, args.db)?;
    let store = tracegate_server::open_store(&config).await?;
    store.migrate().await?;
    tracing::info!(db = %config.db.display(), "migrations applied");
    Ok(())
}
