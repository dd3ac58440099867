// One conversation as a tree: turns down the main line, branches and sub-tasks indented.
// Built in one DocumentFragment so long conversations open at once.
import { api } from "../api.js";
import { h, append, fill, errorBox, loading, ms, usd, num, time, outcomeBadge, link, shortId } from "../dom.js";

const dtf = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function nodeItem(n, index) {
  const d = new Date(n.started_at);
  const tokens = (n.input_tokens || 0) + (n.output_tokens || 0) + (n.cache_read_tokens || 0) + (n.cache_write_tokens || 0);
  const li = document.createElement("li");
  li.dataset.id = n.id;
  li.dataset.kind = n.link_kind;
  const a = document.createElement("a");
  a.href = "/traces/" + n.id;
  a.textContent = `#${index} ${n.link_kind}`;
  const t = document.createElement("time");
  t.dateTime = d.toISOString();
  t.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  t.textContent = dtf.format(d);
  const span = h("span.node", null, a, t, h("span", null, n.model || "—"), outcomeBadge(n.outcome, n.status),
    h("span", null, ms(n.duration_ms)), h("span", null, `${num(tokens)} tok`), h("span", null, usd(n.cost_usd)));
  li.append(span);
  return li;
}

/** Renders a branch (an array of nodes) into a <ul>, forks nested under their node. */
function branch(nodes, counter, ownConv) {
  const ul = document.createElement("ul");
  for (const n of nodes) {
    counter.n += 1;
    const li = nodeItem(n, counter.n);
    for (const f of n.forks || []) {
      if (!f.length) continue;
      const sub = f[0].link_kind === "sub_task" || (f[0].conversation_id && f[0].conversation_id !== ownConv);
      const inner = branch(f, counter, ownConv);
      inner.className = sub ? "sub" : "fork";
      const label = h("div.muted", null, sub ? "sub-task " : `branch ${f[0].branch ?? ""} `, sub ? link("/conversations/" + f[0].conversation_id, shortId(f[0].conversation_id)) : "");
      li.append(label, inner);
    }
    ul.append(li);
  }
  return ul;
}

export default async function conversation(ctx) {
  const { main, params, ready } = ctx;
  const id = params[0];
  let disposed = false;
  async function load() {
    fill(main, loading("the conversation"));
    let c;
    try {
      c = await api("/conversations/" + encodeURIComponent(id));
    } catch (e) {
      if (!disposed) fill(main, h("h1", null, "Conversation ", h("code", null, id)), errorBox("the conversation", e, load));
      ready();
      return;
    }
    if (disposed) return;
    const counter = { n: 0 };
    // `tree` is a list of chains (each a list of nodes); forks hold chains too.
    const tree = document.createElement("div");
    tree.id = "tree";
    for (const chain of c.tree || []) {
      const ul = branch(chain, counter, c.id);
      ul.className = "tree";
      tree.append(ul);
    }
    const frag = document.createDocumentFragment();
    append(frag, [
      h("h1", null, "Conversation ", h("code", null, c.id)),
      h("p", null, `${c.account || "no account"} · `, time(c.first_ts), " → ", time(c.last_ts), ` · ${num(c.requests)} requests, ${num(c.branches)} branch(es), ${num(c.trace_count ?? counter.n)} traces · `,
        `${num((c.input_tokens || 0) + (c.output_tokens || 0) + (c.cache_read_tokens || 0) + (c.cache_write_tokens || 0))} tokens · ${usd(c.cost_usd)} · ${(c.models || []).join(", ")}`),
      c.sub_tasks && c.sub_tasks.length ? h("p", null, "Sub-tasks: ", c.sub_tasks.map((s, i) => [i ? ", " : "", link("/conversations/" + s, shortId(s))])) : null,
      tree]);
    fill(main, frag);
    ready();
  }
  await load();
  return () => { disposed = true; };
}
