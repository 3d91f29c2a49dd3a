// berth UI: the entry module. Signs in (a token form, or `/ui/#token=…`), asks the master who
// the token is (GET /berth/v1/whoami), opens the event stream, and routes by the URL fragment:
// #/apps, #/apps/<id>, #/create, #/tasks/<task id>/<app id> (its log), #/nodes, #/datasets,
// #/failovers.
// The master serves these files under /ui/ with a strict CSP: no inline scripts or styles.

import { html, render, useEffect, useState } from "./vendor/standalone.module.js";
import { get, getToken, setToken, setUnauthorizedHandler, takeTokenFromFragment, ApiError } from "./api.js";
import { connectEvents } from "./events.js";
import { clearAll, handleEvent, invalidateAll } from "./store.js";
import { Session } from "./util.js";
import { AppsPage } from "./pages/apps.js";
import { AppPage } from "./pages/app.js";
import { CreatePage } from "./pages/create.js";
import { LogsPage } from "./pages/logs.js";
import { NodesPage } from "./pages/nodes.js";
import { DatasetsPage } from "./pages/datasets.js";
import { FailoversPage } from "./pages/failovers.js";

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "apps":
      return parts[1] ? { page: "app", id: parts[1] } : { page: "apps" };
    case "create":
      return { page: "create" };
    case "tasks":
      return { page: "logs", taskId: parts[1] || "", appId: parts[2] || "" };
    case "nodes":
    case "datasets":
    case "failovers":
      return { page: parts[0] };
    default:
      return { page: "apps" };
  }
}

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parseRoute(hash);
}

function SignIn({ message, onToken }) {
  const [value, setValue] = useState("");
  function submit(e) {
    e.preventDefault();
    if (value.trim()) onToken(value.trim());
  }
  return html`<main class="signin">
    <h1>berth</h1>
    <form onSubmit=${submit} class="card">
      <h2>Sign in</h2>
      ${message && html`<p class="error" role="alert">${message}</p>`}
      <label for="token">API token</label>
      <input id="token" type="password" autocomplete="off" value=${value}
        onInput=${(e) => setValue(e.target.value)} />
      <p class="muted">Create one with <code>berth token create --role viewer</code>, or use the
        cluster's admin token.</p>
      <button type="submit" class="btn primary">Sign in</button>
    </form>
  </main>`;
}

const NAV = [
  ["apps", "Apps"],
  ["nodes", "Nodes"],
  ["datasets", "Datasets"],
  ["failovers", "Failovers"],
];

function Shell({ session, stream, onSignOut }) {
  const route = useRoute();
  const current = route.page === "app" || route.page === "create" || route.page === "logs" ? "apps" : route.page;
  return html`<${Session.Provider} value=${session}>
    <header class="top">
      <a class="brand" href="#/apps">berth</a>
      <nav aria-label="Main">
        ${NAV.map(([page, label]) => html`<a key=${page} href=${`#/${page}`}
          class=${current === page ? "current" : ""}
          aria-current=${current === page ? "page" : undefined}>${label}</a>`)}
      </nav>
      <span class="who">
        <span class=${`stream ${stream}`} title=${`event stream: ${stream}`}>${stream === "live" ? "● live" : "○ " + stream}</span>
        <span class="muted">${session.who} (${session.role})</span>
        <button type="button" class="btn" onClick=${onSignOut}>Sign out</button>
      </span>
    </header>
    ${stream === "standby" && html`<${StandbyNotice} />`}
    <main id="main">${page(route)}</main>
  <//>`;
}

// This master is a standby: its API calls reach the leader, but its event stream is a redirect
// there, so nothing here is live. Says which master leads, with a link that signs in there.
function StandbyNotice() {
  const [leader, setLeader] = useState("");
  useEffect(() => {
    get("/v2/leader").then((l) => setLeader(l.leader || ""), () => setLeader(""));
  }, []);
  const link = leader && `${location.protocol}//${leader}/ui/#token=${encodeURIComponent(getToken())}`;
  return html`<p class="card notice" role="status">
    This master is a standby, so this page is not live.
    ${leader ? html` The leader is <a href=${link}>${leader}</a> (the link signs you in there).` : " No master leads right now."}
  </p>`;
}

function page(route) {
  switch (route.page) {
    case "app": return html`<${AppPage} key=${route.id} id=${route.id} />`;
    case "create": return html`<${CreatePage} />`;
    case "logs": return html`<${LogsPage} key=${route.taskId} taskId=${route.taskId} appId=${route.appId} />`;
    case "nodes": return html`<${NodesPage} />`;
    case "datasets": return html`<${DatasetsPage} />`;
    case "failovers": return html`<${FailoversPage} />`;
    default: return html`<${AppsPage} />`;
  }
}

// Who the token is and its role (docs/ui.md §2): the page shows only what the role may do.
function whoami() {
  return get("/berth/v1/whoami");
}

function Root() {
  const [session, setSession] = useState(null);
  const [message, setMessage] = useState("");
  const [stream, setStream] = useState("connecting");
  const [token, setTokenState] = useState(getToken());

  useEffect(() => {
    setUnauthorizedHandler((why) => {
      setToken("");
      clearAll();
      setSession(null);
      setTokenState("");
      setMessage(`Signed out: ${why}`);
    });
  }, []);

  // A `#token=` link followed while the page is open signs in with that token.
  useEffect(() => {
    const on = () => {
      if (!takeTokenFromFragment()) return;
      clearAll();
      setSession(null);
      setMessage("");
      setTokenState(getToken());
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);

  useEffect(() => {
    if (!token) return undefined;
    let stop = null;
    let cancelled = false;
    whoami().then((s) => {
      if (cancelled) return;
      // Pages load their data once the event stream is live (or after 2 s without it), so no
      // event falls between a first fetch and the stream; a reconnect refetches what is loaded.
      const show = () => !cancelled && setSession(s);
      const fallback = setTimeout(show, 2000);
      stop = connectEvents({
        onEvent: handleEvent,
        onConnect: () => {
          clearTimeout(fallback);
          invalidateAll();
          show();
        },
        onState: setStream,
      });
    }, (e) => {
      if (!cancelled && !(e instanceof ApiError && e.status === 401)) setMessage(e.message);
    });
    return () => {
      cancelled = true;
      if (stop) stop();
    };
  }, [token]);

  function signIn(t) {
    setToken(t);
    setMessage("");
    setTokenState(t);
  }
  function signOut() {
    setToken("");
    clearAll();
    setSession(null);
    setTokenState("");
    setMessage("Signed out.");
  }

  if (!token) return html`<${SignIn} message=${message} onToken=${signIn} />`;
  if (!session) return html`<main class="signin"><p class="muted">${message || "Signing in…"}</p></main>`;
  return html`<${Shell} session=${session} stream=${stream} onSignOut=${signOut} />`;
}

takeTokenFromFragment();
render(html`<${Root} />`, document.getElementById("root"));
