// Conversations, most recent activity first, a page at a time.
import { api, qs } from "../api.js";
import { h, fill, errorBox, loading, usd, num, time, outcomeBadge, link, firstRequest } from "../dom.js";

export default async function conversations(ctx) {
  const { main, query, navigate, ready } = ctx;
  const account = query.get("account") || "";
  let cursor = null;
  let disposed = false;
  const acct = h("input", { type: "text", id: "conv-account", value: account, size: 16 });
  const tbody = h("tbody");
  const status = h("div", { role: "status" });
  const more = h("button", { type: "button", id: "load-more", hidden: true, onclick: () => load() }, "Load more");
  main.append(h("h1", null, "Conversations"),
    h("form.row", { onsubmit: (ev) => { ev.preventDefault(); navigate("/conversations" + qs({ account: acct.value.trim() })); } },
      h("label", { for: "conv-account" }, "Account"), acct, h("button", { type: "submit" }, "Show")),
    h("div.table-wrap", null, h("table", { id: "conversations" },
      h("thead", null, h("tr", null, ...["Last activity", "Account", "Requests", "Branches", "Tokens", "Cost", "Models", "Latest", "Started"].map((t, i) => h([2, 3, 4, 5].includes(i) ? "th.num" : "th", { scope: "col" }, t)))),
      tbody)), status, more);

  async function load(first = false) {
    fill(status, loading("conversations"));
    try {
      const page = await api("/conversations" + qs({ account, limit: 50, cursor }));
      if (disposed) return;
      fill(status);
      const frag = document.createDocumentFragment();
      for (const c of page.data) {
        frag.append(h("tr", { dataset: { id: c.id } },
          h("td", null, link("/conversations/" + c.id, time(c.last_ts))), h("td", null, c.account || "—"),
          h("td.num", null, num(c.requests)), h("td.num", null, num(c.branches)),
          h("td.num", null, num((c.input_tokens || 0) + (c.output_tokens || 0) + (c.cache_read_tokens || 0) + (c.cache_write_tokens || 0))),
          h("td.num", null, usd(c.cost_usd)), h("td", null, (c.models || []).join(", ")),
          h("td", null, c.latest_trace ? link("/traces/" + c.latest_trace.id, outcomeBadge(c.latest_trace.outcome, c.latest_trace.status)) : "—"),
          h("td", null, time(c.first_ts))));
      }
      tbody.append(frag);
      cursor = page.next_cursor || null;
      more.hidden = !cursor || page.data.length === 0;
      if (first && !page.data.length) status.append(account ? h("p.muted", null, "No conversation for this account.") : firstRequest());
    } catch (e) {
      if (!disposed) fill(status, errorBox("conversations", e, () => load(first)));
    }
  }
  await load(true);
  ready();
  return () => { disposed = true; };
}
