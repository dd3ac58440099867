// Alerts and diagnostics: firing alerts, then the diagnostics report's findings, each with
// its severity, evidence and recommendation.
import { api, qs } from "../api.js";
import { h, fill, errorBox, loading, ms, time } from "../dom.js";

const SINCE = ["15m", "1h", "6h", "24h", "7d"];

function finding(f) {
  return h("li.panel", { dataset: { severity: f.severity } },
    h("div.row", null, h(`strong.sev-${f.severity}`, null, f.severity), h("span.muted", null, f.section), h("strong", null, f.finding)),
    f.evidence && f.evidence.length ? h("ul", null, ...f.evidence.map((e) => h("li", null, e))) : null,
    f.recommendation ? h("p", null, h("em", null, "Recommendation: "), f.recommendation) : null);
}

function alertItem(a, resolved) {
  return h("li.panel", { dataset: { severity: a.severity } },
    h("div.row", null, h(`strong.sev-${a.severity}`, null, a.severity || ""), h("strong", null, String(a.rule || a.id || "alert")),
      a.labels ? h("span.muted", null, Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(" ")) : null,
      a.since || a.started_at ? ["since ", time(a.since || a.started_at)] : null, resolved && a.resolved_at ? ["resolved ", time(a.resolved_at)] : null),
    a.summary || a.message || a.finding ? h("p", null, a.summary || a.message || a.finding) : null,
    a.value !== undefined ? h("p.muted", null, `value ${JSON.stringify(a.value)}${a.threshold !== undefined ? `, threshold ${JSON.stringify(a.threshold)}` : ""}`) : null,
    a.recommendation || a.runbook ? h("p", null, h("em", null, "Recommendation: "), a.recommendation || a.runbook) : null);
}

export default async function alerts(ctx) {
  const { main, query, navigate, ready, session } = ctx;
  if (session.principal !== "admin") {
    main.append(h("h1", null, "Alerts and diagnostics"), h("p", null, "Only an admin sees the gateway's alerts and diagnostics."));
    ready();
    return null;
  }
  const since = SINCE.includes(query.get("since")) ? query.get("since") : "1h";
  let disposed = false;
  const alertsBox = h("section", { id: "alerts" }, loading("alerts"));
  const diagBox = h("section", { id: "diagnostics" }, loading("diagnostics"));
  const sel = h("select", { id: "diag-since", onchange: () => navigate("/alerts" + qs({ since: sel.value })) }, ...SINCE.map((s) => h("option", { value: s, selected: s === since }, s)));
  main.append(h("h1", null, "Alerts and diagnostics"), alertsBox,
    h("div.row", null, h("h2", null, "Diagnostics"), h("label", { for: "diag-since" }, "over the last"), sel), diagBox);

  async function loadAlerts() {
    try {
      const a = await api("/alerts");
      if (disposed) return;
      fill(alertsBox, h("h2", null, "Alerts"),
        !a.enabled ? h("p.muted", null, "Built-in alerts are disabled (alerts.enabled).") : null,
        a.firing && a.firing.length ? h("ul.plain", null, ...a.firing.map((x) => alertItem(x, false))) : h("p", { id: "no-firing" }, "No alert is firing."),
        a.resolved && a.resolved.length ? [h("h3", null, "Recently resolved"), h("ul.plain", null, ...a.resolved.map((x) => alertItem(x, true)))] : null);
    } catch (e) {
      if (!disposed) fill(alertsBox, h("h2", null, "Alerts"), errorBox("alerts", e, loadAlerts));
    }
  }
  async function loadDiag() {
    try {
      const d = await api("/diagnostics" + qs({ since }));
      if (disposed) return;
      fill(diagBox,
        h("p.muted", null, "Generated ", time(d.generated_at), ` from ${d.source || "the gateway"}; worst: `, h(`strong.sev-${d.worst}`, null, d.worst || "none")),
        d.findings && d.findings.length ? h("ul.plain", { id: "findings" }, ...d.findings.map(finding)) : h("p", null, "No finding: everything is within its targets."),
        d.slo && d.slo.length ? [h("h3", null, "Service levels"), h("table", null,
          h("thead", null, h("tr", null, ...["Metric", "Value", "Target", "Met"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", null, ...d.slo.map((s) => h("tr", null, h("td", null, s.metric),
            h("td", null, s.unit === "ms" ? ms(s.value) : s.value === null ? "—" : `${(+s.value).toFixed(3)} ${s.unit || ""}`),
            h("td", null, s.target === null || s.target === undefined ? "no target" : s.unit === "ms" ? ms(s.target) : `${s.target} ${s.unit || ""}`),
            h("td", null, s.target === null || s.target === undefined ? h("span.badge.info", null, "—") : s.met ? h("span.badge.ok", null, "met") : h(`span.badge.bad`, null, `missed ${s.severity || ""}`))))))] : null);
    } catch (e) {
      if (!disposed) fill(diagBox, errorBox("diagnostics", e, loadDiag));
    }
  }
  await Promise.all([loadAlerts(), loadDiag()]);
  ready();
  const timer = setInterval(loadAlerts, 15000);
  return () => {
    disposed = true;
    clearInterval(timer);
  };
}
