#!/usr/bin/env python3
"""Leader failover of `berth up --masters 3`: SIGKILL the leading master, time until the API
takes a write again through a surviving master.

    bench/leader_failover.py PATH_TO_BERTH [--rounds 20] [--port 18700] [--data-dir DIR]

Each round: find the leader (GET /v2/leader), SIGKILL it, then POST /v2/apps (a new app id per
attempt, instances 0) to the surviving masters in turn, each with a 1 s timeout, one every
25 ms, until one answers 201; meanwhile another thread polls GET /v2/leader on the survivors
every 25 ms until one names a new leader. Both times run from the kill. Then the killed master
is started again as it was (argv, environment, cwd; output appended to logs/master-N.log) and
the round ends once it answers /ping and GET /v2/leader with 200.

After the rounds: every app id that was answered 201 (one per round, plus one written before
each kill) must be listed by GET /v2/apps: nothing acknowledged lost. Exits 1 when any round
found no new leader or no write in 60 s, or an acknowledged app is missing.
"""

import argparse
import os
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ha_cluster import Cluster, history_report, load, now, summary  # noqa: E402

POLL_S = 0.025
TIMEOUT_S = 60


def app(app_id):
    return {"id": app_id, "cmd": "sleep 100000", "instances": 0, "cpus": 0.01, "mem": 1,
            "portDefinitions": []}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("berth")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--port", type=int, default=18700)
    ap.add_argument("--agents", type=int, default=1)
    ap.add_argument("--data-dir", default="/tmp/berth-leader-failover")
    ap.add_argument("--request-timeout", type=float, default=1.0)
    a = ap.parse_args()
    shutil.rmtree(a.data_dir, ignore_errors=True)
    print("load average before: %s" % " ".join(load()))
    c = Cluster(a.berth, a.port, a.data_dir, agents=a.agents)
    acknowledged, uncertain, rounds = [], [], []
    ok = True
    try:
        attempt = 0
        for r in range(1, a.rounds + 1):
            leader = c.leader_port()
            if leader is None:
                print("round %d: no master names a leader" % r)
                ok = False
                break
            # A write before the kill, acknowledged by the leader itself.
            pre = "/ha-failover/r%02d-before" % r
            st, body = c.api(leader, "POST", "/v2/apps", app(pre), timeout=5)
            if st == 201:
                acknowledged.append(pre)
            else:
                print("round %d: write before the kill answered %s %s" % (r, st, body))
            proc = c.master_proc(leader)
            survivors = [p for p in c.master_ports if p != leader]
            new_leader = {}

            def watch_leader():
                i = 0
                while now() - t0 < TIMEOUT_S and "at" not in new_leader:
                    p = survivors[i % len(survivors)]
                    i += 1
                    st, body = c.api(p, "GET", "/v2/leader", timeout=0.5)
                    if st == 200 and isinstance(body, dict):
                        named = body.get("leader", "")
                        if named and not named.endswith(":%d" % leader):
                            new_leader["at"] = now() - t0
                            new_leader["who"] = named
                            new_leader["via"] = p
                            return
                    time.sleep(POLL_S)

            t0 = now()
            proc.kill()
            watcher = threading.Thread(target=watch_leader)
            watcher.start()
            first_201, codes, i = None, {}, 0
            while now() - t0 < TIMEOUT_S:
                attempt += 1
                p = survivors[i % len(survivors)]
                i += 1
                app_id = "/ha-failover/r%02d-a%05d" % (r, attempt)
                st, body = c.api(p, "POST", "/v2/apps", app(app_id), timeout=a.request_timeout)
                codes[st] = codes.get(st, 0) + 1
                if st == 201:
                    first_201 = (now() - t0, p)
                    acknowledged.append(app_id)
                    break
                if st is None:
                    uncertain.append(app_id)  # may or may not have been written
                time.sleep(POLL_S)
            watcher.join()
            row = {"round": r, "killed": leader, "write": first_201, "leader": new_leader.get("at"),
                   "new": new_leader.get("who"), "codes": codes}
            rounds.append(row)
            print("round %2d: killed the leader 127.0.0.1:%d (pid %d); new leader %s named after "
                  "%s; first 201 after %s via :%s; answers: %s" % (
                      r, leader, proc.pid, row["new"],
                      "%.3f s" % row["leader"] if row["leader"] is not None else "never",
                      "%.3f s" % first_201[0] if first_201 else "never",
                      first_201[1] if first_201 else "-",
                      ", ".join("%s x%d" % (k if k else "no answer", v)
                                for k, v in sorted(codes.items(), key=lambda kv: str(kv[0])))),
                  flush=True)
            if first_201 is None or row["leader"] is None:
                ok = False
            c.restart(proc)
            if not c.wait_master_back(leader):
                print("round %d: the restarted master on :%d did not come back in 30 s" % (r, leader))
                ok = False
                break
        # History check: every acknowledged app is there.
        leader = c.leader_port()
        st, body = c.api(leader, "GET", "/v2/apps", timeout=10)
        present = {x["id"] for x in body.get("apps", [])} if st == 200 else set()
        if not history_report("apps", "GET /v2/apps", acknowledged, present, uncertain) \
                or st != 200:
            ok = False
        writes = [x["write"][0] for x in rounds if x["write"]]
        leaders = [x["leader"] for x in rounds if x["leader"] is not None]
        print("leader failover over %d kills (from SIGKILL):" % len(rounds))
        print("  GET /v2/leader names a new leader   %s" % summary(leaders))
        print("  first POST /v2/apps answered 201    %s" % summary(writes))
        print("load average after: %s" % " ".join(load()))
    finally:
        if not c.stop():
            ok = False
        else:
            print("stopped: no process of the cluster is left")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
