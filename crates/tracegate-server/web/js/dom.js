// Small DOM and formatting helpers. Never builds HTML from strings: every text goes
// through textContent, so trace contents cannot inject markup.

/** h("tag.class", {attr: v, onclick: f}, ...children) */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className += (el.className ? " " : "") + v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "text") el.textContent = v;
      else if (k in el && typeof v !== "string") el[k] = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

const dtf = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** A <time> in the browser's zone, UTC in its title. */
export function time(iso) {
  if (!iso) return h("span.muted", null, "—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", null, String(iso));
  return h("time", { datetime: d.toISOString(), title: d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") }, dtf.format(d));
}

export function ms(v) {
  if (v === null || v === undefined) return "—";
  if (v >= 10000) return (v / 1000).toFixed(1) + " s";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  return v.toFixed(v < 10 ? 1 : 0) + " ms";
}

export function usd(v) {
  if (v === null || v === undefined) return "—";
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.01) return "$" + v.toFixed(5);
  return "$" + v.toFixed(2);
}

export function num(v) {
  if (v === null || v === undefined) return "—";
  if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function pct(v) {
  if (v === null || v === undefined) return "—";
  return (v * 100).toFixed(v < 0.1 ? 2 : 1) + "%";
}

export function outcomeBadge(outcome, status) {
  const cls = outcome === "ok" || outcome === "cache_hit" ? "ok" : outcome === "cancelled" || outcome === "client_error" ? "warn" : "bad";
  return h(`span.badge.${cls}`, { title: status ? `HTTP ${status}` : undefined }, outcome || "—");
}

/** An error panel that says what failed, with a Retry button. */
export function errorBox(what, err, retry) {
  const detail = err && err.message ? err.message : String(err);
  const status = err && err.status ? ` (HTTP ${err.status}${err.kind ? ", " + err.kind : ""})` : "";
  return h("div.error-box", { role: "alert" },
    h("strong", null, `Could not load ${what}`), status,
    h("p", null, detail),
    err && err.url ? h("p.muted", null, "Request: ", h("code", null, err.url)) : null,
    retry ? h("button", { type: "button", class: "retry", onclick: retry }, "Retry") : null);
}

export function loading(what) {
  return h("p.spinner", { role: "status" }, `Loading ${what}…`);
}

/** The curl that sends a first request through this gateway. */
export function firstRequest() {
  const origin = location.origin;
  return h("div.notice", null,
    h("h2", null, "No traces yet"),
    h("p", null, "Send a first request through the gateway and it appears here:"),
    h("pre", null, `curl ${origin}/v1/messages \\
  -H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" \\
  -H "content-type: application/json" \\
  -d '{"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]}'`),
    h("p.muted", null, "Or point a client at it: ANTHROPIC_BASE_URL=", origin, " (OpenAI: OPENAI_BASE_URL=", origin, "/v1). ",
      "No key at hand? ", h("code", null, "tracegate demo"), " fills a store with sample traffic."));
}

export function link(href, ...children) {
  return h("a", { href }, ...children);
}

export function shortId(id) {
  return id ? id.slice(0, 8) + "…" + id.slice(-4) : "—";
}

/** Replaces an element's children (null and false children are skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
