//! Claude Code shaped request and response bodies: system blocks, tools,
//! metadata, `<system-reminder>` blocks, a moving `cache_control`, thinking
//! blocks, tool calls and results, and Task calls that start sub-agents.

use serde_json::{json, Value};

const MODEL: &str = "claude-sonnet-4-5-20250929";
const CLAUDE_MD: &str = "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\nContents of /home/dev/shop/CLAUDE.md:\n\nRun `cargo test` before committing.\n</system-reminder>\n";
const TODO_REMINDER: &str = "<system-reminder>\nThe TodoWrite tool hasn't been used recently. Consider using it.\n</system-reminder>";

/// One client session: the history it resends with every request.
#[derive(Clone)]
pub(super) struct Session {
    name: String,
    agent: bool,
    messages: Vec<Value>,
    turn: u32,
    ids: u32,
    last_tool: String,
}

impl Session {
    /// A main session.
    pub fn new(name: &str) -> Self {
        Session {
            name: name.to_owned(),
            agent: false,
            messages: Vec::new(),
            turn: 0,
            ids: 0,
            last_tool: String::new(),
        }
    }

    /// A sub-agent started by a Task call with `prompt`.
    pub fn sub_agent(name: &str, prompt: &str) -> Self {
        let mut s = Session::new(name);
        s.agent = true;
        s.user(prompt);
        s
    }

    /// Adds a typed user message.
    pub fn user(&mut self, text: &str) -> &mut Self {
        let content = if self.messages.is_empty() {
            json!([{ "type": "text", "text": CLAUDE_MD }, { "type": "text", "text": text }])
        } else {
            json!([{ "type": "text", "text": text }, { "type": "text", "text": TODO_REMINDER }])
        };
        self.messages
            .push(json!({ "role": "user", "content": content }));
        self
    }

    /// Answers the last tool call.
    pub fn tool_result(&mut self, output: &str) -> &mut Self {
        self.messages.push(json!({ "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": self.last_tool, "content": output },
            { "type": "text", "text": TODO_REMINDER }
        ] }));
        self
    }

    /// The request body sent now: cache markers on the last two user messages.
    pub fn request(&mut self) -> Value {
        self.turn += 1;
        let mut messages = self.messages.clone();
        let users: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i]["role"] == "user")
            .collect();
        for &i in users.iter().rev().take(2) {
            if let Some(last) = messages[i]["content"]
                .as_array_mut()
                .and_then(|b| b.last_mut())
            {
                last["cache_control"] = json!({ "type": "ephemeral" });
            }
        }
        let intro = if self.agent {
            "You are an agent for Claude Code. Given the user's message, use the tools available to complete the task."
        } else {
            "You are Claude Code, Anthropic's official CLI for Claude."
        };
        json!({
            "model": MODEL,
            "max_tokens": 32000,
            "messages": messages,
            "system": [
                { "type": "text", "text": intro, "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": format!("<env>\nWorking directory: /home/dev/shop\nTurn: {}\n</env>", self.turn) }
            ],
            "tools": [
                { "name": "Task", "description": "Launch a new agent.", "input_schema": { "type": "object", "properties": { "prompt": { "type": "string" } } } },
                { "name": "Bash", "description": "Run a command.", "input_schema": { "type": "object", "properties": { "command": { "type": "string" } } } }
            ],
            "metadata": { "user_id": format!("user_5b1f_account_4f3e_session_{}", self.name) },
            "stream": true
        })
    }

    /// A text answer, recorded in the history.
    pub fn reply(&mut self, text: &str) -> Value {
        self.respond(vec![json!({ "type": "text", "text": text })], "end_turn")
    }

    /// An answer calling a tool.
    pub fn call(&mut self, name: &str, input: Value) -> Value {
        self.ids += 1;
        self.last_tool = format!("toolu_01{}{:04}", self.name, self.ids);
        self.respond(
            vec![
                json!({ "type": "text", "text": format!("I'll use the {name} tool.") }),
                json!({ "type": "tool_use", "id": self.last_tool, "name": name, "input": input }),
            ],
            "tool_use",
        )
    }

    /// Forgets the last `n` messages (the user edits an earlier turn).
    pub fn rewind(&mut self, n: usize) -> &mut Self {
        let keep = self.messages.len().saturating_sub(n);
        self.messages.truncate(keep);
        self
    }

    fn respond(&mut self, mut blocks: Vec<Value>, stop: &str) -> Value {
        blocks.insert(
            0,
            json!({ "type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIBxgC" }),
        );
        self.messages
            .push(json!({ "role": "assistant", "content": blocks }));
        json!({
            "id": format!("msg_01{}{}", self.name, self.messages.len()),
            "type": "message", "role": "assistant", "model": MODEL,
            "content": blocks, "stop_reason": stop, "stop_sequence": null,
            "usage": { "input_tokens": 4, "cache_creation_input_tokens": 812, "cache_read_input_tokens": 14210, "output_tokens": 97 }
        })
    }
}
