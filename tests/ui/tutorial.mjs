// The seed tutorial in a real browser (README.md, "The centrepiece: make demo"), driven through
// berth's web UI: sign in with a `#token=` link, create the counter app from the form (a
// dataset volume, an HTTP health check, a service port), wait until the UI shows it healthy,
// click 20 times on the counter's page through the service port, SIGKILL the node running it
// (its agent and its task processes, as `berth demo` does), watch the UI mark the node lost,
// the task running elsewhere and the failover with its phases, and find the 20 clicks again.
// Also: a viewer sees no control that changes anything, an operator no drain, `/` redirects
// to /ui/, and a bad token lands on the sign-in form with the server's message.
//
//   node tests/ui/tutorial.mjs --bin build/release/bin --artifacts DIR [--ui-dir ui]

import {
  parseArgs, runTest, startCluster, launchBrowser, watchPage, screenshot, actionControls,
  killNode, makeToken, freePort, portFree, waitFor, assert, log, sleep,
} from "./lib.mjs";

const opts = parseArgs();
const CLICKS = 20;

// A free port of the cluster's own service port range (each `berth up` on a machine has its
// own, /v2/info says which).
async function pickServicePort(api) {
  const info = await api.call("GET", "/v2/info");
  const { local_port_min: lo, local_port_max: hi } = info.marathon_config;
  for (let i = 0; i < 100; i++) {
    const p = await freePort(lo + 100, hi);
    if (await portFree(p)) return p;
  }
  throw new Error(`no free service port in ${lo}-${hi}`);
}

async function signIn(page, origin, token) {
  await page.goto(`${origin}/ui/#token=${encodeURIComponent(token)}`);
  await page.waitForSelector("header.top >> text=Sign out", { timeout: 15000 });
  const hash = await page.evaluate(() => location.hash);
  assert(!hash.includes("token"), `the token left the address bar (hash ${hash})`);
}

async function go(page, route, readySelector, timeout = 15000) {
  await page.evaluate((r) => {
    location.hash = r;
  }, route);
  await page.waitForSelector(readySelector, { timeout });
}

async function createCounterFromForm(page, servicePort) {
  await go(page, "#/create", "form.create");
  const fill = (name, value) => page.fill(`#f-${name}`, value);
  await fill("id", "/counter");
  await fill("cmd", `${opts.bin}/berth-counter --port $PORT0 --data-dir $BERTH_VOLUME_DATA`);
  await fill("instances", "1");
  await fill("cpus", "-1"); // first a validation error, shown at its field
  await fill("mem", "64");
  await fill("servicePort", String(servicePort));
  await fill("volName", "uicounter");
  await fill("volPath", "/data");
  await fill("healthPath", "/v1/ping");
  await page.click("[data-action=create]");
  const err = await page.waitForSelector("[data-field-error=cpus]", { timeout: 10000 });
  log(`validation error at the cpus field: "${await err.textContent()}"`);
  await fill("cpus", "0.1");
  await page.click("[data-action=create]");
  await page.waitForFunction(() => location.hash === "#/apps/%2Fcounter", null, { timeout: 10000 });
}

async function clickCounter(counter, servicePort) {
  await counter.goto(`http://127.0.0.1:${servicePort}/`);
  await counter.waitForFunction(() => document.getElementById("status").textContent.startsWith("up"), null, { timeout: 20000 });
  for (let i = 0; i < CLICKS; i++) {
    await counter.mouse.click(40 + (i % 10) * 60, 160 + Math.floor(i / 10) * 80);
  }
  await counter.waitForFunction((n) => document.querySelectorAll(".whale:not(.pending)").length === n &&
    document.getElementById("count").textContent === String(n), CLICKS, { timeout: 20000 });
}

async function checkRoleControls(browser, origin, token, role) {
  const page = await browser.newPage();
  const problems = [];
  watchPage(page, origin, problems);
  await signIn(page, origin, token);
  const routes = [["#/apps", "[data-ready=apps]"], ["#/apps/%2Fcounter", "[data-row=task]"], ["#/nodes", "[data-ready=nodes]"],
    ["#/datasets", "[data-ready=datasets]"], ["#/failovers", "[data-ready=failovers]"], ["#/create", "[data-page=create], main p"]];
  const seen = {};
  for (const [route, ready] of routes) {
    await go(page, route, ready);
    await sleep(300);
    seen[route] = await actionControls(page);
  }
  await page.close();
  assert(problems.length === 0, `${role}: ${problems.join("; ")}`);
  return seen;
}

// The other changes through the UI: an app from the JSON editor, scaled from its row, a diff of
// its two versions, a roll back, a destroy; a dataset created, moved and destroyed.
async function operatorFlows(page) {
  await go(page, "#/create", "form.create");
  await page.click("button:has-text('JSON')");
  await page.fill("#app-json", JSON.stringify({ id: "/sleeper", cmd: "sleep 100000", cpus: 0.01, mem: 16, instances: 1,
    constraints: [["hostname", "UNIQUE"]] }));
  await page.click("[data-action=create]");
  await page.waitForSelector("[data-page=app][data-app-id='/sleeper'] [data-row=task]", { timeout: 30000 });
  await go(page, "#/apps", "[data-row=app][data-app-id='/sleeper']");
  await page.fill("[data-row=app][data-app-id='/sleeper'] input[name=instances]", "4");
  await page.click("[data-row=app][data-app-id='/sleeper'] [data-action=scale]");
  await page.waitForSelector("[data-row=app][data-app-id='/sleeper'] [data-col=running]:has-text('/4')", { timeout: 30000 });
  await go(page, "#/apps/%2Fsleeper", "[data-page=app] pre.diff");
  await page.waitForSelector("pre.diff .add:has-text('\"instances\": 4')", { timeout: 10000 });
  // Two nodes are active (one was killed): UNIQUE leaves two instances waiting, and says why.
  const reason = await page.waitForSelector("[data-section=queue] [data-row=reason]", { timeout: 30000 });
  log(`the App page says why /sleeper waits: "${(await reason.textContent()).trim()}"`);
  await screenshot(page, opts, "tutorial-app-versions");
  // The scale-up cannot finish, so its deployment locks the app: the roll back is forced.
  await page.click("[data-action=rollback]");
  await page.click(".confirm [data-action=rollback]");
  await page.click("[data-action=rollback][data-force]", { timeout: 10000 });
  await page.waitForSelector("[data-page=app] dd:has-text('1 running, 0 healthy, 0 staged of 1')", { timeout: 30000 });
  await page.click("[data-page=app] .page-head [data-action=destroy]");
  await page.click(".confirm [data-action=destroy]");
  await page.click("[data-page=app] .page-head [data-action=destroy][data-force]", { timeout: 3000 }).catch(() => {});
  await page.waitForFunction(() => location.hash === "#/apps");
  await page.waitForSelector("[data-ready=apps]");
  await page.waitForFunction(() => !document.querySelector("[data-row=app][data-app-id='/sleeper']"), null, { timeout: 30000 });
  log("from the UI: /sleeper created (JSON), scaled to 4, diffed, rolled back to 1, destroyed");

  await go(page, "#/datasets", "[data-ready=datasets]");
  await page.fill("#ds-name", "uitest");
  await page.fill("#ds-size", "64");
  await page.click("[data-action=create-dataset]");
  const row = "[data-row=dataset][data-dataset=uitest]";
  await page.waitForSelector(`${row}[data-state=attached]`, { timeout: 30000 });
  const from = (await page.textContent(`${row} [data-col=node]`)).trim();
  await page.click(`${row} [data-action=move]`);
  await page.waitForFunction(([sel, f]) => {
    const el = document.querySelector(sel);
    return el && el.getAttribute("data-state") === "attached" && el.querySelector("[data-col=node]").textContent.trim() !== f;
  }, [row, from], { timeout: 30000 });
  const to = (await page.textContent(`${row} [data-col=node]`)).trim();
  await page.click(`${row} [data-action=destroy-dataset]`);
  await page.click(`${row} .confirm [data-action=destroy-dataset]`);
  await page.waitForSelector(row, { state: "detached", timeout: 30000 });
  log(`from the UI: dataset uitest created on ${from}, moved to ${to}, destroyed`);

  await go(page, "#/nodes", "[data-row=node][data-state=active] [data-action=drain]");
  const node = await page.getAttribute("[data-row=node][data-state=active]:has([data-action=drain])", "data-node");
  const card = `[data-row=node][data-node=${node}]`;
  await page.click(`${card} [data-action=drain]`);
  await page.click(`${card} .confirm [data-action=drain]`);
  await page.waitForSelector(`${card}[data-state=draining] [data-action=undrain]`, { timeout: 15000 });
  await page.click(`${card} [data-action=undrain]`);
  await page.waitForSelector(`${card}[data-state=active]`, { timeout: 15000 });
  log(`from the UI: ${node} drained and undrained`);
}

// Every control is reachable with Tab, and the focused one is visibly outlined.
async function checkKeyboard(page) {
  await go(page, "#/apps", "[data-ready=apps]");
  await page.focus("a.brand");
  const seen = new Set();
  for (let i = 0; i < 14; i++) {
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { what: `${el.tagName}:${el.getAttribute("data-action") || el.textContent.trim().slice(0, 12)}`, outline: style.outlineStyle };
    });
    if (f.what.startsWith("BODY:")) break; // past the last control
    assert(f.outline !== "none", `the focused ${f.what} shows no outline`);
    seen.add(f.what);
  }
  for (const want of ["A:Nodes", "BUTTON:Sign out", "INPUT:", "A:create-app", "BUTTON:scale"]) {
    assert(seen.has(want), `Tab does not reach ${want} (reached ${[...seen].join(", ")})`);
  }
}

async function failoverOf(api, hostname) {
  const list = (await api.get("/berth/v1/failovers")).failovers;
  return list.find((f) => f.node.hostname === hostname);
}

runTest("UI.SeedTutorial", 400000, async () => {
  const cluster = await startCluster(opts, { agents: 3 });
  const origin = cluster.url;
  log(`cluster at ${cluster.url} (UI at ${origin}/ui/), data in ${cluster.dataDir}`);

  const redirect = await fetch(`${origin}/`, { redirect: "manual" });
  assert(redirect.status >= 300 && redirect.status < 400 && /\/ui\/$/.test(redirect.headers.get("location") || ""),
    `/ redirects to /ui/ (got ${redirect.status} ${redirect.headers.get("location")})`);

  const browser = await launchBrowser(opts.artifacts);
  const page = await browser.newPage();
  const problems = [];
  watchPage(page, origin, problems);

  // A bad token: back to the sign-in form, with the server's message.
  await page.goto(`${origin}/ui/#token=not-a-token`);
  await page.waitForSelector("main.signin .error", { timeout: 15000 });
  log(`bad token: "${await page.textContent("main.signin .error")}"`);

  await signIn(page, origin, cluster.api.token);
  await page.waitForSelector("[data-ready=apps]");
  const servicePort = await pickServicePort(cluster.api);
  const t0 = Date.now();
  await createCounterFromForm(page, servicePort);
  await page.waitForSelector("[data-app-status=healthy]", { timeout: 90000 });
  log(`/counter created from the form; the UI shows it healthy after ${Date.now() - t0} ms`);
  await screenshot(page, opts, "tutorial-app");
  await page.click("[data-row=task] a[href^='#/tasks/']");
  await page.waitForSelector("pre.log:has-text('berth-counter')", { timeout: 15000 });
  await screenshot(page, opts, "tutorial-logs");

  const counter = await browser.newPage();
  await clickCounter(counter, servicePort);
  log(`${CLICKS} clicks stored through http://127.0.0.1:${servicePort}/`);
  await screenshot(counter, opts, "tutorial-counter-before");

  const task = (await cluster.api.get("/berth/v1/tasks?app=/counter")).tasks.find((t) => t.state === "TASK_RUNNING");
  const nodes = (await cluster.api.get("/berth/v1/nodes")).nodes;
  const victim = nodes.find((n) => n.id === task.agentId).hostname;
  await go(page, "#/nodes", `[data-row=node][data-node=${victim}][data-state=active]`);
  // The app list fails (503) from the kill until the App page shows the replacement healthy:
  // the events of the failover are spent by then, and the page must still catch up.
  let appsDown = true;
  let appsFailed = 0;
  await page.route(/\/v2\/apps\?embed=/, (route) => {
    if (!appsDown) return route.continue();
    appsFailed++;
    return route.fulfill({ status: 503, contentType: "application/json", body: '{"message":"test: unavailable"}' });
  });
  const killedAt = Date.now();
  const killed = killNode(cluster.url, victim);
  log(`killed node ${victim}: agent pid ${killed.agentPid} and ${killed.tasks} task processes, SIGKILL`);

  await page.waitForSelector(`[data-row=node][data-node=${victim}][data-state=lost]`, { timeout: 30000 });
  log(`the Nodes page shows ${victim} lost ${Date.now() - killedAt} ms after the kill`);
  await screenshot(page, opts, "tutorial-nodes");
  await go(page, "#/apps/%2Fcounter", "[data-page=app]");
  const replacement = `[data-row=task][data-node]:not([data-node="${victim}"]):not([data-node=""])`;
  await page.waitForSelector(`${replacement} .badge.good:text-is("healthy")`, { timeout: 60000 });
  // No event for 3 s: nothing but the page's own retry will load the app list again.
  await waitFor("the failover's events to stop", () =>
    page.evaluate(() => performance.now() - (window.__berthChangeAt || 0) > 3000), 60000);
  assert(appsFailed > 0, "the app list was never asked for while it failed");
  await page.waitForSelector("[data-page=app] > p.error:has-text('unavailable')", { timeout: 15000 });
  appsDown = false;
  log(`the task row shows the replacement healthy; ${appsFailed} loads of the app list failed meanwhile`);
  // Only a load after the failures clears their error; the summary is then the new answer's.
  await page.waitForSelector("[data-page=app] > p.error", { state: "detached", timeout: 30000 });
  await page.unroute(/\/v2\/apps\?embed=/);
  await page.waitForSelector("[data-app-status=healthy]", { timeout: 30000 });
  const movedTo = await page.getAttribute("[data-row=task]", "data-node");
  log(`the App page shows the task running and healthy on ${movedTo} ${Date.now() - killedAt} ms after the kill`);

  await go(page, "#/failovers", `[data-row=failover][data-node=${victim}]`, 30000);
  await page.waitForSelector(`[data-row=failover][data-node=${victim}] li[data-phase=healthyAfterMs]:not(.pending)`, { timeout: 60000 });
  await waitFor("the counter to answer again", () => counter.evaluate(() => document.getElementById("status").textContent.startsWith("up")), 30000);
  await page.waitForSelector(`[data-row=failover][data-node=${victim}] li[data-phase=routedAfterMs]:not(.pending)`, { timeout: 30000 });
  await page.waitForSelector(`[data-row=failover][data-node=${victim}] li[data-phase=attachedAfterMs]:not(.pending)`, { timeout: 1000 });
  const f = await failoverOf(cluster.api, victim);
  log(`failover of ${victim}: ${JSON.stringify(f.phases)}`);
  await screenshot(page, opts, "tutorial-failovers");

  await counter.reload();
  await counter.waitForFunction((n) => document.querySelectorAll(".whale:not(.pending)").length >= n, CLICKS, { timeout: 30000 });
  const marks = await counter.evaluate(() => document.querySelectorAll(".whale:not(.pending)").length);
  assert(marks === CLICKS, `after the failover the counter page shows ${marks} marks, not ${CLICKS}`);
  log(`after the failover the counter page shows all ${marks} clicks`);
  await screenshot(counter, opts, "tutorial-counter-after");

  await operatorFlows(page);
  await checkKeyboard(page);
  log("keyboard: Tab reaches the navigation, sign-out, filter and app controls, each with a visible outline");
  for (const [route, ready, name] of [["#/apps", "[data-ready=apps]", "apps"], ["#/datasets", "[data-ready=datasets]", "datasets"],
    ["#/create", "form.create", "create"]]) {
    await go(page, route, ready);
    await screenshot(page, opts, `tutorial-${name}`);
  }
  await page.setViewportSize({ width: 375, height: 800 });
  for (const [route, ready, name] of [["#/apps", "[data-ready=apps]", "apps"], ["#/nodes", "[data-ready=nodes]", "nodes"],
    ["#/apps/%2Fcounter", "[data-row=task]", "app"], ["#/datasets", "[data-ready=datasets]", "datasets"],
    ["#/failovers", "[data-ready=failovers]", "failovers"], ["#/create", "form.create", "create"]]) {
    await go(page, route, ready);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert(overflow <= 1, `the ${name} page is ${overflow} px wider than 375 px`);
    await screenshot(page, opts, `tutorial-${name}-375px`);
  }
  assert(problems.length === 0, problems.join("; "));

  const viewer = await checkRoleControls(browser, origin, await makeToken(cluster.api, "viewer"), "viewer");
  for (const [route, controls] of Object.entries(viewer)) {
    assert(controls.length === 0, `a viewer sees controls that change things on ${route}: ${controls.join(", ")}`);
  }
  log("a viewer sees no control that changes anything on any page");
  const operator = await checkRoleControls(browser, origin, await makeToken(cluster.api, "operator"), "operator");
  assert(!Object.values(operator).flat().some((c) => c === "drain" || c === "undrain"), "an operator sees a drain button");
  assert(operator["#/apps"].includes("scale"), `an operator sees no scale button: ${operator["#/apps"]}`);
  log("an operator sees app controls and no drain button");
});
