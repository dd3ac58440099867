// The filter builder: rows of (field, operator, value) joined by all/any, read from and
// written to the filter language's JSON tree.
import { h, clear } from "./dom.js";

export const FIELDS = [
  "model", "model_requested", "provider", "upstream", "endpoint", "account", "outcome", "status",
  "duration_ms", "ttft_ms", "cost_usd", "input_tokens", "output_tokens", "total_tokens",
  "cache_read_tokens", "stream", "error", "conversation_id", "client_ip", "user_agent", "ts", "feedback.score", "metadata.",
];
export const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "starts_with", "exists"];
const NUMERIC = new Set(["status", "duration_ms", "ttft_ms", "cost_usd", "input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "feedback.score"]);

/** Leaves of a flat {and|or: [leaf...]} tree (or a single leaf); null when the tree is deeper. */
export function flatten(tree) {
  if (!tree) return { join: "and", leaves: [] };
  if (tree.field) return { join: "and", leaves: [tree] };
  const join = tree.and ? "and" : tree.or ? "or" : null;
  const list = tree.and || tree.or;
  if (join && list.every((l) => l.field)) return { join, leaves: list };
  return null;
}

function parseValue(field, op, text) {
  if (op === "exists") return text.trim() !== "false";
  if (op === "in" || op === "not_in") return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => (NUMERIC.has(field) && s !== "" && !Number.isNaN(Number(s)) ? Number(s) : s));
  if (field === "stream") return text.trim() === "true";
  if (NUMERIC.has(field) && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  return text;
}

function showValue(v) {
  return Array.isArray(v) ? v.join(", ") : v === undefined || v === null ? "" : String(v);
}

/** Builds the editor; `onChange(tree|null)` on apply. */
export function filterBuilder(initial, onApply) {
  const flat = flatten(initial);
  const rowsEl = h("div.filters", { role: "group", "aria-label": "Filter conditions" });
  const joinSel = h("select", { id: "filter-join", "aria-label": "Match" },
    h("option", { value: "and" }, "all conditions"), h("option", { value: "or" }, "any condition"));
  const raw = h("textarea", { id: "filter-raw", rows: 3, cols: 60, "aria-label": "Filter as JSON", spellcheck: false });
  let n = 0;

  function addRow(leaf = { field: "model", op: "eq", value: "" }) {
    const id = ++n;
    let field = leaf.field || "model";
    let meta = "";
    if (field.startsWith("metadata.")) {
      meta = field.slice("metadata.".length);
      field = "metadata.";
    }
    const fieldSel = h("select", { "aria-label": `Condition ${id} field`, class: "f-field" },
      ...FIELDS.map((f) => h("option", { value: f, selected: f === field }, f === "metadata." ? "metadata.<key>" : f)));
    const metaIn = h("input", { type: "text", value: meta, placeholder: "key", "aria-label": `Condition ${id} metadata key`, class: "f-meta", size: 10 });
    metaIn.hidden = field !== "metadata.";
    fieldSel.addEventListener("change", () => { metaIn.hidden = fieldSel.value !== "metadata."; });
    const opSel = h("select", { "aria-label": `Condition ${id} operator`, class: "f-op" }, ...OPS.map((o) => h("option", { value: o, selected: o === (leaf.op || "eq") }, o)));
    const valIn = h("input", { type: "text", value: showValue(leaf.value), "aria-label": `Condition ${id} value`, class: "f-value", placeholder: "value (a,b for in)" });
    const row = h("div.filter-row", { dataset: { row: String(id) } }, fieldSel, metaIn, opSel, valIn,
      h("button", { type: "button", "aria-label": `Remove condition ${id}`, onclick: () => row.remove() }, "✕"));
    rowsEl.append(row);
    return row;
  }

  function read() {
    const leaves = [];
    for (const row of rowsEl.querySelectorAll(".filter-row")) {
      let field = row.querySelector(".f-field").value;
      if (field === "metadata.") field += row.querySelector(".f-meta").value.trim();
      const op = row.querySelector(".f-op").value;
      const text = row.querySelector(".f-value").value;
      if (op !== "exists" && text.trim() === "") continue;
      leaves.push({ field, op, value: parseValue(field, op, text) });
    }
    if (!leaves.length) return null;
    if (leaves.length === 1) return leaves[0];
    return { [joinSel.value]: leaves };
  }

  const rawBox = h("details", null, h("summary", null, "Edit as JSON (nested and/or/not)"), raw,
    h("div.row", null, h("button", { type: "button", onclick: () => {
      const text = raw.value.trim();
      if (!text) return onApply(null);
      try {
        onApply(JSON.parse(text));
      } catch (e) {
        raw.setCustomValidity("not JSON: " + e.message);
        raw.reportValidity();
      }
    } }, "Apply JSON")));
  raw.addEventListener("input", () => raw.setCustomValidity(""));
  raw.value = initial ? JSON.stringify(initial) : "";

  if (flat) {
    joinSel.value = flat.join;
    for (const l of flat.leaves) addRow(l);
  } else {
    rawBox.open = true;
  }
  const el = h("div", null,
    flat ? null : h("p.muted", null, "This filter is nested: edit it as JSON below."),
    h("div.row", null, h("label", { for: "filter-join" }, "Match"), joinSel),
    rowsEl,
    h("div.row", null, h("button", { type: "button", id: "add-condition", onclick: () => addRow().querySelector(".f-field").focus() }, "Add condition")),
    rawBox);
  return { el, read, clearRows: () => clear(rowsEl) };
}
