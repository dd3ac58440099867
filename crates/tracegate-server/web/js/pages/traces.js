// Traces: the filter builder, full-text search, sortable columns, infinite scroll by cursor.
// The URL carries the whole query; new traces arrive from the live feed.
import { api } from "../api.js";
import { h, clear, fill, errorBox, loading, ms, usd, num, time, outcomeBadge, firstRequest, link } from "../dom.js";
import { filterBuilder, flatten } from "../filter.js";
import * as live from "../live.js";

const FIELDS = ["id", "started_at", "account", "provider", "upstream", "model", "endpoint", "status", "outcome", "duration_ms", "ttft_ms", "total_tokens", "cost_usd"];
const COLUMNS = [
  ["started_at", "Time", "ts"], ["account", "Account"], ["provider", "Provider"], ["model", "Model"], ["endpoint", "Endpoint"],
  ["status", "Status"], ["outcome", "Outcome"], ["duration_ms", "Duration", "duration_ms"], ["ttft_ms", "TTFT", "ttft_ms"],
  ["total_tokens", "Tokens", "total_tokens"], ["cost_usd", "Cost", "cost_usd"],
];
const NUM = new Set(["status", "duration_ms", "ttft_ms", "total_tokens", "cost_usd"]);

function parseFilter(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Whether a live trace matches a flat filter; undefined when it cannot be told here. */
function matches(t, tree) {
  if (!tree) return true;
  const flat = flatten(tree);
  if (!flat) return undefined;
  const test = (l) => {
    if (!(l.field in t)) return undefined;
    const v = t[l.field];
    switch (l.op) {
      case "eq": return v === l.value;
      case "ne": return v !== l.value;
      case "gt": return v > l.value;
      case "gte": return v >= l.value;
      case "lt": return v < l.value;
      case "lte": return v <= l.value;
      case "in": return l.value.includes(v);
      case "not_in": return !l.value.includes(v);
      case "contains": return typeof v === "string" && v.includes(l.value);
      case "starts_with": return typeof v === "string" && v.startsWith(l.value);
      case "exists": return (v !== null && v !== undefined) === l.value;
      default: return undefined;
    }
  };
  const results = flat.leaves.map(test);
  if (results.includes(undefined)) return undefined;
  return flat.join === "and" ? results.every(Boolean) : results.some(Boolean);
}

export function traceRow(t, fresh = false) {
  const cells = COLUMNS.map(([f]) => {
    const v = t[f];
    let c;
    if (f === "started_at") c = link("/traces/" + t.id, time(v));
    else if (f === "outcome") c = outcomeBadge(v, t.status);
    else if (f === "duration_ms" || f === "ttft_ms") c = ms(v);
    else if (f === "cost_usd") c = usd(v);
    else if (f === "total_tokens") c = num(v);
    else c = v ?? "—";
    return h(NUM.has(f) ? "td.num" : "td", null, c);
  });
  return h(fresh ? "tr.fresh" : "tr", { dataset: { id: t.id } }, ...cells);
}

export default async function traces(ctx) {
  const { main, query, navigate, ready } = ctx;
  const filter = parseFilter(query.get("filter"));
  const q = query.get("q") || "";
  const sort = query.get("sort") || "ts";
  const order = query.get("order") || "desc";
  let cursor = null;
  let loadingMore = false;
  let disposed = false;
  let pending = 0;

  const go = (changes) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) (v === null || v === "" ? p.delete(k) : p.set(k, v));
    navigate("/traces" + (p.toString() ? "?" + p : ""));
  };

  const builder = filterBuilder(filter, (tree) => go({ filter: tree ? JSON.stringify(tree) : null, q: search.value.trim() }));
  const search = h("input", { type: "search", id: "q", value: q, placeholder: 'words, "exact phrase", prefix*', size: 40 });
  const form = h("form.panel", { role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const tree = builder.read();
    go({ filter: tree ? JSON.stringify(tree) : null, q: search.value.trim() });
  } },
  h("div.row", null, h("label", { for: "q" }, "Full-text search"), search,
    h("button.primary", { type: "submit", id: "apply" }, "Search"),
    h("button", { type: "button", onclick: () => navigate("/traces") }, "Clear")),
  builder.el);

  const tbody = h("tbody");
  const head = h("tr", null, ...COLUMNS.map(([f, label, sortKey]) => {
    const th = h(NUM.has(f) ? "th.num" : "th", { scope: "col" });
    if (!sortKey) return append(th, label);
    const active = sortKey === sort;
    th.setAttribute("aria-sort", active ? (order === "asc" ? "ascending" : "descending") : "none");
    th.append(h("button", { type: "button", title: `Sort by ${label}`, onclick: () => go({ sort: sortKey, order: active && order === "desc" ? "asc" : "desc", cursor: null }) },
      label, active ? (order === "asc" ? " ▲" : " ▼") : ""));
    return th;
  }));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const newBanner = h("div.notice.hidden", null);
  const more = h("button", { type: "button", id: "load-more", hidden: true, onclick: () => loadMore() }, "Load more");
  const sentinel = h("div.sentinel");
  const tableBox = h("div", null, h("div.table-wrap", null, h("table", { id: "traces" }, h("thead", null, head), tbody)), more, sentinel);
  main.append(h("h1", null, "Traces"), form, newBanner, status, tableBox);

  const body = () => ({ filter: filter || undefined, q: q || undefined, sort, order, cursor: cursor || undefined, limit: 50, fields: FIELDS });

  async function loadMore(first = false) {
    if (loadingMore || (!first && !cursor)) return;
    loadingMore = true;
    fill(status, loading(first ? "traces" : "more traces"));
    try {
      const page = await api("/traces/search", { method: "POST", body: body() });
      if (disposed) return;
      clear(status);
      const frag = document.createDocumentFragment();
      for (const t of page.data) frag.append(traceRow(t));
      tbody.append(frag);
      cursor = page.has_more ? page.next_cursor : null;
      more.hidden = !cursor;
      if (first && !page.data.length) {
        if (!filter && !q) status.append(firstRequest());
        else status.append(h("p.muted", { id: "no-match" }, "No trace matches this search."));
      }
      status.append(h("p.muted.small", null, `${tbody.rows.length} trace(s) shown${cursor ? ", more below" : ""} · ${page.took_ms?.toFixed?.(1) ?? "?"} ms`));
    } catch (e) {
      if (disposed) return;
      fill(status, errorBox("traces", e, () => loadMore(first)));
    } finally {
      loadingMore = false;
    }
  }

  await loadMore(true);
  ready();

  const io = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor) loadMore();
  }, { rootMargin: "400px" });
  io.observe(sentinel);

  const unsub = live.on("trace", (ev) => {
    const t = live.asTrace(ev);
    if (!t || !t.id || tbody.querySelector(`tr[data-id="${CSS.escape(t.id)}"]`)) return;
    const m = q ? undefined : matches(t, filter);
    if (m === false) return;
    if (m === true && sort === "ts" && order === "desc") {
      document.getElementById("no-match")?.remove();
      status.querySelector(".notice")?.remove();
      tbody.prepend(traceRow(t, true));
      return;
    }
    pending += 1;
    fill(newBanner, `${pending} new trace(s) since this search ran. `,
      h("button", { type: "button", onclick: () => navigate(location.pathname + location.search, { replace: true }) }, "Show"));
    newBanner.classList.remove("hidden");
  });
  // The feed dropped events for this client: the table may miss some; offer a refresh.
  const unsubLag = live.on("lagged", () => {
    fill(newBanner, "Some live traces were missed. ",
      h("button", { type: "button", onclick: () => navigate(location.pathname + location.search, { replace: true }) }, "Refresh"));
    newBanner.classList.remove("hidden");
  });
  return () => {
    disposed = true;
    io.disconnect();
    unsub();
    unsubLag();
  };
}

function append(el, ...c) {
  el.append(...c);
  return el;
}
