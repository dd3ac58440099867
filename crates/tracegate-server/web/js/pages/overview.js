// Overview: traffic, errors, latency percentiles, tokens and cost by a chosen split, the
// slowest models and upstreams, and what is in flight. From the stats rollups only.
import { api, qs } from "../api.js";
import { h, clear, fill, errorBox, loading, ms, usd, num, pct, time, firstRequest, link } from "../dom.js";
import { lineChart } from "../chart.js";
import * as live from "../live.js";

const RANGES = [
  ["15m", "15 min", 15 * 60e3, "1m"],
  ["1h", "1 h", 3600e3, "1m"],
  ["24h", "24 h", 86400e3, "1h"],
  ["7d", "7 d", 7 * 86400e3, "1h"],
  ["30d", "30 d", 30 * 86400e3, "1d"],
];
const BUCKET_SECS = { "1m": 60, "5m": 300, "1h": 3600, "1d": 86400 };
const SPLITS = ["model", "provider", "upstream"];

function bucketFor(spanMs) {
  if (spanMs <= 6 * 3600e3) return "1m";
  if (spanMs <= 2 * 86400e3) return "5m";
  if (spanMs <= 14 * 86400e3) return "1h";
  return "1d";
}

function toLocalInput(d) {
  const off = d.getTimezoneOffset() * 60e3;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

export default async function overview(ctx) {
  const { main, query, navigate, ready } = ctx;
  const rangeKey = query.get("range") || (query.get("from") ? "custom" : "1h");
  const split = SPLITS.includes(query.get("split")) ? query.get("split") : "model";
  const charts = [];
  const unsubs = [];
  let refreshTimer = null;
  let inflightTimer = null;
  let disposed = false;

  function window() {
    if (rangeKey === "custom") {
      const from = new Date(query.get("from"));
      const to = query.get("to") ? new Date(query.get("to")) : new Date();
      return { from, to, bucket: bucketFor(to - from) };
    }
    const r = RANGES.find((x) => x[0] === rangeKey) || RANGES[1];
    const to = new Date();
    return { from: new Date(to - r[2]), to, bucket: r[3] };
  }

  const setQuery = (changes) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) (v === null ? p.delete(k) : p.set(k, v));
    navigate("/" + (p.toString() ? "?" + p : ""));
  };

  // Controls
  const rangeBar = h("div.row", { role: "group", "aria-label": "Time range" },
    ...RANGES.map(([k, label]) => h("button", { type: "button", "aria-pressed": String(k === rangeKey), onclick: () => setQuery({ range: k, from: null, to: null }) }, label)),
  );
  const w0 = window();
  const fromIn = h("input", { type: "datetime-local", value: toLocalInput(w0.from), "aria-label": "Custom range start" });
  const toIn = h("input", { type: "datetime-local", value: toLocalInput(w0.to), "aria-label": "Custom range end" });
  const custom = h("form.row", { onsubmit: (ev) => {
    ev.preventDefault();
    const f = new Date(fromIn.value), t = new Date(toIn.value);
    if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime()) || f >= t) return;
    setQuery({ range: "custom", from: f.toISOString(), to: t.toISOString() });
  } }, h("label", null, "From", fromIn), h("label", null, "To", toIn),
    h("button", { type: "submit", "aria-pressed": String(rangeKey === "custom") }, "Custom range"));
  const splitSel = h("select", { id: "split", onchange: () => setQuery({ split: splitSel.value }) },
    ...SPLITS.map((s) => h("option", { value: s, selected: s === split }, s)));
  const body = h("div", null, loading("statistics"));
  const inflightBox = h("section.panel", { "aria-labelledby": "inflight-h" }, h("h2", { id: "inflight-h" }, "In flight"), loading("requests in flight"));
  main.append(h("h1", null, "Overview"),
    h("div.row", null, rangeBar, custom, h("label", { for: "split" }, "Split tokens and cost by"), splitSel),
    body, inflightBox);

  async function loadInflight() {
    try {
      const r = await api("/stats/inflight");
      if (disposed) return;
      const rows = r.data.map((q) => h("tr", null,
        h("td", null, link("/traces/" + q.id, q.id.slice(0, 8))), h("td", null, q.account || "—"),
        h("td", null, q.provider), h("td", null, q.model || "—"), h("td", null, q.endpoint),
        h("td.num", null, ms(q.elapsed_ms)),
        h("td", null, q.stuck ? h("span.stuck", { title: `in flight for more than ${ms(r.stuck_after_ms)}` }, "stuck") : "")));
      fill(inflightBox, h("h2", { id: "inflight-h" }, "In flight"),
        h("p", null, `${r.count} request(s) in flight`, r.stuck ? h("span.stuck", null, ` — ${r.stuck} stuck (over ${ms(r.stuck_after_ms)})`) : ""),
        rows.length ? h("div.table-wrap", null, h("table", null, h("thead", null, h("tr", null, ...["Trace", "Account", "Provider", "Model", "Endpoint", "Elapsed", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", null, rows))) : null);
    } catch (e) {
      if (!disposed) fill(inflightBox, h("h2", { id: "inflight-h" }, "In flight"), errorBox("requests in flight", e, loadInflight));
    }
  }

  async function load() {
    const w = window();
    const base = { from: w.from.toISOString(), to: w.to.toISOString(), bucket: w.bucket };
    let all, grouped, slowest;
    try {
      [all, grouped, slowest] = await Promise.all([
        api("/stats" + qs(base)),
        api("/stats" + qs({ ...base, group_by: split })),
        api("/stats/slowest" + qs({ from: base.from, to: base.to, limit: 5 })),
      ]);
    } catch (e) {
      if (!disposed) fill(body, errorBox("statistics", e, load));
      ready();
      return;
    }
    if (disposed) return;
    for (const c of charts.splice(0)) c.destroy();
    const secs = BUCKET_SECS[all.bucket] || 60;
    const x = all.buckets.map((b) => Date.parse(b.start) / 1000);
    const g = all.buckets.map((b) => b.groups[0] || null);
    const total = (all.totals && all.totals[0]) || null;
    const requests = total ? total.requests : g.reduce((a, s) => a + (s ? s.requests : 0), 0);
    const spanSecs = Math.max(1, (w.to - w.from) / 1000);
    const cards = h("div.cards", null,
      card("Requests", num(requests)),
      card("Requests/s", (requests / spanSecs).toFixed(requests / spanSecs < 1 ? 3 : 1)),
      card("Error rate", total ? pct(total.error_rate) : "—"),
      card("Duration p50 / p95 / p99", total ? `${ms(total.duration_ms.p50)} / ${ms(total.duration_ms.p95)} / ${ms(total.duration_ms.p99)}` : "—"),
      card("TTFT p50 / p95 / p99", total ? `${ms(total.ttft_ms.p50)} / ${ms(total.ttft_ms.p95)} / ${ms(total.ttft_ms.p99)}` : "—"),
      card("Tokens", total ? num(total.total_tokens) : "—"),
      card("Cost", total ? usd(total.cost_usd) : "—"));
    const val = (f) => g.map((s) => (s ? f(s) : null));
    const zero = (f) => g.map((s) => (s ? f(s) : 0)); // an empty bucket had no request
    const c1 = lineChart("Requests/s", x, [{ label: "req/s", values: zero((s) => s.requests / secs) }], { yFmt: (v) => num(v) });
    const c2 = lineChart("Error rate", x, [{ label: "errors", values: val((s) => s.error_rate * 100) }], { yFmt: (v) => v.toFixed(1) + "%" });
    const c3 = lineChart("Duration", x, ["p50", "p95", "p99"].map((p) => ({ label: p, values: val((s) => s.duration_ms[p]) })), { yFmt: ms });
    const c4 = lineChart("Time to first token", x, ["p50", "p95", "p99"].map((p) => ({ label: p, values: val((s) => s.ttft_ms[p]) })), { yFmt: ms });
    // Tokens and cost per split key: a series per key (the 6 largest, the rest as "other").
    const keys = (grouped.totals || []).slice().sort((a, b) => b.total_tokens - a.total_tokens).map((t) => t.key);
    const top = keys.slice(0, 6);
    const series = (field) => top.map((k) => ({
      label: k ?? "(none)",
      values: grouped.buckets.map((b) => {
        const s = b.groups.find((q) => q.key === k);
        return s ? s[field] : 0;
      }),
    }));
    const c5 = lineChart(`Tokens by ${split}`, x, series("total_tokens"), { bars: false, yFmt: num });
    const c6 = lineChart(`Cost by ${split}`, x, series("cost_usd"), { yFmt: usd });
    charts.push(c1, c2, c3, c4, c5, c6);
    const splitTable = table([split, "Requests", "Errors", "Tokens", "Cost", "p95"], (grouped.totals || []).map((t) => [
      t.key ?? "(none)", num(t.requests), pct(t.error_rate), num(t.total_tokens), usd(t.cost_usd), ms(t.duration_ms.p95)]), [1, 2, 3, 4, 5]);
    splitTable.id = "split-table";
    const slowTable = (title, rows) => h("section.panel", null, h("h3", null, title),
      table(["Name", "Requests", "Errors", "p50", "p95", "p99"], (rows || []).map((r) => [r.key ?? "(none)", num(r.requests), pct(r.error_rate), ms(r.duration_ms.p50), ms(r.duration_ms.p95), ms(r.duration_ms.p99)]), [1, 2, 3, 4, 5]));
    // No request in the range: an empty store gets the first request's curl.
    let empty = null;
    if (requests === 0) {
      try {
        const any = await api("/traces?limit=1&fields=id");
        empty = any.data.length ? h("p.notice", null, "No request in this range.") : firstRequest();
      } catch {
        empty = h("p.notice", null, "No request in this range.");
      }
      if (disposed) return;
    }
    fill(body,
      empty,
      h("p.muted", null, "From ", time(all.from), " to ", time(all.to), `, ${all.bucket} buckets`),
      cards,
      h("div.grid", null, c1.el, c2.el, c3.el, c4.el, c5.el, c6.el),
      h("h2", null, `Tokens and cost by ${split}`), splitTable,
      h("h2", null, "Slowest (by p95 duration)"),
      h("div.grid.wide", null, slowTable("Models", slowest.models), slowTable("Upstreams", slowest.upstreams), slowTable("Endpoints", slowest.endpoints)));
    ready();
  }

  await Promise.all([load(), loadInflight()]);
  if (rangeKey !== "custom") {
    unsubs.push(live.on("trace", () => {
      if (refreshTimer) return;
      refreshTimer = setTimeout(() => { refreshTimer = null; load(); }, 5000);
    }));
  }
  const inflightSoon = () => {
    if (inflightTimer) return;
    inflightTimer = setTimeout(() => { inflightTimer = null; loadInflight(); }, 500);
  };
  unsubs.push(live.on("inflight_start", inflightSoon), live.on("inflight_end", inflightSoon));
  const periodic = setInterval(loadInflight, 10000);
  return () => {
    disposed = true;
    clearTimeout(refreshTimer);
    clearTimeout(inflightTimer);
    clearInterval(periodic);
    for (const u of unsubs) u();
    for (const c of charts) c.destroy();
  };
}

function card(label, value) {
  return h("div.card", null, h("div.label", null, label), h(String(value).length > 12 ? "div.value.small" : "div.value", null, value));
}

/** A plain table: headers, rows of cells, the indexes of numeric columns. */
export function table(headers, rows, numeric = []) {
  return h("div.table-wrap", null, h("table", null,
    h("thead", null, h("tr", null, ...headers.map((t, i) => h(numeric.includes(i) ? "th.num" : "th", { scope: "col" }, t)))),
    h("tbody", null, rows.length ? rows.map((r) => h("tr", null, ...r.map((c, i) => h(numeric.includes(i) ? "td.num" : "td", null, c))))
      : h("tr", null, h("td.muted", { colSpan: headers.length }, "Nothing in this range")))));
}
