#!/usr/bin/env python3
"""The leading master and the node of a stateful app killed together, on `berth up --masters 3`:
time until the app answers through its service port again, and whether any acknowledged click
was lost.

    bench/leader_node_failover.py PATH_TO_BERTH [--rounds 20] [--port 18720] [--data-dir DIR]
        [--service-port 18759]

The app is `berth demo`'s: berth-counter (next to the berth binary) as a process, its clicks on
a `shared` dataset that it fsyncs before answering, an HTTP health check and a service port.
Each round: find the leader (GET /v2/leader) and the node running the counter's task; at t0
SIGKILL the leading master, that node's agent and its task processes (the counter and its
supervisor, found by MESOS_SANDBOX, as `berth demo` kills a node). From t0 one thread polls GET
/v1/ping through the service port (2 s timeout, every 20 ms) until a task other than the killed
one answers: "first good request"; another posts a click through the service port every 50 ms
(2 s timeout) for the whole round, keeping the ids the counter acknowledged with 201; the main
thread polls the survivors for a new leader and for the app's new task TASK_RUNNING. Then every
acknowledged click so far, before and during the outage, must be in GET /v1/clicks. Then the
killed master and agent are started again as they were (argv, environment, cwd, output appended
to logs/master-N.log and logs/agent-N.log), and the next round waits until the master answers
/ping and GET /v2/leader, three nodes are active and the counter is healthy.
Exits 1 when a round does not recover within 60 s or a click is lost.
"""

import argparse
import os
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ha_cluster import Cluster, load, now, request, summary  # noqa: E402

APP = "ha-counter"
TIMEOUT_S = 60


def counter_app(berth, service_port):
    counter = os.path.join(os.path.dirname(os.path.abspath(berth)), "berth-counter")
    return {
        "id": "/" + APP,
        "cmd": counter + " --port $PORT0 --data-dir $BERTH_VOLUME_DATA",
        "cpus": 0.1, "mem": 64, "instances": 1,
        "portDefinitions": [{"port": service_port, "name": "http"}],
        "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
        "healthChecks": [{"protocol": "HTTP", "path": "/v1/ping", "portIndex": 0,
                          "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1,
                          "maxConsecutiveFailures": 3}],
        "container": {"type": "MESOS", "volumes": [{
            "containerPath": "/data", "mode": "RW",
            "external": {"name": APP + "-clicks", "provider": "dvdi",
                         "options": {"dvdi/driver": "berth"}}}]},
    }


def app_tasks(c, port):
    st, body = c.api(port, "GET", "/v2/apps/" + APP, timeout=1.0)
    if st != 200 or not isinstance(body, dict):
        return None
    return body["app"].get("tasks", [])


def healthy_task(c, sp):
    """The counter's running, healthy task that answers through the service port, else None."""
    for p in c.master_ports:
        tasks = app_tasks(c, p)
        if tasks is None:
            continue
        st, ping = request(sp, "GET", "/v1/ping", timeout=1.0)
        for t in tasks:
            alive = t.get("healthCheckResults") and t["healthCheckResults"][0].get("alive")
            if (t.get("state") == "TASK_RUNNING" and alive and st == 200
                    and isinstance(ping, dict) and ping.get("task") == t["id"]):
                return t
        return None
    return None


def node_hostname(c, node_id):
    for p in c.master_ports:
        st, body = c.api(p, "GET", "/berth/v1/nodes", timeout=1.0)
        if st == 200:
            for n in body["nodes"]:
                if n["id"] == node_id:
                    return n["hostname"]
            return None
    return None


def active_nodes(c):
    for p in c.master_ports:
        st, body = c.api(p, "GET", "/berth/v1/nodes", timeout=1.0)
        if st == 200:
            return sum(1 for n in body["nodes"] if n.get("state") == "active")
    return 0


def wait_for(what, pred, timeout=60, poll=0.1):
    deadline = now() + timeout
    while now() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise RuntimeError("timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("berth")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--port", type=int, default=18720)
    ap.add_argument("--service-port", type=int, default=18759)
    ap.add_argument("--data-dir", default="/tmp/berth-leader-node-failover")
    a = ap.parse_args()
    sp = a.service_port
    shutil.rmtree(a.data_dir, ignore_errors=True)
    print("load average before: %s" % " ".join(load()))
    c = Cluster(a.berth, a.port, a.data_dir, agents=3)
    ok = True
    acknowledged = set()
    lock = threading.Lock()
    rows = []

    def click(x, y, timeout=2.0):
        """None when the counter acknowledged the click, else its answer's status (None: no
        answer within the timeout, or the connection failed)."""
        st, body = request(sp, "POST", "/v1/clicks", {"x": x, "y": y}, timeout=timeout)
        if st == 201 and isinstance(body, dict):
            with lock:
                acknowledged.add(body["id"])
            return True, st
        return False, "no answer" if st is None else st

    try:
        wait_for("3 active nodes", lambda: active_nodes(c) >= 3)
        leader = c.leader_port()
        st, body = c.api(leader, "PUT", "/v2/apps/%s?force=true" % APP,
                         counter_app(a.berth, sp), timeout=10)
        if st not in (200, 201):
            raise RuntimeError("deploying the counter: %s %s" % (st, body))
        task = wait_for("the counter healthy", lambda: healthy_task(c, sp), timeout=60)
        for i in range(20):
            click(40 + i * 37 % 600, 40 + i * 53 % 400)
        print("counter healthy as %s on %s; %d clicks acknowledged" % (
            task["id"], task["host"] if "host" in task else task["slaveId"], len(acknowledged)),
            flush=True)
        for r in range(1, a.rounds + 1):
            leader = c.leader_port()
            hostname = node_hostname(c, task["slaveId"])
            master = c.master_proc(leader)
            agent = c.agent_proc(hostname) if hostname else None
            if master is None or agent is None:
                raise RuntimeError("round %d: cannot find the leader (:%s) or the agent %s" % (
                    r, leader, hostname))
            sandboxes = os.path.join(arg_work_dir(agent.argv), "sandboxes")
            old_task = task["id"]
            survivors = [p for p in c.master_ports if p != leader]
            res = {"first_ok": None, "clicks_ok": 0, "clicks_failed": {}}
            stop = threading.Event()

            def pinger():
                while not stop.is_set() and now() - t0 < TIMEOUT_S:
                    st, body = request(sp, "GET", "/v1/ping", timeout=2.0)
                    if st == 200 and isinstance(body, dict) and body.get("task") != old_task:
                        res["first_ok"] = now() - t0
                        res["by"] = body.get("task")
                        return
                    time.sleep(0.02)

            def clicker():
                i = 0
                while not stop.is_set():
                    i += 1
                    t = now()
                    acked, st = click(i % 600, r)
                    if acked:
                        res["clicks_ok"] += 1
                    else:
                        key = str(st)
                        if st == "no answer":
                            res["no_answer_s"] = res.get("no_answer_s", []) + [now() - t]
                        res["clicks_failed"][key] = res["clicks_failed"].get(key, 0) + 1
                    time.sleep(0.05)

            t0 = now()
            master.kill()
            agent.kill()
            killed_tasks = c.kill_tasks_under(sandboxes)
            threads = [threading.Thread(target=pinger), threading.Thread(target=clicker)]
            for t in threads:
                t.start()
            new_leader = running = None
            i = 0
            while now() - t0 < TIMEOUT_S and (new_leader is None or running is None
                                               or res["first_ok"] is None):
                p = survivors[i % 2]
                i += 1
                if new_leader is None:
                    st, body = c.api(p, "GET", "/v2/leader", timeout=0.5)
                    if (st == 200 and isinstance(body, dict) and body.get("leader")
                            and not body["leader"].endswith(":%d" % leader)):
                        new_leader = now() - t0
                if running is None and new_leader is not None:
                    for t in app_tasks(c, p) or []:
                        if t["id"] != old_task and t.get("state") == "TASK_RUNNING":
                            running = now() - t0
                time.sleep(0.02)
            threads[0].join()
            stop.set()
            threads[1].join()
            st, clicks = request(sp, "GET", "/v1/clicks", timeout=5.0)
            present = {x["id"] for x in clicks} if st == 200 and isinstance(clicks, list) else set()
            with lock:
                missing = sorted(acknowledged - present)
                n_ack = len(acknowledged)
            row = {"leader": new_leader, "running": running, "first_ok": res["first_ok"]}
            rows.append(row)
            fmt = lambda v: "%.3f s" % v if v is not None else "never"  # noqa: E731
            print("round %2d: killed leader :%d, agent %s (pid %d) and %d task processes; new leader "
                  "%s, task running %s, first good request %s (by %s); clicks during the round: %d "
                  "acknowledged, not: %s; %d of %d acknowledged clicks present, %d missing%s" % (
                      r, leader, hostname, agent.pid, killed_tasks, fmt(new_leader), fmt(running),
                      fmt(res["first_ok"]), res.get("by"), res["clicks_ok"],
                      ", ".join("%s x%d" % kv for kv in sorted(res["clicks_failed"].items())) +
                      (" (each after %.1f-%.1f s)" % (min(res["no_answer_s"]), max(res["no_answer_s"]))
                       if res.get("no_answer_s") else ""),
                      n_ack - len(missing), n_ack, len(missing),
                      (" " + str(missing[:20])) if missing else ""), flush=True)
            if missing or res["first_ok"] is None:
                ok = False
                break
            c.restart(master)
            c.restart(agent)
            if not c.wait_master_back(leader):
                raise RuntimeError("round %d: the restarted master :%d did not come back" % (r, leader))
            wait_for("3 active nodes", lambda: active_nodes(c) >= 3, timeout=60)
            task = wait_for("the counter healthy", lambda: healthy_task(c, sp), timeout=60)
            for i in range(5):
                click(10 * i, r)
        print("over %d rounds (from the SIGKILLs):" % len(rows))
        for what, key in (("GET /v2/leader names a new leader", "leader"),
                          ("new task TASK_RUNNING", "running"),
                          ("first good request, service port", "first_ok")):
            print("  %-36s %s" % (what, summary([x[key] for x in rows if x[key] is not None])))
        print("acknowledged clicks: %d, lost: 0" % len(acknowledged) if ok else "FAILED")
        print("load average after: %s" % " ".join(load()))
    except RuntimeError as e:
        print("FAILED: %s" % e)
        ok = False
    finally:
        if not c.stop():
            ok = False
        else:
            print("stopped: no process of the cluster is left")
    return 0 if ok else 1


def arg_work_dir(argv):
    for i in range(len(argv) - 1):
        if argv[i] == "--work-dir":
            return argv[i + 1]
    raise RuntimeError("agent without --work-dir")


if __name__ == "__main__":
    sys.exit(main())
