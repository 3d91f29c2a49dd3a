// berth UI: the Apps page — every group and app (Marathon's /v2/groups tree and /v2/apps with
// tasks, counts and deployments embedded; docs/compatibility.md §2.1, §2.8), instances running,
// healthy and staged, the deployments in progress with their steps, and per app the changes an
// operator may make (scale, restart, suspend, destroy). Rows are keyed; grouping is one pass.

import { html, useMemo, useState } from "../vendor/standalone.module.js";
import { useResource } from "../store.js";
import { allowed, useRole, appHref, parentOf, ErrorLine, Loading, Badge, memo } from "../util.js";
import { AppRowActions } from "./app_actions.js";

// Group ids from the /v2/groups tree (so empty groups show too).
function groupIds(root, out) {
  if (!root) return out;
  out.add(root.id || "/");
  for (const g of root.groups || []) groupIds(g, out);
  return out;
}

export function appStatus(app) {
  const deploying = (app.deployments || []).length > 0;
  if (deploying) return ["deploying", "info"];
  if (app.instances === 0) return ["suspended", "muted"];
  const checked = (app.healthChecks || []).length > 0;
  if (checked && app.tasksUnhealthy > 0) return ["unhealthy", "bad"];
  if (app.tasksRunning < app.instances) return ["waiting", "warn"];
  if (checked && app.tasksHealthy >= app.instances) return ["healthy", "good"];
  return ["running", "good"];
}

const AppRow = memo(function AppRow({ app, canOperate }) {
  const [status, kind] = appStatus(app);
  const checked = (app.healthChecks || []).length > 0;
  return html`<tr data-row="app" data-app-id=${app.id} data-status=${status}>
    <td><a href=${appHref(app.id)}>${app.id}</a></td>
    <td class="num" data-col="running" data-label="running">${app.tasksRunning}/${app.instances}</td>
    <td class="num" data-col="healthy" data-label="healthy">${checked ? app.tasksHealthy : "—"}</td>
    <td class="num" data-col="staged" data-label="staged">${app.tasksStaged}</td>
    <td><${Badge} kind=${kind}>${status}<//></td>
    <td class="actions">${canOperate && html`<${AppRowActions} app=${app} />`}</td>
  </tr>`;
});

function Deployments({ deployments }) {
  if (!deployments || deployments.length === 0) return null;
  return html`<section class="card" aria-label="Deployments in progress">
    <h2>Deployments in progress</h2>
    <ul class="plain">
      ${deployments.map((d) => html`<li key=${d.id} data-row="deployment">
        <b>${(d.affectedApps || []).join(", ")}</b>
        <span class="muted"> step ${d.currentStep} of ${d.totalSteps}</span>
        <ol class="steps">
          ${(d.steps || []).map((s, i) => html`<li key=${i}
            class=${i + 1 < d.currentStep ? "done" : i + 1 === d.currentStep ? "current" : ""}>
            ${(s.actions || []).map((a) => `${a.action} ${a.app || a.pod || ""}`).join(", ")}
          </li>`)}
        </ol>
        ${(d.currentActions || []).some((a) => (a.readinessCheckResults || []).length) &&
          html`<p class="muted">waiting for readiness checks</p>`}
      </li>`)}
    </ul>
  </section>`;
}

function GroupTable({ group, apps, canOperate }) {
  const depth = group === "/" ? 0 : group.split("/").length - 1;
  return html`<section class="group" data-group=${group}>
    <h3 class=${`depth-${Math.min(depth, 4)}`}>${group === "/" ? "/ (root)" : group}
      <span class="muted"> ${apps.length} app${apps.length === 1 ? "" : "s"}</span></h3>
    ${apps.length === 0 ? html`<p class="muted">No apps in this group.</p>` : html`
    <div class="scroll"><table class="list apps">
      <colgroup><col class="c-app" /><col class="c-num" /><col class="c-num" /><col class="c-num" /><col class="c-status" />
        <col class=${canOperate ? "c-actions" : ""} /></colgroup>
      <thead><tr><th scope="col">App</th><th scope="col" class="num">Running</th>
        <th scope="col" class="num">Healthy</th><th scope="col" class="num">Staged</th>
        <th scope="col">Status</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${apps.map((a) => html`<${AppRow} key=${a.id} app=${a} canOperate=${canOperate} />`)}</tbody>
    </table></div>`}
  </section>`;
}

export function AppsPage() {
  const role = useRole();
  const canOperate = allowed(role, "operator");
  const apps = useResource("apps");
  const groups = useResource("groups");
  const deployments = useResource("deployments");
  const [filter, setFilter] = useState("");

  const grouped = useMemo(() => {
    const byGroup = new Map();
    for (const g of groupIds(groups.data, new Set())) byGroup.set(g, []);
    const needle = filter.trim().toLowerCase();
    for (const app of (apps.data && apps.data.apps) || []) {
      if (needle && !app.id.toLowerCase().includes(needle)) continue;
      const g = parentOf(app.id);
      if (!byGroup.has(g)) byGroup.set(g, []);
      byGroup.get(g).push(app);
    }
    for (const list of byGroup.values()) list.sort((a, b) => (a.id < b.id ? -1 : 1));
    const ids = [...byGroup.keys()].sort();
    return ids
      .filter((g) => !needle || byGroup.get(g).length > 0)
      .filter((g) => g !== "/" || byGroup.get(g).length > 0 || ids.length === 1)
      .map((g) => [g, byGroup.get(g)]);
  }, [apps.data, groups.data, filter]);

  const total = (apps.data && apps.data.apps.length) || 0;
  return html`<div class="page" data-page="apps">
    <div class="page-head">
      <h1>Apps <span class="muted">${apps.data ? total : ""}</span></h1>
      <span class="grow"></span>
      <label class="inline" for="app-filter">Filter</label>
      <input id="app-filter" type="search" value=${filter} placeholder="app id"
        onInput=${(e) => setFilter(e.target.value)} />
      ${canOperate && html`<a class="btn primary" href="#/create" data-action="create-app">Create app</a>`}
    </div>
    <${ErrorLine} error=${apps.error || groups.error || deployments.error} />
    <${Deployments} deployments=${deployments.data} />
    ${apps.loading ? html`<${Loading} what="apps" />` : html`
      <div data-ready=${apps.data ? "apps" : undefined}>
        ${grouped.map(([g, list]) => html`<${GroupTable} key=${g} group=${g} apps=${list} canOperate=${canOperate} />`)}
        ${total === 0 && html`<p class="muted">No apps yet.</p>`}
      </div>`}
  </div>`;
}
