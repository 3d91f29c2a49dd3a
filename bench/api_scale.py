#!/usr/bin/env python3
"""The API at scale: 1,000 apps, 10,000 tasks and 100 simulated agents heartbeating.

    bench/api_scale.py PATH_TO_BERTH [PATH_TO_SIM_AGENTS] [--apps 1000] [--instances 10]
                       [--agents 100] [--samples 200]

Starts a master (default timing, temporary data dir, free port) and berth-bench-sim-agents,
creates APPS apps of INSTANCES tiny tasks each (one POST /v2/apps each, over one keep-alive
connection) and waits until every task runs. Then, with the cluster at that size, it times
SAMPLES more `POST /v2/apps` (one instance each) and SAMPLES `GET /v2/apps?embed=apps.tasks`,
first one kind at a time, then both at once from two connections. Meanwhile the simulated
agents heartbeat every 200 ms; the slowest heartbeat answer they saw in each second of the
measurement and the master's own record of heartbeats' waits for its state lock
(berth_heartbeat_lock_wait_seconds) show whether API load delayed a heartbeat; the master's
berth_reconcile_pass_seconds shows how long its controller passes held the state lock. Prints
p50/p99/max of each, the master's RSS and threads, and exits non-zero past the targets
(POST p99 50 ms, GET p99 300 ms, heartbeat 100 ms) unless --no-check.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import find_sim, finish, free_port, proc_status, stop


class Client:
    def __init__(self, port, token):
        self.port = port
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        return None

    def timed(self, method, path, body=None):
        start = time.perf_counter()
        status, payload = self.call(method, path, body)
        took = time.perf_counter() - start
        if status >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, status, payload[:300]))
        return took, payload


def app(app_id, instances):
    return {"id": app_id, "cmd": "sleep 1000", "cpus": 0.001, "mem": 0.1,
            "instances": instances, "portDefinitions": []}


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered) + 0.999999) - 1)]


def describe(name, values):
    return "%-34s n=%-4d p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms" % (
        name, len(values), pct(values, 0.5) * 1000, pct(values, 0.99) * 1000,
        max(values) * 1000 if values else float("nan"))


def slowest_heartbeats(sim_log, since_line):
    """The slowest-heartbeat-ms of every report line after since_line."""
    lines = open(sim_log).read().splitlines()[since_line:]
    return [int(m.group(1)) for m in (re.search(r"slowest-heartbeat-ms[= ](\d+)", l)
                                      for l in lines) if m]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("berth")
    parser.add_argument("sim", nargs="?")
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()
    berth = os.path.abspath(args.berth)
    sim = find_sim(berth, args.sim)
    if not sim:
        sys.exit("cannot find berth-bench-sim-agents; pass it as the second argument")
    work = tempfile.mkdtemp(prefix="berth-api-scale-")
    token = "admin." + secrets.token_hex(24)
    join = "bench-" + secrets.token_hex(8)
    old = os.umask(0o077)
    with open(os.path.join(work, "admin-token"), "w") as f:
        f.write(token + "\n")
    os.umask(old)
    port = free_port()
    env = dict(os.environ, BERTH_JOIN_TOKEN=join)
    master = subprocess.Popen([berth, "master", "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", os.path.join(work, "master"),
                               "--admin-token-file", os.path.join(work, "admin-token")],
                              env=env, stdout=open(os.path.join(work, "master.log"), "w"),
                              stderr=subprocess.STDOUT)
    sim_log = os.path.join(work, "sim.log")
    simulated = None
    failed = []
    try:
        client = Client(port, token)
        for _ in range(100):
            try:
                if client.call("GET", "/ping")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        simulated = subprocess.Popen([sim, "--master", "http://127.0.0.1:%d" % port, "--token",
                                      join, "--agents", str(args.agents), "--prefix", "sim",
                                      "--report-interval-s", "1"],
                                     stdout=open(sim_log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            nodes = json.loads(client.call("GET", "/berth/v1/nodes")[1])["nodes"]
            if sum(1 for n in nodes if n.get("state") == "active") >= args.agents:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("not every simulated agent registered within 120 s")
        fill = []
        start = time.time()
        for i in range(args.apps):
            fill.append(client.timed("POST", "/v2/apps", app("/scale/a%04d" % i,
                                                              args.instances))[0])
        print("created %d apps in %.1f s; %s" % (args.apps, time.time() - start,
                                                 describe("POST while filling", fill).strip()))
        want = args.apps * args.instances
        deadline = time.time() + 1800
        while time.time() < deadline:
            running = sum(a.get("tasksRunning", 0) for a in
                          json.loads(client.call("GET", "/v2/apps?id=/scale")[1])["apps"])
            if running >= want:
                break
            time.sleep(1)
        else:
            raise RuntimeError("only %d of %d tasks running after 30 min" % (running, want))
        print("%d tasks running %.1f s after the first POST" % (want, time.time() - start))
        mark = len(open(sim_log).read().splitlines())
        posts, gets, both_posts, both_gets = [], [], [], []
        for i in range(args.samples):
            posts.append(client.timed("POST", "/v2/apps", app("/scale/p%04d" % i, 1))[0])
        size = 0
        for _ in range(args.samples):
            took, payload = client.timed("GET", "/v2/apps?embed=apps.tasks")
            gets.append(took)
            size = len(payload)
        second = Client(port, token)

        def getter():
            for _ in range(args.samples):
                both_gets.append(second.timed("GET", "/v2/apps?embed=apps.tasks")[0])
        thread = threading.Thread(target=getter)
        thread.start()
        for i in range(args.samples):
            both_posts.append(client.timed("POST", "/v2/apps", app("/scale/q%04d" % i, 1))[0])
        thread.join()
        time.sleep(2)
        beats = slowest_heartbeats(sim_log, mark)
        status = proc_status(master.pid)
        metrics = client.call("GET", "/metrics/prometheus")[1].decode()
        lock_wait = [l for l in metrics.splitlines()
                     if l.startswith("berth_heartbeat_lock_wait_seconds")]
        print(describe("POST /v2/apps", posts))
        print(describe("GET /v2/apps?embed=apps.tasks", gets) + "  (%.1f MB)" % (size / 1e6))
        print(describe("POST, with GETs at the same time", both_posts))
        print(describe("GET, with POSTs at the same time", both_gets))
        print("slowest heartbeat answer per second while measuring: n=%d max=%s ms p99=%s ms" % (
            len(beats), max(beats) if beats else "-", pct(beats, 0.99) if beats else "-"))
        for line in lock_wait:
            if "_count" in line or 'le="0.05"' in line or 'le="0.1"' in line or "+Inf" in line:
                print("  " + line)
        print("controller passes since the master started (berth_reconcile_pass_seconds):")
        for kind in ("plan", "leases"):
            values = {}
            for l in metrics.splitlines():
                m = re.match(r'berth_reconcile_pass_seconds_(count|sum|bucket)\{pass="%s"'
                             r'(?:,le="([^"]+)")?\} (\S+)' % kind, l)
                if m:
                    values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            n = values.get("count", 0)
            if n:
                print("  %-6s n=%-6d mean=%6.2f ms  within 10 ms: %5.1f %%  within 50 ms: %5.1f %%"
                      % (kind, n, values["sum"] / n * 1000, 100 * values["bucket0.01"] / n,
                         100 * values["bucket0.05"] / n))
        print("master: VmRSS %s, VmHWM %s, threads %s" % (status["VmRSS"], status["VmHWM"],
                                                           status["Threads"]))
        if pct(posts + both_posts, 0.99) > 0.050:
            failed.append("POST p99 over 50 ms")
        if pct(gets + both_gets, 0.99) > 0.300:
            failed.append("GET p99 over 300 ms")
        if beats and max(beats) > 100:
            failed.append("a heartbeat answer took over 100 ms")
    finally:
        stop([simulated, master])
    return finish(work, failed, args.no_check)


if __name__ == "__main__":
    sys.exit(main())
