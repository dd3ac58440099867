//! `tracegate`: an LLM gateway that records every request as a trace.

mod bench;
mod client;
mod demo;
mod diagnose;
mod export;
mod keys;
mod mock;
mod prices;
mod relink;
mod serve;
mod shutdown;

use clap::{Parser, Subcommand};
use tracegate_server::config::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "tracegate",
    version,
    about = "LLM gateway with performance troubleshooting built in"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with its embedded store.
    Serve(serve::ServeArgs),
    /// Apply store migrations and exit.
    Migrate(serve::MigrateArgs),
    /// Run a fake Anthropic and OpenAI provider, for tests, demos and benchmarks.
    MockUpstream(mock::MockArgs),
    /// Start a gateway, a mock upstream and some synthetic traffic, so traces show up without an API key.
    Demo(demo::DemoArgs),
    /// Measure the gateway.
    Bench(bench::BenchArgs),
    /// Report what is wrong and what to do (exit 1 on a P0/P1 finding).
    Diagnose(diagnose::DiagnoseArgs),
    /// Print the model prices in effect (built-in list and config overrides).
    Prices(prices::PricesArgs),
    /// Recompute the conversation links of stored traces under the current rules.
    Relink(relink::RelinkArgs),
    /// Write every trace a search matches as JSON lines or CSV.
    Export(export::ExportArgs),
    /// Issue, list and revoke virtual keys.
    Keys(keys::KeysArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Prices(args) => return prices::run(args),
        other => other,
    };
    // serve's and migrate's configuration says how to log, so it is read before logging starts.
    let config = match &command {
        Command::Serve(args) => Some(args.config()?),
        Command::Migrate(args) => Some(args.config()?),
        Command::Relink(args) => Some(args.config()?),
        _ => None,
    };
    let format = match &config {
        Some(c) => c.log_format,
        None => log_format_from_env()?,
    };
    init_logging(format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match (command, config) {
            (Command::Serve(_), Some(config)) => serve::run(config).await,
            (Command::Migrate(_), Some(config)) => serve::migrate(config).await,
            (Command::Relink(args), Some(config)) => relink::run(args, config).await,
            (Command::Serve(_) | Command::Migrate(_) | Command::Relink(_), None) => {
                anyhow::bail!("no configuration loaded")
            }
            (Command::MockUpstream(args), _) => mock::run(args).await,
            (Command::Demo(args), _) => demo::run(args).await,
            (Command::Bench(args), _) => bench::run(args).await,
            (Command::Prices(args), _) => prices::run(args),
            (Command::Export(args), _) => export::run(args).await,
            (Command::Keys(args), _) => keys::run(args).await,
            (Command::Diagnose(args), _) => diagnose::run(args).await,
        }
    })
}

/// `TRACEGATE_LOG_FORMAT` for the commands without a configuration file.
fn log_format_from_env() -> anyhow::Result<LogFormat> {
    match std::env::var(LogFormat::ENV) {
        Err(_) => Ok(LogFormat::default()),
        Ok(v) => LogFormat::parse(&v)
            .ok_or_else(|| anyhow::anyhow!("{}: expected text or json, got {v:?}", LogFormat::ENV)),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRACEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal, never into a file or a pipe.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => logger.init(),
        LogFormat::Json => logger.json().flatten_event(true).init(),
    }
}
