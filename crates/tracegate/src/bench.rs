//! `tracegate bench ...`: whole-system benchmarks that print what they measured.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {}
}
