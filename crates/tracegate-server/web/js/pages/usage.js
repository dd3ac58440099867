// Usage: each account's 5-hour window against its allowance (the smallest `tokens_per_5h` of
// its live keys, where one is set), 30 days of daily tokens, and the accounts ranked.
import { api, qs } from "../api.js";
import { h, fill, errorBox, loading, usd, num, pct, time, link, firstRequest } from "../dom.js";
import { lineChart } from "../chart.js";

async function allowances(session) {
  const out = new Map();
  if (session.principal !== "admin") return out;
  try {
    const keys = await api("/keys");
    for (const k of keys || []) {
      if (k.revoked_at || (k.expires_at && Date.parse(k.expires_at) < Date.now())) continue;
      const lim = k.limits && k.limits.tokens_per_5h;
      if (lim) out.set(k.account, Math.min(out.get(k.account) ?? Infinity, lim));
    }
  } catch (e) {
    console.warn("keys unavailable for allowances", e.message);
  }
  return out;
}

function gauge(used, allowance) {
  if (!allowance) return h("span.muted", null, "no allowance set");
  const ratio = used / allowance;
  const bar = h("span", { class: ratio >= 1 ? "bad" : ratio >= 0.8 ? "warn" : "" });
  bar.style.width = `${Math.min(100, ratio * 100)}%`;
  return h("div.row", null,
    h("div.gauge", { role: "meter", "aria-valuemin": "0", "aria-valuemax": String(allowance), "aria-valuenow": String(used), "aria-label": "5-hour window used", title: `${num(used)} of ${num(allowance)} tokens` }, bar),
    `${pct(ratio)} of ${num(allowance)}`);
}

export default async function usage(ctx) {
  const { main, query, navigate, ready, session } = ctx;
  const account = query.get("account") || "";
  const charts = [];
  let disposed = false;
  const body = h("div", null, loading("usage"));
  main.append(h("h1", null, "Usage"), body);

  async function load() {
    fill(body, loading("usage"));
    let ranking, daily, allow;
    try {
      [ranking, daily, allow] = await Promise.all([
        api("/usage/accounts" + qs({ window: "5h" })),
        api("/usage/daily" + qs({ days: 30, account })),
        allowances(session),
      ]);
    } catch (e) {
      if (!disposed) fill(body, errorBox("usage", e, load));
      ready();
      return;
    }
    if (disposed) return;
    for (const c of charts.splice(0)) c.destroy();
    const sel = h("select", { id: "usage-account", onchange: () => navigate("/usage" + qs({ account: sel.value })) },
      h("option", { value: "" }, "all accounts"),
      ...ranking.data.map((a) => h("option", { value: a.account ?? "", selected: a.account === account }, a.account ?? "(none)")));
    if (account && !ranking.data.some((a) => a.account === account)) sel.append(h("option", { value: account, selected: true }, account));
    const x = daily.buckets.map((b) => Date.parse(b.start) / 1000);
    const bars = lineChart(`Tokens per day (UTC), ${account || "all accounts"}`, x, [{ label: "tokens", values: daily.buckets.map((b) => b.total_tokens) }], { bars: true, yFmt: num });
    const cost = lineChart(`Cost per day (UTC), ${account || "all accounts"}`, x, [{ label: "cost", values: daily.buckets.map((b) => b.cost_usd) }], { bars: true, yFmt: usd });
    charts.push(bars, cost);
    const rows = ranking.data.map((a, i) => h("tr", { dataset: { account: a.account ?? "" } },
      h("td.num", null, String(i + 1)),
      h("td", null, a.account ? link("/usage" + qs({ account: a.account }), a.account) : "(none)"),
      h("td", null, gauge(a.total_tokens, allow.get(a.account))),
      h("td.num", null, num(a.requests)), h("td.num", null, num(a.input_tokens)), h("td.num", null, num(a.output_tokens)),
      h("td.num", null, num(a.total_tokens)), h("td.num", null, usd(a.cost_usd)),
      h("td", null, a.account ? link("/traces?filter=" + encodeURIComponent(JSON.stringify({ field: "account", op: "eq", value: a.account })), "traces") : "")));
    fill(body,
      ranking.data.length === 0 && daily.totals.requests === 0 ? firstRequest() : null,
      h("h2", null, "5-hour window"),
      h("p.muted", null, "From ", time(ranking.from), " to ", time(ranking.to), ". Allowance: the account's virtual keys' tokens_per_5h limit, where one is set."),
      h("div.table-wrap", null, h("table", { id: "accounts" },
        h("thead", null, h("tr", null, ...["#", "Account", "Window used", "Requests", "Input", "Output", "Tokens", "Cost", ""].map((t, i) => h(i === 0 || (i >= 3 && i <= 7) ? "th.num" : "th", { scope: "col" }, t)))),
        h("tbody", null, rows.length ? rows : h("tr", null, h("td.muted", { colSpan: 9 }, "No account active in the last 5 hours"))))),
      h("h2", null, "Last 30 days"),
      h("div.row", null, h("label", { for: "usage-account" }, "Account"), sel,
        h("span.muted", null, `${num(daily.totals.requests)} requests, ${num(daily.totals.total_tokens)} tokens, ${usd(daily.totals.cost_usd)}`)),
      h("div.grid", null, bars.el, cost.el),
      h("h3", null, "By model"),
      h("div.table-wrap", null, h("table", null,
        h("thead", null, h("tr", null, ...["Model", "Requests", "Tokens", "Cost"].map((t, i) => h(i ? "th.num" : "th", { scope: "col" }, t)))),
        h("tbody", null, (daily.by_model || []).map((m) => h("tr", null, h("td", null, m.model ?? "(none)"), h("td.num", null, num(m.requests)), h("td.num", null, num(m.total_tokens)), h("td.num", null, usd(m.cost_usd))))))));
    ready();
  }
  await load();
  return () => {
    disposed = true;
    for (const c of charts) c.destroy();
  };
}
