//! The demo's synthetic traffic, sent through the gateway to the mock provider: a
//! conversation with a branch and a sub-task, slow requests, upstream errors, several
//! accounts and teams, both providers, streaming and not. Three lanes run side by side.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde_json::{json, Value};
use tracegate_mock::{
    HEADER_ERROR_AFTER, HEADER_LATENCY_MS, HEADER_STATUS, HEADER_TOOL_USE, HEADER_TTFT_MS,
};

use crate::client::{send, HttpClient};

const SONNET: &str = "claude-sonnet-4-5";
const HAIKU: &str = "claude-haiku-4-5";
const GPT: &str = "gpt-4.1";
const GPT_MINI: &str = "gpt-4o-mini";

/// A system prompt long enough for prompt caching to show in the token counts.
const SYSTEM: &str = "You are the on-call assistant of a small platform team. You help engineers \
find out why their services are slow or failing: you ask for the numbers that matter (latency \
percentiles, time to first token, error rates, saturation), suggest the next measurement, and \
explain what a fix would change. Keep answers short, concrete and ordered by likelihood. When a \
question needs a longer investigation, hand it to a sub-agent with the Task tool and summarise \
what it found. Never guess numbers: say which query or dashboard would give them.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Anthropic,
    Openai,
}

/// One request to send.
struct Call {
    api: Api,
    method: http::Method,
    path: &'static str,
    account: &'static str,
    team: &'static str,
    body: Option<Value>,
    mock: Vec<(&'static str, String)>,
}

impl Call {
    fn anthropic(account: &'static str, team: &'static str, body: Value) -> Call {
        Call {
            api: Api::Anthropic,
            method: http::Method::POST,
            path: "/v1/messages",
            account,
            team,
            body: Some(body),
            mock: Vec::new(),
        }
    }

    fn openai(account: &'static str, team: &'static str, body: Value) -> Call {
        Call {
            api: Api::Openai,
            method: http::Method::POST,
            path: "/v1/chat/completions",
            account,
            team,
            body: Some(body),
            mock: Vec::new(),
        }
    }

    /// Adds an `x-mock-*` control header: what the mock should do with this request.
    fn mock(mut self, header: &'static str, value: impl Into<String>) -> Call {
        self.mock.push((header, value.into()));
        self
    }
}

/// What came back: the status, the trace id and the body (JSON, or null for streams).
struct Reply {
    trace_id: Option<String>,
    body: Value,
}

/// What the traffic left behind, for the guide.
#[derive(Debug, Default)]
pub struct Landmarks {
    /// Requests answered (each one is a trace).
    pub sent: usize,
    /// Requests that got no answer at all.
    pub failed: usize,
    /// The main conversation's id: its first trace's id (a slow request, the one the
    /// README's full-text example finds).
    pub conversation: Option<String>,
}

pub struct Traffic {
    client: HttpClient,
    gateway: String,
    run: String,
    sent: AtomicUsize,
    failed: AtomicUsize,
}

impl Traffic {
    /// `run` tags this run's prompts, so a second run on the same store starts new
    /// conversations instead of retrying the first run's.
    pub fn new(client: HttpClient, gateway: String, run: String) -> Traffic {
        Traffic {
            client,
            gateway,
            run,
            sent: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    /// Sends everything: three lanes concurrently, plus `extra` single requests.
    pub async fn run(&self, extra: usize) -> Landmarks {
        let (main, (), ()) =
            tokio::join!(self.conversation(), self.openai_lane(), self.ci_lane(extra));
        Landmarks {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            conversation: main,
        }
    }

    /// alice's agent session (team search): turns, a Task sub-task, a branch, prompt
    /// caching, a slow first answer and a stream the provider breaks off. Returns the
    /// conversation's id.
    async fn conversation(&self) -> Option<String> {
        let r = &self.run;
        let u1 = user(&format!(
            "Since this morning requests to our search index fail with connection reset \
             (demo run {r}). Should the client retry, and how often?"
        ));
        let first = self
            .call(
                Call::anthropic(
                    "alice",
                    "search",
                    anthropic(SONNET, false, std::slice::from_ref(&u1)),
                )
                .mock(HEADER_LATENCY_MS, "1500"),
            )
            .await;
        let a1 = assistant_reply(first.as_ref(), "Retry with backoff, then find out why.");
        let mut history = vec![
            u1,
            a1,
            user("The index runs on the same host as the gateway. What should I check first?"),
        ];
        self.call(Call::anthropic(
            "alice",
            "search",
            anthropic(SONNET, true, &history),
        ))
        .await;

        history.push(assistant(
            "Check its open connections and its slowest queries.",
        ));
        history.push(user("Please investigate the slow queries in a sub-task."));
        let prompt = format!(
            "Investigate why the search index answers slowly (demo run {r}): list its \
             slowest queries and report back."
        );
        let task =
            json!({"name": "Task", "input": {"description": "Slow index", "prompt": prompt}});
        let caller = self
            .call(
                Call::anthropic("alice", "search", anthropic(SONNET, false, &history))
                    .mock(HEADER_TOOL_USE, task.to_string()),
            )
            .await;

        // The sub-agent: its first request is the Task's prompt alone.
        let sub = user(&prompt);
        self.call(Call::anthropic(
            "alice",
            "search",
            anthropic(HAIKU, true, std::slice::from_ref(&sub)),
        ))
        .await;
        let sub_turn = [
            sub,
            assistant("I will start with the query log."),
            user("The query log shows three queries over 2 s, all full scans."),
        ];
        self.call(Call::anthropic(
            "alice",
            "search",
            anthropic(HAIKU, false, &sub_turn),
        ))
        .await;

        // The Task's result goes back to the main conversation.
        let a3 = assistant_reply(caller.as_ref(), "Starting a sub-task.");
        let tool_id = tool_use_id(&a3).unwrap_or_else(|| "toolu_demo".into());
        history.push(a3);
        history.push(json!({"role": "user", "content": [{
            "type": "tool_result", "tool_use_id": tool_id,
            "content": "Three full-scan queries over 2 s; an index on (tenant, ts) removes them."
        }]}));
        self.call(Call::anthropic(
            "alice",
            "search",
            anthropic(SONNET, true, &history),
        ))
        .await;

        // A branch: back to the first answer, another question.
        let branch = [
            history[0].clone(),
            history[1].clone(),
            user("Actually, could a retry storm from our own clients be the cause?"),
        ];
        self.call(Call::anthropic(
            "alice",
            "search",
            anthropic(SONNET, false, &branch),
        ))
        .await;

        // A stream the provider breaks off with an error event: the model is known.
        let status = user(&format!(
            "Summarise the incident for the status page (demo run {r})."
        ));
        self.call(
            Call::anthropic("alice", "search", anthropic(SONNET, true, &[status]))
                .mock(HEADER_ERROR_AFTER, "3"),
        )
        .await;
        first.and_then(|f| f.trace_id)
    }

    /// bob's OpenAI traffic (team platform): a two-turn chat with a slow second answer,
    /// a rate-limited request and a stream.
    async fn openai_lane(&self) {
        let r = &self.run;
        let o1 = user(&format!(
            "Draft a runbook entry for a gateway that adds latency (demo run {r})."
        ));
        let first = self
            .call(Call::openai(
                "bob",
                "platform",
                openai(GPT, false, std::slice::from_ref(&o1)),
            ))
            .await;
        let answer = first
            .as_ref()
            .and_then(|f| f.body.pointer("/choices/0/message/content"))
            .and_then(Value::as_str)
            .unwrap_or("Measure first, then change one thing at a time.");
        let turn = [
            o1,
            assistant(answer),
            user("Make it shorter, and add a step for time to first token."),
        ];
        self.call(
            Call::openai("bob", "platform", openai(GPT, true, &turn))
                .mock(HEADER_LATENCY_MS, "2200"),
        )
        .await;
        let ticket = user(&format!(
            "Classify this ticket: 'checkout is slow' (demo run {r})."
        ));
        self.call(
            Call::openai("bob", "platform", openai(GPT_MINI, false, &[ticket]))
                .mock(HEADER_STATUS, "429"),
        )
        .await;
        let tag = user(&format!(
            "Tag this log line: 'upstream timed out' (demo run {r})."
        ));
        self.call(Call::openai(
            "bob",
            "platform",
            openai(GPT_MINI, true, &[tag]),
        ))
        .await;
    }

    /// ci-bot's batch jobs (team ci): a slow first token, a provider 500, token counting,
    /// the model list, then `extra` single requests from every account.
    async fn ci_lane(&self, extra: usize) {
        let r = &self.run;
        let eval = |n: u32| {
            user(&format!(
                "Run nightly evaluation prompt #{n} (demo run {r})."
            ))
        };
        self.call(
            Call::anthropic("ci-bot", "ci", anthropic(HAIKU, true, &[eval(1)]))
                .mock(HEADER_TTFT_MS, "1200"),
        )
        .await;
        self.call(
            Call::anthropic("ci-bot", "ci", anthropic(SONNET, false, &[eval(2)]))
                .mock(HEADER_STATUS, "500"),
        )
        .await;
        let mut count = Call::anthropic("ci-bot", "ci", anthropic(SONNET, false, &[eval(3)]));
        count.path = "/v1/messages/count_tokens";
        self.call(count).await;
        let mut models = Call::anthropic("ci-bot", "ci", json!(null));
        models.method = http::Method::GET;
        models.path = "/v1/models";
        models.body = None;
        self.call(models).await;

        let accounts = [("alice", "search"), ("bob", "platform"), ("ci-bot", "ci")];
        for i in 0..extra {
            let (account, team) = accounts[i % accounts.len()];
            let stream = i % 2 == 0;
            let prompt = user(&format!(
                "Question {i} of demo run {r}: what did this request cost?"
            ));
            let call = if i % 3 == 1 {
                let model = if i % 4 == 1 { GPT_MINI } else { GPT };
                Call::openai(account, team, openai(model, stream, &[prompt]))
            } else {
                let model = if i % 5 == 0 { HAIKU } else { SONNET };
                Call::anthropic(account, team, anthropic(model, stream, &[prompt]))
            };
            self.call(call).await;
        }
    }

    /// Sends `c`; counts it as sent when any answer came back (every answer is a trace).
    async fn call(&self, c: Call) -> Option<Reply> {
        let metadata = json!({ "team": c.team, "demo_run": self.run }).to_string();
        let mut headers: Vec<(&str, String)> = vec![
            ("x-tracegate-account", c.account.to_string()),
            ("x-tracegate-metadata", metadata),
        ];
        match c.api {
            Api::Anthropic => {
                headers.push(("anthropic-version", "2023-06-01".into()));
                headers.push(("x-api-key", "demo-anthropic-key".into()));
            }
            Api::Openai => headers.push(("authorization", "Bearer demo-openai-key".into())),
        }
        if c.body.is_some() {
            headers.push(("content-type", "application/json".into()));
        }
        headers.extend(c.mock.iter().map(|(k, v)| (*k, v.clone())));
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = c
            .body
            .map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let url = format!("{}{}", self.gateway, c.path);
        match send(&self.client, c.method, &url, &refs, body).await {
            Ok((_, headers, bytes)) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                let trace_id = headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                Some(Reply { trace_id, body })
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, path = c.path, "demo request got no answer");
                None
            }
        }
    }
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn assistant(text: &str) -> Value {
    json!({"role": "assistant", "content": text})
}

/// The assistant message a client would send back: the answer's content blocks, or
/// `fallback` when there is no answer body (a stream, or no answer).
fn assistant_reply(reply: Option<&Reply>, fallback: &str) -> Value {
    match reply.and_then(|r| r.body.get("content")) {
        Some(content @ Value::Array(_)) => json!({"role": "assistant", "content": content}),
        _ => assistant(fallback),
    }
}

/// The id of the tool call in an assistant message.
fn tool_use_id(message: &Value) -> Option<String> {
    message["content"]
        .as_array()?
        .iter()
        .find(|b| b["type"] == "tool_use")?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

fn anthropic(model: &str, stream: bool, messages: &[Value]) -> Value {
    json!({
        "model": model,
        "max_tokens": 512,
        "stream": stream,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
    })
}

fn openai(model: &str, stream: bool, messages: &[Value]) -> Value {
    let mut all = vec![json!({"role": "system", "content": SYSTEM})];
    all.extend_from_slice(messages);
    json!({"model": model, "stream": stream, "messages": all})
}
