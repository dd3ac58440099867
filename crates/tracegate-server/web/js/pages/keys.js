// Virtual keys (admins only): issue, list, revoke. A new key's text is shown once.
import { api } from "../api.js";
import { h, fill, errorBox, loading, time, num, usd } from "../dom.js";

export default async function keys(ctx) {
  const { main, ready, session } = ctx;
  main.append(h("h1", null, "Keys"));
  if (session.principal !== "admin") {
    main.append(h("p", null, "Only an admin manages keys."));
    ready();
    return null;
  }
  let disposed = false;
  const issued = h("div", { role: "status", "aria-live": "polite" });
  const listBox = h("div", { id: "keys-list" }, loading("keys"));
  const field = (id, label, attrs = {}) => h("label.stack", { for: id }, label, h("input", { id, name: id, ...attrs }));
  const form = h("form.panel", { id: "key-form", onsubmit: (ev) => create(ev) },
    h("h2", null, "Issue a key"),
    h("div.row", null,
      field("k-account", "Account (required)", { type: "text", required: true, size: 16 }),
      field("k-name", "Name", { type: "text", size: 16 }),
      field("k-models", "Models (globs, comma-separated)", { type: "text", size: 24 }),
      h("label.stack", { for: "k-scope" }, "Scope", h("select", { id: "k-scope" }, ...["proxy", "read", "proxy,read"].map((s) => h("option", { value: s }, s)))),
      field("k-expires", "Expires", { type: "date" })),
    h("div.row", null,
      field("k-rpm", "Requests/min", { type: "number", min: 1, step: 1 }),
      field("k-tpm", "Tokens/min", { type: "number", min: 1, step: 1 }),
      field("k-5h", "Tokens per 5 h", { type: "number", min: 1, step: 1 }),
      field("k-day", "Budget $/day", { type: "number", min: 0, step: "any" }),
      field("k-month", "Budget $/month", { type: "number", min: 0, step: "any" })),
    h("div.row", null, h("button.primary", { type: "submit" }, "Issue key")));
  main.append(issued, form, h("h2", null, "Keys"), listBox);

  const val = (id) => document.getElementById(id).value.trim();
  const numVal = (id) => (val(id) === "" ? undefined : Number(val(id)));

  async function create(ev) {
    ev.preventDefault();
    const body = {
      account: val("k-account"), name: val("k-name") || undefined,
      models: val("k-models") ? val("k-models").split(",").map((s) => s.trim()).filter(Boolean) : undefined,
      scope: val("k-scope"), expires: val("k-expires") || undefined,
      rpm: numVal("k-rpm"), tpm: numVal("k-tpm"), tokens_per_5h: numVal("k-5h"),
      budget_usd_day: numVal("k-day"), budget_usd_month: numVal("k-month"),
    };
    try {
      const k = await api("/keys", { method: "POST", body });
      fill(issued, h("div.once", { id: "issued-key" }, h("strong", null, `Key for ${k.account} issued. Copy it now: it is not shown again.`),
        h("pre", null, k.key)));
      form.reset();
      await loadList();
    } catch (e) {
      fill(issued, errorBox("a new key", e, null));
    }
  }

  async function revoke(k) {
    if (!window.confirm(`Revoke key ${k.prefix} of ${k.account}? Clients using it are refused at once.`)) return;
    try {
      await api("/keys/" + encodeURIComponent(k.id), { method: "DELETE" });
      await loadList();
    } catch (e) {
      fill(issued, errorBox(`the revocation of key ${k.prefix}`, e, () => revoke(k)));
    }
  }

  async function loadList() {
    try {
      const list = await api("/keys");
      if (disposed) return;
      const limits = (l) => [l.rpm && `${num(l.rpm)} rpm`, l.tpm && `${num(l.tpm)} tpm`, l.tokens_per_5h && `${num(l.tokens_per_5h)} tok/5h`,
        l.budget_usd_day && `${usd(l.budget_usd_day)}/day`, l.budget_usd_month && `${usd(l.budget_usd_month)}/month`].filter(Boolean).join(", ") || "—";
      const scopes = (s) => (Array.isArray(s) ? s.join(",") : typeof s === "object" && s ? Object.entries(s).filter(([, v]) => v).map(([k]) => k).join(",") : String(s ?? ""));
      fill(listBox, list.length ? h("div.table-wrap", null, h("table", { id: "keys" },
        h("thead", null, h("tr", null, ...["Prefix", "Account", "Name", "Scopes", "Models", "Limits", "Created", "Expires", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, ...list.map((k) => h("tr", { dataset: { id: k.id } },
          h("td", null, h("code", null, `tg-${k.prefix}…`)), h("td", null, k.account), h("td", null, k.name || "—"),
          h("td", null, scopes(k.scopes)), h("td", null, (k.models || []).join(", ") || "all"), h("td", null, limits(k.limits || {})),
          h("td", null, time(k.created_at)), h("td", null, k.expires_at ? time(k.expires_at) : "never"),
          h("td", null, k.revoked_at ? h("span.badge.bad", null, "revoked") : h("span.badge.ok", null, "active")),
          h("td", null, k.revoked_at ? time(k.revoked_at) : h("button.danger", { type: "button", "aria-label": `Revoke key ${k.prefix} of ${k.account}`, onclick: () => revoke(k) }, "Revoke"))))))) : h("p.muted", null, "No key yet."));
    } catch (e) {
      if (!disposed) fill(listBox, errorBox("keys", e, loadList));
    }
  }
  await loadList();
  ready();
  return () => { disposed = true; };
}
