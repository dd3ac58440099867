// A request and its response as a chat transcript: the system prompt collapsed, messages,
// tool calls and tool results. Reads Anthropic Messages and OpenAI Chat Completions bodies.
import { h } from "./dom.js";

function pretty(v) {
  if (typeof v === "string") {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => (typeof b === "string" ? b : b.text || "")).join("\n");
  return "";
}

/** Renders one content block (Anthropic block or OpenAI part). */
function block(b) {
  if (typeof b === "string") return h("div.text", null, b);
  switch (b.type) {
    case "text":
    case "input_text":
    case "output_text":
      return h("div.text", null, b.text);
    case "thinking":
      return h("details.tool-block", null, h("summary", null, "Thinking"), h("div.text", null, b.thinking || ""));
    case "redacted_thinking":
      return h("div.muted", null, "[redacted thinking]");
    case "tool_use":
    case "server_tool_use":
      return h("div.tool-block", { dataset: { kind: "tool-call" } }, h("strong", null, `Tool call: ${b.name}`), " ", h("code.muted", null, b.id || ""), h("pre", null, pretty(b.input)));
    case "tool_result": {
      const inner = Array.isArray(b.content) ? b.content.map(block) : h("div.text", null, textOf(b.content));
      return h("div.tool-block", { dataset: { kind: "tool-result" } }, h("strong", null, b.is_error ? "Tool result (error)" : "Tool result"), " ", h("code.muted", null, b.tool_use_id || ""), inner);
    }
    case "image":
    case "image_url":
      return h("div.muted", null, "[image]");
    case "document":
      return h("div.muted", null, "[document]");
    default:
      return h("pre", null, pretty(b));
  }
}

function message(role, content, extra = []) {
  const parts = Array.isArray(content) ? content.map(block) : content === null || content === undefined ? [] : [h("div.text", null, String(content))];
  return h(`div.msg.${role === "system" || role === "developer" ? "system" : role === "tool" ? "tool" : role === "assistant" ? "assistant" : "user"}`, null,
    h("div.role", null, role), ...parts, ...extra);
}

function openaiToolCalls(calls) {
  return (calls || []).map((c) => h("div.tool-block", { dataset: { kind: "tool-call" } },
    h("strong", null, `Tool call: ${c.function ? c.function.name : c.type}`), " ", h("code.muted", null, c.id || ""),
    h("pre", null, pretty(c.function ? c.function.arguments : c))));
}

function systemBlock(text) {
  if (!text) return null;
  return h("details.msg.system", { dataset: { kind: "system" } }, h("summary", null, h("span.role", null, "system prompt"), ` (${text.length} characters)`), h("div.text", null, text));
}

/** The transcript of a trace, or null when the bodies are of no known shape. */
export function transcript(req, res) {
  const out = [];
  if (!req || typeof req !== "object") return null;
  if (req.system) out.push(systemBlock(typeof req.system === "string" ? req.system : textOf(req.system)));
  if (Array.isArray(req.messages)) {
    for (const m of req.messages) {
      if ((m.role === "system" || m.role === "developer") && typeof m.content !== "undefined") {
        out.push(systemBlock(textOf(m.content)));
        continue;
      }
      if (m.role === "tool") {
        out.push(message("tool", [{ type: "tool_result", tool_use_id: m.tool_call_id, content: m.content }]));
        continue;
      }
      out.push(message(m.role || "user", typeof m.content === "string" ? [m.content] : m.content, openaiToolCalls(m.tool_calls)));
    }
  } else if (typeof req.prompt === "string") {
    out.push(message("user", [req.prompt]));
  } else {
    return null;
  }
  const answer = h("div", { dataset: { kind: "response" } });
  if (res && typeof res === "object") {
    if (Array.isArray(res.content)) answer.append(message(res.role || "assistant", res.content));
    else if (Array.isArray(res.choices)) {
      for (const c of res.choices) {
        const m = c.message || c.delta || {};
        answer.append(message(m.role || "assistant", typeof m.content === "string" ? [m.content] : m.content, openaiToolCalls(m.tool_calls)));
      }
    } else if (res.error) {
      answer.append(h("div.msg.tool", null, h("div.role", null, "error"), h("pre", null, pretty(res.error))));
    }
  }
  return { request: out, response: answer };
}
