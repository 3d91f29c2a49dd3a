// berth UI: the changes an operator makes to one app, with Marathon's calls
// (docs/compatibility.md §2.1): scale (PUT /v2/apps/{id} {"instances": n}), restart
// (POST /v2/apps/{id}/restart), suspend (scale to 0), destroy (DELETE /v2/apps/{id}) and roll
// back (PUT /v2/apps/{id} {"version": v}). Shown only to operators and admins.

import { html, useState, useEffect } from "../vendor/standalone.module.js";
import { call, appPath } from "../api.js";
import { refresh } from "../store.js";
import { ActionButton } from "../util.js";

const AFTER = ["apps", "deployments", "queue", "groups"];

export async function scaleApp(id, instances) {
  await call("PUT", `/v2/apps/${appPath(id)}`, { instances });
  refresh(AFTER);
}

export async function rollbackApp(id, version) {
  await call("PUT", `/v2/apps/${appPath(id)}`, { version });
  refresh(AFTER);
}

function ScaleControl({ app }) {
  const [n, setN] = useState(String(app.instances));
  useEffect(() => setN(String(app.instances)), [app.instances]);
  const inputId = `scale-${app.id}`;
  return html`<span class="scale">
    <label class="sr" for=${inputId}>Instances of ${app.id}</label>
    <input id=${inputId} type="number" min="0" class="narrow" value=${n}
      onInput=${(e) => setN(e.target.value)} />
    <${ActionButton} action="scale" label="Scale" run=${() => scaleApp(app.id, Number(n))} />
  </span>`;
}

export function AppActions({ app }) {
  return html`<span class="action-row">
    <${ScaleControl} app=${app} />
    <${ActionButton} action="restart" label="Restart"
      run=${async () => {
        await call("POST", `/v2/apps/${appPath(app.id)}/restart`);
        refresh(AFTER);
      }} />
    ${app.instances > 0 && html`<${ActionButton} action="suspend" label="Suspend"
      run=${() => scaleApp(app.id, 0)} />`}
    <${ActionButton} action="destroy" label="Destroy" kind="danger"
      confirm=${`Destroy ${app.id} and kill its tasks?`}
      run=${async () => {
        await call("DELETE", `/v2/apps/${appPath(app.id)}`);
        refresh(AFTER);
        if (location.hash.startsWith("#/apps/")) location.hash = "#/apps";
      }} />
  </span>`;
}
