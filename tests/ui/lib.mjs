// Shared code of berth's browser tests (tests/ui/*.mjs): arguments, free ports, a cluster of
// its own (`berth up`, or a master alone), the API, Debian's chromium through playwright-core,
// node kills as `berth demo` does them (docs/fencing.md), and cleanup of everything started —
// on success, failure, a signal or the overall deadline.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

// ---- arguments and reporting ----

export function parseArgs(argv = process.argv.slice(2)) {
  const out = { bin: "", benchBin: "", artifacts: "", keep: false, uiDir: "" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--bin") out.bin = argv[++i];
    else if (a === "--bench-bin") out.benchBin = argv[++i];
    else if (a === "--artifacts") out.artifacts = argv[++i];
    else if (a === "--ui-dir") out.uiDir = path.resolve(argv[++i]); // see uiEnv()
    else if (a === "--keep") out.keep = true; // leave the temp dir (not the processes)
    else throw new Error(`unknown argument ${a}; usage: --bin DIR --bench-bin DIR --artifacts DIR`);
  }
  if (!out.bin) throw new Error("--bin DIR (where berth is) is required");
  out.bin = path.resolve(out.bin);
  out.benchBin = out.benchBin ? path.resolve(out.benchBin) : "";
  out.artifacts = path.resolve(out.artifacts || path.join(os.tmpdir(), "berth-ui-artifacts"));
  fs.mkdirSync(out.artifacts, { recursive: true });
  return out;
}

const t0 = Date.now();
export function log(...args) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...args);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value; throws `what` after `timeoutMs`.
export async function waitFor(what, fn, timeoutMs = 30000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(everyMs);
  }
}

// ---- cleanup ----

const cleanups = [];
const failureHooks = [];
// Runs when the test fails, before cleanup (e.g. screenshots of the open pages).
export function onFailure(fn) {
  failureHooks.push(fn);
}
export function onCleanup(fn) {
  cleanups.push(fn);
}

async function cleanupAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup: ${e.message}`);
    }
  }
}

// Runs the test body; exit code 0 on pass, 1 on failure, 2 on the deadline.
export async function runTest(name, deadlineMs, body) {
  let done = false;
  const timer = setTimeout(async () => {
    if (done) return;
    console.error(`FAIL ${name}: the test did not finish within ${deadlineMs / 1000} s`);
    await cleanupAll();
    process.exit(2);
  }, deadlineMs);
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, async () => {
      console.error(`${name}: ${sig}, cleaning up`);
      await cleanupAll();
      process.exit(3);
    });
  }
  let code = 0;
  try {
    await body();
    log(`PASS ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    code = 1;
    for (const fn of failureHooks) await Promise.resolve().then(fn).catch(() => {});
  }
  done = true;
  clearTimeout(timer);
  await cleanupAll();
  process.exit(code);
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

// ---- ports and directories ----

export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

// A free port in [lo, hi), picked at random so that concurrent suites rarely collide.
export async function freePort(lo = 20000, hi = 30000) {
  for (let i = 0; i < 200; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo));
    if (await portFree(p)) return p;
  }
  throw new Error(`no free port in ${lo}-${hi}`);
}

export function tempDir(prefix, keep) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (!keep) onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- processes ----

// Starts a process in its own process group; stop() sends SIGTERM, then SIGKILL to the group.
export function startProcess(exe, args, { logFile, env } = {}) {
  const out = logFile ? fs.openSync(logFile, "a") : "ignore";
  const child = spawn(exe, args, { detached: true, stdio: ["ignore", out, out], env: { ...process.env, ...env } });
  let exited = false;
  const exitedP = new Promise((r) => child.once("exit", () => {
    exited = true;
    r();
  }));
  async function stop(graceMs = 20000) {
    if (exited) return;
    try {
      process.kill(child.pid, "SIGTERM");
    } catch (e) {
      return;
    }
    const timer = sleep(graceMs).then(() => "late");
    if ((await Promise.race([exitedP.then(() => "ok"), timer])) === "late") {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch (e) {
        /* gone */
      }
      await Promise.race([exitedP, sleep(5000)]);
    }
  }
  return { child, pid: child.pid, stop, isExited: () => exited };
}

function readProc(pid, what) {
  try {
    return fs.readFileSync(`/proc/${pid}/${what}`).toString();
  } catch (e) {
    return null;
  }
}

function pids() {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

// The processes whose command line mentions `needle` (our own temp dir: nobody else's).
export function pidsMentioning(needle) {
  return pids().filter((p) => p !== process.pid && (readProc(p, "cmdline") || "").includes(needle));
}

// The agent of `hostname` under `master`, found by its command line as `berth demo` finds it.
export function findAgent(master, hostname) {
  for (const p of pids()) {
    const raw = readProc(p, "cmdline");
    if (!raw) continue;
    const args = raw.split("\0");
    const at = (flag) => {
      const i = args.indexOf(flag);
      return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
    };
    if (args.includes("agent") && at("--hostname") === hostname && at("--master") === master && at("--work-dir")) {
      return { pid: p, workDir: at("--work-dir") };
    }
  }
  return null;
}

// SIGKILLs every task process under `dir`: those whose MESOS_SANDBOX (the agent sets it for each
// task) or working directory is under it — berth demo's kill_tasks_under.
export function killTasksUnder(dir) {
  let killed = 0;
  const prefix = path.resolve(dir) + "/";
  for (const p of pids()) {
    if (p === process.pid) continue;
    let cwd = "";
    try {
      cwd = fs.readlinkSync(`/proc/${p}/cwd`) + "/";
    } catch (e) {
      continue;
    }
    const sandbox = (readProc(p, "environ") || "").split("\0").find((e) => e.startsWith("MESOS_SANDBOX="));
    const inSandbox = sandbox && (sandbox.slice("MESOS_SANDBOX=".length) + "/").startsWith(prefix);
    if (!inSandbox && !cwd.startsWith(prefix)) continue;
    try {
      process.kill(p, "SIGKILL");
      killed++;
    } catch (e) {
      /* gone */
    }
  }
  return killed;
}

// A node dies: its agent and its tasks, SIGKILL (berth demo's kill_node).
export function killNode(master, hostname) {
  const agent = findAgent(master, hostname);
  if (!agent) throw new Error(`no agent process of ${hostname} (master ${master})`);
  process.kill(agent.pid, "SIGKILL");
  const tasks = killTasksUnder(path.join(agent.workDir, "sandboxes"));
  return { agentPid: agent.pid, tasks };
}

// ---- the API ----

export function client(url, token) {
  async function call(method, p, body) {
    const init = { method, headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url + p, init);
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status} ${text.slice(0, 300)}`);
    return json;
  }
  return { url, token, call, get: (p) => call("GET", p) };
}

export async function makeToken(api, role) {
  const t = await api.call("POST", "/berth/v1/tokens", { role, name: `ui-test-${role}` });
  return t.token;
}

// ---- clusters ----

// `berth up` with `agents` agents on a free port, its data under a temp dir.
export async function startCluster(opts, { agents = 3, env = {} } = {}) {
  const dir = tempDir("berth-ui-", opts.keep);
  const port = await freePort();
  const dataDir = path.join(dir, "cluster");
  const url = `http://127.0.0.1:${port}`;
  const up = startProcess(path.join(opts.bin, "berth"), ["up", "--port", String(port), "--data-dir", dataDir, "--agents", String(agents)],
    { logFile: path.join(dir, "up.log"), env: { ...uiEnv(opts), ...env } });
  onCleanup(async () => {
    await up.stop(30000);
    // Agents a test restarted, or that outlived `up`: whatever names our data dir.
    for (const p of pidsMentioning(dataDir)) {
      try {
        process.kill(p, "SIGKILL");
      } catch (e) {
        /* gone */
      }
    }
    killTasksUnder(dataDir);
  });
  const tokenFile = path.join(dataDir, "admin-token");
  await waitFor("the admin token", () => fs.existsSync(tokenFile) && fs.readFileSync(tokenFile, "utf8").trim(), 30000);
  const api = client(url, fs.readFileSync(tokenFile, "utf8").trim());
  await waitFor(`${agents} active agents`, async () => {
    if (up.isExited()) throw new Error(`berth up exited: ${fs.readFileSync(path.join(dir, "up.log"), "utf8").slice(-2000)}`);
    const n = await api.get("/berth/v1/nodes");
    return n.nodes.filter((x) => x.state === "active").length >= agents;
  }, 90000, 300);
  return { dir, dataDir, url, port, api, up };
}

// A master alone (plus whatever the test adds), with its own join token and admin token.
export async function startMaster(opts, extraArgs = []) {
  const dir = tempDir("berth-ui-", opts.keep);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const joinToken = `ui-${Math.random().toString(16).slice(2)}${Date.now()}`;
  const tokenFile = path.join(dir, "admin-token");
  const master = startProcess(path.join(opts.bin, "berth"), ["master", "--host", "127.0.0.1", "--port", String(port),
    "--data-dir", path.join(dir, "master"), "--admin-token-file", tokenFile, ...extraArgs],
  { logFile: path.join(dir, "master.log"), env: { ...uiEnv(opts), BERTH_JOIN_TOKEN: joinToken } });
  onCleanup(() => master.stop(15000));
  await waitFor("the master", async () => (await fetch(`${url}/ping`)).ok && fs.existsSync(tokenFile), 30000);
  const api = client(url, fs.readFileSync(tokenFile, "utf8").trim());
  return { dir, url, port, api, joinToken, master };
}

// ---- the browser ----

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchBrowser(artifacts) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "berth-ui-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.BERTH_CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
  });
  onFailure(async () => {
    let i = 0;
    for (const page of context.pages()) {
      const file = path.join(artifacts, `failure-${i++}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`failure screenshot of ${page.url()}: ${file}`);
    }
  });
  onCleanup(async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

// Fails the test on any page error, and on any request to another host (the UI makes none).
export function watchPage(page, origin, problems) {
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith("data:")) problems.push(`request to another origin: ${u}`);
  });
}

export async function screenshot(page, opts, name) {
  const file = path.join(opts.artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The `data-action` buttons and links of the page (every control that changes something).
export async function actionControls(page) {
  return page.$$eval("[data-action]", (els) => els.map((e) => e.getAttribute("data-action")));
}

// ---- serving ui/ from disk ----

// The environment of the master: with --ui-dir DIR it serves DIR's files under /ui/
// (BERTH_UI_DIR) instead of the copies built into the binary, so a UI change needs no rebuild.
export function uiEnv(opts) {
  return opts.uiDir ? { BERTH_UI_DIR: opts.uiDir } : {};
}
