// berth UI: an app's versions (GET /v2/apps/{id}/versions, the last 50 are kept;
// docs/compatibility.md §2.1), a line diff between two of them, and a roll back to one.

import { html, useEffect, useState } from "../vendor/standalone.module.js";
import { get, appPath } from "../api.js";
import { useResource } from "../store.js";
import { ActionButton, ErrorLine, fmtTime } from "../util.js";
import { rollbackApp } from "./app_actions.js";

const definitions = new Map(); // "id@version" -> definition (versions never change)

async function definition(id, version) {
  const key = `${id}@${version}`;
  if (!definitions.has(key)) definitions.set(key, await get(`/v2/apps/${appPath(id)}/versions/${encodeURIComponent(version)}`));
  return definitions.get(key);
}

// JSON with sorted keys and without the fields that change with every version.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value).sort()) {
      if (k === "version" || k === "versionInfo") continue;
      out[k] = canonical(value[k]);
    }
    return out;
  }
  return value;
}

// A line diff (longest common subsequence; definitions are a few dozen lines).
export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push([" ", a[i]]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(["-", a[i++]]);
    } else {
      out.push(["+", b[j++]]);
    }
  }
  return out;
}

// The changed lines with `context` unchanged lines around each; longer unchanged runs become "…".
export function withContext(lines, context = 3) {
  const keep = new Uint8Array(lines.length);
  lines.forEach(([k], i) => {
    if (k === " ") return;
    for (let d = -context; d <= context; d++) if (i + d >= 0 && i + d < lines.length) keep[i + d] = 1;
  });
  const out = [];
  lines.forEach((line, i) => {
    if (keep[i]) out.push(line);
    else if (out.length === 0 || out[out.length - 1][0] !== "…") out.push(["…", ""]);
  });
  return out;
}

function Diff({ id, from, to }) {
  const [lines, setLines] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    setLines(null);
    Promise.all([definition(id, from), definition(id, to)]).then(([a, b]) => {
      const left = JSON.stringify(canonical(a), null, 2).split("\n");
      const right = JSON.stringify(canonical(b), null, 2).split("\n");
      if (live) setLines(withContext(diffLines(left, right)));
    }, (e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [id, from, to]);
  if (error) return html`<${ErrorLine} error=${error} />`;
  if (!lines) return html`<p class="muted">Loading the diff…</p>`;
  const changed = lines.some(([k]) => k !== " ");
  return html`<pre class="diff" aria-label="Diff">${changed ? lines.map(([k, text], i) => html`<span key=${i}
    class=${k === "+" ? "add" : k === "-" ? "del" : k === "…" ? "gap" : ""}>${k} ${text}</span>`) : "The two versions are the same."}</pre>`;
}

export function Versions({ app, canOperate }) {
  const versions = useResource(`versions:${app.id}`);
  const list = (versions.data && versions.data.versions) || [];
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const a = from || list[1] || list[0];
  const b = to || list[0];
  return html`<section class="card" aria-label="Versions">
    <h2>Versions <span class="muted">${list.length}</span></h2>
    <${ErrorLine} error=${versions.error} />
    <ul class="plain versions">${list.map((v) => html`<li key=${v}>
      <span class="mono small">${v}</span> <span class="muted">${fmtTime(v)}</span>
      ${v === app.version ? html` <b>current</b>` : canOperate && html` <${ActionButton} action="rollback"
        label="Roll back" confirm=${`Roll ${app.id} back to ${v}?`} run=${(force) => rollbackApp(app.id, v, force)} />`}
    </li>`)}</ul>
    ${list.length > 1 && html`<div class="diff-pick">
      <label for="diff-from">Compare</label>
      <select id="diff-from" value=${a} onChange=${(e) => setFrom(e.target.value)}>
        ${list.map((v) => html`<option key=${v} value=${v}>${v}</option>`)}</select>
      <label for="diff-to">with</label>
      <select id="diff-to" value=${b} onChange=${(e) => setTo(e.target.value)}>
        ${list.map((v) => html`<option key=${v} value=${v}>${v}</option>`)}</select>
    </div>
    <${Diff} id=${app.id} from=${a} to=${b} />`}
  </section>`;
}
