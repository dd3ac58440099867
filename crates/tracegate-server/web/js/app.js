// The dashboard's entry: session check, routing by the History API, the live feed.
import { api, setUnauthorizedHandler } from "./api.js";
import { h, clear, fill, errorBox } from "./dom.js";
import * as live from "./live.js";

const routes = [
  [/^\/$/, () => import("./pages/overview.js")],
  [/^\/traces$/, () => import("./pages/traces.js")],
  [/^\/traces\/([^/]+)$/, () => import("./pages/trace.js")],
  [/^\/conversations$/, () => import("./pages/conversations.js")],
  [/^\/conversations\/([^/]+)$/, () => import("./pages/conversation.js")],
  [/^\/usage$/, () => import("./pages/usage.js")],
  [/^\/alerts$/, () => import("./pages/alerts.js")],
  [/^\/keys$/, () => import("./pages/keys.js")],
  [/^\/login$/, () => import("./pages/login.js")],
];

export const session = { auth_required: false, principal: "admin", account: null, known: false };
let current = null; // the page's cleanup
let navSeq = 0;

/** Loads the session; a gateway without the session route is open (no log-in). */
async function loadSession() {
  try {
    const s = await api("/session", { quiet401: true });
    Object.assign(session, s, { known: true });
    // The open API (no admin token, on loopback) answers everything as the admin would.
    if (!session.auth_required && !session.principal) session.principal = "admin";
  } catch (e) {
    if (e.status === 404 || e.status === 405) Object.assign(session, { auth_required: false, principal: "admin", known: true });
    else if (e.status === 401) Object.assign(session, { auth_required: true, principal: null, known: true });
    else throw e;
  }
}

function loggedIn() {
  return !session.auth_required || !!session.principal;
}

function updateChrome() {
  // A read key's holder sees its own account's traces and usage; the rest is the admin's.
  document.getElementById("nav-keys").hidden = session.principal !== "admin";
  document.getElementById("nav-alerts").hidden = session.principal !== "admin";
  document.getElementById("logout").hidden = !(session.auth_required && session.principal);
  const path = location.pathname;
  for (const a of document.querySelectorAll("#nav a")) {
    const href = a.getAttribute("href");
    const active = href === "/" ? path === "/" : path === href || path.startsWith(href + "/");
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

/** Marks the first view of the page rendered (tests and benchmarks wait for it). */
export function ready() {
  if (document.body.dataset.ready !== "1") performance.mark("tracegate-ready");
  document.body.dataset.ready = "1";
}

async function render() {
  const seq = ++navSeq;
  document.body.dataset.ready = "0";
  if (current) {
    try {
      current();
    } catch (e) {
      console.warn(e);
    }
    current = null;
  }
  const main = document.getElementById("main");
  let path = location.pathname.replace(/\/+$/, "") || "/";
  if (!session.known) {
    try {
      await loadSession();
    } catch (e) {
      fill(main, errorBox("the session", e, () => render()));
      ready();
      return;
    }
  }
  if (!loggedIn() && path !== "/login") {
    history.replaceState(null, "", "/login?next=" + encodeURIComponent(location.pathname + location.search));
    path = "/login";
  }
  if (loggedIn()) live.start(document.getElementById("live-state"));
  else live.stop();
  updateChrome();
  for (const [re, load] of routes) {
    const m = path.match(re);
    if (!m) continue;
    let mod;
    try {
      mod = await load();
    } catch (e) {
      fill(main, errorBox("the page's code", e, () => render()));
      ready();
      return;
    }
    if (seq !== navSeq) return;
    clear(main);
    const ctx = { main, params: m.slice(1).map(decodeURIComponent), query: new URLSearchParams(location.search), session, navigate, ready, stale: () => seq !== navSeq };
    try {
      current = (await mod.default(ctx)) || null;
    } catch (e) {
      console.error(e);
      fill(main, errorBox("this page", e, () => render()));
      ready();
    }
    return;
  }
  fill(main, h("h1", null, "Not found"), h("p", null, "No page at ", h("code", null, path), ". ", h("a", { href: "/" }, "Overview")));
  ready();
}

export async function logout() {
  try {
    await api("/session", { method: "DELETE", quiet401: true });
  } catch (e) {
    console.warn("log-out failed", e);
  }
  Object.assign(session, { principal: null, account: null, auth_required: true, known: false });
  live.stop();
  navigate("/login");
}

export function afterLogin(next) {
  session.known = false;
  navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
}

setUnauthorizedHandler(() => {
  if (location.pathname === "/login") return;
  session.known = false;
  session.principal = null;
  navigate("/login?next=" + encodeURIComponent(location.pathname + location.search), { replace: true });
});

// Same-origin links are routed here; modified clicks open as usual.
document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/ui/")) return;
  if (a.getAttribute("href").startsWith("#")) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
  document.getElementById("main").focus({ preventScroll: true });
});
window.addEventListener("popstate", () => render());
document.getElementById("logout").addEventListener("click", logout);
render();
