//! `tracegate keys`: issue, list and revoke virtual keys in the database directly (see the
//! README, "Keys"). A running gateway sees a revocation made here within its key cache's
//! TTL (5 s); one made through `DELETE /api/v1/keys/{id}` takes effect at once.

// The keys and the table are the command's output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use tracegate_core::keys::{KeyHash, KeyLimits, KeySpec, VirtualKey, KEY_PREFIX};
use tracegate_store::{KeyStore, SqliteStore};

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Issue a key and print it (only this once; the database keeps its hash).
    Create(CreateArgs),
    /// List the keys (never the keys themselves).
    List(DbArg),
    /// Revoke a key, given as its text (`tg-...`) or its id.
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
struct DbArg {
    /// SQLite database file.
    #[arg(long, env = "TRACEGATE_DB", default_value = "tracegate.db")]
    db: PathBuf,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The account the key's requests are charged to.
    #[arg(long)]
    account: String,
    /// A label to recognise the key by.
    #[arg(long)]
    name: Option<String>,
    /// Model globs the key may call (comma-separated) [default: every model].
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// When the key stops working: `YYYY-MM-DD` (UTC midnight) or an RFC 3339 time.
    #[arg(long)]
    expires: Option<String>,
    /// `proxy`, `read` or `proxy,read`.
    #[arg(long, default_value = "proxy")]
    scope: String,
    /// Requests per minute (stored, not enforced yet).
    #[arg(long)]
    rpm: Option<u64>,
    /// Tokens per minute (stored, not enforced yet).
    #[arg(long)]
    tpm: Option<u64>,
    /// Tokens per 5 hours (stored, not enforced yet).
    #[arg(long = "tokens-per-5h")]
    tokens_per_5h: Option<u64>,
    /// USD per day (stored, not enforced yet).
    #[arg(long = "budget-usd-day")]
    budget_usd_day: Option<f64>,
    /// USD per month (stored, not enforced yet).
    #[arg(long = "budget-usd-month")]
    budget_usd_month: Option<f64>,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// The key (`tg-...`) or its id.
    key_or_id: String,
    #[command(flatten)]
    db: DbArg,
}

async fn open(db: &DbArg) -> anyhow::Result<SqliteStore> {
    let path = db.db.clone();
    tokio::task::spawn_blocking(move || {
        SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))
    })
    .await?
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Create(a) => create(a).await,
        KeysCommand::List(db) => list(db).await,
        KeysCommand::Revoke(a) => revoke(a).await,
    }
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let spec = KeySpec {
        account: a.account,
        name: a.name,
        models: a.models,
        expires: a.expires,
        scope: Some(a.scope),
        limits: KeyLimits {
            rpm: a.rpm,
            tpm: a.tpm,
            tokens_per_5h: a.tokens_per_5h,
            budget_usd_day: a.budget_usd_day,
            budget_usd_month: a.budget_usd_month,
        },
    };
    let (record, key) = VirtualKey::issue(&spec)?;
    let store = open(&a.db).await?;
    store.create_key(&record).await?;
    println!("{key}");
    eprintln!(
        "key {} (prefix {}) for account {:?}: shown only now, keep it safe",
        record.id, record.prefix, record.account
    );
    Ok(())
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

async fn list(db: DbArg) -> anyhow::Result<()> {
    let keys = open(&db).await?.list_keys().await?;
    println!(
        "id\tprefix\taccount\tname\tscopes\tmodels\texpires\tcreated\trevoked\trpm\ttpm\ttokens_per_5h\tbudget_usd_day\tbudget_usd_month"
    );
    for k in keys {
        let l = &k.limits;
        println!(
            "{}\t{KEY_PREFIX}{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            k.id,
            k.prefix,
            k.account,
            k.name.as_deref().unwrap_or("-"),
            k.scopes.as_list(),
            if k.models.is_empty() {
                "*".into()
            } else {
                k.models.join(",")
            },
            time(k.expires_at),
            time(Some(k.created_at)),
            time(k.revoked_at),
            opt(l.rpm),
            opt(l.tpm),
            opt(l.tokens_per_5h),
            opt(l.budget_usd_day),
            opt(l.budget_usd_month),
        );
    }
    Ok(())
}

async fn revoke(a: RevokeArgs) -> anyhow::Result<()> {
    let store = open(&a.db).await?;
    let given = a.key_or_id.trim();
    let id = if given.starts_with(KEY_PREFIX) {
        store
            .key_by_hash(KeyHash::of(given))
            .await?
            .map(|k| k.id)
            .context("no such key")?
    } else {
        uuid::Uuid::parse_str(given)
            .with_context(|| format!("{given:?} is neither a key (tg-...) nor a key id"))?
    };
    let key = match store.revoke_key(id, Utc::now()).await {
        Err(tracegate_store::StoreError::NotFound) => anyhow::bail!("no key with id {id}"),
        other => other?,
    };
    println!(
        "revoked {} ({KEY_PREFIX}{}, account {})",
        key.id, key.prefix, key.account
    );
    Ok(())
}
