#!/usr/bin/env python3
"""Leases under load (docs/fencing.md §9): does a cluster with the default timing stay quiet
while other work saturates the machine?

    bench/lease_load.py PATH_TO_BERTH [--duration 3600] [--apps 50] [--no-stress]

Starts `berth up --agents 3` (default timing unless BERTH_HEARTBEAT_INTERVAL_MS, BERTH_LEASE_MS
and BERTH_LOST_TIMEOUT_MS say otherwise), deploys the demo counter with a dataset and a health
check on a service port, and APPS apps of one berth-counter each (a sandbox directory for its
data, an HTTP health check every second). Once all are healthy it notes every task id, starts
`stress-ng --cpu 2 --io 1 --vm 1` for the duration (not with --no-stress) and posts a click to
the counter through the service router every 200 ms. Every 5 s it counts the nodes the master
shows lost. At the end it reports: samples with a lost node, the master's failover counter,
tasks replaced (ids gone), agents' fences, acknowledged clicks missing from the counter, the
master's scheduling stalls and heartbeats' waits for its state lock (from /metrics), and each
agent's heartbeat stalls and round trips (from its log, written when it stops). Exits non-zero
when anything was lost, replaced or fenced.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base, token):
        self.base = base
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=self.headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return json.loads(text) if text.startswith(("{", "[")) else text


def counter_app(counter, app_id, port_def, volume):
    app = {
        "id": app_id,
        "cpus": 0.01,
        "mem": 32,
        "instances": 1,
        "portDefinitions": [port_def],
        "healthChecks": [{"protocol": "HTTP", "path": "/v1/ping", "portIndex": 0,
                          "intervalSeconds": 1, "timeoutSeconds": 1,
                          "gracePeriodSeconds": 10, "maxConsecutiveFailures": 3}],
    }
    if volume:
        app["cmd"] = counter + " --port $PORT0 --data-dir $BERTH_VOLUME_DATA"
        app["container"] = {"type": "MESOS", "volumes": [{
            "containerPath": "/data", "mode": "RW",
            "external": {"name": volume, "provider": "dvdi",
                         "options": {"dvdi/driver": "berth"}}}]}
    else:
        app["cmd"] = counter + " --port $PORT0 --data-dir ."
    return app


def running_task_ids(api):
    tasks = api.call("GET", "/v2/tasks")["tasks"]
    return {t["id"] for t in tasks if t.get("state") == "TASK_RUNNING"}


def wait_healthy(api, apps, timeout_s):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        listed = api.call("GET", "/v2/apps")["apps"]
        healthy = sum(1 for a in listed if a["id"] in apps and a.get("tasksHealthy", 0) >= 1)
        if healthy == len(apps):
            return True
        time.sleep(1)
    return False


def metric_lines(api, prefix):
    text = api.call("GET", "/metrics/prometheus")
    return [line for line in text.splitlines() if line.startswith(prefix)]


def histogram_summary(lines, family, labels=""):
    """count, sum and the bucket bounds holding p50/p99/max of a Prometheus histogram."""
    buckets = []
    count = 0.0
    total = 0.0
    for line in lines:
        if labels and labels not in line:
            continue
        m = re.match(family + r'_bucket\{(.*)le="([^"]+)"\} (\S+)', line)
        if m:
            buckets.append((float("inf") if m.group(2) == "+Inf" else float(m.group(2)),
                            float(m.group(3))))
        elif line.startswith(family + "_count"):
            count = float(line.split()[-1])
        elif line.startswith(family + "_sum"):
            total = float(line.split()[-1])
    buckets.sort()

    def bound(q):
        for upper, cumulative in buckets:
            if count and cumulative >= q * count:
                return "%gms" % (upper * 1000) if upper != float("inf") else ">max bucket"
        return "-"
    worst = "-"
    for upper, cumulative in buckets:
        if cumulative >= count and count:
            worst = "%gms" % (upper * 1000) if upper != float("inf") else ">max bucket"
            break
    return "n=%d mean=%.2fms p50<=%s p99<=%s max<=%s" % (
        count, (total / count * 1000) if count else 0, bound(0.5), bound(0.99), worst)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("berth")
    parser.add_argument("--duration", type=int, default=3600)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--no-stress", action="store_true")
    args = parser.parse_args()
    berth = os.path.abspath(args.berth)
    counter = os.path.join(os.path.dirname(berth), "berth-counter")
    if not args.no_stress and not shutil.which("stress-ng"):
        sys.exit("stress-ng is missing: apt-get install stress-ng")
    work = tempfile.mkdtemp(prefix="berth-lease-load-")
    token = "admin." + secrets.token_hex(24)
    old = os.umask(0o077)
    with open(os.path.join(work, "admin-token"), "w") as f:
        f.write(token + "\n")
    os.umask(old)
    port = free_port()
    up_log = open(os.path.join(work, "up.out"), "w")
    up = subprocess.Popen([berth, "up", "--agents", "3", "--port", str(port), "--data-dir", work],
                          stdout=up_log, stderr=subprocess.STDOUT)
    stress = None
    failures = []
    try:
        for _ in range(300):
            if "berth is up" in open(os.path.join(work, "up.out")).read():
                break
            if up.poll() is not None:
                sys.exit("berth up ended: " + open(os.path.join(work, "up.out")).read())
            time.sleep(0.2)
        api = Api("http://127.0.0.1:%d" % port, token)
        service_port = 10090
        apps = {"/lease-load/counter"}
        api.call("PUT", "/v2/apps/lease-load/counter",
                 counter_app(counter, "/lease-load/counter", {"port": service_port, "name": "http"},
                             "lease-load-clicks"))
        for i in range(args.apps):
            app_id = "/lease-load/app-%d" % i
            apps.add(app_id)
            api.call("PUT", "/v2/apps" + app_id, counter_app(counter, app_id, {"port": 0}, None))
        if not wait_healthy(api, apps, 300):
            sys.exit("not every app became healthy within 300 s")
        before = running_task_ids(api)
        print("%d apps healthy, %d tasks; loading for %d s%s" % (
            len(apps), len(before), args.duration, "" if args.no_stress else
            " under stress-ng --cpu 2 --io 1 --vm 1"), flush=True)
        if not args.no_stress:
            stress = subprocess.Popen(["stress-ng", "--cpu", "2", "--io", "1", "--vm", "1",
                                       "--timeout", "%ds" % args.duration],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        acknowledged = set()
        click_errors = [0]
        stop = threading.Event()

        def clicker():
            n = 0
            while not stop.is_set():
                n += 1
                req = urllib.request.Request(
                    "http://127.0.0.1:%d/v1/clicks" % service_port, method="POST",
                    data=json.dumps({"x": n % 500, "y": n % 300}).encode(),
                    headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        if r.status == 201:
                            acknowledged.add(json.loads(r.read())["id"])
                except (urllib.error.URLError, OSError, ValueError):
                    click_errors[0] += 1
                stop.wait(0.2)
        clicks = threading.Thread(target=clicker)
        clicks.start()
        lost_samples = 0
        samples = 0
        end = time.time() + args.duration
        while time.time() < end:
            try:
                nodes = api.call("GET", "/berth/v1/nodes", timeout=30)["nodes"]
                samples += 1
                if any(n.get("state") == "lost" for n in nodes):
                    lost_samples += 1
                    print("%s: a node is lost" % time.strftime("%H:%M:%S"), flush=True)
            except (urllib.error.URLError, OSError) as e:
                print("sample failed: %s" % e, flush=True)
            time.sleep(5)
        stop.set()
        clicks.join()
        if stress:
            stress.send_signal(signal.SIGINT)
            stress.wait()
            stress = None
        time.sleep(3)
        after = running_task_ids(api)
        replaced = len(before - after)
        stored = api.call("GET", "/v2/apps/lease-load/counter")["app"]
        stored_clicks = set()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/clicks" % service_port,
                                        timeout=10) as r:
                stored_clicks = {c["id"] for c in json.loads(r.read())}
        except (urllib.error.URLError, OSError) as e:
            failures.append("cannot read the counter's clicks: %s" % e)
        lines = metric_lines(api, "berth_")
        failovers = sum(float(l.split()[-1]) for l in lines
                        if l.startswith("berth_failovers_total"))
        print("samples: %d, with a node lost: %d" % (samples, lost_samples))
        print("failovers (berth_failovers_total): %d" % failovers)
        print("tasks replaced: %d of %d (counter tasks running: %d)" % (
            replaced, len(before), stored.get("tasksRunning", 0)))
        print("clicks acknowledged: %d, missing from the counter: %d, errors: %d" % (
            len(acknowledged), len(acknowledged - stored_clicks), click_errors[0]))
        print("master scheduling stalls: " +
              histogram_summary(lines, "berth_scheduling_stall_seconds"))
        for answer in ("full", "lease_only"):
            print("heartbeat state-lock wait (%s): %s" % (answer, histogram_summary(
                lines, "berth_heartbeat_lock_wait_seconds", 'answer="%s"' % answer)))
        if lost_samples or failovers:
            failures.append("agents declared lost")
        if replaced:
            failures.append("tasks replaced")
        if acknowledged - stored_clicks:
            failures.append("acknowledged clicks lost")
    finally:
        stop_flag = up.poll() is None
        if stress:
            stress.kill()
            stress.wait()
        if stop_flag:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        logs = os.path.join(work, "logs")
        fences = 0
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if not name.startswith("agent"):
                continue
            text = open(os.path.join(logs, name), errors="replace").read()
            fences += text.count("lease expired without renewal")
            for line in text.splitlines():
                if "heartbeat thread: stalls" in line or "heartbeat thread priority" in line:
                    print("%s: %s" % (name, line.split("] ", 2)[-1]))
        print("agent fences: %d" % fences)
        if fences:
            failures.append("agents fenced")
        if os.environ.get("KEEP"):
            print("kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
