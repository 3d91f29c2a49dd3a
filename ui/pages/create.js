// berth UI: create an app — a form for the common fields (id, command, instances, cpus, memory,
// a service port, a dataset volume, an HTTP health check) or a JSON editor for any Marathon app
// definition (docs/compatibility.md §2.2). POST /v2/apps; Marathon's 422 details
// ({"path": "/cpus", "errors": [...]}) are shown at the field they name, and in the editor.

import { html, useState } from "../vendor/standalone.module.js";
import { call } from "../api.js";
import { refresh } from "../store.js";
import { appHref, allowed, useRole } from "../util.js";

const EMPTY = {
  id: "", cmd: "", instances: "1", cpus: "0.1", mem: "64", servicePort: "",
  volName: "", volPath: "/data", volSize: "", healthPath: "",
};

function num(text) {
  const t = String(text).trim();
  return t === "" ? undefined : Number(t);
}

// The Marathon app definition the form describes.
export function definitionOf(f) {
  const app = { id: f.id.trim(), cmd: f.cmd };
  for (const k of ["instances", "cpus", "mem"]) {
    const v = num(f[k]);
    if (v !== undefined) app[k] = v;
  }
  app.portDefinitions = [{ port: num(f.servicePort) ?? 0, name: "http" }];
  if (f.volName.trim()) {
    const options = { "dvdi/driver": "berth" };
    if (f.volSize.trim()) options["dvdi/size"] = f.volSize.trim(); // GiB, as rexray's dvdi/size
    app.container = {
      type: "MESOS",
      volumes: [{ containerPath: f.volPath.trim(), mode: "RW",
        external: { name: f.volName.trim(), provider: "dvdi", options } }],
    };
    // One writer per dataset (docs/fencing.md): stop the old task before starting the new one.
    app.upgradeStrategy = { minimumHealthCapacity: 0, maximumOverCapacity: 0 };
  }
  if (f.healthPath.trim()) {
    app.healthChecks = [{ protocol: "HTTP", path: f.healthPath.trim(), portIndex: 0,
      gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }];
  }
  return app;
}

// The form fields a definition fills (the JSON editor back to the form).
function formOf(app) {
  const vol = ((app.container && app.container.volumes) || []).find((v) => v.external) || null;
  const check = (app.healthChecks || [])[0];
  const str = (v) => (v === undefined || v === null ? "" : String(v));
  return {
    id: str(app.id), cmd: str(app.cmd), instances: str(app.instances), cpus: str(app.cpus),
    mem: str(app.mem), servicePort: str(app.portDefinitions && app.portDefinitions[0] && app.portDefinitions[0].port),
    volName: vol ? str(vol.external.name) : "", volPath: vol ? str(vol.containerPath) : "/data",
    volSize: vol ? str((vol.external.options || {})["dvdi/size"]) : "", healthPath: check ? str(check.path) : "",
  };
}

// Which form field a 422 detail's path belongs to; "" when none.
export function fieldOf(path) {
  const rules = [
    [/^\/id/, "id"], [/^\/(cmd|args)/, "cmd"], [/^\/instances/, "instances"], [/^\/cpus/, "cpus"],
    [/^\/mem/, "mem"], [/^\/(portDefinitions|ports)/, "servicePort"],
    [/^\/container\/volumes\/\d+\/containerPath/, "volPath"],
    [/^\/container\/volumes\/\d+\/external\/options/, "volSize"], [/^\/container/, "volName"],
    [/^\/healthChecks/, "healthPath"],
  ];
  for (const [re, field] of rules) if (re.test(path)) return field;
  return "";
}

function Field({ name, label, form, set, errors, hint, type = "text", ...rest }) {
  const id = `f-${name}`;
  const errs = errors[name] || [];
  return html`<div class=${`field ${errs.length ? "invalid" : ""}`}>
    <label for=${id}>${label}</label>
    <input id=${id} name=${name} type=${type} value=${form[name]} aria-invalid=${errs.length ? "true" : undefined}
      aria-describedby=${errs.length ? `${id}-err` : undefined} onInput=${(e) => set(name, e.target.value)} ...${rest} />
    ${hint && html`<span class="muted small">${hint}</span>`}
    ${errs.length > 0 && html`<span class="error" id=${`${id}-err`} data-field-error=${name}>${errs.join("; ")}</span>`}
  </div>`;
}

function splitErrors(details) {
  const byField = {};
  const general = [];
  for (const d of details) {
    const f = fieldOf(d.path || "");
    const text = (d.errors || []).join("; ");
    if (f) (byField[f] = byField[f] || []).push(text);
    else general.push(`${d.path}: ${text}`);
  }
  return [byField, general];
}

export function CreatePage() {
  const role = useRole();
  const [mode, setMode] = useState("form");
  const [form, setForm] = useState(EMPTY);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!allowed(role, "operator")) return html`<p>Creating apps needs the operator role.</p>`;

  const set = (k, v) => setForm({ ...form, [k]: v });
  const details = (error && error.details) || [];
  const [byField, general] = mode === "form" ? splitErrors(details) : [{}, details.map((d) => `${d.path}: ${(d.errors || []).join("; ")}`)];

  function toJson() {
    setText(JSON.stringify(definitionOf(form), null, 2));
    setMode("json");
  }
  function toForm() {
    try {
      setForm(formOf(JSON.parse(text)));
      setMode("form");
    } catch (e) {
      setError(new Error(`The JSON does not parse: ${e.message}`));
    }
  }
  async function submit(e) {
    e.preventDefault();
    let body;
    try {
      body = mode === "form" ? definitionOf(form) : JSON.parse(text);
    } catch (err) {
      setError(new Error(`The JSON does not parse: ${err.message}`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const created = await call("POST", "/v2/apps", body);
      refresh(["apps", "groups", "deployments"]);
      location.hash = appHref(created.id || body.id);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  }

  const p = { form, set, errors: byField };
  return html`<div class="page" data-page="create">
    <p class="crumbs"><a href="#/apps">Apps</a> /</p>
    <h1>Create an app</h1>
    <div class="tabs" role="group" aria-label="Editor">
      <button type="button" class=${`btn ${mode === "form" ? "current" : ""}`} aria-pressed=${mode === "form"} onClick=${() => mode === "json" && toForm()}>Form</button>
      <button type="button" class=${`btn ${mode === "json" ? "current" : ""}`} aria-pressed=${mode === "json"} onClick=${() => mode === "form" && toJson()}>JSON</button>
    </div>
    <form class="card create" onSubmit=${submit} novalidate>
      ${mode === "form" ? html`
        <${Field} name="id" label="App id" placeholder="/counter" ...${p} />
        <${Field} name="cmd" label="Command" placeholder="python3 -m http.server $PORT0" ...${p} />
        <div class="row">
          <${Field} name="instances" label="Instances" inputmode="numeric" ...${p} />
          <${Field} name="cpus" label="CPUs" inputmode="decimal" ...${p} />
          <${Field} name="mem" label="Memory (MiB)" inputmode="decimal" ...${p} />
          <${Field} name="servicePort" label="Service port" inputmode="numeric" hint="empty: one is picked" ...${p} />
        </div>
        <fieldset><legend>Dataset volume (optional)</legend><div class="row">
          <${Field} name="volName" label="Dataset name" placeholder="counterdata" ...${p} />
          <${Field} name="volPath" label="Container path" ...${p} />
          <${Field} name="volSize" label="Size (GiB)" inputmode="decimal" hint="default 1" ...${p} />
        </div></fieldset>
        <${Field} name="healthPath" label="HTTP health check path (optional)" placeholder="/v1/ping" ...${p} />
      ` : html`
        <label for="app-json">App definition (JSON)</label>
        <textarea id="app-json" class="json" rows="22" spellcheck="false" value=${text}
          onInput=${(e) => setText(e.target.value)}></textarea>`}
      ${error && html`<div class="error" role="alert" data-form-error="">
        <p>${error.message}</p>
        ${general.length > 0 && html`<ul>${general.map((g, i) => html`<li key=${i}>${g}</li>`)}</ul>`}
      </div>`}
      <div><button type="submit" class="btn primary" data-action="create" disabled=${busy}>${busy ? "Creating…" : "Create"}</button></div>
    </form>
  </div>`;
}
