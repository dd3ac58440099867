//! Request and response bodies shaped like agent traffic: a Claude Code
//! session (system text blocks that change every turn, tools, metadata,
//! `<system-reminder>` blocks, a moving `cache_control`, thinking, tool_use and
//! tool_result turns, Task calls) and an OpenAI chat client.

use serde_json::{json, Value};

const CLAUDE_MD: &str = "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\nRun `cargo test` before committing.\n</system-reminder>\n";
const TODO_REMINDER: &str = "<system-reminder>\nThe TodoWrite tool hasn't been used recently. This is just a gentle reminder - ignore if not applicable.\n</system-reminder>";
const FILE_REMINDER: &str = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it looks malicious.\n</system-reminder>\n";

/// A Claude Code session: the history it resends every request.
#[derive(Clone)]
pub(crate) struct Session {
    name: String,
    intro: &'static str,
    messages: Vec<Value>,
    turn: u32,
    calls: u32,
    last_tool_id: String,
}

impl Session {
    /// A main session.
    pub fn new(name: &str) -> Self {
        Session {
            name: name.to_owned(),
            intro: "You are Claude Code, Anthropic's official CLI for Claude.",
            messages: Vec::new(),
            turn: 0,
            calls: 0,
            last_tool_id: String::new(),
        }
    }

    /// A sub-agent started by a Task call with `prompt`.
    pub fn sub_agent(name: &str, prompt: &str) -> Self {
        let mut s = Session::new(name);
        s.intro = "You are an agent for Claude Code. Use the tools available to complete the task.";
        s.user(prompt);
        s
    }

    /// Adds a typed user message, with reminder blocks around it.
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
            { "type": "tool_result", "tool_use_id": self.last_tool_id, "content": format!("{output}{FILE_REMINDER}") },
            { "type": "text", "text": TODO_REMINDER }
        ] }));
        self
    }

    /// Adds a reminder block to the first user message, as clients inject context.
    pub fn remind_first(&mut self, text: &str) -> &mut Self {
        if let Some(blocks) = self
            .messages
            .first_mut()
            .and_then(|m| m["content"].as_array_mut())
        {
            blocks.insert(0, json!({ "type": "text", "text": format!("<system-reminder>{text}</system-reminder>") }));
        }
        self
    }

    /// Drops the last `n` messages (to branch off an earlier point).
    pub fn rewind(&mut self, n: usize) -> &mut Self {
        self.messages
            .truncate(self.messages.len().saturating_sub(n));
        self
    }

    /// The request body sent now: `cache_control` on the last block of the last
    /// two user messages, and a system prompt whose second block changes.
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
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "system": [
                { "type": "text", "text": self.intro, "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": format!("<env>Today's date: 2025-09-{:02}\ngitStatus: M notes-{}.md</env>", 10 + self.turn % 20, self.turn) }
            ],
            "tools": [
                { "name": "Task", "description": "Launch a new agent.", "input_schema": { "type": "object", "properties": { "prompt": { "type": "string" } } } },
                { "name": "Read", "description": "Reads a file.", "input_schema": { "type": "object", "properties": { "file_path": { "type": "string" } } } }
            ],
            "metadata": { "user_id": format!("user_5b1f_account_4f3e_session_{}", self.name) },
            "messages": messages,
            "stream": true
        })
    }

    /// A text answer, recorded in the history.
    pub fn reply(&mut self, text: &str) -> Value {
        self.respond(vec![json!({ "type": "text", "text": text })], "end_turn")
    }

    /// An answer calling a tool.
    pub fn call(&mut self, name: &str, input: Value) -> Value {
        self.calls += 1;
        self.last_tool_id = format!("toolu_01{}{:04}", self.name, self.calls);
        let blocks = vec![
            json!({ "type": "text", "text": format!("I'll use the {name} tool.") }),
            json!({ "type": "tool_use", "id": self.last_tool_id, "name": name, "input": input }),
        ];
        self.respond(blocks, "tool_use")
    }

    fn respond(&mut self, mut blocks: Vec<Value>, stop: &str) -> Value {
        blocks.insert(
            0,
            json!({ "type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIBxgC" }),
        );
        self.messages
            .push(json!({ "role": "assistant", "content": blocks }));
        json!({
            "id": format!("msg_{}_{}", self.name, self.messages.len()), "type": "message",
            "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": blocks,
            "stop_reason": stop, "stop_sequence": null,
            "usage": { "input_tokens": 4, "cache_creation_input_tokens": 812, "cache_read_input_tokens": 14210, "output_tokens": 97 }
        })
    }
}

/// An OpenAI chat-completions client whose system message changes every turn.
#[derive(Clone, Default)]
pub(crate) struct ChatClient {
    messages: Vec<Value>,
    turn: u32,
}

impl ChatClient {
    /// Adds a user message.
    pub fn user(&mut self, text: &str) -> &mut Self {
        self.messages
            .push(json!({ "role": "user", "content": [{ "type": "text", "text": text }] }));
        self
    }

    /// The request body sent now.
    pub fn request(&mut self) -> Value {
        self.turn += 1;
        let mut messages = vec![json!({ "role": "system", "content": format!(
            "You are a coding agent. Current time: 2025-09-12T10:{:02}:00Z.", self.turn
        ) })];
        messages.extend(self.messages.iter().cloned());
        json!({ "model": "gpt-4.1", "messages": messages, "stream": true })
    }

    /// A text answer, recorded in the history.
    pub fn reply(&mut self, text: &str) -> Value {
        let message = json!({ "role": "assistant", "content": text });
        self.messages.push(message.clone());
        json!({
            "id": format!("chatcmpl-{}", self.turn), "object": "chat.completion",
            "model": "gpt-4.1-2025-04-14",
            "choices": [{ "index": 0, "message": message, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138 }
        })
    }
}
