//! `tracegate`: an LLM gateway that records every request as a trace.

mod bench;
mod client;
mod demo;
mod diagnose;
mod mock;
mod serve;
mod shutdown;

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Migrate(args) => serve::migrate(args).await,
            Command::MockUpstream(args) => mock::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Diagnose(args) => diagnose::run(args).await,
        }
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRACEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
