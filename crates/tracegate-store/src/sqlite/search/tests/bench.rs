//! Timings of each query class on a large synthetic store (ignored by default).
//!
//! `TRACEGATE_SEARCH_BENCH_DB=/tmp/search.db TRACEGATE_SEARCH_BENCH_ROWS=1000000 \
//!  cargo test -p tracegate-store --release bench_search -- --ignored --nocapture`
//!
//! The database is built once (rows written straight into `traces` and
//! `traces_fts`, start times mostly in write order with some written late)
//! and reused while the file exists.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use rusqlite::{params, Connection};
use serde_json::json;

use super::query;
use crate::conformance::fixtures::Rng;
use crate::search::{SearchQuery, SearchStore, SortKey, SortOrder};
use crate::sqlite::SqliteStore;

const MODELS: [&str; 8] = [
    "claude-sonnet-4-5",
    "gpt-4o-mini",
    "claude-haiku-4-5",
    "gpt-4o",
    "claude-opus-4-1",
    "o3",
    "gpt-4.1",
    "claude-3-5-haiku",
];
const START_MS: i64 = 1_750_000_000_000;

/// A word of the vocabulary: rank 0 is the most common.
fn word(rank: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "bri", "cla", "dro", "fen", "gor", "hul",
        "jin", "pex",
    ];
    let mut w = String::new();
    let mut r = rank + 16;
    while r > 0 {
        w.push_str(SYL[r % 16]);
        r /= 16;
    }
    w
}

/// A Zipf-like rank in `0..n`: rank r is drawn about 1/(r+1) as often as rank 0.
fn zipf(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (((n as f64 + 1.0).powf(u)) - 1.0) as usize % n
}

/// Feedback on one trace in a hundred (scores 1 to 5, as many of each), a second
/// entry (-1) on one in a thousand.
const FEEDBACK: &str = "
    INSERT INTO feedback (id, trace_rowid, ts, score, source)
        SELECT randomblob(16), rowid, ts + 60000, 1 + (rowid / 100) % 5, 'user'
        FROM traces WHERE rowid % 100 = 0;
    INSERT INTO feedback (id, trace_rowid, ts, score, source)
        SELECT randomblob(16), rowid, ts + 120000, -1, 'app' FROM traces WHERE rowid % 1000 = 0;";

fn build(path: &PathBuf, rows: usize) {
    drop(SqliteStore::open(path).unwrap());
    let mut c = Connection::open(path).unwrap();
    c.pragma_update(None, "synchronous", "OFF").unwrap();
    let mut rng = Rng::new(42);
    let per_ms = 30 * 86_400_000 / rows.max(1) as i64;
    for chunk in 0..rows.div_ceil(50_000) {
        let tx = c.transaction().unwrap();
        {
            let mut t = tx
                .prepare(
                    "INSERT INTO traces (id, ts, upstream, provider, endpoint, method, model_requested,
                     model, stream, status, outcome, error, duration_ms, ttft_ms, input_tokens,
                     output_tokens, total_tokens, cost_usd, account, user_agent, metadata, model_eff)
                     VALUES (?1, ?2, 'primary', ?3, '/v1/messages', 'POST', ?4, ?4, ?5, ?6, ?7, ?8,
                     ?9, ?10, ?11, ?12, ?11 + ?12, ?13, ?14, ?15, ?16, ?4)",
                )
                .unwrap();
            let mut f = tx
                .prepare("INSERT INTO traces_fts (rowid, body) VALUES (?1, ?2)")
                .unwrap();
            for i in chunk * 50_000..((chunk + 1) * 50_000).min(rows) {
                let late = rng.below(20) == 0;
                let ts =
                    START_MS + i as i64 * per_ms - if late { rng.below(600_000) as i64 } else { 0 };
                let model = MODELS[zipf(&mut rng, MODELS.len())];
                let provider = if model.starts_with("claude") {
                    "anthropic"
                } else {
                    "openai"
                };
                let roll = rng.below(100);
                let (status, outcome, error): (Option<i64>, &str, Option<&str>) = match roll {
                    0..=2 => (
                        Some(529),
                        "upstream_error",
                        Some("overloaded_error: Overloaded"),
                    ),
                    3 => (
                        Some(429),
                        "upstream_error",
                        Some("rate_limit_error: slow down"),
                    ),
                    4 => (None, "cancelled", None),
                    5 => (
                        Some(504),
                        "timeout",
                        Some("upstream did not answer in time"),
                    ),
                    _ => (Some(200), "ok", None),
                };
                let duration = 200.0 + rng.below(60_000) as f64 * (rng.below(100) as f64 / 100.0);
                let ttft = (rng.below(10) < 7).then_some(duration * 0.2);
                let (input, output) = (rng.below(50_000) as i64, rng.below(4_000) as i64);
                let cost = (rng.below(10) != 0).then(|| (input + output * 5) as f64 / 1e6);
                let account = format!("acct-{:02}", zipf(&mut rng, 50));
                let ua = [
                    "claude-cli/1.0.71",
                    "OpenAI/Python 1.99",
                    "Anthropic/Python 0.64",
                    "curl/8.5",
                ][rng.below(4)];
                let metadata = (rng.below(2) == 0).then(|| {
                    json!({"team": format!("team-{}", rng.below(8)), "run": rng.below(1000)})
                        .to_string()
                });
                let id = uuid::Uuid::from_u64_pair(ts as u64, rng.next_u64());
                t.execute(params![
                    &id.as_bytes()[..],
                    ts,
                    provider,
                    model,
                    rng.below(2) as i64,
                    status,
                    outcome,
                    error,
                    duration,
                    ttft,
                    input,
                    output,
                    cost,
                    account,
                    ua,
                    metadata
                ])
                .unwrap();
                let rowid = tx.last_insert_rowid();
                let words: Vec<String> = (0..20 + rng.below(40))
                    .map(|_| word(zipf(&mut rng, 20_000)))
                    .collect();
                f.execute(params![rowid, words.join(" ")]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    c.execute_batch(FEEDBACK).unwrap();
    c.execute_batch("PRAGMA optimize; INSERT INTO traces_fts(traces_fts) VALUES ('optimize');")
        .unwrap();
}

async fn time(store: &SqliteStore, name: &str, q: SearchQuery) {
    let mut ms = Vec::new();
    let mut found = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let page = store.search(&q).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        found = page.data.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{name:<44} p50 {:>8.2} ms  p95 {:>8.2} ms  rows {found}",
        ms[ms.len() / 2],
        ms[ms.len() * 95 / 100]
    );
}

#[tokio::test]
#[ignore = "builds a large store; run by hand"]
async fn bench_search() {
    std::env::set_var("TRACEGATE_SEARCH_FULL_SIZE", "1");
    let path = PathBuf::from(
        std::env::var("TRACEGATE_SEARCH_BENCH_DB")
            .unwrap_or("/tmp/tracegate-search-bench.db".into()),
    );
    let rows: usize = std::env::var("TRACEGATE_SEARCH_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    if !path.exists() {
        let t = Instant::now();
        build(&path, rows);
        println!("built {rows} rows in {:.1} s", t.elapsed().as_secs_f64());
    }
    let store = SqliteStore::open(&path).unwrap();
    let f = |v: serde_json::Value| query(Some(v), None);
    let eq = |field: &str, v: serde_json::Value| json!({"field": field, "op": "eq", "value": v});
    let cases: Vec<(&str, SearchQuery)> = vec![
        ("newest 50", SearchQuery::default()),
        (
            "eq model (common)",
            f(eq("model", json!("claude-sonnet-4-5"))),
        ),
        ("eq model (rare)", f(eq("model", json!("claude-3-5-haiku")))),
        ("eq account (rare)", f(eq("account", json!("acct-49")))),
        ("eq outcome timeout", f(eq("outcome", json!("timeout")))),
        (
            "gt duration_ms",
            f(json!({"field": "duration_ms", "op": "gt", "value": 50_000})),
        ),
        (
            "gte status 500",
            f(json!({"field": "status", "op": "gte", "value": 500})),
        ),
        (
            "lt cost_usd",
            f(json!({"field": "cost_usd", "op": "lt", "value": 0.001})),
        ),
        (
            "in model x3",
            f(json!({"field": "model", "op": "in", "value": ["o3", "gpt-4.1", "claude-opus-4-1"]})),
        ),
        (
            "in account x5",
            f(
                json!({"field": "account", "op": "in", "value": ["acct-10", "acct-20", "acct-30", "acct-40", "acct-45"]}),
            ),
        ),
        (
            "in outcome x3",
            f(
                json!({"field": "outcome", "op": "in", "value": ["timeout", "cancelled", "client_error"]}),
            ),
        ),
        (
            "starts_with model",
            f(json!({"field": "model", "op": "starts_with", "value": "claude-opus"})),
        ),
        (
            "contains user_agent",
            f(json!({"field": "user_agent", "op": "contains", "value": "python"})),
        ),
        (
            "contains error",
            f(json!({"field": "error", "op": "contains", "value": "time"})),
        ),
        ("metadata eq", f(eq("metadata.team", json!("team-3")))),
        (
            "nested 4",
            f(json!({"and": [
                {"or": [eq("model", json!("gpt-4o")), eq("model", json!("o3"))]},
                {"not": {"or": [eq("outcome", json!("cancelled")), {"field": "duration_ms", "op": "lt", "value": 1000}]}},
                {"field": "account", "op": "starts_with", "value": "acct-1"},
            ]})),
        ),
        ("fts common", query(None, Some(&word(0)))),
        ("fts mid", query(None, Some(&word(300)))),
        ("fts rare", query(None, Some(&word(15_000)))),
        (
            "fts two words",
            query(None, Some(&format!("{} {}", word(20), word(40)))),
        ),
        (
            "fts phrase",
            query(None, Some(&format!("\"{} {}\"", word(0), word(1)))),
        ),
        (
            "fts prefix",
            query(None, Some(&format!("{}*", &word(200)[..4]))),
        ),
        (
            "fts + model",
            query(Some(eq("model", json!("gpt-4o"))), Some(&word(100))),
        ),
        (
            "fts + rare account",
            query(Some(eq("account", json!("acct-49"))), Some(&word(50))),
        ),
        (
            "fts + outcome ne ok",
            query(
                Some(json!({"field": "outcome", "op": "ne", "value": "ok"})),
                Some(&word(30)),
            ),
        ),
        (
            "sort duration desc",
            SearchQuery {
                sort: SortKey::DurationMs,
                ..SearchQuery::default()
            },
        ),
        (
            "sort cost asc",
            SearchQuery {
                sort: SortKey::CostUsd,
                order: SortOrder::Asc,
                ..SearchQuery::default()
            },
        ),
        (
            "sort ttft + model",
            SearchQuery {
                sort: SortKey::TtftMs,
                ..f(eq("model", json!("o3")))
            },
        ),
        (
            "fts + sort cost",
            SearchQuery {
                sort: SortKey::CostUsd,
                ..query(None, Some(&word(300)))
            },
        ),
        (
            "1000 rows",
            SearchQuery {
                limit: 1000,
                ..SearchQuery::default()
            },
        ),
        (
            "feedback eq 5",
            f(json!({"field": "feedback.score", "op": "eq", "value": 5})),
        ),
        (
            "feedback gte 2",
            f(json!({"field": "feedback.score", "op": "gte", "value": 2})),
        ),
        (
            "feedback exists false",
            f(json!({"field": "feedback.score", "op": "exists", "value": false})),
        ),
        (
            "feedback lt 0 + model",
            f(
                json!({"and": [{"field": "feedback.score", "op": "lt", "value": 0},
                             eq("model", json!("gpt-4o"))]}),
            ),
        ),
        (
            "sort cost + feedback",
            SearchQuery {
                sort: SortKey::CostUsd,
                ..f(json!({"field": "feedback.score", "op": "gte", "value": 4}))
            },
        ),
        (
            "1000 rows model",
            SearchQuery {
                limit: 1000,
                ..f(eq("model", json!("gpt-4o")))
            },
        ),
    ];
    let only = std::env::var("TRACEGATE_SEARCH_BENCH_ONLY").unwrap_or_default();
    for (name, q) in cases.into_iter().filter(|(name, _)| name.contains(&only)) {
        time(&store, name, q).await;
    }
}

/// Runs each `;;`-separated statement of `TRACEGATE_SEARCH_BENCH_SQL` (a file)
/// on the bench database: its query plan and its time.
#[test]
#[ignore = "needs the bench database; run by hand"]
fn bench_sql() {
    let path = std::env::var("TRACEGATE_SEARCH_BENCH_DB")
        .unwrap_or("/tmp/tracegate-search-bench.db".into());
    let file = std::env::var("TRACEGATE_SEARCH_BENCH_SQL").unwrap_or("/tmp/bench.sql".into());
    let c = Connection::open(path).unwrap();
    for sql in std::fs::read_to_string(file)
        .unwrap()
        .split(";;")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        println!("\n{sql}");
        if !sql.starts_with("SELECT") {
            c.execute_batch(sql).unwrap();
            continue;
        }
        let mut plan = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = plan.query_map([], |r| r.get::<_, String>(3)).unwrap();
        for row in rows {
            println!("  plan: {}", row.unwrap());
        }
        let mut ms = Vec::new();
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let mut stmt = c.prepare(sql).unwrap();
            n = stmt.query_map([], |_| Ok(())).unwrap().count();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!("  {n} rows, median {:.2} ms", ms[2]);
    }
}
