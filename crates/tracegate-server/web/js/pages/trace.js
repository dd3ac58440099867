// One trace: transcript (or raw JSON), timing bar, tokens, cost, metadata, and links to its
// conversation, parent, sub-tasks and the same account's traces.
import { api } from "../api.js";
import { h, append, fill, errorBox, loading, ms, usd, num, time, outcomeBadge, link, shortId } from "../dom.js";
import { transcript } from "../transcript.js";

function walk(nodes, visit, parent = null) {
  for (const n of nodes || []) {
    visit(n, parent);
    for (const f of n.forks || []) walk(f, visit, n);
  }
}

export function timingBar(t) {
  const total = t.duration_ms || 0;
  const parts = [];
  // Phases the trace records, in order; a trace without them shows TTFT and the stream.
  const gw = t.gateway_ms ?? null;
  const headers = t.upstream_headers_ms ?? t.ttfb_ms ?? null;
  if (gw !== null) parts.push(["t-gateway", "gateway", gw]);
  if (headers !== null) parts.push(["t-headers", "upstream time to headers", headers - (gw || 0)]);
  if (t.ttft_ms !== null && t.ttft_ms !== undefined) {
    const before = headers ?? gw ?? 0;
    parts.push(["t-ttft", headers !== null ? "to first token" : "time to first token", Math.max(0, t.ttft_ms - before)]);
    parts.push(["t-stream", t.stream ? "stream" : "body", Math.max(0, total - t.ttft_ms)]);
  } else {
    parts.push(["t-stream", "total", total]);
  }
  const bar = h("div.timing", { role: "img", "aria-label": parts.map(([, l, v]) => `${l} ${ms(v)}`).join(", ") });
  for (const [cls, label, v] of parts) {
    const s = h(`span.${cls}`, { title: `${label}: ${ms(v)}` });
    s.style.width = total > 0 ? `${(100 * v) / total}%` : "0";
    bar.append(s);
  }
  const legend = h("div.legend", null, ...parts.map(([cls, label, v]) => h("span", null, h(`i.${cls}`), `${label} ${ms(v)}`)));
  legend.querySelectorAll("i").forEach((i) => i.classList.add("swatch"));
  return h("section", { "aria-label": "Timing" }, h("h2", null, `Timing — ${ms(total)}`), bar, legend);
}

export default async function trace(ctx) {
  const { main, params, ready } = ctx;
  const id = params[0];
  let disposed = false;

  async function load() {
    fill(main, loading("the trace"));
    let t;
    try {
      t = await api("/traces/" + encodeURIComponent(id));
    } catch (e) {
      if (!disposed) fill(main, h("h1", null, "Trace ", h("code", null, id)), errorBox("the trace", e, load));
      ready();
      return;
    }
    if (disposed) return;
    const related = h("ul", { id: "related" });
    const tr = transcript(t.request_body, t.response_body);
    const transcriptBox = h("div", { id: "transcript" });
    if (tr) transcriptBox.append(h("h3", null, "Request"), ...tr.request.filter(Boolean), h("h3", null, "Response"), tr.response);
    else transcriptBox.append(h("p.muted", null, "This body is not a chat; see the raw JSON."));
    const rawBox = h("div", { id: "raw", hidden: true },
      h("h3", null, "Request body"), h("pre", null, JSON.stringify(t.request_body, null, 2)),
      h("h3", null, "Response body"), h("pre", null, JSON.stringify(t.response_body, null, 2)));
    const toggle = h("button", { type: "button", id: "raw-toggle", "aria-pressed": "false", "aria-controls": "raw transcript", onclick: () => {
      const raw = rawBox.hidden;
      rawBox.hidden = !raw;
      transcriptBox.hidden = raw;
      toggle.setAttribute("aria-pressed", String(raw));
      toggle.textContent = raw ? "Show transcript" : "Show raw JSON";
    } }, "Show raw JSON");
    const kv = (pairs) => h("dl.kv", null, ...pairs.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "—")]));
    const accountLink = t.account ? link("/traces?filter=" + encodeURIComponent(JSON.stringify({ field: "account", op: "eq", value: t.account })), `Traces of account ${t.account}`) : null;
    fill(main,
      h("h1", null, "Trace ", h("code", null, t.id)),
      h("div.row", null, outcomeBadge(t.outcome, t.status), `HTTP ${t.status ?? "—"}`, " · ", time(t.started_at), " · ", t.model || t.model_requested || "—", " via ", t.upstream),
      t.error ? h("div.error-box", null, h("strong", null, "Error: "), t.error) : null,
      timingBar(t),
      h("div.grid", null,
        h("section.panel", null, h("h2", null, "Tokens and cost"), kv([
          ["input", num(t.input_tokens)], ["output", num(t.output_tokens)], ["cache read", num(t.cache_read_tokens)],
          ["cache write", num(t.cache_write_tokens)], ["total", num(t.total_tokens)], ["cost", usd(t.cost_usd)],
          ["cache saved", t.cache_saved_usd !== null && t.cache_saved_usd !== undefined ? usd(t.cache_saved_usd) : null]])),
        h("section.panel", null, h("h2", null, "Request"), kv([
          ["provider", t.provider], ["upstream", t.upstream], ["endpoint", `${t.method} ${t.endpoint}`], ["model asked", t.model_requested],
          ["model", t.model], ["stream", String(t.stream)], ["account", t.account], ["client", t.client_ip], ["user agent", t.user_agent],
          ["duration", ms(t.duration_ms)], ["TTFT", ms(t.ttft_ms)]])),
        h("section.panel", null, h("h2", null, "Metadata"), t.metadata && Object.keys(t.metadata).length ? kv(Object.entries(t.metadata).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) : h("p.muted", null, "none"),
          t.feedback && t.feedback.length ? [h("h3", null, "Feedback"), kv(t.feedback.map((f) => [String(f.score), `${f.comment || ""} ${f.source ? "(" + f.source + ")" : ""}`]))] : null),
        h("section.panel", null, h("h2", null, "Related"), related)),
      h("div.row", null, h("h2", null, "Transcript"), toggle),
      transcriptBox, rawBox);
    append(related, [
      h("li", null, "Conversation: ", t.conversation_id ? link("/conversations/" + t.conversation_id, shortId(t.conversation_id)) : "—", t.link_kind ? ` (this request: ${t.link_kind}, branch ${t.branch})` : ""),
      h("li", null, "Parent: ", t.parent_id ? link("/traces/" + t.parent_id, shortId(t.parent_id)) : "none"),
      accountLink ? h("li", null, accountLink) : null]);
    ready();
    // Sub-tasks and children come from the conversation's tree.
    if (t.conversation_id) {
      try {
        const conv = await api("/conversations/" + encodeURIComponent(t.conversation_id));
        if (disposed) return;
        const children = [];
        for (const chain of conv.tree || []) walk(chain, (n, parent) => {
          if (n.parent_id === t.id && n.id !== t.id) children.push(n);
          else if (parent && parent.id === t.id && n.id !== t.id && !children.includes(n)) children.push(n);
        });
        const subs = children.filter((n) => n.link_kind === "sub_task");
        const next = children.filter((n) => n.link_kind !== "sub_task");
        related.append(h("li", { id: "subtasks" }, `Sub-tasks: `, subs.length ? subs.map((n, i) => [i ? ", " : "", link("/traces/" + n.id, shortId(n.id))]) : "none"));
        if (next.length) related.append(h("li", null, "Next: ", next.map((n, i) => [i ? ", " : "", link("/traces/" + n.id, `${shortId(n.id)} (${n.link_kind})`)])));
      } catch (e) {
        if (!disposed) related.append(h("li.muted", null, `Sub-tasks unknown: ${e.message}`));
      }
    }
  }
  await load();
  return () => { disposed = true; };
}
