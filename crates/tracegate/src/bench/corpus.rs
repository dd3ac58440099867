//! A realistic synthetic corpus for `tracegate bench query`: many accounts and models,
//! long-tailed latencies, errors, multi-turn conversations whose requests resend the
//! history (as agent clients do), and searchable text.

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tracegate_core::pricing::PriceTable;
use tracegate_core::{Outcome, Provider, Trace, Usage};

/// Models with their share of traffic (percent) and provider.
const MODELS: &[(&str, u32, Provider)] = &[
    ("claude-sonnet-4-5", 38, Provider::Anthropic),
    ("claude-haiku-4-5", 18, Provider::Anthropic),
    ("claude-opus-4-5", 6, Provider::Anthropic),
    ("gpt-4o-mini", 14, Provider::Openai),
    ("gpt-4.1", 10, Provider::Openai),
    ("gpt-5", 6, Provider::Openai),
    ("o3", 4, Provider::Openai),
    ("gpt-5-mini", 4, Provider::Openai),
];
const TEAMS: &[&str] = &[
    "search", "billing", "infra", "mobile", "growth", "data", "support", "security",
];
/// Words that recur across the corpus with different frequencies, so full-text queries
/// range from selective to common.
const TOPICS: &[&str] = &[
    "latency",
    "timeout",
    "database",
    "index",
    "migration",
    "deadlock",
    "kubernetes",
    "retry",
    "invoice",
    "refund",
    "tokenizer",
    "embedding",
    "cache",
    "postgres",
    "redis",
    "queue",
    "checkout",
    "login",
    "oauth",
    "websocket",
    "terraform",
    "regression",
    "benchmark",
    "profiler",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ter", "van", "qu", "ex", "dor", "pi", "sel", "un", "ra", "zo", "bri", "fen",
    "gal",
];

/// Generates traces in time order, `total` of them spread over `days` days up to now.
pub struct Corpus {
    rng: SmallRng,
    prices: PriceTable,
    total: u64,
    made: u64,
    start: DateTime<Utc>,
    step_ms: f64,
    conversations: Vec<Conversation>,
    accounts: Vec<String>,
}

struct Conversation {
    account: String,
    model: &'static str,
    provider: Provider,
    messages: Vec<Value>,
    turns_left: u32,
    team: &'static str,
}

impl Corpus {
    pub fn new(total: u64, days: u32, seed: u64) -> Self {
        let now = Utc::now();
        let span_ms = f64::from(days) * 86_400_000.0;
        Corpus {
            rng: SmallRng::seed_from_u64(seed),
            prices: PriceTable::builtin(),
            total,
            made: 0,
            start: now - ChronoDuration::milliseconds(span_ms as i64),
            step_ms: span_ms / total.max(1) as f64,
            conversations: Vec::new(),
            accounts: (0..60).map(|i| format!("acct-{i:02}")).collect(),
        }
    }

    /// The next batch of at most `n` traces; empty when done.
    pub fn batch(&mut self, n: usize) -> Vec<Trace> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && self.made < self.total {
            let t = self.next_trace();
            out.push(t);
        }
        out
    }

    fn word(&mut self) -> String {
        if self.rng.random_ratio(1, 12) {
            // Zipf-like: early topics are far more common than late ones.
            let i = (self.rng.random::<f64>().powi(3) * TOPICS.len() as f64) as usize;
            return TOPICS[i.min(TOPICS.len() - 1)].to_string();
        }
        let n = self.rng.random_range(1..=3);
        (0..n)
            .map(|_| SYLLABLES[self.rng.random_range(0..SYLLABLES.len())])
            .collect()
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn pick_account(&mut self) -> String {
        // A few heavy accounts and a long tail.
        let i = (self.rng.random::<f64>().powi(2) * self.accounts.len() as f64) as usize;
        self.accounts[i.min(self.accounts.len() - 1)].clone()
    }

    fn pick_model(&mut self) -> (&'static str, Provider) {
        let mut roll = self.rng.random_range(0..100);
        for (m, share, p) in MODELS {
            if roll < *share {
                return (m, *p);
            }
            roll -= share;
        }
        (MODELS[0].0, MODELS[0].2)
    }

    /// A log-normal sample with the given median and shape.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let u1: f64 = self.rng.random::<f64>().max(1e-12);
        let u2: f64 = self.rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * z).exp()
    }

    fn next_trace(&mut self) -> Trace {
        let ts =
            self.start + ChronoDuration::milliseconds((self.made as f64 * self.step_ms) as i64);
        self.made += 1;
        // Continue a live conversation most of the time, else start one.
        let idx = if !self.conversations.is_empty() && self.rng.random_ratio(4, 5) {
            self.rng.random_range(0..self.conversations.len())
        } else {
            let (model, provider) = self.pick_model();
            let account = self.pick_account();
            let team = TEAMS[self.rng.random_range(0..TEAMS.len())];
            let turns_left = self.lognormal(4.0, 1.0).clamp(1.0, 40.0) as u32;
            self.conversations.push(Conversation {
                account,
                model,
                provider,
                messages: Vec::new(),
                turns_left,
                team,
            });
            if self.conversations.len() > 200 {
                self.conversations.swap_remove(0);
            }
            self.conversations.len() - 1
        };
        let (qn, an) = (self.rng.random_range(6..30), self.rng.random_range(10..60));
        let question = self.sentence(qn);
        let answer = self.sentence(an);
        let duration = self.lognormal(1800.0, 0.9).clamp(40.0, 120_000.0);
        let ttft = (duration * self.rng.random_range(0.05..0.5)).max(20.0);
        let roll = self.rng.random_range(0..1000);
        let (outcome, status) = match roll {
            0..=11 => (Outcome::UpstreamError, 429),
            12..=19 => (Outcome::UpstreamError, 500),
            20..=24 => (Outcome::Timeout, 504),
            25..=29 => (Outcome::Cancelled, 200),
            30..=32 => (Outcome::ClientError, 400),
            _ => (Outcome::Ok, 200),
        };
        let output = self.lognormal(300.0, 1.0).clamp(1.0, 8000.0) as u64;
        let c = &mut self.conversations[idx];
        c.messages
            .push(json!({ "role": "user", "content": question }));
        let (endpoint, request) = match c.provider {
            Provider::Anthropic => (
                "/v1/messages",
                json!({ "model": c.model, "max_tokens": 4096, "stream": true, "messages": c.messages }),
            ),
            Provider::Openai => (
                "/v1/chat/completions",
                json!({ "model": c.model, "stream": true, "messages": c.messages }),
            ),
        };
        let history_tokens = request.to_string().len() as u64 / 4;
        let cached = if c.provider == Provider::Anthropic && c.messages.len() > 2 {
            history_tokens * 8 / 10
        } else {
            0
        };
        let usage = Usage {
            input_tokens: Some(history_tokens - cached + 50),
            output_tokens: Some(output),
            cache_read_tokens: (c.provider == Provider::Anthropic).then_some(cached),
            cache_write_tokens: (c.provider == Provider::Anthropic).then_some(0),
        };
        let response = match c.provider {
            Provider::Anthropic => {
                json!({ "id": "msg_x", "type": "message", "role": "assistant", "model": c.model,
                "content": [{ "type": "text", "text": answer }], "stop_reason": "end_turn", "stop_sequence": null,
                "usage": { "input_tokens": usage.input_tokens, "output_tokens": output } })
            }
            Provider::Openai => {
                json!({ "id": "chatcmpl-x", "object": "chat.completion", "model": c.model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": usage.input_tokens, "completion_tokens": output } })
            }
        };
        c.messages
            .push(json!({ "role": "assistant", "content": answer }));
        let mut t = Trace::begin(c.provider, "POST", endpoint);
        t.id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            ts.timestamp() as u64,
            ts.timestamp_subsec_nanos(),
        ));
        t.started_at = ts;
        t.upstream = Some(c.provider.as_str().to_string());
        t.model_requested = Some(c.model.to_string());
        t.model = Some(c.model.to_string());
        t.stream = true;
        t.status = Some(status);
        t.outcome = outcome;
        t.error = (outcome != Outcome::Ok).then(|| format!("{outcome} with status {status}"));
        t.duration_ms = (duration * 1000.0).round() / 1000.0;
        t.ttft_ms = Some((ttft * 1000.0).round() / 1000.0);
        if outcome == Outcome::Ok || outcome == Outcome::Cancelled {
            t.usage = usage;
            t.cost_usd = self.prices.cost(c.model, &t.usage);
            t.response_body = Bytes::from(response.to_string());
        }
        t.account = Some(c.account.clone());
        t.client_ip = Some("10.0.0.7".into());
        t.user_agent = Some("bench-agent/1.0".into());
        t.metadata = Some(
            json!({ "team": c.team, "env": if c.account.ends_with('7') { "dev" } else { "prod" } }),
        );
        t.request_body = Bytes::from(request.to_string());
        c.turns_left = c.turns_left.saturating_sub(1);
        if c.turns_left == 0 {
            self.conversations.swap_remove(idx);
        }
        t
    }
}
