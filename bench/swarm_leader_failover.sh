#!/usr/bin/env bash
# Leader failover of Docker Swarm with 3 managers on this machine, measured as
# bench/leader_failover.py measures `berth up --masters 3`: SIGKILL the Raft leader's dockerd,
# then time until a surviving manager accepts a write again.
#
#   bench/swarm_leader_failover.sh [--rounds 20] [--net 10.251.77] [--data-dir /tmp/swarm-bench]
#
# Root only. Starts three extra dockerd (each with its own containerd), one per network
# namespace swb-n1..swb-n3 (addresses NET.2..NET.4/24 on eth0, veths to a bridge in a fourth
# namespace swb-hub), hostnames swb-n1..3, sockets /run/swarm-bench/d1..3.sock. The system
# dockerd is not used. `swarm init` on n1, `swarm join` of n2 and n3 as managers, then the
# image swb/busybox (Debian's busybox-static, `docker import`ed into each daemon: nothing is
# pulled) and a 1-replica service swb-svc (sleep). Swarm's defaults throughout (Raft election
# tick 10 x 1 s, dispatcher heartbeat 5 s, restart delay 5 s).
#
# Each round: find the leader (GET /nodes, ManagerStatus.Leader); make sure swb-svc's task runs
# on the leader's node (if not: label the other two nodes swb-avoid=1, `service update --force`,
# remove the labels); POST /services/create (replicas 0) to the leader; then SIGKILL at the same
# moment the leader's dockerd and the task's process (as bench/leader_node_failover.py kills
# the leading master, the agent and the task). From the kill: POST /services/create (a new
# name per attempt, replicas 0, 1 s timeout) to the two survivors in turn every 25 ms until one
# answers 201; a thread polls GET /nodes on the survivors every 25 ms until one names another
# leader; a thread polls GET /tasks on the survivors every 100 ms until swb-svc has a task
# running on a surviving node. Then the killed dockerd is started again with the same command,
# and the round ends once all three managers are ready and reachable.
#
# After the rounds, every service answered 201 must be listed by GET /services. Exits 1 when a
# round found no new leader or no write in 60 s, or an acknowledged service is missing.
# Everything started is stopped and removed at the end, also on failure or Ctrl-C.
set -euo pipefail

SELF=$(readlink -f "$0")
BENCH_DIR=$(dirname "$SELF")
ROUNDS=20
NET=10.251.77
DATA=/tmp/swarm-bench
RUN=/run/swarm-bench
NODES="1 2 3"

say() { echo "swarm-bench: $*"; }
die() { echo "swarm-bench: $*" >&2; exit 1; }

node_env() { # n -> paths of node n
  local n=$1
  ND=$DATA/n$n          # data: containerd root, dockerd data-root, logs
  NR=$RUN/n$n           # state: exec-root, containerd state and sockets, pid files
  SOCK=$RUN/d$n.sock
}

# Starts node n's dockerd inside the mount and network namespace of its containerd, in a UTS
# namespace of its own (hostname swb-nN). Used for the first start and for every restart.
start_dockerd() {
  local n=$1 cpid
  node_env "$n"
  cpid=$(cat "$NR/containerd.pid")
  nsenter -t "$cpid" -m -n -- unshare -u -- sh -c "echo swb-n$n > /proc/sys/kernel/hostname && exec dockerd \
      --config-file $NR/daemon.json --data-root $ND/docker --exec-root $NR/exec \
      --pidfile $NR/dockerd.pid -H unix://$SOCK --containerd $NR/containerd.sock \
      --storage-driver vfs --iptables=false --ip-masq=false" \
      </dev/null >>"$ND/dockerd.log" 2>&1 &
  echo $! >"$NR/dockerd.launched"
  disown $!
}

if [ "${1:-}" = "_start-dockerd" ]; then # internal: the measurement restarts a killed dockerd
  [ -n "${SWB_DATA:-}" ] && DATA=$SWB_DATA
  start_dockerd "$2"
  exit 0
fi

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --net) NET=$2; shift 2 ;;
    --data-dir) DATA=$2; shift 2 ;;
    -h | --help) sed -n '2,30p' "$SELF"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, dockerd)"
for c in dockerd containerd ctr ip nsenter unshare python3 busybox; do
  command -v $c >/dev/null || die "$c not found"
done
busybox_bin=$(command -v busybox)
file -L "$busybox_bin" 2>/dev/null | grep -q 'statically linked' \
  || die "$busybox_bin is not statically linked: apt-get install -y busybox-static"
for ns in swb-hub swb-n1 swb-n2 swb-n3; do
  [ ! -e /run/netns/$ns ] || die "network namespace $ns exists already (not ours?); remove it first"
done
[ ! -e "$RUN" ] || die "$RUN exists already: another run, or a run that was not cleaned up"

cleanup() {
  local rc=$? n pid p mnt t
  trap - EXIT INT TERM
  set +e
  say "cleaning up"
  for n in $NODES; do # dockerd: SIGTERM stops its containers
    node_env "$n"
    pid=$(cat "$NR/dockerd.pid" 2>/dev/null || cat "$NR/dockerd.launched" 2>/dev/null)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  for n in $NODES; do
    node_env "$n"
    pid=$(cat "$NR/dockerd.pid" 2>/dev/null || cat "$NR/dockerd.launched" 2>/dev/null)
    for _ in $(seq 150); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  done
  for n in $NODES; do # any task left, then containerd, its shims and whatever is in its mount ns
    node_env "$n"
    pid=$(cat "$NR/containerd.pid" 2>/dev/null) || continue
    kill -0 "$pid" 2>/dev/null || continue
    for t in $(ctr -a "$NR/containerd.sock" -n moby tasks ls -q 2>/dev/null); do
      ctr -a "$NR/containerd.sock" -n moby tasks kill -s SIGKILL "$t" >/dev/null 2>&1
    done
    sleep 0.5
    mnt=$(readlink "/proc/$pid/ns/mnt")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      if [ "$(readlink /proc/$p/ns/mnt 2>/dev/null)" = "$mnt" ] \
         || { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$NR/containerd.sock"; then
        kill -KILL "$p" 2>/dev/null
      fi
    done
  done
  sleep 0.5
  for ns in swb-n1 swb-n2 swb-n3 swb-hub; do
    [ -e /run/netns/$ns ] && ip netns del $ns
  done
  rm -rf "$RUN" "$DATA"
  left=$(ps -eo pid=,args= | grep -F -e "$RUN" -e "$DATA" | grep -v grep)
  if [ -n "$left" ]; then say "left running: $left"; rc=1; else say "nothing of the bench is left running"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN" "$DATA"
# Network: swb-hub holds bridge br0; node n has eth0 = NET.(n+1)/24, its veth peer on br0.
ip netns add swb-hub
ip -n swb-hub link set lo up
ip -n swb-hub link add br0 type bridge
ip -n swb-hub link set br0 up
for n in $NODES; do
  ip netns add swb-n$n
  ip -n swb-n$n link set lo up
  ip link add swbh$n netns swb-hub type veth peer name eth0 netns swb-n$n
  ip -n swb-hub link set swbh$n master br0 up
  ip -n swb-n$n addr add $NET.$((n + 1))/24 dev eth0
  ip -n swb-n$n link set eth0 up
done

# containerd per node, in the node's network namespace and a mount namespace of its own with a
# sysfs of that network namespace (the cgroup mounts carried over), as `ip netns exec` would
# give but keeping /sys/fs/cgroup. dockerd joins both namespaces (start_dockerd).
for n in $NODES; do
  node_env "$n"
  mkdir -p "$ND" "$NR"
  echo '{}' >"$NR/daemon.json"
  cat >"$NR/containerd.toml" <<EOF
version = 2
root = "$ND/containerd"
state = "$NR/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$NR/containerd.sock"
[ttrpc]
  address = "$NR/containerd.sock.ttrpc"
[debug]
  address = "$NR/containerd-debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$ND/opt"
EOF
  mkdir -p "$NR/cg"
  nsenter --net=/run/netns/swb-n$n -- unshare -m --propagation slave -- sh -c "set -e
      mount --rbind /sys/fs/cgroup $NR/cg
      umount -l /sys
      mount -t sysfs sysfs /sys
      mount --rbind $NR/cg /sys/fs/cgroup
      umount -l $NR/cg
      exec containerd --config $NR/containerd.toml" </dev/null >>"$ND/containerd.log" 2>&1 &
  echo $! >"$NR/containerd.pid"
  disown $!
done
for n in $NODES; do
  node_env "$n"
  for _ in $(seq 100); do [ -S "$NR/containerd.sock" ] && break; sleep 0.1; done
  [ -S "$NR/containerd.sock" ] || { tail -20 "$ND/containerd.log"; die "containerd of n$n did not start"; }
  start_dockerd "$n"
done
for n in $NODES; do
  node_env "$n"
  for _ in $(seq 300); do docker -H unix://$SOCK version >/dev/null 2>&1 && break; sleep 0.1; done
  docker -H unix://$SOCK version >/dev/null 2>&1 || { tail -30 "$ND/dockerd.log"; die "dockerd of n$n did not start"; }
done
node_env 1
say "docker $(docker -H unix://$SOCK version --format '{{.Server.Version}} (API {{.Server.APIVersion}}), containerd {{range .Server.Components}}{{if eq .Name "containerd"}}{{.Version}}{{end}}{{end}}')"

# Image: busybox-static FROM scratch, imported into each daemon (no registry).
rootfs=$DATA/rootfs
mkdir -p "$rootfs/bin"
cp "$busybox_bin" "$rootfs/bin/busybox"
for a in sh sleep; do ln -s busybox "$rootfs/bin/$a"; done
for n in $NODES; do
  node_env "$n"
  tar -C "$rootfs" -c . | docker -H unix://$SOCK import -c 'CMD ["/bin/sleep", "1000000"]' - swb/busybox:latest >/dev/null
done

# Swarm: n1 initialises, n2 and n3 join as managers.
node_env 1
docker -H unix://$SOCK swarm init --advertise-addr $NET.2 >/dev/null
token=$(docker -H unix://$SOCK swarm join-token -q manager)
for n in 2 3; do
  node_env "$n"
  docker -H unix://$SOCK swarm join --advertise-addr $NET.$((n + 1)) --token "$token" $NET.2:2377 >/dev/null
done
node_env 1
docker -H unix://$SOCK node ls
docker -H unix://$SOCK service create --quiet --detach=false --name swb-svc --replicas 1 \
  --no-resolve-image --constraint 'node.labels.swb-avoid!=1' swb/busybox:latest >/dev/null
say "service swb-svc: $(docker -H unix://$SOCK service ps --format '{{.Node}} {{.CurrentState}}' swb-svc | head -1)"

SWB_RUN=$RUN SWB_DATA=$DATA SWB_SELF=$SELF SWB_ROUNDS=$ROUNDS BENCH_DIR=$BENCH_DIR \
  python3 - <<'PY'
import http.client, json, os, signal, socket, subprocess, sys, threading, time, urllib.parse
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["BENCH_DIR"])
from ha_cluster import history_report, load, now, summary  # noqa: E402

RUN, DATA, SELF = os.environ["SWB_RUN"], os.environ["SWB_DATA"], os.environ["SWB_SELF"]
ROUNDS = int(os.environ["SWB_ROUNDS"])
NODES = [1, 2, 3]
POLL_S, TIMEOUT_S, TASK_TIMEOUT_S = 0.025, 60, 120


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def api(n, method, path, body=None, timeout=1.0):
    """(status, parsed JSON or text) of one Engine API request to node n's dockerd on a fresh
    connection; (None, error) when it could not be made or timed out."""
    conn = UnixConn("%s/d%d.sock" % (RUN, n), timeout)
    try:
        data = json.dumps(body) if body is not None else None
        conn.request(method, "/v1.41" + path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")
    except Exception as e:  # noqa: BLE001
        return None, str(e)
    finally:
        conn.close()


def q(filters):
    return urllib.parse.quote(json.dumps(filters))


def docker(n, *args, timeout=180):
    return subprocess.run(["docker", "-H", "unix://%s/d%d.sock" % (RUN, n)] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def node_num(node):
    return int(node["Description"]["Hostname"].rsplit("n", 1)[1])


def nodes(via):
    st, body = api(via, "GET", "/nodes", timeout=2)
    return body if st == 200 and isinstance(body, list) else None


def leader(via_list=NODES):
    for v in via_list:
        ns = nodes(v)
        if ns:
            for x in ns:
                if (x.get("ManagerStatus") or {}).get("Leader"):
                    return node_num(x), {node_num(y): y["ID"] for y in ns}
    return None, None


def healthy():
    """Leader known and all three managers ready and reachable, asked of every node."""
    for v in NODES:
        ns = nodes(v)
        if not ns or len(ns) != 3:
            return False
        for x in ns:
            if x["Status"]["State"] != "ready" or x["ManagerStatus"]["Reachability"] != "reachable":
                return False
        if not any(x["ManagerStatus"].get("Leader") for x in ns):
            return False
    return True


def wait_healthy(limit):
    t = now()
    while now() - t < limit:
        if healthy():
            return True
        time.sleep(0.2)
    return False


def running_task(via, ids, exclude=None):
    """node number of swb-svc's running task (not on node `exclude`), or None."""
    st, body = api(via, "GET", "/tasks?filters=" + q({"service": ["swb-svc"],
                                                     "desired-state": ["running"]}), timeout=1)
    if st != 200 or not isinstance(body, list):
        return None
    by_id = {v: k for k, v in ids.items()}
    for t in body:
        if t["Status"]["State"] == "running" and t.get("NodeID") in by_id:
            n = by_id[t["NodeID"]]
            if n != exclude:
                return n
    return None


def pin_task(L, ids):
    """Makes swb-svc's task run on node L."""
    if running_task(L, ids) == L:
        return True
    others = [n for n in NODES if n != L]
    for n in others:
        docker(L, "node", "update", "--label-add", "swb-avoid=1", "swb-n%d" % n)
    r = docker(L, "service", "update", "--quiet", "--force", "--detach=false", "swb-svc")
    for n in others:
        docker(L, "node", "update", "--label-rm", "swb-avoid", "swb-n%d" % n)
    if r.returncode != 0:
        print("service update --force: %s" % r.stderr.strip())
    t = now()
    while now() - t < 60:
        if running_task(L, ids) == L:
            return True
        time.sleep(0.2)
    return False


def task_pid(n):
    st, body = api(n, "GET", "/containers/json?filters=" +
                   q({"label": ["com.docker.swarm.service.name=swb-svc"]}), timeout=2)
    if st == 200 and body:
        st, c = api(n, "GET", "/containers/%s/json" % body[0]["Id"], timeout=2)
        if st == 200 and c["State"]["Pid"]:
            return c["State"]["Pid"]
    return None


def svc(name):
    return {"Name": name, "TaskTemplate": {"ContainerSpec": {"Image": "swb/busybox:latest",
                                                            "Command": ["sleep", "100000"]}},
            "Mode": {"Replicated": {"Replicas": 0}}}


print("load average before: %s" % " ".join(load()), flush=True)
ok = True
acknowledged, uncertain, rounds = [], [], []
attempt = 0
for r in range(1, ROUNDS + 1):
    if not wait_healthy(120):
        print("round %d: the swarm is not healthy (3 ready, reachable managers and a leader) "
              "within 120 s" % r)
        ok = False
        break
    L, ids = leader()
    if not pin_task(L, ids):
        print("round %d: could not get swb-svc's task onto the leader swb-n%d" % (r, L))
        ok = False
        break
    tpid = task_pid(L)
    pre = "swb-r%02d-before" % r
    st, body = api(L, "POST", "/services/create", svc(pre), timeout=10)
    if st == 201:
        acknowledged.append(pre)
    else:
        print("round %d: write before the kill answered %s %s" % (r, st, body))
    dpid = int(open("%s/n%d/dockerd.pid" % (RUN, L)).read())
    survivors = [n for n in NODES if n != L]
    new_leader, task_back = {}, {}

    def watch_leader():
        i = 0
        while now() - t0 < TIMEOUT_S:
            v = survivors[i % 2]
            i += 1
            st, body = api(v, "GET", "/nodes", timeout=0.5)
            if st == 200 and isinstance(body, list):
                for x in body:
                    if (x.get("ManagerStatus") or {}).get("Leader") and node_num(x) != L:
                        new_leader.update(at=now() - t0, who=node_num(x))
                        return
            time.sleep(POLL_S)

    def watch_task():
        i = 0
        while now() - t0 < TASK_TIMEOUT_S:
            v = survivors[i % 2]
            i += 1
            n = running_task(v, ids, exclude=L)
            if n is not None:
                task_back.update(at=now() - t0, on=n)
                return
            time.sleep(0.1)

    t0 = now()
    os.kill(dpid, signal.SIGKILL)
    if tpid:
        os.kill(tpid, signal.SIGKILL)
    threads = [threading.Thread(target=watch_leader), threading.Thread(target=watch_task)]
    for th in threads:
        th.start()
    first, codes, i = None, {}, 0
    while now() - t0 < TIMEOUT_S:
        attempt += 1
        v = survivors[i % 2]
        i += 1
        name = "swb-r%02d-a%05d" % (r, attempt)
        st, body = api(v, "POST", "/services/create", svc(name), timeout=1.0)
        key = st
        if st is not None and st != 201 and isinstance(body, dict):
            key = "%d %s" % (st, str(body.get("message", ""))[:50])
        codes[key] = codes.get(key, 0) + 1
        if st == 201:
            first = (now() - t0, v)
            acknowledged.append(name)
            break
        if st is None:
            uncertain.append(name)
        time.sleep(POLL_S)
    for th in threads:
        th.join()
    row = {"round": r, "write": first, "leader": new_leader.get("at"), "task": task_back.get("at")}
    rounds.append(row)
    f = lambda x: "%.3f s" % x if x is not None else "never"  # noqa: E731
    print("round %2d: killed the leader swb-n%d (dockerd pid %d, task pid %s); new leader %s "
          "named after %s; first 201 after %s via swb-n%s; swb-svc running on swb-n%s after %s; "
          "answers: %s" % (
              r, L, dpid, tpid, "swb-n%s" % new_leader.get("who"), f(row["leader"]),
              f(first[0] if first else None), first[1] if first else "-", task_back.get("on"),
              f(row["task"]),
              ", ".join("%s x%d" % (k if k else "no answer", v)
                        for k, v in sorted(codes.items(), key=lambda kv: str(kv[0])))),
          flush=True)
    if first is None or row["leader"] is None:
        ok = False
    subprocess.run(["bash", SELF, "_start-dockerd", str(L)], env=dict(os.environ, SWB_DATA=DATA),
                   stdin=subprocess.DEVNULL, check=True)
    t = now()
    while now() - t < 60 and api(L, "GET", "/_ping", timeout=1)[0] != 200:
        time.sleep(0.1)
    if not wait_healthy(120):
        print("round %d: the restarted swb-n%d is not back as a reachable manager in 120 s" % (r, L))
        ok = False
        break
    print("          swb-n%d back as a reachable manager %.1f s after its restart" % (L, now() - t),
          flush=True)

L, _ = leader()
st, body = api(L, "GET", "/services", timeout=10) if L else (None, None)
present = {x["Spec"]["Name"] for x in body} if st == 200 else set()
if not history_report("services", "GET /services", acknowledged, present, uncertain) \
        or st != 200:
    ok = False
print("leader failover over %d kills (from SIGKILL):" % len(rounds))
print("  GET /nodes on a survivor names a new leader    %s" %
      summary([x["leader"] for x in rounds if x["leader"] is not None]))
print("  first POST /services/create answered 201       %s" %
      summary([x["write"][0] for x in rounds if x["write"]]))
print("  swb-svc's task running on a surviving node     %s" %
      summary([x["task"] for x in rounds if x["task"] is not None]))
for k, name in (("leader", "new leader"), ("write", "first 201"), ("task", "task running")):
    v = [x[k] if k != "write" else (x[k][0] if x[k] else None) for x in rounds]
    v = [x for x in v if x is not None]
    if v:
        print("  min %-12s %.2f s" % (name, min(v)))
print("load average after: %s" % " ".join(load()), flush=True)
sys.exit(0 if ok else 1)
PY
