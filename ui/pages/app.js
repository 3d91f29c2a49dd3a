// berth UI: one app's page — its definition, its tasks (berth's task view
// /berth/v1/tasks?app=: node, ports, state, health results, start time, datasets, a link to
// each task's live log), its deployments, its queue entry with the reasons it waits
// (/v2/queue?embed=lastUnusedOffers; docs/compatibility.md §2.1), and its versions with a diff
// between two and a roll back (operators).

import { html, useMemo } from "../vendor/standalone.module.js";
import { useResource } from "../store.js";
import { allowed, useRole, ErrorLine, Loading, Badge, fmtTime, ago, fmtNum, fmtMiB } from "../util.js";
import { AppActions } from "./app_actions.js";
import { appStatus } from "./apps.js";
import { Versions } from "./versions.js";

function nodeNames(nodes) {
  const m = new Map();
  for (const n of (nodes && nodes.nodes) || []) m.set(n.id, n.hostname);
  return m;
}

function health(task) {
  const results = task.healthCheckResults || [];
  if (results.length === 0) return html`<span class="muted">—</span>`;
  const alive = results.every((r) => r.alive);
  const why = results.map((r) => r.lastFailureCause).filter(Boolean).join("; ");
  return html`<${Badge} kind=${alive ? "good" : "bad"}>${alive ? "healthy" : "unhealthy"}<//>
    ${why && html`<span class="muted small"> ${why}</span>`}`;
}

function TaskRow({ task, names, datasetNames }) {
  const ports = (task.ports || []).join(", ");
  return html`<tr data-row="task" data-task-id=${task.id} data-node=${names.get(task.agentId) || ""}>
    <td class="mono small">${task.id}</td>
    <td>${names.get(task.agentId) || task.agentId || "—"}</td>
    <td class="mono">${task.host}${ports ? ":" + ports : ""}</td>
    <td><${Badge} kind=${task.state === "TASK_RUNNING" ? "good" : "warn"}>${task.state}<//>
      ${task.message && html`<div class="muted small">${task.message}</div>`}</td>
    <td>${health(task)}</td>
    <td title=${task.startedAt || ""}>${task.startedAt ? ago(task.startedAt) : "—"}</td>
    <td>${(task.datasets || []).map((d) => datasetNames.get(d) || d).join(", ") || "—"}</td>
    <td><a href=${`#/tasks/${encodeURIComponent(task.id)}/${encodeURIComponent(task.appId)}`}>logs</a></td>
  </tr>`;
}

function Tasks({ id, names }) {
  const tasks = useResource(`tasks:${id}`);
  const datasets = useResource("datasets");
  const datasetNames = useMemo(() => new Map(((datasets.data && datasets.data.datasets) || []).map((d) => [d.id, d.name])), [datasets.data]);
  const list = (tasks.data && tasks.data.tasks) || [];
  return html`<section class="card" aria-label="Tasks">
    <h2>Tasks <span class="muted">${list.length}</span></h2>
    <${ErrorLine} error=${tasks.error} />
    ${tasks.loading ? html`<${Loading} what="tasks" />` : list.length === 0 ? html`<p class="muted">No tasks.</p>` : html`
    <div class="scroll"><table class="list">
      <thead><tr><th scope="col">Task</th><th scope="col">Node</th><th scope="col">Address</th>
        <th scope="col">State</th><th scope="col">Health</th><th scope="col">Started</th>
        <th scope="col">Datasets</th><th scope="col">Logs</th></tr></thead>
      <tbody>${list.map((t) => html`<${TaskRow} key=${t.id} task=${t} names=${names} datasetNames=${datasetNames} />`)}</tbody>
    </table></div>`}
  </section>`;
}

function QueueEntry({ id }) {
  const queue = useResource("queue");
  const item = ((queue.data && queue.data.queue) || []).find((q) => q.app && q.app.id === id);
  if (!item) return null;
  const summary = (item.processedOffersSummary && item.processedOffersSummary.rejectSummaryLastOffers) || [];
  const offers = item.lastUnusedOffers || [];
  return html`<section class="card" aria-label="Queue" data-section="queue">
    <h2>Waiting to launch: ${item.count}</h2>
    ${item.delay && item.delay.timeLeftSeconds > 0 && html`<p>Backoff: ${item.delay.timeLeftSeconds} s left</p>`}
    <h3>Reasons it waits</h3>
    ${summary.filter((r) => r.declined > 0).length === 0 ? html`<p class="muted">No offers declined.</p>` : html`
    <ul class="plain">${summary.filter((r) => r.declined > 0).map((r) => html`<li key=${r.reason} data-row="reason">
      <b>${r.reason}</b>: declined by ${r.declined} of ${r.processed} nodes</li>`)}</ul>`}
    ${offers.length > 0 && html`<h3>Last offers</h3><ul class="plain">
      ${offers.map((o, i) => html`<li key=${i}><b>${o.offer && o.offer.hostname}</b>${`: ${(o.reason || []).join(", ")} `}
        <span class="muted">${o.detail}</span></li>`)}</ul>`}
  </section>`;
}

function AppDeployments({ id }) {
  const deployments = useResource("deployments");
  const mine = ((deployments.data) || []).filter((d) => (d.affectedApps || []).includes(id));
  if (mine.length === 0) return null;
  return html`<section class="card" aria-label="Deployments">
    <h2>Deployment in progress</h2>
    ${mine.map((d) => html`<div key=${d.id}>
      <p>step ${d.currentStep} of ${d.totalSteps}:
        ${(d.currentActions || []).map((a) => `${a.action} ${a.app || ""}`).join(", ")}</p>
    </div>`)}
  </section>`;
}

function Definition({ app }) {
  const volumes = ((app.container && app.container.volumes) || []).filter((v) => v.external);
  const checks = app.healthChecks || [];
  return html`<dl class="facts">
    <dt>Command</dt><dd class="mono">${app.cmd || (app.args || []).join(" ") || "—"}</dd>
    <dt>Resources</dt><dd>${fmtNum(app.cpus)} cpus, ${fmtMiB(app.mem)} memory</dd>
    <dt>Instances</dt><dd>${`${app.tasksRunning} running, ${app.tasksHealthy} healthy, ${app.tasksStaged} staged of ${app.instances}`}</dd>
    <dt>Service ports</dt><dd>${(app.portDefinitions || []).map((p) => p.port).join(", ") || "—"}</dd>
    <dt>Volumes</dt><dd>${volumes.length === 0 ? "—" : volumes.map((v) => html`<div key=${v.containerPath}>
      dataset <b>${v.external.name}</b> at ${v.containerPath}</div>`)}</dd>
    <dt>Health checks</dt><dd>${checks.length === 0 ? "—" : checks.map((c, i) => html`<div key=${i}>
      ${c.protocol} ${c.path || ""} every ${c.intervalSeconds} s</div>`)}</dd>
    <dt>Version</dt><dd>${fmtTime(app.version)}</dd>
    ${app.lastTaskFailure && html`<dt>Last failure</dt><dd>${app.lastTaskFailure.state}:
      ${app.lastTaskFailure.message} (${fmtTime(app.lastTaskFailure.timestamp)})</dd>`}
  </dl>`;
}

export function AppPage({ id }) {
  const role = useRole();
  const apps = useResource("apps");
  const nodes = useResource("nodes");
  const names = useMemo(() => nodeNames(nodes.data), [nodes.data]);
  const app = ((apps.data && apps.data.apps) || []).find((a) => a.id === id);
  if (apps.loading) return html`<${Loading} what="the app" />`;
  if (!app) {
    return html`<div class="page" data-page="app"><h1>${id}</h1>
      <${ErrorLine} error=${apps.error} />
      <p>No such app (it may have been destroyed). <a href="#/apps">All apps</a></p></div>`;
  }
  const [status, kind] = appStatus(app);
  return html`<div class="page" data-page="app" data-app-id=${id}>
    <p class="crumbs"><a href="#/apps">Apps</a> /</p>
    <div class="page-head">
      <h1>${id}</h1>
      <span data-app-status=${status}><${Badge} kind=${kind}>${status}<//></span>
      <span class="grow"></span>
      ${allowed(role, "operator") && html`<${AppActions} app=${app} />`}
    </div>
    <${ErrorLine} error=${apps.error} />
    <${Definition} app=${app} />
    <${AppDeployments} id=${id} />
    <${QueueEntry} id=${id} />
    <${Tasks} id=${id} names=${names} />
    <${Versions} app=${app} canOperate=${allowed(role, "operator")} />
  </div>`;
}
