// berth UI: small shared helpers — formatting, roles, hash links, and little components
// (an action button that shows its own errors, a confirm step, an error line).

import { html, useState, useContext, createContext, Component } from "./vendor/standalone.module.js";

// {who, role} of the signed-in token (GET /berth/v1/whoami; docs/security.md §1).
export const Session = createContext({ who: "", role: "viewer" });

const RANK = { viewer: 0, operator: 1, admin: 2 };

// Whether `role` may do what needs `needed`: "operator" (apps, groups, tasks, deployments,
// queue, datasets) or "admin" (nodes, tokens).
export function allowed(role, needed) {
  return (RANK[role] ?? 0) >= RANK[needed];
}

export function useRole() {
  return useContext(Session).role;
}

export function appHref(id) {
  return `#/apps/${encodeURIComponent(id)}`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function fmtMiB(n) {
  return n === null || n === undefined ? "—" : fmtBytes(Number(n) * 1048576);
}

export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined) return "—";
  return Number.isInteger(n) ? String(n) : Number(n).toFixed(digits).replace(/\.?0+$/, "");
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(3)} s`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// "/a/b/c" -> "/a/b"; "/c" -> "/".
export function parentOf(id) {
  const i = id.lastIndexOf("/");
  return i <= 0 ? "/" : id.slice(0, i);
}

export function ErrorLine({ error }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : error.message;
  return html`<p class="error" role="alert">${text}</p>`;
}

// Whether an error is Marathon's 409 "locked by a deployment" (docs/compatibility.md §2.1).
export function isLocked(e) {
  return !!e && e.status === 409 && /deployment/i.test(e.message || "");
}

// A button that runs `run(force)` (async), disables itself meanwhile and shows what failed;
// when a deployment locks the app (409) it offers to run again with force=true. Every button
// that changes something carries data-action, so tests can find them all.
export function ActionButton({ action, label, run, confirm, kind, title }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(null);
  async function go(force) {
    setAsking(false);
    setBusy(true);
    setError(null);
    try {
      await run(force === true);
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  }
  const cls = `btn ${kind || ""}`;
  if (asking) {
    return html`<span class="confirm">
      <span>${confirm}</span>
      <button type="button" class="btn danger" data-action=${action} onClick=${go}>Yes, ${label.toLowerCase()}</button>
      <button type="button" class="btn" onClick=${() => setAsking(false)}>Cancel</button>
    </span>`;
  }
  return html`<span class="action">
    <button type="button" class=${cls} data-action=${action} title=${title} disabled=${busy}
      onClick=${confirm ? () => setAsking(true) : go}>${busy ? "…" : label}</button>
    ${error && html`<span class="error" role="alert">${error.message}</span>`}
    ${isLocked(error) && html`<button type="button" class="btn danger" data-action=${action} data-force=""
      onClick=${() => go(true)}>${label} anyway (force)</button>`}
  </span>`;
}

// A health/state badge.
export function Badge({ kind, children }) {
  return html`<span class=${`badge ${kind || ""}`}>${children}</span>`;
}

export function Loading({ what }) {
  return html`<p class="muted">Loading ${what}…</p>`;
}

// preact/compat's memo, which the standalone build lacks: re-render only when a prop changed.
export function memo(render) {
  return class Memo extends Component {
    shouldComponentUpdate(next) {
      for (const k in next) if (next[k] !== this.props[k]) return true;
      for (const k in this.props) if (!(k in next)) return true;
      return false;
    }
    render(props) {
      return render(props);
    }
  };
}
