// berth UI: the Nodes page — each agent (GET /berth/v1/nodes) with its resources used and
// offered, attributes, lease (time since its last heartbeat against the lease L of
// /berth/v1/info; docs/fencing.md §3), its tasks and datasets; drain and undrain for admins.
// Heartbeats arrive as berth_node_heartbeat events; a local 250 ms timer re-renders the ages,
// it does not call the server.

import { html, useEffect, useMemo, useState } from "../vendor/standalone.module.js";
import { call } from "../api.js";
import { heartbeats, refresh, useResource } from "../store.js";
import { ActionButton, allowed, appHref, Badge, ErrorLine, Loading, fmtMiB, fmtNum, useRole, memo, ago } from "../util.js";

// Milliseconds since the node's last heartbeat: from the last event if any, else the list's
// msSinceHeartbeat plus the time since the list arrived.
function sinceHeartbeat(node, listAt) {
  const hb = heartbeats.get(node.id);
  const fromList = (node.msSinceHeartbeat ?? 0) + (performance.now() - listAt);
  if (hb && hb.seen > listAt) return performance.now() - hb.seen;
  return fromList;
}

function Meter({ used, total, label }) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return html`<div class="meter" role="meter" aria-label=${label} aria-valuemin="0"
    aria-valuemax=${total} aria-valuenow=${used}>
    <span ref=${(el) => el && (el.style.width = `${pct}%`)}></span></div>`;
}

function Lease({ node, listAt, leaseMs }) {
  useTick(250);
  if (node.state === "lost") return html`<span class="muted">last heartbeat ${ago(node.lastHeartbeatAt)}</span>`;
  const ms = sinceHeartbeat(node, listAt);
  const kind = ms > leaseMs ? "bad" : ms > leaseMs / 2 ? "warn" : "good";
  return html`<span data-lease-ms=${Math.round(ms)}><${Badge} kind=${kind}>${Math.round(ms)} ms<//>
    <span class="muted small"> of ${leaseMs} ms</span></span>`;
}

// The node's tasks, rendered only while the list is open.
function NodeTasks({ count, tasks }) {
  const [open, setOpen] = useState(false);
  return html`<details onToggle=${(e) => setOpen(e.target.open)}>
    <summary>Tasks: <span data-col="tasks">${count}</span></summary>
    ${open && html`<ul class="plain small">${tasks.map((t) => html`<li key=${t.id}>
      <a href=${appHref(t.appId)}>${t.appId}</a> <span class="mono muted">${t.id}</span> ${t.state}</li>`)}</ul>`}
  </details>`;
}

const NodeCard = memo(function NodeCard({ node, tasks, datasets, listAt, leaseMs, isAdmin }) {
  const r = node.resources || {};
  const u = node.used || {};
  const kind = node.state === "active" ? "good" : node.state === "draining" ? "warn" : "bad";
  const drain = async (on) => {
    await call(on ? "POST" : "DELETE", `/berth/v1/nodes/${encodeURIComponent(node.id)}/drain`);
    refresh(["nodes"]);
  };
  return html`<section class="card node" data-row="node" data-node=${node.hostname} data-state=${node.state}>
    <div class="page-head">
      <h2>${node.hostname}</h2>
      <${Badge} kind=${kind}>${node.state}<//>
      <span class="grow"></span>
      ${isAdmin && node.state === "active" && html`<${ActionButton} action="drain" label="Drain"
        confirm=${`Drain ${node.hostname}? Its tasks move elsewhere.`} run=${() => drain(true)} />`}
      ${isAdmin && node.state === "draining" && html`<${ActionButton} action="undrain" label="Undrain" run=${() => drain(false)} />`}
    </div>
    <dl class="facts">
      <dt>Lease</dt><dd><${Lease} node=${node} listAt=${listAt} leaseMs=${leaseMs} /></dd>
      <dt>CPUs</dt><dd>${fmtNum(u.cpus)} of ${fmtNum(r.cpus)} <${Meter} used=${u.cpus || 0} total=${r.cpus || 0} label="CPUs used" /></dd>
      <dt>Memory</dt><dd>${fmtMiB(u.mem)} of ${fmtMiB(r.mem)} <${Meter} used=${u.mem || 0} total=${r.mem || 0} label="Memory used" /></dd>
      <dt>Disk</dt><dd>${fmtMiB(u.disk)} of ${fmtMiB(r.disk)}</dd>
      <dt>Ports</dt><dd>${(r.ports || []).map((p) => p.join("–")).join(", ") || "—"}</dd>
      <dt>Address</dt><dd class="mono">${node.address}</dd>
      <dt>Attributes</dt><dd>${Object.entries(node.attributes || {}).map(([k, v]) => `${k}:${v}`).join(", ") || "—"}</dd>
      <dt>Id</dt><dd class="mono small">${node.id}</dd>
      <dt>Datasets</dt><dd>${datasets.length === 0 ? "—" : datasets.map((d) => html`<span key=${d.id} class="chip">${d.name || d.id}</span>`)}</dd>
    </dl>
    <${NodeTasks} count=${node.tasks ?? tasks.length} tasks=${tasks} />
  </section>`;
});

function useTick(ms) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), ms); // local re-render only
    return () => clearInterval(t);
  }, [ms]);
  return tick;
}

export function NodesPage() {
  const isAdmin = allowed(useRole(), "admin");
  const nodes = useResource("nodes");
  const apps = useResource("apps");
  const datasets = useResource("datasets");
  const info = useResource("info");
  const listAt = useMemo(() => performance.now(), [nodes.data]);
  const tasksByNode = useMemo(() => {
    const m = new Map();
    for (const app of (apps.data && apps.data.apps) || []) {
      for (const t of app.tasks || []) {
        if (!m.has(t.slaveId)) m.set(t.slaveId, []);
        m.get(t.slaveId).push(t);
      }
    }
    return m;
  }, [apps.data]);
  const datasetsByNode = useMemo(() => {
    const m = new Map();
    for (const d of (datasets.data && datasets.data.datasets) || []) {
      if (d.deleted) continue;
      if (!m.has(d.node)) m.set(d.node, []);
      m.get(d.node).push(d);
    }
    return m;
  }, [datasets.data]);
  const leaseMs = (info.data && info.data.leaseMs) || 0;
  const list = ((nodes.data && nodes.data.nodes) || []).slice().sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
  const none = [];
  return html`<div class="page" data-page="nodes">
    <div class="page-head"><h1>Nodes <span class="muted">${nodes.data ? list.length : ""}</span></h1>
      <span class="grow"></span>
      ${info.data && html`<span class="muted">lease ${info.data.leaseMs} ms, lost after ${info.data.agentLostTimeoutMs} ms</span>`}</div>
    <${ErrorLine} error=${nodes.error} />
    ${nodes.loading ? html`<${Loading} what="nodes" />` : html`<div class="nodes" data-ready=${nodes.data ? "nodes" : undefined}>
      ${list.map((n) => html`<${NodeCard} key=${n.id} node=${n} tasks=${tasksByNode.get(n.id) || none}
        datasets=${datasetsByNode.get(n.id) || none} listAt=${listAt} leaseMs=${leaseMs} isAdmin=${isAdmin} />`)}
      ${list.length === 0 && html`<p class="muted">No agents have registered.</p>`}
    </div>`}
  </div>`;
}
