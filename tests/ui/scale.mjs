// berth's web UI at scale: 200 apps (in four groups) and 1,000 tasks on simulated agents
// (berth-bench-sim-agents speaks the real agent protocol; docs/protocol.md). For every page it
// measures the time from the arrival of the last API response (Resource Timing responseEnd of
// the page's fetches) to the page showing all its rows, and asserts < 1000 ms; then it
// measures how long an update takes to reach the DOM after the change is made through the API
// (scale an app, drain a node, create a dataset) and asserts < 1000 ms.
//
//   node tests/ui/scale.mjs --bin build/release/bin --bench-bin build/release/bench --artifacts DIR

import path from "node:path";
import {
  parseArgs, runTest, startMaster, startProcess, launchBrowser, watchPage, screenshot, onCleanup,
  waitFor, assert, log, sleep,
} from "./lib.mjs";

const opts = parseArgs();
const AGENTS = 10;
const GROUPS = 4;
const APPS = 200;
const INSTANCES = 5;
const DATASETS = 20;
const LIMIT_MS = 1000;

function appIds() {
  const ids = [];
  for (let i = 0; i < APPS; i++) ids.push(`/scale-g${i % GROUPS}/app-${String(i).padStart(3, "0")}`);
  return ids;
}

async function deployApps(api) {
  const byGroup = new Map();
  for (const id of appIds()) {
    const g = id.split("/")[1];
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push({ id, cmd: "sleep 100000", cpus: 0.001, mem: 0.1, instances: INSTANCES, portDefinitions: [] });
  }
  for (const [g, apps] of byGroup) await api.call("POST", "/v2/groups", { id: `/${g}`, apps });
}

async function runningTasks(api) {
  const apps = (await api.get("/v2/apps")).apps;
  return apps.reduce((n, a) => n + a.tasksRunning, 0);
}

// Reloads the UI on `route` and measures last-response-to-all-rows; `shown` runs in the page
// and answers performance.now() once every row is there, else false.
async function measurePage(page, origin, route, shown, arg) {
  await page.goto(`${origin}/ui/${route}`);
  await page.reload();
  const shownAt = await (await page.waitForFunction(shown, arg, { polling: "raf", timeout: 30000 })).jsonValue();
  const last = await page.evaluate((until) => Math.max(0, ...performance.getEntriesByType("resource")
    .filter((e) => e.initiatorType === "fetch" && !e.name.includes("/v2/events") && e.responseEnd <= until)
    .map((e) => e.responseEnd)), shownAt);
  return { ms: shownAt - last, lastResponseAt: last, shownAt };
}

// Time from `change()` (an API call) until `check` (run in the page) is true.
async function measureUpdate(page, change, check, arg) {
  const t0 = Date.now();
  await change();
  await page.waitForFunction(check, arg, { polling: "raf", timeout: 10000 });
  return Date.now() - t0;
}

runTest("UI.TwoHundredAppsAThousandTasks", 400000, async () => {
  assert(opts.benchBin, "--bench-bin DIR (where berth-bench-sim-agents is) is required");
  const m = await startMaster(opts);
  const origin = m.url;
  const sim = startProcess(path.join(opts.benchBin, "berth-bench-sim-agents"),
    ["--master", m.url, "--token", m.joinToken, "--agents", String(AGENTS), "--prefix", "sim", "--report-interval-s", "5"],
    { logFile: path.join(m.dir, "sim.log") });
  onCleanup(() => sim.stop(10000));
  await waitFor(`${AGENTS} simulated agents`, async () =>
    (await m.api.get("/berth/v1/nodes")).nodes.filter((n) => n.state === "active").length >= AGENTS, 60000, 300);
  const nodes = (await m.api.get("/berth/v1/nodes")).nodes;
  log(`master at ${m.url}, ${AGENTS} simulated agents`);

  const t0 = Date.now();
  await deployApps(m.api);
  await waitFor(`${APPS * INSTANCES} running tasks`, async () => (await runningTasks(m.api)) >= APPS * INSTANCES, 240000, 1000);
  log(`${APPS} apps and ${APPS * INSTANCES} tasks running after ${Date.now() - t0} ms`);
  for (let i = 0; i < DATASETS; i++) {
    await m.api.call("POST", "/v1/configuration/datasets", { primary: nodes[i % nodes.length].id, maximum_size: 67108864, metadata: { name: `scale-ds-${i}` } });
  }
  await sleep(1000); // let the deployments' last events pass

  const browser = await launchBrowser(opts.artifacts);
  const page = await browser.newPage();
  const problems = [];
  watchPage(page, origin, problems);
  await page.goto(`${origin}/ui/#token=${encodeURIComponent(m.api.token)}`);
  await page.waitForSelector("header.top >> text=Sign out");

  const results = {};
  results.apps = await measurePage(page, origin, "#/apps",
    (a) => document.querySelectorAll("[data-row=app]").length === a && performance.now(), APPS);
  await screenshot(page, opts, "scale-apps");
  results.nodes = await measurePage(page, origin, "#/nodes",
    (a) => {
      const cards = document.querySelectorAll("[data-row=node]");
      let tasks = 0;
      for (const n of cards) tasks += Number(n.querySelector("[data-col=tasks]").textContent);
      return cards.length === a.nodes && tasks === a.tasks && performance.now();
    },
    { nodes: AGENTS, tasks: APPS * INSTANCES });
  await screenshot(page, opts, "scale-nodes");
  results.datasets = await measurePage(page, origin, "#/datasets",
    (a) => document.querySelectorAll("[data-row=dataset]").length === a && performance.now(), DATASETS);
  await screenshot(page, opts, "scale-datasets");
  results.failovers = await measurePage(page, origin, "#/failovers",
    () => !!document.querySelector("[data-ready=failovers]") && performance.now(), null);
  results.app = await measurePage(page, origin, `#/apps/${encodeURIComponent("/scale-g0/app-000")}`,
    (a) => document.querySelectorAll("[data-row=task]").length === a && performance.now(), INSTANCES);
  await screenshot(page, opts, "scale-app");
  for (const [name, r] of Object.entries(results)) log(`page ${name}: all rows ${r.ms.toFixed(1)} ms after the last API response`);
  for (const [name, r] of Object.entries(results)) assert(r.ms < LIMIT_MS, `the ${name} page took ${r.ms.toFixed(1)} ms (limit ${LIMIT_MS})`);

  const updates = {};
  await page.goto(`${origin}/ui/#/apps`);
  await page.waitForSelector("[data-ready=apps]");
  await page.waitForFunction((n) => document.querySelectorAll("[data-row=app]").length === n, APPS);
  updates.scale = await measureUpdate(page, () => m.api.call("PUT", "/v2/apps/scale-g1/app-001", { instances: INSTANCES + 1 }),
    (a) => {
      const td = document.querySelector('[data-app-id="/scale-g1/app-001"] [data-col=running]');
      return td && td.textContent.endsWith(`/${a}`);
    }, INSTANCES + 1);
  await page.goto(`${origin}/ui/#/nodes`);
  await page.waitForSelector("[data-ready=nodes] [data-row=node]");
  const victim = nodes[0];
  updates.drain = await measureUpdate(page, () => m.api.call("POST", `/berth/v1/nodes/${victim.id}/drain`),
    (a) => !!document.querySelector(`[data-row=node][data-node="${a}"][data-state=draining]`), victim.hostname);
  await page.goto(`${origin}/ui/#/datasets`);
  await page.waitForSelector("[data-ready=datasets]");
  updates.dataset = await measureUpdate(page, () => m.api.call("POST", "/v1/configuration/datasets",
    { primary: nodes[1].id, maximum_size: 67108864, metadata: { name: "scale-new" } }),
  () => !!document.querySelector('[data-row=dataset][data-dataset="scale-new"]'), null);
  for (const [name, ms] of Object.entries(updates)) log(`update ${name}: in the DOM ${ms} ms after the API call began`);
  for (const [name, ms] of Object.entries(updates)) assert(ms < LIMIT_MS, `the ${name} update took ${ms} ms (limit ${LIMIT_MS})`);
  assert(problems.length === 0, problems.join("; "));
});
