// The live feed: /api/v1/live (Server-Sent Events). Pages subscribe to `trace`,
// `inflight_start`, `inflight_end` and `lagged`. Where the gateway has no live feed, new
// traces are found by polling the newest ones instead.
import { api } from "./api.js";

const listeners = new Map();
let source = null;
let pollTimer = null;
let seen = new Set();
let stateEl = null;

export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event).delete(fn);
}

function emit(event, data) {
  for (const fn of listeners.get(event) || []) {
    try {
      fn(data);
    } catch (e) {
      console.warn("live listener failed", e);
    }
  }
}

function setState(text, on) {
  if (!stateEl) return;
  stateEl.textContent = text;
  stateEl.classList.toggle("on", on);
}

export function start(el) {
  stateEl = el;
  if (source || pollTimer) return;
  connect();
}

export function stop() {
  if (source) source.close();
  source = null;
  clearInterval(pollTimer);
  pollTimer = null;
  setState("offline", false);
}

function connect() {
  let opened = false;
  source = new EventSource("/api/v1/live", { withCredentials: true });
  source.addEventListener("open", () => {
    opened = true;
    setState("live", true);
  });
  for (const name of ["trace", "inflight_start", "inflight_end", "lagged"]) {
    source.addEventListener(name, (ev) => {
      let data = null;
      try {
        data = ev.data ? JSON.parse(ev.data) : null;
      } catch {
        data = null;
      }
      emit(name, data);
    });
  }
  source.addEventListener("error", () => {
    if (source && source.readyState === EventSource.CLOSED) {
      source = null;
      if (!opened) startPolling();
      else {
        setState("reconnecting", false);
        setTimeout(connect, 3000);
      }
    } else {
      setState("reconnecting", false);
    }
  });
}

// Fallback: the newest traces every few seconds, each id emitted once.
async function poll(first) {
  try {
    const page = await api("/traces?limit=50&fields=id,started_at,account,provider,model,upstream,endpoint,status,outcome,duration_ms,ttft_ms,total_tokens,cost_usd", { quiet401: true });
    const fresh = [];
    for (const t of page.data) if (!seen.has(t.id)) fresh.push(t);
    for (const t of page.data) seen.add(t.id);
    if (seen.size > 5000) seen = new Set(page.data.map((t) => t.id));
    if (!first) for (const t of fresh.reverse()) emit("trace", { ...t, time: t.started_at, tokens: t.total_tokens });
    setState("polling", true);
  } catch {
    setState("offline", false);
  }
}

function startPolling() {
  if (pollTimer) return;
  poll(true);
  pollTimer = setInterval(() => poll(false), 2000);
}

/** A live `trace` event as a trace row (the summary names some fields differently). */
export function asTrace(ev) {
  return {
    ...ev,
    started_at: ev.started_at || ev.time,
    total_tokens: ev.total_tokens ?? tokenSum(ev.tokens),
  };
}

/** The live summary's `tokens` ({input_tokens, output_tokens, ...}) as one total. */
function tokenSum(tokens) {
  if (typeof tokens === "number") return tokens;
  if (!tokens || typeof tokens !== "object") return null;
  if (typeof tokens.total_tokens === "number") return tokens.total_tokens;
  let sum = 0;
  for (const k of ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]) sum += tokens[k] || 0;
  return sum;
}
