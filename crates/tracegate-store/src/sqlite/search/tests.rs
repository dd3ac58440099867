//! Search over a fixture corpus stored through `insert_batch`, checked
//! against a plain Rust model of the same traces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::manual_is_multiple_of
)]

mod bench;
mod covers;
mod feedback;
mod filters;
mod paging;
mod ranges;
mod text;

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracegate_core::filter::Filter;
use tracegate_core::{Outcome, Provider, Trace, TraceId, Usage};

use crate::search::{SearchQuery, SearchStore, SortKey, SortOrder, TextQuery};
use crate::sqlite::SqliteStore;
use crate::store::TraceStore;

/// Start time of trace 0.
const BASE_MS: i64 = 1_750_000_000_000;
/// Traces in the corpus.
const N: usize = 30;

const TOPICS: [&str; 6] = [
    "the borrow checker rejects my lifetime",
    "async runtime deadlock in tokio",
    "SQL injection'; DROP TABLE traces; --",
    "café naïve résumé unicode",
    "rate limit retry with backoff",
    "parse JSON: {\"key\": (value)} a-b^c",
];

const ANSWERS: [&str; 5] = [
    "use Rc and RefCell",
    "spawn_blocking fixes it",
    "prepared statements bind values",
    "normalise the text first",
    "exponential backoff with jitter",
];

/// The user's question of trace `i`.
fn question(i: usize) -> String {
    format!("{} case{i}", TOPICS[i % 6])
}

/// Start time of trace `i`: a minute apart, every fifth sharing its predecessor's.
fn ts_ms(i: usize) -> i64 {
    let slot = if i % 5 == 4 { i - 1 } else { i };
    BASE_MS + slot as i64 * 60_000
}

/// Trace `i` of the corpus; every field varies, some are missing.
fn trace(i: usize) -> Trace {
    let provider = if i % 4 == 2 {
        Provider::Openai
    } else {
        Provider::Anthropic
    };
    let endpoint = match provider {
        Provider::Anthropic => "/v1/messages",
        Provider::Openai => "/v1/chat/completions",
    };
    let mut t = Trace::begin(provider, "POST", endpoint);
    t.started_at = DateTime::<Utc>::from_timestamp_millis(ts_ms(i)).unwrap();
    t.model = match i % 4 {
        0 => Some("claude-sonnet-4-5".into()),
        1 => Some("claude-haiku-4-5".into()),
        2 => Some("gpt-4o".into()),
        _ => None,
    };
    t.model_requested = t.model.clone();
    t.upstream = Some(if i % 2 == 0 { "primary" } else { "backup" }.into());
    t.account = match i % 3 {
        0 => Some("acct-1".into()),
        1 => Some("acct-2".into()),
        _ => None,
    };
    t.status = match i % 5 {
        0..=2 => Some(200),
        3 => Some(429),
        _ => None,
    };
    t.outcome = match t.status {
        Some(200) => Outcome::Ok,
        Some(_) => Outcome::UpstreamError,
        None => Outcome::Cancelled,
    };
    if t.status == Some(429) {
        t.error = Some("Rate limited: Too Many Requests (50%_quota)".into());
    }
    t.stream = i % 2 == 0;
    t.duration_ms = 100.0 + ((i * 37) % 23) as f64 * 10.0;
    t.ttft_ms = (i % 3 != 0).then(|| t.duration_ms / 2.0);
    t.cost_usd = (i % 4 != 3).then(|| 0.001 * ((i * 7) % 11) as f64);
    t.usage = Usage {
        input_tokens: Some(10 * i as u64),
        output_tokens: Some((i % 6) as u64 * 5),
        cache_read_tokens: (i % 5 == 0).then_some(100),
        cache_write_tokens: None,
    };
    t.client_ip = Some(format!("10.0.0.{}", i % 3));
    t.user_agent = Some(
        if i % 2 == 0 {
            "claude-cli/1.0"
        } else {
            "OpenAI/Python 1.2"
        }
        .into(),
    );
    t.metadata = (i % 6 != 5).then(|| {
        let team = ["search", "ads", "infra"][i % 3];
        let mut m = json!({
            "team": team,
            "run": i,
            "score": i as f64 * 0.5,
            "flag": i % 2 == 0,
        });
        if i % 4 == 0 {
            m["a.b"] = json!("dotted");
        }
        m
    });
    let answer = format!("Answer {i}: {}", ANSWERS[i % 5]);
    let (request, response) = match provider {
        Provider::Anthropic => (
            json!({"model": t.model, "max_tokens": 64,
                   "messages": [{"role": "user", "content": question(i)}]}),
            json!({"type": "message", "role": "assistant",
                   "content": [{"type": "text", "text": answer}]}),
        ),
        Provider::Openai => (
            json!({"model": t.model, "messages": [{"role": "user", "content": question(i)}]}),
            json!({"object": "chat.completion",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]}),
        ),
    };
    t.request_body = Bytes::from(request.to_string());
    t.response_body = Bytes::from(response.to_string());
    t
}

/// The corpus in a store, and what the model needs to know about it.
struct Corpus {
    store: SqliteStore,
    /// Trace `i` of the corpus at index `i`.
    traces: Vec<Trace>,
    /// Insertion order (the rowid) of each trace.
    rowid: HashMap<TraceId, i64>,
}

/// Stores the corpus out of start-time order, in three batches.
async fn corpus() -> Corpus {
    let traces: Vec<Trace> = (0..N).map(trace).collect();
    let order: Vec<usize> = (0..N)
        .filter(|i| i % 2 == 0)
        .rev()
        .chain((0..N).filter(|i| i % 2 == 1))
        .collect();
    let store = SqliteStore::open_in_memory().unwrap();
    let mut rowid = HashMap::new();
    for (n, chunk) in order.chunks(11).enumerate() {
        let batch: Vec<Trace> = chunk.iter().map(|&i| traces[i].clone()).collect();
        for (j, &i) in chunk.iter().enumerate() {
            rowid.insert(traces[i].id, (n * 11 + j + 1) as i64);
        }
        store.insert_batch(batch).await.unwrap();
    }
    Corpus {
        store,
        traces,
        rowid,
    }
}

/// The value of trace `t` for `key`, as the store sorts it.
fn sort_value(t: &Trace, key: SortKey) -> Option<f64> {
    match key {
        SortKey::Ts => Some(t.started_at.timestamp_millis() as f64),
        SortKey::DurationMs => Some(t.duration_ms),
        SortKey::TtftMs => t.ttft_ms,
        SortKey::CostUsd => t.cost_usd,
        SortKey::TotalTokens => Some(t.usage.total() as f64),
    }
}

impl Corpus {
    /// The ids of the traces that satisfy `pred`, in the order of `key`/`order`:
    /// missing values last, ties by insertion order in the same direction.
    fn expect(
        &self,
        pred: impl Fn(usize, &Trace) -> bool,
        key: SortKey,
        order: SortOrder,
    ) -> Vec<TraceId> {
        let mut hits: Vec<&Trace> = self
            .traces
            .iter()
            .enumerate()
            .filter(|(i, t)| pred(*i, t))
            .map(|(_, t)| t)
            .collect();
        hits.sort_by(|a, b| {
            let (va, vb) = (sort_value(a, key), sort_value(b, key));
            let (ra, rb) = (self.rowid[&a.id], self.rowid[&b.id]);
            match (va, vb) {
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => {
                    let ord = va
                        .unwrap_or(0.0)
                        .total_cmp(&vb.unwrap_or(0.0))
                        .then(ra.cmp(&rb));
                    match order {
                        SortOrder::Asc => ord,
                        SortOrder::Desc => ord.reverse(),
                    }
                }
            }
        });
        hits.iter().map(|t| t.id).collect()
    }

    /// Every id `q` finds, paging `limit` at a time.
    async fn page_through(&self, q: &SearchQuery, limit: u32) -> Vec<TraceId> {
        page_through(&self.store, q, limit).await
    }

    /// Checks `q` against the model in one page and in pages of 4.
    async fn check(&self, q: SearchQuery, pred: impl Fn(usize, &Trace) -> bool) {
        let want = self.expect(pred, q.sort, q.order);
        assert_eq!(
            self.page_through(&q, 1000).await,
            want,
            "one page of {}",
            q.canonical()
        );
        assert_eq!(
            self.page_through(&q, 4).await,
            want,
            "pages of 4 of {}",
            q.canonical()
        );
    }

    /// Checks a filter (JSON) against the model, newest first.
    async fn check_filter(&self, filter: Value, pred: impl Fn(usize, &Trace) -> bool) {
        self.check(query(Some(filter), None), pred).await;
    }

    /// Index of a trace in the corpus.
    fn index_of(&self, id: TraceId) -> usize {
        self.traces.iter().position(|t| t.id == id).unwrap()
    }
}

/// Every id `q` finds, paging `limit` at a time; checks the page invariants.
async fn page_through(store: &SqliteStore, q: &SearchQuery, limit: u32) -> Vec<TraceId> {
    let mut out = Vec::new();
    let mut q = SearchQuery { limit, ..q.clone() };
    for _ in 0..10_000 {
        let page = store.search(&q).await.unwrap();
        assert!(page.data.len() <= limit as usize);
        assert_eq!(page.has_more, page.next_cursor.is_some());
        out.extend(page.data.iter().map(|s| s.id));
        let Some(cursor) = page.next_cursor else {
            return out;
        };
        assert_eq!(
            page.data.len(),
            limit as usize,
            "a page before the last is full"
        );
        q = SearchQuery { after: None, ..q }
            .with_cursor(&cursor, "/cursor")
            .unwrap();
    }
    panic!("paging did not end");
}

/// A newest-first query with a filter (JSON) and text.
fn query(filter: Option<Value>, text: Option<&str>) -> SearchQuery {
    SearchQuery {
        filter: filter.map(|f| Filter::parse(&f, "/filter").unwrap()),
        text: text.map(|t| TextQuery::parse(t, "/q").unwrap().unwrap()),
        ..SearchQuery::default()
    }
}
