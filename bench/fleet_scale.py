#!/usr/bin/env python3
"""10,000 agents on one master: registered, heartbeating and long-polling for ten minutes.

    bench/fleet_scale.py PATH_TO_BERTH [PATH_TO_SIM_AGENTS] [--agents 10000] [--processes 5]
                         [--ramp-s 120] [--duration 600] [--no-check]

Starts a master with its default timing and --max-heartbeats-per-second (temporary data dir,
free port), then PROCESSES berth-bench-sim-agents sharing AGENTS simulated agents (which speak
the real agent protocol: register, heartbeat at the interval the master asks for, long-poll for
commands), started over RAMP_S seconds. Once every agent shows active in /berth/v1/nodes it
watches DURATION seconds: every 10 s the agents the master counts registered and lost (the
berth_agents gauge of /metrics), the master's threads, RSS
and CPU, and the simulators' heartbeat answers (their p99 of each 5 s period and their slowest).
Prints the timing the master chose for the fleet and the figures, and exits non-zero unless
every agent registered, none was lost or refused, the heartbeats' p99 over the window is within
100 ms and the master's median thread count is under 200 (unless --no-check).
"""
import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import find_sim, finish, free_port, proc_status, stop


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


REPORT = re.compile(r"registered (\d+)/\d+ .* failures (\d+) refused (\d+) heartbeats (\d+) "
                    r"interval-ms (\d+) heartbeat-ms p50 (-?\d+) p99 (-?\d+) max (-?\d+) "
                    r"total p50 (-?\d+) p99 (-?\d+) max (-?\d+)")


def sim_reports(path, since_line=0):
    """(registered, failures, refused, heartbeats, interval, p50, p99, max) of each report."""
    lines = open(path).read().splitlines()
    return [tuple(int(g) for g in m.groups()) for m in
            (REPORT.search(l) for l in lines[since_line:]) if m], len(lines)


class Api:
    def __init__(self, port, token):
        self.base = "http://127.0.0.1:%d" % port
        self.headers = {"Authorization": "Bearer " + token}

    def get(self, path, timeout=60):
        req = urllib.request.Request(self.base + path, headers=self.headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def heartbeat_lock_waits(self):
        """berth_heartbeat_lock_wait_seconds: {(answer, le): count}, le "count" for the total."""
        out = {}
        for l in self.get("/metrics/prometheus").splitlines():
            m = re.match(r'berth_heartbeat_lock_wait_seconds_(bucket|count)\{answer="(\w+)"'
                         r'(?:,le="([^"]+)")?\} (\S+)', l)
            if m:
                out[(m.group(2), m.group(3) or "count")] = float(m.group(4))
        return out

    def agents(self):
        """The berth_agents gauge: {"registered": n, "lost": n, ...} (a cheap read of the master,
        unlike /berth/v1/nodes, which renders every node)."""
        counts = {}
        for l in self.get("/metrics/prometheus").splitlines():
            m = re.match(r'berth_agents\{state="(\w+)"\} (\S+)', l)
            if m:
                counts[m.group(1)] = int(float(m.group(2)))
        return counts

    def nodes(self):
        counts = {}
        for n in json.loads(self.get("/berth/v1/nodes"))["nodes"]:
            counts[n.get("state")] = counts.get(n.get("state"), 0) + 1
        return counts


def start(args, berth, sim, work):
    token = "admin." + secrets.token_hex(24)
    join = "bench-" + secrets.token_hex(8)
    old = os.umask(0o077)
    with open(os.path.join(work, "admin-token"), "w") as f:
        f.write(token + "\n")
    os.umask(old)
    port = free_port()
    master = subprocess.Popen([berth, "master", "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", os.path.join(work, "master"),
                               "--admin-token-file", os.path.join(work, "admin-token")],
                              env=dict(os.environ, BERTH_JOIN_TOKEN=join),
                              stdout=open(os.path.join(work, "master.log"), "w"),
                              stderr=subprocess.STDOUT)
    api = Api(port, token)
    for _ in range(100):
        try:
            api.get("/ping", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    sims = []
    per = [args.agents // args.processes + (1 if i < args.agents % args.processes else 0)
           for i in range(args.processes)]
    for i, n in enumerate(per):
        log = os.path.join(work, "sim%d.log" % i)
        sims.append((subprocess.Popen([sim, "--master", "http://127.0.0.1:%d" % port,
                                       "--token", join, "--agents", str(n),
                                       "--prefix", "sim%d" % i, "--ramp-s", str(args.ramp_s),
                                       "--report-interval-s", "5"],
                                      stdout=open(log, "w"), stderr=subprocess.STDOUT), log))
    return master, api, sims


def wait_registered(args, api, started):
    deadline = started + args.ramp_s + 300
    counts = {}
    while time.time() < deadline:
        try:
            counts = api.nodes()
        except OSError as e:
            print("  nodes: %s" % e)
        if counts.get("active", 0) >= args.agents:
            return counts
        time.sleep(5)
    raise RuntimeError("only %s of %d agents active %d s after the start" % (
        counts, args.agents, args.ramp_s + 300))


def watch(args, master, api, sims):
    for proc, _ in sims:
        proc.send_signal(signal.SIGUSR1)  # a report line, then the run's totals start again
    time.sleep(1)
    marks = [sim_reports(log)[1] for _, log in sims]
    before = [r[-1] for r in (sim_reports(log)[0] for _, log in sims) if r]
    before_refused, before_beats = sum(r[2] for r in before), sum(r[3] for r in before)
    lost_samples, threads, rss = 0, [], []
    waits0 = api.heartbeat_lock_waits()
    cpu0, t0 = cpu_seconds(master.pid), time.time()
    end = t0 + args.duration
    while time.time() < end:
        time.sleep(10)
        counts = api.agents()
        if counts.get("lost", 0) or counts.get("registered", 0) < args.agents:
            lost_samples += 1
            print("  %.0f s: nodes %s" % (time.time() - t0, counts))
        status = proc_status(master.pid)
        threads.append(int(status["Threads"]))
        rss.append(int(status["VmRSS"].split()[0]))
    cpu = (cpu_seconds(master.pid) - cpu0) / (time.time() - t0)
    for proc, _ in sims:
        proc.send_signal(signal.SIGUSR1)  # the window's totals, in one more report line
    time.sleep(1)
    waits1 = api.heartbeat_lock_waits()
    waits = {k: waits1.get(k, 0) - waits0.get(k, 0) for k in waits1}
    p99s, maxes, intervals, beats, refused, window_p99s = [], [], [], 0, 0, []
    for (_, log), mark in zip(sims, marks):
        reports, _ = sim_reports(log, mark)
        p99s += [r[6] for r in reports if r[6] >= 0]
        maxes += [r[7] for r in reports if r[7] >= 0]
        intervals += [r[4] for r in reports]
        if reports:
            window_p99s.append(reports[-1][9])
            beats += reports[-1][3]
            refused += reports[-1][2]
    return {"lost_samples": lost_samples, "threads": threads, "rss_kb": rss, "cpu": cpu,
            "p99s": p99s, "maxes": maxes, "window_p99s": window_p99s, "intervals": sorted(set(intervals)),
            "refused": refused - before_refused, "heartbeats": beats - before_beats,
            "waits": waits}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("berth")
    parser.add_argument("sim", nargs="?")
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--ramp-s", type=int, default=120)
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens
    berth = os.path.abspath(args.berth)
    sim = find_sim(berth, args.sim)
    if not sim:
        sys.exit("cannot find berth-bench-sim-agents; pass it as the second argument")
    work = tempfile.mkdtemp(prefix="berth-fleet-scale-")
    master, sims, failed = None, [], []
    try:
        started = time.time()
        master, api, sims = start(args, berth, sim, work)
        counts = wait_registered(args, api, started)
        print("%d agents active %.0f s after the start (%s)" % (
            args.agents, time.time() - started, counts))
        timing = [l for l in open(os.path.join(work, "master.log")).read().splitlines()
                  if "fleet of" in l]
        print("master: %s" % (timing[-1].split("] ", 1)[-1] if timing else "base timing"))
        w = watch(args, master, api, sims)
        worst_p99 = max(w["p99s"]) if w["p99s"] else -1
        # Each simulator's p99 over the window; the fleet's is no larger than the largest.
        window_p99 = max(w["window_p99s"]) if w["window_p99s"] else -1
        print("%d s watched: %d samples of 10 s with a node lost or missing; %d refused "
              "(asked to register again)" % (args.duration, w["lost_samples"], w["refused"]))
        print("heartbeats: %d answered, interval %s ms; p99 over the window at most %d ms, worst "
              "5 s p99 %d ms, slowest %d ms (1 ms bucket bounds)" % (
                  w["heartbeats"], w["intervals"], window_p99, worst_p99,
                  max(w["maxes"]) if w["maxes"] else -1))
        waits, full = w["waits"], w["waits"].get(("full", "count"), 0)
        print("master: %d heartbeats took the state lock in the window, %.2f %% within 5 ms, "
              "%.2f %% within 50 ms; %d answered with the lease alone" % (
                  full, 100 * waits.get(("full", "0.005"), 0) / max(full, 1),
                  100 * waits.get(("full", "0.05"), 0) / max(full, 1),
                  waits.get(("lease_only", "count"), 0)))
        steady = sorted(w["threads"])[len(w["threads"]) // 2]
        print("master: threads %d-%d (median %d), VmRSS %.0f-%.0f MiB, CPU %.0f%% of one core" % (
            min(w["threads"]), max(w["threads"]), steady, min(w["rss_kb"]) / 1024,
            max(w["rss_kb"]) / 1024, 100 * w["cpu"]))
        if w["lost_samples"]:
            failed.append("nodes lost or missing")
        if w["refused"]:
            failed.append("agents asked to register again")
        if window_p99 > 100 or window_p99 < 0:
            failed.append("heartbeat p99 over 100 ms (or none answered)")
        if steady >= 200:
            failed.append("master threads not bounded")
    finally:
        stop([p for p, _ in sims] + [master], timeout=60)
    return finish(work, failed, args.no_check)


if __name__ == "__main__":
    sys.exit(main())
