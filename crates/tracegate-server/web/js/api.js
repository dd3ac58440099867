// Calls to /api/v1. Same-origin cookies carry the session; no token is kept in the page.

export class ApiError extends Error {
  constructor(message, status, kind, url) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.url = url;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

const TIMEOUT_MS = 30000;

export async function api(path, { method = "GET", body, signal, quiet401 = false } = {}) {
  const url = "/api/v1" + path;
  // A call that never answers ends as an error (with Retry), never as an endless spinner.
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" }, signal: signal || AbortSignal.timeout(TIMEOUT_MS) };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === "TimeoutError") throw new ApiError(`no answer within ${TIMEOUT_MS / 1000} s`, 0, "timeout", `${method} ${url}`);
    if (e.name === "AbortError") throw e;
    throw new ApiError(`the gateway did not answer (${e.message})`, 0, "network", `${method} ${url}`);
  }
  if (res.status === 204) return null;
  let text;
  try {
    text = await res.text();
  } catch (e) {
    throw new ApiError(`the answer was cut off (${e.message})`, res.status, e.name === "TimeoutError" ? "timeout" : "network", `${method} ${url}`);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    if (res.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(err.message || `${res.status} ${res.statusText}`, res.status, err.kind, `${method} ${url}`);
  }
  return data;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}
