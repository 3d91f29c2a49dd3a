// berth UI: the changes an operator makes to one app, with Marathon's calls
// (docs/compatibility.md §2.1): scale (PUT /v2/apps/{id} {"instances": n}), restart
// (POST /v2/apps/{id}/restart), suspend (scale to 0), destroy (DELETE /v2/apps/{id}) and roll
// back (PUT /v2/apps/{id} {"version": v}). Shown only to operators and admins.

import { html, useState, useEffect } from "../vendor/standalone.module.js";
import { call, appPath } from "../api.js";
import { refresh } from "../store.js";
import { ActionButton, isLocked } from "../util.js";

const AFTER = ["apps", "deployments", "queue", "groups"];

// `force`: override the lock of a deployment in progress (Marathon's ?force=true).
const q = (force) => (force ? "?force=true" : "");

export async function scaleApp(id, instances, force) {
  await call("PUT", `/v2/apps/${appPath(id)}${q(force)}`, { instances });
  refresh(AFTER);
}

export async function rollbackApp(id, version, force) {
  await call("PUT", `/v2/apps/${appPath(id)}${q(force)}`, { version });
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
    <${ActionButton} action="scale" label="Scale" run=${(force) => scaleApp(app.id, Number(n), force)} />
  </span>`;
}

export function AppActions({ app }) {
  return html`<span class="action-row">
    <${ScaleControl} app=${app} />
    <${ActionButton} action="restart" label="Restart"
      run=${async (force) => {
        await call("POST", `/v2/apps/${appPath(app.id)}/restart${q(force)}`);
        refresh(AFTER);
      }} />
    ${app.instances > 0 && html`<${ActionButton} action="suspend" label="Suspend"
      run=${(force) => scaleApp(app.id, 0, force)} />`}
    <${ActionButton} action="destroy" label="Destroy" kind="danger"
      confirm=${`Destroy ${app.id} and kill its tasks?`}
      run=${async (force) => {
        await call("DELETE", `/v2/apps/${appPath(app.id)}${q(force)}`);
        refresh(AFTER);
        if (location.hash.startsWith("#/apps/")) location.hash = "#/apps";
      }} />
  </span>`;
}

// The same changes for one row of the Apps list: one component and one state per row (200
// rows must render fast), the instance count read from the form when Scale is pressed.
export function AppRowActions({ app }) {
  const [state, setState] = useState({ busy: false, error: null, confirming: false, retry: null });
  // `fn(force)`; after a 409 lock the same change can be forced.
  async function run(fn) {
    setState({ busy: true, error: null, confirming: false, retry: null });
    try {
      await fn(false);
      setState({ busy: false, error: null, confirming: false, retry: null });
    } catch (e) {
      setState({ busy: false, error: e, confirming: false, retry: isLocked(e) ? fn : null });
    }
  }
  async function force() {
    const fn = state.retry;
    setState({ busy: true, error: null, confirming: false, retry: null });
    try {
      await fn(true);
      setState({ busy: false, error: null, confirming: false, retry: null });
    } catch (e) {
      setState({ busy: false, error: e, confirming: false, retry: null });
    }
  }
  const path = `/v2/apps/${appPath(app.id)}`;
  const scale = (e) => {
    e.preventDefault();
    const n = Number(e.target.elements.instances.value);
    run((f) => scaleApp(app.id, n, f));
  };
  const restart = () => run(async (f) => {
    await call("POST", `${path}/restart${q(f)}`);
    refresh(AFTER);
  });
  const destroy = () => run(async (f) => {
    await call("DELETE", `${path}${q(f)}`);
    refresh(AFTER);
  });
  const inputId = `scale-${app.id}`;
  if (state.confirming) {
    return html`<span class="confirm"><span>Destroy ${app.id}?</span>
      <button type="button" class="btn danger" data-action="destroy" onClick=${destroy}>Yes, destroy</button>
      <button type="button" class="btn" onClick=${() => setState({ ...state, confirming: false })}>Cancel</button></span>`;
  }
  return html`<form class="action-row" onSubmit=${scale}>
    <label class="sr" for=${inputId}>Instances of ${app.id}</label>
    <input id=${inputId} name="instances" type="number" min="0" class="narrow" key=${app.instances} defaultValue=${app.instances} />
    <button type="submit" class="btn" data-action="scale" disabled=${state.busy}>Scale</button>
    <button type="button" class="btn" data-action="restart" disabled=${state.busy} onClick=${restart}>Restart</button>
    ${app.instances > 0 && html`<button type="button" class="btn" data-action="suspend" disabled=${state.busy}
      onClick=${() => run((f) => scaleApp(app.id, 0, f))}>Suspend</button>`}
    <button type="button" class="btn danger" data-action="destroy" disabled=${state.busy}
      onClick=${() => setState({ ...state, confirming: true })}>Destroy</button>
    ${state.error && html`<span class="error" role="alert">${state.error.message}</span>`}
    ${state.retry && html`<button type="button" class="btn danger" data-action="force" onClick=${force}>Force</button>`}
  </form>`;
}
