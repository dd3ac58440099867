//! Request and response bodies shaped like real agent traffic, for the linking
//! tests: Claude Code's `/v1/messages` requests (system blocks, tools, metadata,
//! reminders, moving `cache_control`, thinking, tool calls) and an OpenAI chat
//! client's `/v1/chat/completions` requests.

use serde_json::{json, Value};

mod compaction;

pub(super) use compaction::{big_claude_md, continuation_text, summary_answer};

const MODEL: &str = "claude-sonnet-4-5-20250929";
const CLAUDE_MD: &str = "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\nCodebase and user instructions are shown below.\n\nContents of /home/dev/shop/CLAUDE.md (project instructions, checked into the codebase):\n\nRun `cargo test` before committing.\n\n      IMPORTANT: this context may or may not be relevant to your tasks.\n</system-reminder>\n";
const TODO_REMINDER: &str = "<system-reminder>\nThe TodoWrite tool hasn't been used recently. If you're working on tasks that would benefit from tracking progress, consider using the TodoWrite tool to track progress. This is just a gentle reminder - ignore if not applicable.\n</system-reminder>";
const MALWARE_REMINDER: &str = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it looks malicious.\n</system-reminder>\n";

/// A Claude Code session as the client keeps it: the history it resends.
#[derive(Clone)]
pub(super) struct ClaudeCode {
    session: String,
    system_intro: &'static str,
    messages: Vec<Value>,
    turn: u32,
    reminders: bool,
    last_tool_id: String,
    ids: u32,
}

impl ClaudeCode {
    /// A main session whose user turns carry `<system-reminder>` blocks.
    pub fn new(session: &str) -> Self {
        ClaudeCode {
            session: session.to_owned(),
            system_intro: "You are Claude Code, Anthropic's official CLI for Claude.",
            messages: Vec::new(),
            turn: 0,
            reminders: true,
            last_tool_id: String::new(),
            ids: 0,
        }
    }

    /// The same session without any reminders (user text sent as plain strings).
    pub fn without_reminders(mut self) -> Self {
        self.reminders = false;
        self
    }

    /// A sub-agent started by a Task call: its only user message is the prompt
    /// (after the CLAUDE.md reminder when `reminders`).
    pub fn sub_agent(session: &str, prompt: &str, reminders: bool) -> Self {
        let mut s = ClaudeCode::new(session);
        s.reminders = reminders;
        s.system_intro = "You are Claude Code, Anthropic's official CLI for Claude.\nYou are an agent for Claude Code. Given the user's message, you should use the tools available to complete the task.";
        s.user(prompt);
        s
    }

    /// Adds a typed user message.
    pub fn user(&mut self, text: &str) -> &mut Self {
        let content = match (self.reminders, self.messages.is_empty()) {
            (false, _) => json!(text),
            (true, true) => json!([
                { "type": "text", "text": CLAUDE_MD },
                { "type": "text", "text": text }
            ]),
            (true, false) => json!([
                { "type": "text", "text": text },
                { "type": "text", "text": TODO_REMINDER }
            ]),
        };
        self.messages
            .push(json!({ "role": "user", "content": content }));
        self
    }

    /// Answers the last tool call with `output`.
    pub fn tool_result(&mut self, output: &str) -> &mut Self {
        let mut blocks = vec![json!({
            "type": "tool_result",
            "tool_use_id": self.last_tool_id,
            "content": if self.reminders { format!("{output}{MALWARE_REMINDER}") } else { output.to_owned() },
        })];
        if self.reminders {
            blocks.push(json!({ "type": "text", "text": TODO_REMINDER }));
        }
        self.messages
            .push(json!({ "role": "user", "content": blocks }));
        self
    }

    /// The request body the client sends now.
    pub fn request(&mut self) -> Value {
        self.turn += 1;
        let mut messages = self.messages.clone();
        // cache_control sits on the last block of the last two user messages; it
        // moves every turn, and a string content becomes a block list to carry it.
        let users: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i]["role"] == "user")
            .collect();
        for &i in users.iter().rev().take(2) {
            let content = &mut messages[i]["content"];
            if let Some(text) = content.as_str().map(str::to_owned) {
                *content = json!([{ "type": "text", "text": text }]);
            }
            if let Some(last) = content.as_array_mut().and_then(|b| b.last_mut()) {
                last["cache_control"] = json!({ "type": "ephemeral" });
            }
        }
        json!({
            "model": MODEL,
            "max_tokens": 32000,
            "messages": messages,
            "system": [
                { "type": "text", "text": self.system_intro, "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": format!(
                    "\nYou are an interactive CLI tool that helps users with software engineering tasks.\n\n<env>\nWorking directory: /home/dev/shop\nIs directory a git repo: Yes\nPlatform: linux\nToday's date: 2025-09-{:02}\n</env>\n\ngitStatus: This is the git status at the start of the conversation.\nCurrent branch: main\n\nStatus:\n M src/cart.rs\n?? notes-{}.md\n",
                    10 + self.turn % 20, self.turn
                ), "cache_control": { "type": "ephemeral" } }
            ],
            "tools": tools(),
            "metadata": { "user_id": format!(
                "user_5b1f0c9e2d7a4e6b8c3f1a0d9e8b7c6a5f4e3d2c1b0a99887766554433221100_account_4f3e2d1c-0b9a-4876-8543-210fedcba987_session_{}",
                self.session
            ) },
            "stream": true
        })
    }

    /// A text answer: returns the reassembled response body and records it in the history.
    pub fn reply(&mut self, text: &str) -> Value {
        self.respond(vec![json!({ "type": "text", "text": text })], "end_turn")
    }

    /// An answer that calls a tool.
    pub fn call(&mut self, name: &str, input: Value) -> Value {
        self.ids += 1;
        self.last_tool_id = format!("toolu_01{}{:04}", &self.session[..8], self.ids);
        let blocks = vec![
            json!({ "type": "text", "text": format!("I'll use the {name} tool.") }),
            json!({ "type": "tool_use", "id": self.last_tool_id, "name": name, "input": input }),
        ];
        self.respond(blocks, "tool_use")
    }

    fn respond(&mut self, mut blocks: Vec<Value>, stop: &str) -> Value {
        blocks.insert(
            0,
            json!({ "type": "thinking", "thinking": "Let me think about what the user needs.", "signature": "EqQBCkYIBxgCKkA0c2lnbmF0dXJl" }),
        );
        self.messages
            .push(json!({ "role": "assistant", "content": blocks }));
        json!({
            "id": format!("msg_01{}{}", &self.session[..8], self.messages.len()),
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": { "input_tokens": 4, "cache_creation_input_tokens": 812, "cache_read_input_tokens": 14210, "output_tokens": 97 }
        })
    }
}

fn tools() -> Value {
    json!([
        { "name": "Task", "description": "Launch a new agent to handle complex, multi-step tasks autonomously.", "input_schema": {
            "type": "object", "properties": {
                "description": { "type": "string", "description": "A short (3-5 word) description of the task" },
                "prompt": { "type": "string", "description": "The task for the agent to perform" },
                "subagent_type": { "type": "string", "description": "The type of specialized agent to use for this task" }
            }, "required": ["description", "prompt", "subagent_type"], "additionalProperties": false,
            "$schema": "http://json-schema.org/draft-07/schema#" } },
        { "name": "Bash", "description": "Executes a given bash command in a persistent shell session.", "input_schema": {
            "type": "object", "properties": { "command": { "type": "string" }, "timeout": { "type": "number" } },
            "required": ["command"], "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#" } },
        { "name": "Read", "description": "Reads a file from the local filesystem.", "input_schema": {
            "type": "object", "properties": { "file_path": { "type": "string" }, "offset": { "type": "number" }, "limit": { "type": "number" } },
            "required": ["file_path"], "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#" } },
        { "name": "Edit", "description": "Performs exact string replacements in files.", "input_schema": {
            "type": "object", "properties": { "file_path": { "type": "string" }, "old_string": { "type": "string" }, "new_string": { "type": "string" } },
            "required": ["file_path", "old_string", "new_string"], "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#" } }
    ])
}

/// An OpenAI chat-completions client: a system message that changes every turn,
/// user text, assistant tool calls and `tool` messages.
#[derive(Clone, Default)]
pub(super) struct ChatClient {
    messages: Vec<Value>,
    turn: u32,
    calls: u32,
    pending: Vec<String>,
}

impl ChatClient {
    /// Adds a user message (as a list of text parts).
    pub fn user(&mut self, text: &str) -> &mut Self {
        self.messages
            .push(json!({ "role": "user", "content": [{ "type": "text", "text": text }] }));
        self
    }

    /// Answers each pending tool call with `output`, one `tool` message each.
    pub fn tool_results(&mut self, output: &str) -> &mut Self {
        for id in std::mem::take(&mut self.pending) {
            self.messages.push(
                json!({ "role": "tool", "tool_call_id": id, "content": format!("{output} ({id})") }),
            );
        }
        self
    }

    /// The request body the client sends now.
    pub fn request(&mut self) -> Value {
        self.turn += 1;
        let mut messages = vec![json!({ "role": "system", "content": format!(
            "You are a coding agent. Current time: 2025-09-12T10:{:02}:00Z.", self.turn
        ) })];
        messages.extend(self.messages.iter().cloned());
        json!({
            "model": "gpt-4.1",
            "messages": messages,
            "tools": [{ "type": "function", "function": { "name": "run_shell", "description": "Run a shell command",
                "parameters": { "type": "object", "properties": { "cmd": { "type": "string" } }, "required": ["cmd"] } } }],
            "stream": true,
            "stream_options": { "include_usage": true }
        })
    }

    /// A text answer; returns the reassembled response body.
    pub fn reply(&mut self, text: &str) -> Value {
        let message = json!({ "role": "assistant", "content": text });
        self.respond(message, "stop")
    }

    /// An answer calling the named functions with JSON `args`.
    pub fn call(&mut self, calls: &[(&str, Value)]) -> Value {
        let mut tool_calls = Vec::new();
        for (name, args) in calls {
            self.calls += 1;
            let id = format!("call_Xq{:04}", self.calls);
            self.pending.push(id.clone());
            tool_calls.push(json!({ "id": id, "type": "function",
                "function": { "name": name, "arguments": args.to_string() } }));
        }
        let message = json!({ "role": "assistant", "content": null, "tool_calls": tool_calls });
        self.respond(message, "tool_calls")
    }

    fn respond(&mut self, message: Value, finish: &str) -> Value {
        self.messages.push(message.clone());
        json!({
            "id": format!("chatcmpl-B{}", self.turn), "object": "chat.completion", "created": 1757671200,
            "model": "gpt-4.1-2025-04-14",
            "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
            "usage": { "prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138 }
        })
    }
}
