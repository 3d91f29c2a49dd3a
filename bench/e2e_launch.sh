#!/usr/bin/env bash
# End-to-end launch throughput with real processes: `berth up --agents 3`, one app of
# `sleep 100000` scaled from 1 to N instances; reports seconds until N are TASK_RUNNING and
# launches/s. Then stops the cluster and checks that no task process outlived it.
# With the process executor, berth-bench-raw-spawn first starts the same N processes of the same
# command without berth (posix_spawn of `sh -c CMD`, each in a fresh directory, as the executor
# does), just before the scale request on the idle cluster; the script prints both rates and
# berth/raw, the share of the machine's own spawn rate that berth reaches.
# With EXECUTOR=docker (bench/docker_launch.sh) the app is a DOCKER app of berth/busybox
# containers (a shell looping on `sleep 1`), each created and started through the Engine API,
# and the check is that no container of the run outlived the cluster. Its baseline, measured
# the same way just before the scale: a loop of N `docker run -d` of the same image, command and
# network, one after the other, as a user would script it; they are removed before the scale.
#
#   bench/e2e_launch.sh PATH_TO_BERTH [N=1000]
#
# Environment: TIMEOUT_S (600); POLL_PATH (/v2/apps/launch; e.g. "/v2/apps?id=/launch" polls
# without embedding the tasks, to see how much the observer costs); EXECUTOR (process or
# docker); NETWORK (docker only: none, the default, or bridge); RAW_SPAWN (the
# berth-bench-raw-spawn binary; by default next to PATH_TO_BERTH or in ../bench/ from it, as
# CMake builds it).
set -euo pipefail

BERTH=${1:?usage: $0 PATH_TO_BERTH [N=1000]}
BERTH=$(readlink -f "$BERTH")
N=${2:-1000}
TIMEOUT_S=${TIMEOUT_S:-600}
POLL_PATH=${POLL_PATH:-/v2/apps/launch}
EXECUTOR=${EXECUTOR:-process}
NETWORK=${NETWORK:-none}
[[ "$EXECUTOR" == process || "$EXECUTOR" == docker ]] || { echo "EXECUTOR must be process or docker" >&2; exit 2; }
RAW_SPAWN=${RAW_SPAWN:-}
if [[ "$EXECUTOR" == process && -z "$RAW_SPAWN" ]]; then
  for candidate in "$(dirname "$BERTH")/berth-bench-raw-spawn" \
                   "$(dirname "$BERTH")/../bench/berth-bench-raw-spawn"; do
    [[ -x "$candidate" ]] && RAW_SPAWN=$candidate && break
  done
  [[ -n "$RAW_SPAWN" ]] || { echo "cannot find berth-bench-raw-spawn (build that target) or set RAW_SPAWN" >&2; exit 2; }
fi
[[ -z "$RAW_SPAWN" || -x "$RAW_SPAWN" ]] || { echo "not an executable: RAW_SPAWN=$RAW_SPAWN" >&2; exit 2; }
if [[ "$EXECUTOR" == docker ]]; then
  docker image inspect berth/busybox >/dev/null 2>&1 || { echo "the berth/busybox image is missing: run make images" >&2; exit 2; }
fi
[[ -x "$BERTH" ]] || { echo "not an executable: $BERTH" >&2; exit 2; }
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 ]] || { echo "N must be a positive integer, got '$N'" >&2; exit 2; }

TMP=$(mktemp -d /tmp/berth-e2e.XXXXXX)
UP_PID=""
now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Containers of this run: their owner label names an agent work directory under $TMP.
our_containers() {
  docker ps -a --filter label=org.berth.agent --format '{{.Label "org.berth.agent"}}' |
    awk -v dir="@$TMP/" 'index($0, dir) { n++ } END { print n + 0 }'
}
# Task processes of this run: `sleep 100000` whose working directory is a sandbox under $TMP.
our_sleeps() {
  local n=0 pid
  for pid in $(pgrep -f -x 'sleep 100000' || true); do
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$TMP"/* ]] && n=$((n + 1))
  done
  echo "$n"
}
stop_up() {
  [[ -n "$UP_PID" ]] && kill -0 "$UP_PID" 2>/dev/null || return 0
  kill -TERM "$UP_PID"
  for _ in $(seq 600); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$UP_PID" 2>/dev/null; then
    echo "berth up did not stop within 60 s; killing it" >&2
    kill -KILL "$UP_PID" 2>/dev/null || true
  fi
  wait "$UP_PID" 2>/dev/null || true
  UP_PID=""
}
# Containers of the `docker run -d` baseline: labelled with this run's directory.
remove_baseline() {
  local ids
  ids=$(docker ps -aq --filter "label=org.berth.bench=$TMP" 2>/dev/null || true)
  [[ -z "$ids" ]] || docker rm -f $ids >/dev/null 2>&1 || true
}
cleanup() {
  local rc=$?
  [[ "$EXECUTOR" == docker ]] && remove_baseline
  stop_up
  if [[ $rc -ne 0 ]]; then
    echo "--- berth up output (last 20 lines) ---" >&2; tail -n 20 "$TMP/up.log" >&2 || true
    echo "--- master log (last 20 lines) ---" >&2; tail -n 20 "$TMP/data/logs/master.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
before_all=$(pgrep -c -f -x 'sleep 100000' || true)
# The API needs the admin token. `berth up` has its master use <data-dir>/admin-token; writing
# it first means the script knows it; curl reads the header from a file, not the command line.
mkdir -m 700 "$TMP/data"
(umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/data/admin-token"
 echo "Authorization: Bearer $(cat "$TMP/data/admin-token")" >"$TMP/auth-header")
api() { curl -H "@$TMP/auth-header" "$@"; }

"$BERTH" up --agents 3 --port "$PORT" --data-dir "$TMP/data" >"$TMP/up.log" 2>&1 &
UP_PID=$!
for _ in $(seq 600); do
  grep -q "berth is up" "$TMP/up.log" && break
  kill -0 "$UP_PID" 2>/dev/null || { echo "berth up exited" >&2; exit 1; }
  sleep 0.1
done
grep -q "berth is up" "$TMP/up.log" || { echo "berth up did not come up in 60 s" >&2; exit 1; }
echo "berth up (pid $UP_PID) on $URL"

running_count() {
  local r
  r=$(api -sf --max-time 10 "$URL$POLL_PATH" | jq 'if .app then .app.tasksRunning else .apps[0].tasksRunning end' || true)
  [[ "$r" =~ ^[0-9]+$ ]] && echo "$r" || echo 0
}
wait_running() {  # wait_running COUNT POLL_S -> elapsed ms since the call on stdout
  local want=$1 poll=$2 start r last=0 now
  start=$(now_ms)
  while true; do
    r=$(running_count)
    now=$(now_ms)
    [[ "$r" -ge "$want" ]] && { echo $((now - start)); return 0; }
    if (( now - start - last >= 5000 )); then
      last=$((now - start))
      printf '  %5.1fs  running %s/%s\n' "$(ratio "$last" 1000)" "$r" "$want" >&2
    fi
    (( now - start < TIMEOUT_S * 1000 )) || { echo "timed out: $r of $want running" >&2; return 1; }
    kill -0 "$UP_PID" 2>/dev/null || { echo "berth up exited" >&2; return 1; }
    sleep "$poll"
  done
}

CMD="sleep 100000"
APP='{"id":"/launch","cmd":"'"$CMD"'","cpus":0.001,"mem":1,"instances":1,"portDefinitions":[]}'
if [[ "$EXECUTOR" == docker ]]; then
  networks='[{"mode":"container","name":"'"$NETWORK"'"}]'
  [[ "$NETWORK" == bridge ]] && networks='[{"mode":"container/bridge"}]'
  APP='{"id":"/launch","cmd":"trap \"exit 0\" TERM; while :; do sleep 1; done","cpus":0.01,"mem":8,"instances":1,
    "container":{"type":"DOCKER","docker":{"image":"berth/busybox"},"portMappings":[]},"networks":'"$networks"'}'
fi
code=$(api -s -o "$TMP/deploy.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "$APP" "$URL/v2/apps")
[[ "$code" == 201 || "$code" == 200 ]] || { echo "deploy failed: HTTP $code $(cat "$TMP/deploy.json")" >&2; exit 1; }
wait_running 1 0.1 >/dev/null
for _ in $(seq 300); do  # the scale below is refused while the first deployment holds the app
  [[ "$(api -sf "$URL/v2/deployments" | jq length || true)" == 0 ]] && break
  sleep 0.1
done
echo "1 instance running, no deployment in progress"

# The machine's own rate for the same processes, on the same idle cluster, right before the
# scale. The tool kills and reaps all it started (its sandboxes are under $TMP, so our_sleeps
# would see any it left); its directory stays until the cleanup removes $TMP, since deleting
# thousands of files just before the scale can slow down the files berth creates next (see
# bench/raw_spawn.cpp).
raw_rate=""
if [[ "$EXECUTOR" == process ]]; then
  sleeps_before_raw=$(our_sleeps)  # the instance berth runs
  raw_line=$("$RAW_SPAWN" --dir "$TMP" --keep "$N" "$CMD" 2>"$TMP/raw.err") ||
    { echo "berth-bench-raw-spawn failed: $(cat "$TMP/raw.err")" >&2; exit 1; }
  echo "$raw_line"
  raw_rate=$(sed -n 's/.* per_s=\([0-9.]*\).*/\1/p' <<<"$raw_line")
  [[ -n "$raw_rate" ]] || { echo "cannot read the rate from: $raw_line" >&2; exit 1; }
  raw_left=$(( $(our_sleeps) - sleeps_before_raw ))
  [[ "$raw_left" -eq 0 ]] || { echo "FAIL: $raw_left processes of berth-bench-raw-spawn survived it" >&2; exit 1; }
fi
if [[ "$EXECUTOR" == docker ]]; then
  docker_net=none
  [[ "$NETWORK" == bridge ]] && docker_net=bridge
  raw_t0=$(now_ms)
  for _ in $(seq "$N"); do
    docker run -d --label "org.berth.bench=$TMP" --network "$docker_net" berth/busybox \
      sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null ||
      { echo "docker run -d failed" >&2; exit 1; }
  done
  raw_ms=$(( $(now_ms) - raw_t0 ))
  started=$(docker ps -q --filter "label=org.berth.bench=$TMP" --filter status=running | wc -l)
  [[ "$started" -eq "$N" ]] || { echo "only $started of $N docker run -d containers run" >&2; exit 1; }
  raw_rate=$(ratio $((N * 1000)) "$raw_ms")
  printf 'docker run -d loop: %d containers running after %.2f s: %.1f/s (network %s)\n' \
    "$N" "$(ratio "$raw_ms" 1000)" "$raw_rate" "$docker_net"
  remove_baseline
  left=$(docker ps -aq --filter "label=org.berth.bench=$TMP" | wc -l)
  [[ "$left" -eq 0 ]] || { echo "FAIL: $left baseline containers could not be removed" >&2; exit 1; }
fi
echo "scaling to $N"

T0=$(now_ms)
code=$(api -s -o "$TMP/scale.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  --data "{\"instances\":$N}" "$URL/v2/apps/launch")
[[ "$code" == 200 ]] || { echo "scale failed: HTTP $code $(cat "$TMP/scale.json")" >&2; exit 1; }
wait_running "$N" 0.05 >/dev/null
T1=$(now_ms)
elapsed_ms=$((T1 - T0))
if [[ "$EXECUTOR" == docker ]]; then
  echo "containers: $(our_containers) of this run (network $NETWORK)"
else
  echo "processes: $(our_sleeps) 'sleep 100000' of this run"
fi
berth_rate=$(ratio $((N * 1000)) $elapsed_ms)
printf 'RESULT: %d instances running %.2f s after the scale request: %.1f launches/s\n' \
  "$N" "$(ratio $elapsed_ms 1000)" "$berth_rate"
if [[ -n "$raw_rate" && "$EXECUTOR" == docker ]]; then
  printf 'RESULT: docker run -d loop %.1f/s, berth %.1f/s, berth/loop %.2f (N=%d, berth/busybox, network %s; load average %s)\n' \
    "$raw_rate" "$berth_rate" "$(ratio "$berth_rate" "$raw_rate")" "$N" "$NETWORK" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
elif [[ -n "$raw_rate" ]]; then
  printf 'RESULT: raw spawn %.1f/s, berth %.1f/s, berth/raw %.2f (N=%d, %s; load average %s)\n' \
    "$raw_rate" "$berth_rate" "$(ratio "$berth_rate" "$raw_rate")" "$N" "$CMD" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
fi

stop_t0=$(now_ms)
stop_up
echo "berth up stopped in $(ratio $(( $(now_ms) - stop_t0 )) 1000) s"
if [[ "$EXECUTOR" == docker ]]; then
  left=$(our_containers)
  echo "leftover containers of this run: $left"
  [[ "$left" -eq 0 ]] || { echo "FAIL: containers outlived berth up" >&2; exit 1; }
else
  left=$(our_sleeps)
  after_all=$(pgrep -c -f -x 'sleep 100000' || true)
  echo "leftover 'sleep 100000' processes: $left of this run ($after_all on the machine, $before_all before the run)"
  [[ "$left" -eq 0 ]] || { echo "FAIL: task processes outlived berth up" >&2; exit 1; }
fi
