// berth UI: the Failovers page — the last 100 node losses (GET /berth/v1/failovers;
// docs/compatibility.md §2.9), each as a timeline from the moment the master declared the node
// lost: its datasets attached elsewhere at a new epoch (docs/fencing.md §2), the replacement
// tasks running, healthy, and the first request routed to them, with the durations.

import { html, useMemo } from "../vendor/standalone.module.js";
import { useResource } from "../store.js";
import { Badge, ErrorLine, Loading, fmtMs, fmtTime, memo } from "../util.js";

const PHASES = [
  ["attachedAfterMs", "dataset attached elsewhere"],
  ["runningAfterMs", "task running"],
  ["healthyAfterMs", "task healthy"],
  ["routedAfterMs", "first routed request"],
];

function Timeline({ phases }) {
  const known = PHASES.filter(([k]) => phases[k] !== null && phases[k] !== undefined);
  const end = Math.max(1, ...known.map(([k]) => phases[k]));
  return html`<ol class="timeline">
    <li data-phase="lost"><span class="dot"></span><b>declared lost</b> <span class="muted">0 ms</span></li>
    ${PHASES.map(([k, label]) => {
      const ms = phases[k];
      const has = ms !== null && ms !== undefined;
      return html`<li key=${k} data-phase=${k} class=${has ? "" : "pending"}>
        <span class="dot"></span><b>${label}</b>
        <span class="muted"> ${has ? `+${fmtMs(ms)}` : "—"}</span>
        ${has && html`<span class="bar" ref=${(el) => el && (el.style.width = `${(100 * ms) / end}%`)}></span>`}
      </li>`;
    })}
  </ol>`;
}

const FailoverCard = memo(function FailoverCard({ f, names, datasetNames }) {
  const name = (id) => names.get(id) || id || "—";
  return html`<section class="card failover" data-row="failover" data-node=${f.node.hostname} data-complete=${String(f.complete)}>
    <div class="page-head">
      <h2>${f.node.hostname} lost</h2>
      <${Badge} kind=${f.complete ? "good" : "warn"}>${f.complete ? "complete" : "in progress"}<//>
      <span class="grow"></span><span class="muted">${fmtTime(f.lostAt)}</span>
    </div>
    <${Timeline} phases=${f.phases || {}} />
    ${(f.datasets || []).length > 0 && html`<h3>Datasets</h3><ul class="plain small">
      ${f.datasets.map((d) => html`<li key=${d.datasetId}><b>${datasetNames.get(d.datasetId) || d.datasetId}</b> (${d.driver}):
        epoch ${d.epochAtLoss} → ${d.attachedEpoch ?? "…"} on ${d.attachedOn ? name(d.attachedOn) : "…"}
        ${d.attachedAfterMs !== null && d.attachedAfterMs !== undefined && html` after ${fmtMs(d.attachedAfterMs)}`}</li>`)}
    </ul>`}
    ${(f.tasks || []).length > 0 && html`<h3>Tasks</h3><ul class="plain small">
      ${f.tasks.map((t) => html`<li key=${t.taskId}><b>${t.appId}</b>
        <span class="mono muted"> ${t.taskId}</span> → ${t.replacementTaskId ? html`<span class="mono">${t.replacementTaskId}</span> on ${name(t.replacementNode)}` : "not replaced yet"}:
        running ${fmtMs(t.runningAfterMs)}${t.healthChecked ? `, healthy ${fmtMs(t.healthyAfterMs)}` : ""}${t.routedAfterMs !== undefined ? `, routed ${fmtMs(t.routedAfterMs)}` : ""}</li>`)}
    </ul>`}
  </section>`;
});

export function FailoversPage() {
  const failovers = useResource("failovers");
  const nodes = useResource("nodes");
  const datasets = useResource("datasets");
  const names = useMemo(() => new Map(((nodes.data && nodes.data.nodes) || []).map((n) => [n.id, n.hostname])), [nodes.data]);
  const datasetNames = useMemo(() => new Map(((datasets.data && datasets.data.datasets) || []).map((d) => [d.id, d.name])), [datasets.data]);
  const list = ((failovers.data && failovers.data.failovers) || []).slice(0, 100);
  return html`<div class="page" data-page="failovers">
    <h1>Failovers <span class="muted">${failovers.data ? list.length : ""}</span></h1>
    <p class="muted">Each node loss, from the moment the master declared the node lost.</p>
    <${ErrorLine} error=${failovers.error} />
    ${failovers.loading ? html`<${Loading} what="failovers" />` : html`<div data-ready=${failovers.data ? "failovers" : undefined}>
      ${list.map((f) => html`<${FailoverCard} key=${f.id} f=${f} names=${names} datasetNames=${datasetNames} />`)}
      ${list.length === 0 && html`<p class="muted">No node has been lost.</p>`}
    </div>`}
  </div>`;
}
