// berth UI: the Datasets page — each dataset (GET /berth/v1/datasets) with its node, epoch,
// driver, size, state and the app using it; create, move and destroy through Flocker's v1 API
// (POST /v1/configuration/datasets, POST and DELETE /v1/configuration/datasets/{id};
// docs/compatibility.md §3). A dataset a task uses cannot be moved (409: move the app).

import { html, useMemo, useState } from "../vendor/standalone.module.js";
import { call } from "../api.js";
import { refresh, useResource } from "../store.js";
import { ActionButton, allowed, appHref, Badge, ErrorLine, Loading, fmtBytes, useRole, memo } from "../util.js";

const MIB = 1048576;

function MoveControl({ dataset, nodes }) {
  const others = nodes.filter((n) => n.id !== dataset.node && n.state === "active");
  const [target, setTarget] = useState("");
  const to = target || (others[0] && others[0].id) || "";
  if (others.length === 0) return null;
  const id = `move-${dataset.id}`;
  return html`<span class="scale">
    <label class="sr" for=${id}>Move ${dataset.name} to</label>
    <select id=${id} value=${to} onChange=${(e) => setTarget(e.target.value)}>
      ${others.map((n) => html`<option key=${n.id} value=${n.id}>${n.hostname}</option>`)}</select>
    <${ActionButton} action="move" label="Move" run=${async () => {
      await call("POST", `/v1/configuration/datasets/${dataset.id}`, { primary: to });
      refresh(["datasets"]);
    }} />
  </span>`;
}

const DatasetRow = memo(function DatasetRow({ d, names, nodes, canOperate }) {
  const kind = d.deleted ? "muted" : d.state === "attached" ? "good" : "warn";
  return html`<tr data-row="dataset" data-dataset=${d.name} data-state=${d.state}>
    <td><b>${d.name || "—"}</b><div class="mono small muted">${d.id}</div></td>
    <td data-col="node">${d.hostname || names.get(d.node) || d.node || "—"}
      ${d.movingFrom && html`<div class="muted small">from ${names.get(d.movingFrom) || d.movingFrom}</div>`}</td>
    <td><${Badge} kind=${kind}>${d.deleted ? "deleted" : d.state}<//></td>
    <td class="num" data-label="epoch">${d.epoch ?? "—"}</td>
    <td>${d.driver || "—"}</td>
    <td class="num" data-label="size">${fmtBytes(d.size)}</td>
    <td>${d.app ? html`<a href=${appHref(d.app)}>${d.app}</a>` : html`<span class="muted">—</span>`}</td>
    <td class="actions">${canOperate && !d.deleted && html`<span class="action-row">
      ${d.app ? html`<span class="muted small">in use: move the app</span>` : html`<${MoveControl} dataset=${d} nodes=${nodes} />
      <${ActionButton} action="destroy-dataset" label="Destroy" kind="danger"
        confirm=${`Destroy dataset ${d.name}? Its data is lost.`} run=${async () => {
          await call("DELETE", `/v1/configuration/datasets/${d.id}`);
          refresh(["datasets"]);
        }} />`}</span>`}</td>
  </tr>`;
});

function CreateDataset({ nodes }) {
  const active = nodes.filter((n) => n.state === "active");
  const [name, setName] = useState("");
  const [size, setSize] = useState("1024");
  const [node, setNode] = useState("");
  const primary = node || (active[0] && active[0].id) || "";
  async function create() {
    const body = { primary, metadata: { name: name.trim() } };
    if (size.trim()) body.maximum_size = Math.round(Number(size) * MIB);
    await call("POST", "/v1/configuration/datasets", body);
    setName("");
    refresh(["datasets"]);
  }
  return html`<form class="card row create-dataset" onSubmit=${(e) => e.preventDefault()} aria-label="Create a dataset">
    <div class="field"><label for="ds-name">Name</label>
      <input id="ds-name" value=${name} onInput=${(e) => setName(e.target.value)} placeholder="orders" /></div>
    <div class="field"><label for="ds-size">Size (MiB)</label>
      <input id="ds-size" inputmode="numeric" value=${size} onInput=${(e) => setSize(e.target.value)} /></div>
    <div class="field"><label for="ds-node">Node</label>
      <select id="ds-node" value=${primary} onChange=${(e) => setNode(e.target.value)}>
        ${active.map((n) => html`<option key=${n.id} value=${n.id}>${n.hostname}</option>`)}</select></div>
    <div class="field end"><${ActionButton} action="create-dataset" label="Create dataset" kind="primary" run=${create} /></div>
  </form>`;
}

export function DatasetsPage() {
  const canOperate = allowed(useRole(), "operator");
  const datasets = useResource("datasets");
  const nodesRes = useResource("nodes");
  const [showDeleted, setShowDeleted] = useState(false);
  const nodes = (nodesRes.data && nodesRes.data.nodes) || [];
  const names = useMemo(() => new Map(nodes.map((n) => [n.id, n.hostname])), [nodesRes.data]);
  const all = (datasets.data && datasets.data.datasets) || [];
  const list = all.filter((d) => showDeleted || !d.deleted).sort((a, b) => (a.name < b.name ? -1 : 1));
  return html`<div class="page" data-page="datasets">
    <div class="page-head"><h1>Datasets <span class="muted">${datasets.data ? list.length : ""}</span></h1>
      <span class="grow"></span>
      <label class="inline"><input type="checkbox" checked=${showDeleted}
        onChange=${(e) => setShowDeleted(e.target.checked)} /> show deleted</label></div>
    ${canOperate && html`<${CreateDataset} nodes=${nodes} />`}
    <${ErrorLine} error=${datasets.error} />
    ${datasets.loading ? html`<${Loading} what="datasets" />` : html`<div class="scroll" data-ready=${datasets.data ? "datasets" : undefined}>
      <table class="list">
        <thead><tr><th scope="col">Dataset</th><th scope="col">Node</th><th scope="col">State</th>
          <th scope="col" class="num">Epoch</th><th scope="col">Driver</th><th scope="col" class="num">Size</th>
          <th scope="col">App</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>${list.map((d) => html`<${DatasetRow} key=${d.id} d=${d} names=${names} nodes=${nodes} canOperate=${canOperate} />`)}</tbody>
      </table>
      ${list.length === 0 && html`<p class="muted">No datasets.</p>`}
    </div>`}
  </div>`;
}
