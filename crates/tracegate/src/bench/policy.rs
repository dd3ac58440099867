//! `tracegate bench proxy --compare-policy`: a third gateway with policy on — `auth = "keys"`,
//! a virtual key on every request, and every limit (the account's and the key's: requests,
//! tokens per minute and per 5 hours, day and month budgets) set high enough never to refuse
//! — measured beside the plain gateway in the same rounds.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::Path;

use tracegate_core::keys::{KeyLimits, KeySpec, VirtualKey};
use tracegate_store::{KeyStore, SqliteStore};

use super::procs::{free_addr, Proc};
use super::stats::median;
use crate::client::HttpClient;

/// The variable the policy gateway reads its upstream key from.
const UPSTREAM_KEY_ENV: &str = "BENCH_UPSTREAM_KEY";
/// Requests or tokens: more than any bench sends.
const HIGH: u64 = 1_000_000_000_000;
/// USD: the largest budget the config accepts.
const HIGH_USD: f64 = 1e9;

/// Starts the policy gateway in `dir` in front of `mock`; the virtual key its clients send.
pub async fn start(
    client: &HttpClient,
    dir: &Path,
    mock: SocketAddr,
) -> anyhow::Result<(Proc, SocketAddr, String)> {
    let config = dir.join("policy.toml");
    std::fs::write(
        &config,
        format!(
            "auth = \"keys\"\n\
             [limits]\nrpm = {HIGH}\ntpm = {HIGH}\ntokens_per_5h = {HIGH}\n\
             budget_usd_day = {HIGH_USD:.1}\nbudget_usd_month = {HIGH_USD:.1}\n\
             [[upstreams]]\nname = \"anthropic\"\nkind = \"anthropic\"\n\
             base_url = \"http://{mock}\"\napi_key_env = \"{UPSTREAM_KEY_ENV}\"\n"
        ),
    )?;
    let db = dir.join("bench-policy.db");
    let (record, key) = VirtualKey::issue(&KeySpec {
        account: "bench".into(),
        name: Some("bench".into()),
        limits: KeyLimits {
            rpm: Some(HIGH),
            tpm: Some(HIGH),
            tokens_per_5h: Some(HIGH),
            budget_usd_day: Some(HIGH_USD),
            budget_usd_month: Some(HIGH_USD),
        },
        ..KeySpec::default()
    })?;
    let path = db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??;
    store.create_key(&record).await?;
    drop(store);
    let addr = free_addr()?;
    let (listen, config, db) = (
        addr.to_string(),
        config.display().to_string(),
        db.display().to_string(),
    );
    let proc = Proc::start(
        client,
        &[
            "serve", "--listen", &listen, "--config", &config, "--db", &db,
        ],
        &[("TRACEGATE_LOG", "warn"), (UPSTREAM_KEY_ENV, "bench-key")],
        addr,
        "/health",
    )
    .await?;
    Ok((proc, addr, key))
}

/// One round of both gateways: p50, p99 and first-byte p50, p99 (ms), off then on.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub off: [f64; 4],
    pub on: [f64; 4],
}

/// What policy costs: medians of rounds, and the medians of per-round differences.
pub fn print_cost(rounds: &[Round], stream: bool) {
    let col = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let names = [
        "p50",
        "p99",
        if stream { "TTFT p50" } else { "first byte p50" },
        if stream { "TTFT p99" } else { "first byte p99" },
    ];
    for (i, name) in names.iter().enumerate() {
        let (on, off) = (col(&|r| r.on[i]), col(&|r| r.off[i]));
        let diff = col(&|r| r.on[i] - r.off[i]);
        println!(
            "policy on vs off, {name} (median of rounds): {on:.3} ms vs {off:.3} ms, added {:.1} us (median of per-round differences)",
            diff * 1000.0
        );
    }
}
