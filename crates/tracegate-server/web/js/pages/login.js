// Log-in: the token is sent once to POST /api/v1/session, which answers with an HttpOnly
// cookie; the page keeps nothing.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { afterLogin } from "../app.js";

export default async function login(ctx) {
  const { main, query, ready, session } = ctx;
  const next = query.get("next") || "/";
  if (!session.auth_required || session.principal) {
    main.append(h("h1", null, "Log in"), h("p", null, session.auth_required ? "You are logged in. " : "This gateway needs no log-in. ", h("a", { href: "/" }, "Go to the overview")));
    ready();
    return null;
  }
  const msg = h("div", { role: "alert", id: "login-error" });
  const token = h("input", { type: "password", id: "token", name: "token", autocomplete: "current-password", required: true });
  const form = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    fill(msg);
    try {
      await api("/session", { method: "POST", body: { token: token.value }, quiet401: true });
      token.value = "";
      afterLogin(next);
    } catch (e) {
      token.value = "";
      fill(msg, h("div.error-box", null, h("strong", null, e.status === 401 || e.status === 403 ? "This token is not accepted." : "Could not log in"), h("p", null, e.message)));
      token.focus();
    }
  } },
  h("label.stack", { for: "token" }, "Admin token or read key", token),
  h("button.primary", { type: "submit", id: "login-submit" }, "Log in"), msg);
  main.append(h("div.login.panel", null, h("h1", null, "Log in to tracegate"), form));
  token.focus();
  ready();
  return null;
}
