#!/usr/bin/env bash
# POST /v2/apps per second (a new app id per request, instances 0) on `berth up --masters 3`
# (through the leader, and through a standby that passes the request on to the leader) and on
# `berth up` (one master on SQLite), with wrk and bench/api_auth_rps.lua (the admin token on
# every request, keep-alive connections).
#
#   bench/ha_api_rps.sh PATH_TO_BERTH
#
# Environment: PORT (18730; the one-master cluster uses PORT+10), THREADS (2), CONNECTIONS (8
# concurrent clients), DURATION_S (10), ROUNDS (3: each target measured ROUNDS times, each time
# on a fresh cluster, since a POST costs more the more apps the master holds; the order of the
# targets rotates from round to round), TIMEOUT_S (10: wrk counts a request unanswered after this
# long as an error; its default, 2 s, is shorter than some POSTs took on etcd).
# Fails on any non-2xx answer or socket error. Prints every run with the load average, then the
# median per target. Client and masters share the machine's cores.
set -euo pipefail
BERTH=$(readlink -f "${1:?usage: $0 PATH_TO_BERTH}")
PORT=${PORT:-18730}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-8}
DURATION_S=${DURATION_S:-10}
ROUNDS=${ROUNDS:-3}
TIMEOUT_S=${TIMEOUT_S:-10}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/berth-ha-rps.XXXXXX)
UP_PID=""
stop_up() {
  [[ -n "$UP_PID" ]] && kill -0 "$UP_PID" 2>/dev/null || return 0
  kill -INT "$UP_PID"
  for _ in $(seq 900); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$UP_PID" 2>/dev/null && { echo "berth up did not stop in 90 s; SIGKILL" >&2; kill -KILL "$UP_PID"; }
  wait "$UP_PID" 2>/dev/null || true
  UP_PID=""
}
cleanup() {
  local rc=$?
  stop_up
  left=$(pgrep -f -- "$TMP/" || true)
  [[ -z "$left" ]] || { echo "left running: $left" >&2; rc=1; }
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_up() {  # start_up NAME PORT [berth up flags...]
  local name=$1 port=$2; shift 2
  local dir="$TMP/$name"
  mkdir -m 700 "$dir"
  (umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/admin-token")
  "$BERTH" up --agents 1 --port "$port" --data-dir "$dir" "$@" >"$dir/up.out" 2>&1 &
  UP_PID=$!
  for _ in $(seq 900); do
    grep -q "berth is up" "$dir/up.out" && return 0
    kill -0 "$UP_PID" 2>/dev/null || { cat "$dir/up.out" >&2; exit 1; }
    sleep 0.1
  done
  echo "berth up did not come up in 90 s" >&2; exit 1
}

declare -A RUNS
run=0
measure() {  # measure TARGET URL TOKEN_FILE
  local target=$1 url=$2 token=$3 out
  out=$(BENCH_TOKEN_FILE=$token BENCH_METHOD=POST BENCH_ID_PREFIX="rps/run$run" \
        wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION_S}s" --timeout "${TIMEOUT_S}s" --latency -s "$here/api_auth_rps.lua" "$url" |
        grep '^WRK')
  local rps non2xx errors
  rps=$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$out")
  non2xx=$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$out")
  errors=$(sed 's/.*errors=\([0-9]*\).*/\1/' <<<"$out")
  printf '%-22s %s   via :%s   load %s\n' "$target" "$out" "${url##*:}" "$(cut -d' ' -f1-3 /proc/loadavg)"
  [[ "$non2xx" == 0 && "$errors" == 0 ]] || { echo "FAIL: $target had non-2xx answers or socket errors" >&2; exit 1; }
  RUNS[$target]="${RUNS[$target]:-} $rps"
}

run_target() {  # run_target TARGET: a fresh cluster, one measurement, cluster stopped
  local target=$1 port token leader standby
  run=$((run + 1))
  case $target in
    1-master-sqlite)
      start_up "$target-$run" $((PORT + 10))
      port=$((PORT + 10)) ;;
    *)
      start_up "$target-$run" "$PORT" --masters 3
      token="$TMP/$target-$run/admin-token"
      leader=$(curl -sf -H "Authorization: Bearer $(cat "$token")" "http://127.0.0.1:$PORT/v2/leader" | sed 's/.*:\([0-9]*\)".*/\1/')
      standby=$PORT; [[ "$leader" == "$PORT" ]] && standby=$((PORT + 1))
      port=$leader; [[ $target == 3-masters-standby ]] && port=$standby ;;
  esac
  measure "$target" "http://127.0.0.1:$port" "$TMP/$target-$run/admin-token"
  if [[ $target != 1-master-sqlite ]]; then
    local now_leader
    now_leader=$(curl -sf -H "Authorization: Bearer $(cat "$token")" "http://127.0.0.1:$PORT/v2/leader" | sed 's/.*:\([0-9]*\)".*/\1/')
    [[ "$now_leader" == "$leader" ]] || { echo "FAIL: the leader changed during the run ($leader -> $now_leader)" >&2; exit 1; }
  fi
  stop_up
}

echo "wrk -t $THREADS -c $CONNECTIONS -d ${DURATION_S}s, POST /v2/apps, a new app id per request, a fresh cluster per run"
targets=(3-masters-leader 3-masters-standby 1-master-sqlite)
for r in $(seq "$ROUNDS"); do
  for k in 0 1 2; do run_target "${targets[$(( (k + r - 1) % 3 ))]}"; done
done

echo "median POST /v2/apps per second over $ROUNDS runs:"
for t in 3-masters-leader 3-masters-standby 1-master-sqlite; do
  printf '  %-22s %8.1f   runs:%s\n' "$t" \
    "$(tr ' ' '\n' <<<"${RUNS[$t]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')" "${RUNS[$t]}"
done
