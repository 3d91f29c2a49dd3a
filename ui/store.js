// berth UI: the client-side cache of the master's resources (apps, deployments, queue, nodes,
// datasets, failovers, one app's tasks and versions). Pages subscribe with useResource(); an
// event marks the resources it affects stale and refetches those a mounted page shows, at most
// once per 150 ms (a burst of events is one refetch). No timers poll the server: only events
// and (re)connects of the event stream (docs/compatibility.md §2.6) trigger refetches, and a
// failed fetch is tried again until it succeeds.

import { useEffect, useState } from "./vendor/standalone.module.js";
import { get } from "./api.js";

const THROTTLE_MS = 150;
const RETRY_MAX_MS = 8000;
const resources = new Map();

// The last berth_node_heartbeat per node id: {at: event timestamp ms, seen: performance.now()}.
// Kept outside the node list so heartbeats do not re-render anything by themselves.
export const heartbeats = new Map();

try {
  performance.setResourceTimingBufferSize(100000); // the scale test reads responseEnd
} catch (e) {
  /* not supported */
}

const APPS_PATH =
  "/v2/apps?embed=apps.tasks&embed=apps.counts&embed=apps.deployments" +
  "&embed=apps.readiness&embed=apps.lastTaskFailure";

// Every dataset with its node, epoch, driver, size, state and app (docs/ui.md §4).
function fetchDatasets() {
  return get("/berth/v1/datasets");
}

function pathOf(key) {
  const [kind, arg] = splitKey(key);
  switch (kind) {
    case "apps": return APPS_PATH;
    case "groups": return "/v2/groups?embed=group.groups"; // the tree without its apps
    case "deployments": return "/v2/deployments";
    case "queue": return "/v2/queue?embed=lastUnusedOffers";
    case "nodes": return "/berth/v1/nodes";
    case "failovers": return "/berth/v1/failovers";
    case "info": return "/berth/v1/info";
    case "tasks": return `/berth/v1/tasks?app=${encodeURIComponent(arg)}`;
    case "versions": return `/v2/apps/${arg.split("/").filter(Boolean).join("/")}/versions`;
    default: return null;
  }
}

function splitKey(key) {
  const colon = key.indexOf(":");
  return colon < 0 ? [key, ""] : [key.slice(0, colon), key.slice(colon + 1)];
}

function entry(key) {
  let r = resources.get(key);
  if (!r) {
    r = { key, data: undefined, error: null, stale: true, subs: new Set(), timer: 0, inflight: false,
          again: false, retryTimer: 0, retryMs: 0, dead: false };
    resources.set(key, r);
  }
  return r;
}

function notify(r) {
  for (const fn of r.subs) fn();
}

// Keeps the previous object of every app whose JSON did not change, so that memoized rows of
// unchanged apps skip re-rendering after an event's refetch.
function shareApps(previous, next) {
  if (!next || !Array.isArray(next.apps)) return next;
  const before = new Map(previous ? previous.apps.map((a) => [a.id, a]) : []);
  const json = (previous && previous.json) || new Map();
  const nextJson = new Map();
  next.apps = next.apps.map((a) => {
    const text = JSON.stringify(a);
    nextJson.set(a.id, text);
    return json.get(a.id) === text ? before.get(a.id) : a;
  });
  Object.defineProperty(next, "json", { value: nextJson, enumerable: false });
  return next;
}

async function load(r) {
  if (r.inflight) {
    r.again = true;
    return;
  }
  clearTimeout(r.retryTimer);
  r.retryTimer = 0;
  r.inflight = true;
  r.stale = false;
  try {
    const data = r.key === "datasets" ? await fetchDatasets() : await get(pathOf(r.key));
    r.data = r.key === "apps" ? shareApps(r.data, data) : data;
    r.error = null;
    r.retryMs = 0;
    window.__berthDataAt = performance.now();
  } catch (e) {
    r.error = e;
    r.stale = true;
  }
  r.inflight = false;
  if (r.dead) return; // signed out meanwhile
  notify(r);
  if (r.again) {
    // Changed while it loaded: load again, throttled like any change.
    r.again = false;
    r.stale = true;
    if (r.subs.size > 0) schedule(r);
  } else if (r.error && retryable(r.error)) {
    retry(r);
  } else {
    r.retryMs = 0;
  }
}

// A 4xx says the same again (but a timeout or "too many requests" does not).
function retryable(e) {
  return !(e.status >= 400 && e.status < 500) || e.status === 408 || e.status === 429;
}

// A load that failed on the way or on the server keeps the last answer on screen, and no event
// may come to replace it (the one that would have is spent): it is tried again after 1 s,
// doubling up to 8 s, while a page shows the resource. One timer per resource.
function retry(r) {
  if (r.retryTimer) return;
  r.retryMs = Math.min((r.retryMs || 500) * 2, RETRY_MAX_MS);
  r.retryTimer = setTimeout(() => {
    r.retryTimer = 0;
    if (r.dead) return;
    if (r.stale && !r.inflight && r.subs.size > 0) load(r);
    else if (!r.inflight) r.retryMs = 0; // nobody shows it: the next failure starts at 1 s
  }, r.retryMs);
}

function schedule(r) {
  if (r.timer) return;
  r.timer = setTimeout(() => {
    r.timer = 0;
    if (!r.dead && r.subs.size > 0) load(r);
  }, THROTTLE_MS);
}

// Marks resources stale; refetches the subscribed ones (throttled). `match` is a key, a key
// prefix ending in ":" (every app's tasks: "tasks:") or an array of those.
export function invalidate(match) {
  const keys = Array.isArray(match) ? match : [match];
  for (const r of resources.values()) {
    const hit = keys.some((k) => (k.endsWith(":") ? r.key.startsWith(k) : r.key === k));
    if (!hit) continue;
    r.stale = true;
    // A load on its way may have been answered before this change: it loads again when done
    // (or when a page next shows it).
    if (r.inflight) r.again = true;
    else if (r.subs.size > 0) schedule(r);
  }
}

// After an event stream (re)connect: whatever was loaded may have changed meanwhile. (On the
// first connect nothing is loaded yet: pages wait for the stream, see app.js.)
export function invalidateAll() {
  invalidate([...resources.values()].filter((r) => r.data !== undefined || r.inflight).map((r) => r.key));
}

// Refetch now (after the user changed something).
export function refresh(keys) {
  for (const k of keys) {
    const r = resources.get(k);
    if (r && r.subs.size > 0) load(r);
    else if (r) r.stale = true;
  }
}

export function peek(key) {
  return resources.get(key)?.data;
}

// {data, error, loading} of a resource, kept up to date while the component is mounted.
export function useResource(key) {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!key) return undefined;
    const r = entry(key);
    const fn = () => setTick((t) => t + 1);
    r.subs.add(fn);
    if (r.stale && !r.inflight) load(r);
    return () => r.subs.delete(fn);
  }, [key]);
  const r = key ? entry(key) : null;
  return { data: r?.data, error: r?.error, loading: !!r && r.data === undefined && !r.error };
}

// Which resources each event type changes.
const AFFECTS = {
  status_update_event: ["apps", "tasks:", "nodes", "queue", "deployments"],
  health_status_changed_event: ["apps", "tasks:"],
  deployment_info: ["deployments", "apps", "queue"],
  deployment_success: ["deployments", "apps", "queue", "groups"],
  deployment_failed: ["deployments", "apps", "queue"],
  deployment_step_success: ["deployments", "apps"],
  deployment_step_failure: ["deployments", "apps"],
  api_post_event: ["apps", "groups", "deployments", "queue", "versions:", "datasets"],
  group_change_success: ["apps", "groups", "deployments", "queue", "versions:"],
  app_terminated_event: ["apps", "groups", "queue", "datasets", "tasks:"],
  berth_node_changed: ["nodes", "apps", "tasks:"],
  berth_dataset_changed: ["datasets"],
  berth_failover_changed: ["failovers"],
};

export function handleEvent(type, data) {
  if (type === "berth_node_heartbeat") {
    const at = Date.parse(data.timestamp);
    heartbeats.set(data.nodeId, { at: Number.isNaN(at) ? Date.now() : at, seen: performance.now() });
    return;
  }
  const keys = AFFECTS[type];
  if (!keys) return;
  window.__berthChangeAt = performance.now(); // the browser tests wait for quiet with it
  invalidate(keys);
}

// Forget everything (sign-out).
export function clearAll() {
  for (const r of resources.values()) {
    clearTimeout(r.timer);
    clearTimeout(r.retryTimer);
    r.dead = true; // a load on its way ends without a word
  }
  resources.clear();
  heartbeats.clear();
}
