#!/usr/bin/env bash
# Master memory at scale: one master, 100 simulated agents (berth-bench-sim-agents, which
# speak the real agent protocol but run nothing), one app of 10,000 tiny instances. Prints
# how long until all are TASK_RUNNING and the master's VmRSS / VmHWM once they are.
#
#   bench/master_memory.sh PATH_TO_BERTH [PATH_TO_SIM_AGENTS]
#
# Environment: AGENTS (100), INSTANCES (10000), TIMEOUT_S (900), STEADY_S (10: how long to
# keep the cluster idle after that before reading memory again), POLL_PATH (/v2/apps/mem,
# which embeds all tasks; "/v2/apps?id=/mem" does not).
set -euo pipefail

BERTH=${1:?usage: $0 PATH_TO_BERTH [PATH_TO_SIM_AGENTS]}
BERTH=$(readlink -f "$BERTH")
SIM=${2:-}
if [[ -z "$SIM" ]]; then
  for candidate in "$(dirname "$BERTH")/berth-bench-sim-agents" \
                   "$(dirname "$BERTH")/../bench/berth-bench-sim-agents"; do
    [[ -x "$candidate" ]] && SIM=$candidate && break
  done
fi
[[ -x "$BERTH" ]] || { echo "not an executable: $BERTH" >&2; exit 2; }
[[ -n "$SIM" && -x "$SIM" ]] || { echo "cannot find berth-bench-sim-agents; pass it as argument 2" >&2; exit 2; }
AGENTS=${AGENTS:-100}
INSTANCES=${INSTANCES:-10000}
TIMEOUT_S=${TIMEOUT_S:-900}
STEADY_S=${STEADY_S:-10}
POLL_PATH=${POLL_PATH:-/v2/apps/mem}

TMP=$(mktemp -d /tmp/berth-mem.XXXXXX)
MASTER_PID=""
SIM_PID=""
cleanup() {
  local rc=$?
  for pid in "$SIM_PID" "$MASTER_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ $rc -ne 0 ]]; then
    echo "--- master log (last 30 lines) ---" >&2; tail -n 30 "$TMP/master.log" >&2 || true
    echo "--- sim-agents log (last 10 lines) ---" >&2; tail -n 10 "$TMP/sim.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mb() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }  # a / b as a decimal

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
TOKEN="bench-$RANDOM$RANDOM"
# The API needs the admin token; curl reads the header from a file (not the command line).
(umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/admin-token")
echo "Authorization: Bearer $(cat "$TMP/admin-token")" >"$TMP/auth-header"
api() { curl -H "@$TMP/auth-header" "$@"; }

BERTH_JOIN_TOKEN=$TOKEN "$BERTH" master --host 127.0.0.1 --port "$PORT" --data-dir "$TMP/master" \
  --admin-token-file "$TMP/admin-token" --heartbeat-interval-ms 500 --lost-timeout-ms 3000 \
  >"$TMP/master.log" 2>&1 &
MASTER_PID=$!
for _ in $(seq 100); do curl -sf "$URL/ping" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/ping" >/dev/null || { echo "the master did not start" >&2; exit 1; }
echo "master pid $MASTER_PID on $URL; RSS at start: $(grep VmRSS /proc/$MASTER_PID/status | awk '{printf "%.1f MB", $2/1024}')"

"$SIM" --master "$URL" --token "$TOKEN" --agents "$AGENTS" --prefix sim --report-interval-s 1 >"$TMP/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 300); do
  active=$(api -sf "$URL/berth/v1/nodes" | jq '[.nodes[] | select(.state == "active")] | length' || true)
  [[ "$active" =~ ^[0-9]+$ ]] || active=0
  [[ "$active" -ge "$AGENTS" ]] && break
  sleep 0.1
done
[[ "$active" -ge "$AGENTS" ]] || { echo "only $active of $AGENTS simulated agents registered" >&2; exit 1; }
echo "$AGENTS simulated agents active; master $(awk '/VmRSS|VmHWM/ {printf "%s %.1f MB  ", $1, $2/1024}' /proc/$MASTER_PID/status)"

APP=$(jq -cn --argjson n "$INSTANCES" \
  '{id: "/mem", cmd: "sleep 1000", cpus: 0.001, mem: 0.1, instances: $n, portDefinitions: []}')
now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }
T0=$(now_ms)
code=$(api -s -o "$TMP/deploy.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "$APP" "$URL/v2/apps")
[[ "$code" == 201 || "$code" == 200 ]] || { echo "deploy failed: HTTP $code $(cat "$TMP/deploy.json")" >&2; exit 1; }

running=0
last_print=0
while true; do
  kill -0 "$MASTER_PID" 2>/dev/null || { echo "the master died" >&2; exit 1; }
  running=$(api -sf --max-time 30 "$URL$POLL_PATH" | jq 'if .app then .app.tasksRunning else .apps[0].tasksRunning end' || true)
  [[ "$running" =~ ^[0-9]+$ ]] || running=0
  elapsed_ms=$(( $(now_ms) - T0 ))
  if [[ "$running" -ge "$INSTANCES" ]]; then break; fi
  if (( elapsed_ms - last_print >= 5000 )); then
    last_print=$elapsed_ms
    printf '%6.1fs  running %s/%s  master RSS %s\n' "$(mb $elapsed_ms 1000)" "$running" "$INSTANCES" \
      "$(grep VmRSS /proc/$MASTER_PID/status | awk '{printf "%.1f MB", $2/1024}')"
  fi
  if (( elapsed_ms >= TIMEOUT_S * 1000 )); then echo "timed out: $running of $INSTANCES running" >&2; exit 1; fi
  sleep 1
done
T1=$(now_ms)
sleep 2  # let in-flight work settle before reading memory
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$MASTER_PID/status)
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$MASTER_PID/status)
threads=$(awk '/Threads/ {print $2}' /proc/$MASTER_PID/status)
printf 'all %d instances running after %.2f s (%.0f tasks/s) on %d simulated agents\n' \
  "$INSTANCES" "$(mb $((T1 - T0)) 1000)" "$(mb $((INSTANCES * 1000)) $((T1 - T0)))" "$AGENTS"
printf 'master VmRSS %.1f MB  VmHWM %.1f MB  threads %d\n' "$(mb "$rss_kb" 1024)" "$(mb "$hwm_kb" 1024)" "$threads"
grep 'running' "$TMP/sim.log" | tail -n 1
sleep "$STEADY_S"  # heartbeats and long polls only: does memory settle or grow?
printf 'after %d s more at steady state: master VmRSS %.1f MB  VmHWM %.1f MB\n' "$STEADY_S" \
  "$(mb "$(awk '/VmRSS/ {print $2}' /proc/$MASTER_PID/status)" 1024)" \
  "$(mb "$(awk '/VmHWM/ {print $2}' /proc/$MASTER_PID/status)" 1024)"
# What one Marathon-style read of the whole app costs the master (it embeds every task).
read -r bytes seconds < <(api -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$URL/v2/apps/mem")
printf 'one GET /v2/apps/mem: %.1f MB in %.3f s; master VmRSS %.1f MB  VmHWM %.1f MB after it\n' \
  "$(mb "$bytes" 1048576)" "$seconds" \
  "$(mb "$(awk '/VmRSS/ {print $2}' /proc/$MASTER_PID/status)" 1024)" \
  "$(mb "$(awk '/VmHWM/ {print $2}' /proc/$MASTER_PID/status)" 1024)"
echo "master log: $(grep -c -E ' (warning|error|critical) ' "$TMP/master.log" || true) warning/error lines"
grep -E ' (warning|error|critical) ' "$TMP/master.log" | head -n 5 || true
