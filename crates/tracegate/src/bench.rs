//! `tracegate bench ...`: whole-system benchmarks that print what they measured.

mod corpus;
mod live;
mod load;
mod procs;
mod proxy;
mod query;
mod stats;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Added latency, throughput and memory of the gateway against the mock upstream,
    /// compared with calling the mock directly in the same run.
    Proxy(proxy::ProxyBenchArgs),
    /// Latency of each class of analytics query over a generated corpus.
    Query(query::QueryBenchArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchCommand::Proxy(a) => proxy::run(a).await,
        BenchCommand::Query(a) => query::run(a).await,
    }
}
