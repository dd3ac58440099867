//! Traces to store in tests: every body shape the gateway sees, and a
//! synthetic agent conversation that resends its whole history every turn.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tracegate_core::{Outcome, Provider, Trace, Usage};
use uuid::Uuid;

/// A small deterministic generator (xorshift64*), so fixtures are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// About `len` bytes of prose-like text over a large made-up vocabulary,
    /// with identifiers and numbers mixed in (compresses roughly like real text).
    pub fn text(&mut self, len: usize) -> String {
        const SYLLABLES: [&str; 48] = [
            "an", "be", "co", "de", "el", "fi", "ga", "ho", "in", "ju", "ka", "lo", "me", "no",
            "op", "pa", "qu", "re", "si", "to", "un", "ve", "wa", "xi", "yo", "ze", "str", "ing",
            "tion", "er", "al", "ment", "ly", "ist", "ful", "ous", "ble", "ter", "con", "pro",
            "sub", "pre", "dis", "mis", "fn", "impl", "let", "mut",
        ];
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            match self.below(20) {
                0 => out.push_str(&format!("{:x}", self.next_u64() >> 16)),
                1 => out.push_str(&(self.below(100_000)).to_string()),
                2 => out.push_str(".\n"),
                _ => {
                    for _ in 0..1 + self.below(3) {
                        out.push_str(SYLLABLES[self.below(SYLLABLES.len())]);
                    }
                }
            }
            out.push(' ');
        }
        out
    }
}

/// A trace with every scalar field filled in.
pub fn trace(
    provider: Provider,
    started_at: DateTime<Utc>,
    request: Value,
    response: Value,
) -> Trace {
    let mut t = Trace::begin(provider, "POST", "/v1/messages");
    t.id = Uuid::now_v7();
    t.started_at = started_at;
    t.upstream = Some("primary".into());
    t.model_requested = Some("claude-sonnet-4-5".into());
    t.model = Some("claude-sonnet-4-5-20250929".into());
    t.stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    t.status = Some(200);
    t.duration_ms = 1234.5;
    t.ttft_ms = Some(321.25);
    t.usage = Usage {
        input_tokens: Some(1200),
        output_tokens: Some(340),
        cache_read_tokens: Some(50_000),
        cache_write_tokens: None,
    };
    t.cost_usd = Some(0.012_345);
    t.account = Some("acct_3f9a".into());
    t.client_ip = Some("10.0.0.7".into());
    t.user_agent = Some("claude-cli/2.0.14 (external, cli)".into());
    t.metadata = Some(json!({"team": "infra", "run": 7}));
    t.request_body = to_bytes(&request);
    t.response_body = to_bytes(&response);
    t
}

/// Compact JSON bytes of a value.
pub fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// One trace of every body shape: Anthropic and OpenAI, stream or not,
/// non-JSON and empty bodies, unicode, string and block content, moving
/// cache markers, an error trace with most fields empty.
pub fn shapes(start: DateTime<Utc>) -> Vec<Trace> {
    let mut rng = Rng::new(7);
    let at = |s: i64| start + Duration::milliseconds(s * 1000 + 123);
    let tools = json!([
        {"name": "Read", "description": rng.text(600), "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
        {"name": "Bash", "description": rng.text(600), "input_schema": {"type": "object"}}
    ]);
    let system =
        json!([{"type": "text", "text": rng.text(900), "cache_control": {"type": "ephemeral"}}]);
    let m0 = json!({"role": "user", "content": "Fix the failing test — «ünïcödé» 🚀 日本語"});
    let m1 = json!({"role": "assistant", "content": [
        {"type": "text", "text": "Reading the file."},
        {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"path": "src/lib.rs"}}
    ]});
    let m2 = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": rng.text(1500)},
        {"type": "text", "text": "go on", "cache_control": {"type": "ephemeral"}}
    ]});
    let anthropic_reply = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": rng.text(400)}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 1200, "output_tokens": 340, "cache_read_input_tokens": 50000}
    });
    let mut m0_marked = m0.clone();
    m0_marked["content"] =
        json!([{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]);
    let mut m2_unmarked = m2.clone();
    if let Some(block) = m2_unmarked["content"][1].as_object_mut() {
        block.remove("cache_control");
    }
    let m3 = json!({"role": "assistant", "content": [{"type": "text", "text": "done"}]});
    let m4 = json!({"role": "user", "content": [
        {"cache_control": {"type": "ephemeral"}, "type": "text", "text": "marker first"}
    ]});

    let mut out = vec![
        // Anthropic, streamed, the first turn.
        trace(
            Provider::Anthropic,
            at(0),
            json!({
                "model": "claude-sonnet-4-5", "messages": [m0_marked], "system": system,
                "tools": tools, "metadata": {"user_id": "user_1"}, "max_tokens": 32000, "stream": true
            }),
            anthropic_reply.clone(),
        ),
        // Anthropic, later turn: the marker moved to the newest message.
        trace(
            Provider::Anthropic,
            at(1),
            json!({
                "model": "claude-sonnet-4-5", "messages": [m0.clone(), m1.clone(), m2], "system": system,
                "tools": tools, "max_tokens": 32000, "stream": true
            }),
            anthropic_reply.clone(),
        ),
        // Anthropic, non-streamed, marker moved again and placed first in its block.
        trace(
            Provider::Anthropic,
            at(2),
            json!({
                "model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "You are terse.",
                "messages": [m0, m1, m2_unmarked, m3, m4]
            }),
            anthropic_reply,
        ),
    ];
    let mut openai = trace(
        Provider::Openai,
        at(3),
        json!({
            "model": "gpt-4.1", "stream": false,
            "messages": [
                {"role": "system", "content": rng.text(300)},
                {"role": "user", "content": [{"type": "text", "text": "Zähle bis drei"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "count", "parameters": {"type": "object"}, "description": rng.text(200)}}],
            "temperature": 0.2
        }),
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000u64, "model": "gpt-4.1-2025-04-14",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "eins, zwei, drei"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36}
        }),
    );
    openai.endpoint = "/v1/chat/completions".into();
    out.push(openai);
    let mut openai_stream = trace(
        Provider::Openai,
        at(4),
        json!({
            "model": "gpt-4.1-mini", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hello"}]
        }),
        json!({
            "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": rng.text(500)}, "finish_reason": "stop"}]
        }),
    );
    openai_stream.endpoint = "/v1/chat/completions".into();
    out.push(openai_stream);

    // An upstream error page, not JSON, with most fields empty.
    let mut error_page = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    error_page.started_at = at(5);
    error_page.outcome = Outcome::UpstreamError;
    error_page.status = Some(502);
    error_page.error = Some("bad gateway".into());
    error_page.attempts = vec![
        tracegate_core::Attempt {
            upstream: "anthropic".into(),
            status: None,
            duration_ms: 12.5,
            error: Some("upstream \"anthropic\" could not be reached".into()),
        },
        tracegate_core::Attempt {
            upstream: "anthropic-backup".into(),
            status: Some(502),
            duration_ms: 30.25,
            error: Some("upstream answered 502".into()),
        },
    ];
    error_page.request_body = Bytes::from_static(b"{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}");
    error_page.response_body =
        Bytes::from("<html><body><h1>502 Bad Gateway</h1> – nginx ✓</body></html>\r\n".to_owned());
    out.push(error_page);

    // The client went away: no status, no response, a request that is not JSON.
    let mut cancelled = Trace::begin(Provider::Openai, "GET", "/v1/models");
    cancelled.started_at = at(6);
    cancelled.outcome = Outcome::Cancelled;
    cancelled.request_body = Bytes::from_static(b"plain text, not json {");
    out.push(cancelled);

    // Both bodies empty; pretty-printed JSON stored compactly.
    let mut empty = Trace::begin(Provider::Anthropic, "POST", "/v1/messages/count_tokens");
    empty.started_at = at(7);
    empty.outcome = Outcome::ClientError;
    empty.status = Some(400);
    out.push(empty);
    let mut pretty = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    pretty.started_at = at(8);
    pretty.request_body = Bytes::from_static(b"{\n  \"b\": 1,\n  \"a\": [1, 2.5, null, true]\n}\n");
    pretty.response_body = Bytes::from_static(b"[\"not\", \"an\", \"object\"]");
    out.push(pretty);
    // Answered from the response cache: free, with what the upstream would have charged.
    let mut hit = Trace::begin(Provider::Anthropic, "POST", "/v1/messages");
    hit.started_at = at(9);
    hit.outcome = Outcome::CacheHit;
    hit.status = Some(200);
    hit.upstream = Some("anthropic".into());
    hit.usage.input_tokens = Some(12);
    hit.usage.output_tokens = Some(3);
    hit.cost_usd = Some(0.0);
    hit.cache_saved_usd = Some(0.000081);
    out.push(hit);
    out
}

/// A synthetic agent conversation of `turns` requests, one trace per turn,
/// shaped like Claude Code traffic: 12 tool definitions of ~4 KB, a ~10 KB
/// system prompt, each request resending every earlier message plus the new
/// ones (assistant tool_use, then user tool_result of a few hundred bytes to a
/// few KB), with the cache marker on the last block of the last message.
pub fn agent_conversation(turns: usize, seed: u64, start: DateTime<Utc>) -> Vec<Trace> {
    let mut rng = Rng::new(seed);
    let tools: Vec<Value> = (0..12)
        .map(|i| {
            let props: serde_json::Map<String, Value> = (0..6)
                .map(|p| {
                    (
                        format!("param_{p}"),
                        json!({"type": "string", "description": rng.text(220)}),
                    )
                })
                .collect();
            json!({
                "name": format!("Tool{i}"),
                "description": rng.text(2600),
                "input_schema": {"type": "object", "properties": props, "required": ["param_0"]}
            })
        })
        .collect();
    let system = json!([
        {"type": "text", "text": "You are an agent for software engineering tasks."},
        {"type": "text", "text": rng.text(10_000), "cache_control": {"type": "ephemeral"}}
    ]);
    let user_id = format!(
        "user_{:x}_session_{}",
        rng.next_u64(),
        Uuid::from_u64_pair(seed, 1)
    );
    let mut messages =
        vec![json!({"role": "user", "content": [{"type": "text", "text": rng.text(300)}]})];
    let mut out = Vec::with_capacity(turns);
    for turn in 0..turns {
        let mut sent = messages.clone();
        if let Some(Value::Array(blocks)) = sent.last_mut().and_then(|m| m.get_mut("content")) {
            if let Some(Value::Object(last)) = blocks.last_mut() {
                last.insert("cache_control".into(), json!({"type": "ephemeral"}));
            }
        }
        let request = json!({
            "model": "claude-sonnet-4-5", "messages": sent, "system": system, "tools": tools,
            "metadata": {"user_id": user_id}, "max_tokens": 32000, "stream": true
        });
        let ends_turn = turn % 7 == 6;
        let tool_id = format!("toolu_{:016x}", rng.next_u64());
        let said = 80 + rng.below(600);
        let mut content = vec![json!({"type": "text", "text": rng.text(said)})];
        if !ends_turn {
            content.push(
                json!({"type": "tool_use", "id": tool_id, "name": format!("Tool{}", rng.below(12)),
                "input": {"param_0": rng.text(60), "param_1": rng.below(500)}}),
            );
        }
        let response = json!({
            "id": format!("msg_{:016x}", rng.next_u64()), "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": content,
            "stop_reason": if ends_turn { "end_turn" } else { "tool_use" }, "stop_sequence": null,
            "usage": {"input_tokens": 3 + turn, "cache_read_input_tokens": 60_000 + 900 * turn, "output_tokens": 200}
        });
        let at = start + Duration::milliseconds(turn as i64 * 15_000);
        out.push(trace(Provider::Anthropic, at, request, response));
        messages.push(json!({"role": "assistant", "content": content}));
        let result_len = 300 + rng.below(3000);
        messages.push(if ends_turn {
            json!({"role": "user", "content": rng.text(120)})
        } else {
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                "content": rng.text(result_len)}]})
        });
    }
    out
}

/// Bytes of a conversation's final transcript: the last request and response.
pub fn transcript_bytes(traces: &[Trace]) -> usize {
    traces
        .last()
        .map_or(0, |t| t.request_body.len() + t.response_body.len())
}

/// Bytes of every body, as if each were stored whole.
pub fn naive_bytes(traces: &[Trace]) -> usize {
    traces
        .iter()
        .map(|t| t.request_body.len() + t.response_body.len())
        .sum()
}
