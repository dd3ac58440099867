//! Tests of the write path: conversation links, full text, rollups, atomicity,
//! how bodies are stored and throughput. Shared builders and readers live here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod atomic;
mod bench;
mod bounded;
mod compaction;
mod fts;
mod links;
mod rollups;
mod sessions;
mod storage;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};
use tracegate_core::conversation::{
    answer_fingerprint, continuation_summary, link_keys, task_prompt_hashes, Evidence, LinkKind,
    LinkedTrace, Linker, TraceRef,
};
use tracegate_core::{Outcome, Provider, Trace};

use super::links::LINKED_ENDPOINTS;
use crate::conformance::epoch;
use crate::conformance::fixtures::{self, Rng};
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

/// A store in a temporary file, and a second connection to look at it.
pub(super) fn temp_store() -> (tempfile::TempDir, SqliteStore, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("traces.db")).unwrap();
    let peek = Connection::open(dir.path().join("traces.db")).unwrap();
    (dir, store, peek)
}

/// Writes `traces` in batches of `size`.
pub(super) async fn insert_in_batches(store: &SqliteStore, traces: &[Trace], size: usize) {
    for batch in traces.chunks(size) {
        store.insert_batch(batch.to_vec()).await.unwrap();
    }
}

/// Traces recorded one after the other, 5 s apart, with varied figures.
pub(super) struct Script {
    pub traces: Vec<Trace>,
    now: DateTime<Utc>,
    rng: Rng,
}

impl Script {
    pub fn new() -> Self {
        Script {
            traces: Vec::new(),
            now: epoch(),
            rng: Rng::new(5),
        }
    }

    /// Records an Anthropic `/v1/messages` trace; returns its index.
    pub fn anthropic(&mut self, account: Option<&str>, request: Value, response: Value) -> usize {
        self.push(
            Provider::Anthropic,
            "/v1/messages",
            account,
            request,
            response,
        )
    }

    /// Records an OpenAI `/v1/chat/completions` trace; returns its index.
    pub fn openai(&mut self, account: Option<&str>, request: Value, response: Value) -> usize {
        self.push(
            Provider::Openai,
            "/v1/chat/completions",
            account,
            request,
            response,
        )
    }

    /// Records a trace of any endpoint; returns its index.
    pub fn push(
        &mut self,
        provider: Provider,
        endpoint: &str,
        account: Option<&str>,
        request: Value,
        response: Value,
    ) -> usize {
        self.now += Duration::seconds(5);
        let model = request["model"].as_str().map(str::to_owned);
        let mut t = fixtures::trace(provider, self.now, request, response);
        t.endpoint = endpoint.to_owned();
        t.account = account.map(str::to_owned);
        t.model_requested.clone_from(&model);
        t.model = match self.rng.below(3) {
            0 => None,
            1 => model,
            _ => model.map(|m| format!("{m}-20250929")),
        };
        t.usage.input_tokens = Some(self.rng.below(900) as u64);
        t.usage.output_tokens = (self.rng.below(4) != 0).then(|| self.rng.below(300) as u64);
        t.cost_usd = (self.rng.below(3) != 0).then(|| self.rng.below(10_000) as f64 / 1e6);
        self.traces.push(t);
        self.traces.len() - 1
    }
}

/// A body's JSON, if any.
fn json_of(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// What the reference linker says about each trace, in order.
pub(super) fn reference(linker: &mut Linker, traces: &[Trace]) -> Vec<Option<LinkedTrace>> {
    traces
        .iter()
        .map(|t| {
            if !LINKED_ENDPOINTS.contains(&t.endpoint.as_str()) {
                return None;
            }
            let request = json_of(&t.request_body)?;
            let keys = link_keys(t.provider, &request)?;
            let response = json_of(&t.response_body);
            let prompts = response
                .as_ref()
                .map(|r| task_prompt_hashes(t.provider, r))
                .unwrap_or_default();
            let answer = response
                .as_ref()
                .and_then(|r| answer_fingerprint(t.provider, r));
            let summary = continuation_summary(t.provider, &request);
            let evidence = Evidence {
                task_prompts: &prompts,
                answer: answer.as_ref(),
                summary: summary.as_ref(),
            };
            let id = t.id.to_string();
            let at = t.started_at.timestamp_millis();
            Some(linker.link(&id, at, t.account.as_deref(), &keys, evidence))
        })
        .collect()
}

/// The links stored on the trace rows.
pub(super) fn stored_links(c: &Connection, traces: &[Trace]) -> Vec<Option<LinkedTrace>> {
    let mut stmt = c
        .prepare("SELECT conversation_id, parent_id, branch, link_kind FROM traces WHERE id = ?1")
        .unwrap();
    traces
        .iter()
        .map(|t| {
            let (conversation, parent, branch, kind): (
                Option<String>,
                Option<String>,
                Option<u32>,
                Option<String>,
            ) = stmt
                .query_row([&t.id.as_bytes()[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .unwrap();
            let conversation_id = conversation?;
            Some(LinkedTrace {
                conversation_id,
                parent_trace: parent.map(|trace_id| TraceRef { trace_id }),
                branch: branch.unwrap(),
                kind: LinkKind::parse(&kind.unwrap()).unwrap(),
            })
        })
        .collect()
}

/// A `conversations` row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ConversationRow {
    pub account: Option<String>,
    pub first_ts: i64,
    pub last_ts: i64,
    pub requests: i64,
    pub branches: i64,
    pub tokens: [i64; 4],
    pub cost_usd: Option<f64>,
    pub models: String,
    pub latest_trace: String,
}

/// Every stored conversation, by id.
pub(super) fn stored_conversations(c: &Connection) -> BTreeMap<String, ConversationRow> {
    let mut stmt = c
        .prepare(
            "SELECT id, account, first_ts, last_ts, requests, branches, input_tokens,
                    output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, models,
                    latest_trace
             FROM conversations",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ConversationRow {
                    account: r.get(1)?,
                    first_ts: r.get(2)?,
                    last_ts: r.get(3)?,
                    requests: r.get(4)?,
                    branches: r.get(5)?,
                    tokens: [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?],
                    cost_usd: r.get(10)?,
                    models: r.get(11)?,
                    latest_trace: r.get(12)?,
                },
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The conversations rows that the given links imply, computed independently.
pub(super) fn expected_conversations(
    traces: &[Trace],
    links: &[Option<LinkedTrace>],
) -> BTreeMap<String, ConversationRow> {
    let mut members: BTreeMap<String, Vec<(&Trace, &LinkedTrace)>> = BTreeMap::new();
    for (t, l) in traces.iter().zip(links) {
        if let Some(l) = l {
            members
                .entry(l.conversation_id.clone())
                .or_default()
                .push((t, l));
        }
    }
    members
        .into_iter()
        .map(|(id, ts)| {
            let ms = |t: &Trace| t.started_at.timestamp_millis();
            let sum = |f: fn(&Trace) -> Option<u64>| {
                ts.iter().map(|(t, _)| f(t).unwrap_or(0) as i64).sum()
            };
            let costs: Vec<f64> = ts.iter().filter_map(|(t, _)| t.cost_usd).collect();
            let models: BTreeSet<&str> = ts
                .iter()
                .filter_map(|(t, _)| t.model.as_deref().or(t.model_requested.as_deref()))
                .collect();
            let latest = ts
                .iter()
                .map(|(t, _)| (ms(t), t.id.to_string()))
                .max()
                .unwrap();
            let row = ConversationRow {
                account: ts.iter().find_map(|(t, _)| t.account.clone()),
                first_ts: ts.iter().map(|(t, _)| ms(t)).min().unwrap(),
                last_ts: latest.0,
                requests: ts.len() as i64,
                branches: ts.iter().map(|(_, l)| i64::from(l.branch)).max().unwrap() + 1,
                tokens: [
                    sum(|t| t.usage.input_tokens),
                    sum(|t| t.usage.output_tokens),
                    sum(|t| t.usage.cache_read_tokens),
                    sum(|t| t.usage.cache_write_tokens),
                ],
                cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
                models: serde_json::to_string(&models).unwrap(),
                latest_trace: latest.1,
            };
            (id, row)
        })
        .collect()
}

/// Asserts stored and expected conversations agree (costs up to rounding).
pub(super) fn assert_conversations(
    got: &BTreeMap<String, ConversationRow>,
    want: &BTreeMap<String, ConversationRow>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (id, w) in want {
        let mut g = got[id].clone();
        match (g.cost_usd, w.cost_usd) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() < 1e-9, "cost of {id}: {a} vs {b}");
                g.cost_usd = w.cost_usd;
            }
            (a, b) => assert_eq!(a, b, "cost of {id}"),
        }
        assert_eq!(&g, w, "conversation {id}");
    }
}

/// Rowid of a stored trace.
pub(super) fn rowid(c: &Connection, t: &Trace) -> Option<i64> {
    c.query_row(
        "SELECT rowid FROM traces WHERE id = ?1",
        [&t.id.as_bytes()[..]],
        |r| r.get(0),
    )
    .optional()
    .unwrap()
}

/// Small realistic traces (1-2 KB of bodies each): many short chats of a few
/// turns over several accounts, models and upstreams, `spacing_ms` apart,
/// with some errors, some without a ttft and some other endpoints.
pub(super) fn small_corpus(n: usize, seed: u64, spacing_ms: i64) -> Vec<Trace> {
    let mut rng = Rng::new(seed);
    let models = [
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "gpt-4.1",
        "gpt-4.1-mini",
    ];
    let accounts = ["cred:aa11", "cred:bb22", "cred:cc33"];
    let mut chats: Vec<Vec<Value>> = vec![Vec::new(); 64];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = epoch() + Duration::milliseconds(i as i64 * spacing_ms);
        let c = rng.below(chats.len());
        if chats[c].len() > 4 {
            chats[c].clear();
        }
        let history = &mut chats[c];
        let len = 150 + rng.below(250);
        let question = rng.text(len);
        history.push(json!({"role": "user", "content": question}));
        let request = json!({
            "model": models[c % models.len()], "max_tokens": 1024,
            "system": "You are a helpful assistant.", "messages": history.clone()
        });
        let len = 200 + rng.below(400);
        let answer = rng.text(len);
        let response = json!({
            "id": format!("msg_{i}"), "type": "message", "role": "assistant",
            "model": models[c % models.len()],
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 50}
        });
        history.push(json!({"role": "assistant", "content": answer}));
        let mut t = fixtures::trace(Provider::Anthropic, at, request, response);
        t.model_requested = Some(models[c % models.len()].into());
        t.model = (rng.below(10) != 0).then(|| format!("{}-2025", models[c % models.len()]));
        t.account = (rng.below(8) != 0).then(|| accounts[c % accounts.len()].to_owned());
        t.upstream = (rng.below(10) != 0).then(|| ["primary", "backup"][rng.below(2)].into());
        let scale = (1 + rng.below(5)) as f64;
        t.duration_ms = 50.0 + (rng.below(100_000) as f64 / 10.0) * scale;
        let part = (2 + rng.below(5)) as f64;
        t.ttft_ms = (rng.below(4) != 0).then(|| t.duration_ms / part);
        t.usage.input_tokens = Some(rng.below(5000) as u64);
        t.usage.output_tokens = (rng.below(10) != 0).then(|| rng.below(2000) as u64);
        t.usage.cache_read_tokens = (rng.below(2) != 0).then(|| rng.below(50_000) as u64);
        t.usage.cache_write_tokens = (rng.below(3) == 0).then(|| rng.below(9000) as u64);
        t.cost_usd = (rng.below(6) != 0).then(|| rng.below(100_000) as f64 / 1e6);
        match rng.below(20) {
            0 => {
                t.outcome = Outcome::UpstreamError;
                t.status = Some(529);
                t.error = Some("overloaded".into());
            }
            1 => t.outcome = Outcome::Cancelled,
            2 => t.endpoint = "/v1/messages/count_tokens".into(),
            _ => {}
        }
        out.push(t);
    }
    out
}
