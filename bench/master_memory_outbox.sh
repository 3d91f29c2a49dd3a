#!/usr/bin/env bash
# Master memory with an agent that stops fetching its commands: one master, 100 polling
# simulated agents running one app of N tiny instances, and one `--no-poll` simulated agent
# (it heartbeats and reports its datasets attached, but never fetches commands) that is made
# the primary of N datasets through the Flocker API. Every dataset change queues a "datasets"
# command for that agent that it never takes, so its outbox on the master only grows unless
# the master coalesces and bounds it. For each N (a fresh master each time) it prints the
# master's VmRSS after every phase and how long each phase took, then a summary table and
# the growth per N between sizes.
#
#   bench/master_memory_outbox.sh PATH_TO_BERTH [PATH_TO_SIM_AGENTS]
#
# Environment: SIZES ("1000 3000 10000"), AGENTS (100 polling agents), TIMEOUT_S (1800 per
# phase), SETTLE_S (10: idle seconds after the last phase before the final reading).
# Needs curl, jq and python3.
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
SIM=$(readlink -f "$SIM")
SIZES=${SIZES:-1000 3000 10000}
AGENTS=${AGENTS:-100}
TIMEOUT_S=${TIMEOUT_S:-1800}
SETTLE_S=${SETTLE_S:-10}
for n in $SIZES; do [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "SIZES must hold positive integers, got '$n'" >&2; exit 2; }; done

TMP=$(mktemp -d /tmp/berth-outbox.XXXXXX)
MASTER_PID=""
SIM_PID=""
NOPOLL_PID=""
RUN_DIR=""  # of the size being measured: its logs are shown on failure
stop_pid() {
  local pid=$1
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
stop_all() {
  stop_pid "$NOPOLL_PID"; NOPOLL_PID=""
  stop_pid "$SIM_PID"; SIM_PID=""
  stop_pid "$MASTER_PID"; MASTER_PID=""
}
cleanup() {
  local rc=$?
  stop_all
  if [[ $rc -ne 0 && -n "$RUN_DIR" ]]; then
    echo "--- master log (last 30 lines) ---" >&2; tail -n 30 "$RUN_DIR/master.log" >&2 || true
    echo "--- sim-agents log (last 5 lines) ---" >&2; tail -n 5 "$RUN_DIR/sim.log" >&2 || true
    echo "--- no-poll agent log (last 5 lines) ---" >&2; tail -n 5 "$RUN_DIR/nopoll.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$MASTER_PID/status"; }
hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$MASTER_PID/status"; }
# CPU seconds the master has used (user + system), from /proc/PID/stat.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$MASTER_PID/stat"; }
alive() { kill -0 "$MASTER_PID" 2>/dev/null || { echo "the master died" >&2; exit 1; }; }

# wait_for DESCRIPTION COMMAND...: runs COMMAND every 0.5 s until it succeeds; times out.
wait_for() {
  local what=$1 start
  shift
  start=$(now_ms)
  until "$@"; do
    alive
    (( $(now_ms) - start < TIMEOUT_S * 1000 )) || { echo "timed out waiting for $what" >&2; exit 1; }
    sleep 0.5
  done
}

declare -A RESULT  # RESULT[N,key]

run_one() {
  local n=$1 dir="$TMP/run-$n" port url t0 t phase_ms
  mkdir -m 700 "$dir"
  RUN_DIR=$dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  url="http://127.0.0.1:$port"
  local join="bench-$RANDOM$RANDOM"
  (umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/admin-token"
   echo "Authorization: Bearer $(cat "$dir/admin-token")" >"$dir/auth-header")
  api() { curl -H "@$dir/auth-header" "$@"; }
  echo "=== N = $n ($(uptime | sed 's/.*load average/load average/'))"

  BERTH_JOIN_TOKEN=$join "$BERTH" master --host 127.0.0.1 --port "$port" --data-dir "$dir/master" \
    --admin-token-file "$dir/admin-token" --heartbeat-interval-ms 500 --lost-timeout-ms 3000 \
    >"$dir/master.log" 2>&1 &
  MASTER_PID=$!
  for _ in $(seq 100); do curl -sf "$url/ping" >/dev/null && break; sleep 0.1; done
  curl -sf "$url/ping" >/dev/null || { echo "the master did not start" >&2; exit 1; }
  RESULT[$n,start]=$(rss_mb)
  printf '  %-44s RSS %7s MB\n' "master started" "${RESULT[$n,start]}"

  # Phase 1: the polling agents register.
  t0=$(now_ms)
  "$SIM" --master "$url" --token "$join" --agents "$AGENTS" --prefix sim --report-interval-s 1 \
    >"$dir/sim.log" 2>&1 &
  SIM_PID=$!
  active_count() {
    api -sf --max-time 30 "$url/berth/v1/nodes" |
      jq --arg p "$1" '[.nodes[] | select(.state == "active" and (.hostname | startswith($p)))] | length' || echo 0
  }
  agents_active() { [[ "$(active_count sim-)" -ge "$AGENTS" ]]; }
  wait_for "$AGENTS polling agents" agents_active
  phase_ms=$(( $(now_ms) - t0 )); RESULT[$n,agents]=$(rss_mb); RESULT[$n,t_agents]=$(div "$phase_ms" 1000)
  printf '  %-44s RSS %7s MB  %8.2f s\n' "$AGENTS polling agents active" "${RESULT[$n,agents]}" "${RESULT[$n,t_agents]}"

  # Phase 2: N tiny tasks on them (never on the no-poll agent: its launches would wait forever).
  local app
  app=$(jq -cn --argjson n "$n" '{id: "/outbox", cmd: "sleep 1000", cpus: 0.001, mem: 0.1, instances: $n,
    portDefinitions: [], constraints: [["hostname", "LIKE", "sim-.*"]]}')
  t0=$(now_ms)
  local code
  code=$(api -s -o "$dir/deploy.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "$app" "$url/v2/apps")
  [[ "$code" == 201 || "$code" == 200 ]] || { echo "deploy failed: HTTP $code $(cat "$dir/deploy.json")" >&2; exit 1; }
  tasks_running() {
    local r
    r=$(api -sf --max-time 30 "$url/v2/apps?id=/outbox" | jq '.apps[0].tasksRunning' || true)
    [[ "$r" =~ ^[0-9]+$ && "$r" -ge "$n" ]]
  }
  wait_for "$n tasks running" tasks_running
  phase_ms=$(( $(now_ms) - t0 )); RESULT[$n,tasks]=$(rss_mb); RESULT[$n,t_tasks]=$(div "$phase_ms" 1000)
  printf '  %-44s RSS %7s MB  %8.2f s\n' "$n tasks running" "${RESULT[$n,tasks]}" "${RESULT[$n,t_tasks]}"

  # Phase 3: the agent that never fetches its commands.
  t0=$(now_ms)
  "$SIM" --master "$url" --token "$join" --agents 1 --prefix nopoll --no-poll --report-interval-s 1 \
    >"$dir/nopoll.log" 2>&1 &
  NOPOLL_PID=$!
  nopoll_active() { [[ "$(active_count nopoll-)" -ge 1 ]]; }
  wait_for "the no-poll agent" nopoll_active
  local nopoll_id
  nopoll_id=$(api -sf "$url/berth/v1/nodes" | jq -r '.nodes[] | select(.hostname == "nopoll-0") | .id')
  [[ -n "$nopoll_id" ]] || { echo "cannot find the no-poll agent's id" >&2; exit 1; }
  phase_ms=$(( $(now_ms) - t0 )); RESULT[$n,nopoll]=$(rss_mb)
  printf '  %-44s RSS %7s MB  %8.2f s  (id %s)\n' "no-poll agent active" "${RESULT[$n,nopoll]}" \
    "$(div "$phase_ms" 1000)" "$nopoll_id"

  # Phase 4: N datasets with it as primary, one POST each over one keep-alive connection.
  t0=$(now_ms)
  python3 - "$url" "$dir/admin-token" "$n" "$nopoll_id" >"$dir/create.log" 2>&1 <<'PY' || { cat "$dir/create.log" >&2; exit 1; }
import http.client, json, sys, urllib.parse
url, token_file, n, primary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
token = open(token_file).read().split()[0]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
for i in range(n):
    conn.request("POST", "/v1/configuration/datasets", json.dumps({"primary": primary}), headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        sys.exit("dataset %d of %d: HTTP %d %s" % (i + 1, n, r.status, body[:300]))
PY
  phase_ms=$(( $(now_ms) - t0 )); RESULT[$n,created]=$(rss_mb); RESULT[$n,t_create]=$(div "$phase_ms" 1000)
  printf '  %-44s RSS %7s MB  %8.2f s (%s creates/s)\n' "$n datasets created" "${RESULT[$n,created]}" \
    "${RESULT[$n,t_create]}" "$(div $((n * 1000)) "$phase_ms")"

  # Phase 5: the no-poll agent learns them from heartbeat answers and reports them attached.
  t0=$(now_ms)
  all_attached() {
    local a
    a=$(api -sf --max-time 30 "$url/v1/state/datasets" |
          jq --arg p "$nopoll_id" '[.[] | select(.primary == $p)] | length' || true)
    [[ "$a" =~ ^[0-9]+$ && "$a" -ge "$n" ]]
  }
  wait_for "$n datasets attached on the no-poll agent" all_attached
  phase_ms=$(( $(now_ms) - t0 )); RESULT[$n,attached]=$(rss_mb); RESULT[$n,t_attach]=$(div "$phase_ms" 1000)
  printf '  %-44s RSS %7s MB  %8.2f s\n' "all $n reported attached" "${RESULT[$n,attached]}" "${RESULT[$n,t_attach]}"

  # Phase 6: idle; heartbeats carry N dataset reports and answers N assignments. Memory that
  # keeps growing here is a leak, not a cost of N.
  local idle_rss="" waited=0 cpu0 t_idle0
  cpu0=$(cpu_s); t_idle0=$(now_ms)
  while (( waited < SETTLE_S )); do
    local step=$(( SETTLE_S - waited < 5 ? SETTLE_S - waited : 5 ))
    sleep "$step"; waited=$((waited + step))
    alive
    idle_rss+=" $(rss_mb)"
  done
  echo "  RSS every 5 s while idle (MB):$idle_rss"
  RESULT[$n,idle_cpu]=$(awk -v c0="$cpu0" -v c1="$(cpu_s)" -v ms=$(( $(now_ms) - t_idle0 )) \
    'BEGIN { printf "%.0f", (c1 - c0) * 100000 / ms }')
  echo "  master CPU while idle (heartbeats, long polls, reconcile): ${RESULT[$n,idle_cpu]} % of one core"
  RESULT[$n,settled]=$(rss_mb); RESULT[$n,hwm]=$(hwm_mb)
  RESULT[$n,threads]=$(awk '/Threads/ {print $2}' "/proc/$MASTER_PID/status")
  printf '  %-44s RSS %7s MB  VmHWM %s MB  threads %s\n' "after $SETTLE_S s idle" "${RESULT[$n,settled]}" \
    "${RESULT[$n,hwm]}" "${RESULT[$n,threads]}"
  echo "  of which: $(awk '/RssAnon|RssFile|RssShmem/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$MASTER_PID/status")"
  echo "  polling agents: $(grep '^sim-agents: registered' "$dir/sim.log" | tail -n 1 | sed 's/^sim-agents: //')"
  echo "  no-poll agent:  $(grep '^sim-agents: registered' "$dir/nopoll.log" | tail -n 1 | sed 's/^sim-agents: //')"
  echo "  slowest heartbeat answer to the no-poll agent, per second over the run (ms): $(
    grep -o 'slowest-heartbeat-ms [0-9]*' "$dir/nopoll.log" | awk '{print $2}' | sort -n | tail -n 1)"
  echo "  master log: $(grep -c -E ' (warning|error|critical) ' "$dir/master.log" || true) warning/error lines"
  grep -E ' (warning|error|critical) ' "$dir/master.log" | grep -v -- '--no-auth' | head -n 3 | sed 's/^/    /' || true
  stop_all
  rm -rf "$dir/master"
}

for n in $SIZES; do run_one "$n"; done

echo
echo "RESULT: master VmRSS (MB) after each phase; phase times in seconds"
printf '%-8s %7s %8s %8s %9s %9s %9s %9s %7s | %8s %8s %8s %9s\n' N start agents tasks created attached settled VmHWM \
  threads t_tasks t_create t_attach idle_cpu%
for n in $SIZES; do
  printf '%-8s %7s %8s %8s %9s %9s %9s %9s %7s | %8s %8s %8s %9s\n' "$n" "${RESULT[$n,start]}" "${RESULT[$n,agents]}" \
    "${RESULT[$n,tasks]}" "${RESULT[$n,created]}" "${RESULT[$n,attached]}" "${RESULT[$n,settled]}" "${RESULT[$n,hwm]}" \
    "${RESULT[$n,threads]}" "${RESULT[$n,t_tasks]}" "${RESULT[$n,t_create]}" "${RESULT[$n,t_attach]}" "${RESULT[$n,idle_cpu]}"
done
# Linear in N means the same cost per N between any two sizes.
prev=""
for n in $SIZES; do
  if [[ -n "$prev" ]]; then
    printf 'growth %s -> %s: %s KB of settled RSS per N (tasks phase alone: %s KB per task)\n' "$prev" "$n" \
      "$(div "$(awk -v a="${RESULT[$n,settled]}" -v b="${RESULT[$prev,settled]}" 'BEGIN {print (a - b) * 1024}')" $((n - prev)))" \
      "$(div "$(awk -v a="${RESULT[$n,tasks]}" -v b="${RESULT[$prev,tasks]}" 'BEGIN {print (a - b) * 1024}')" $((n - prev)))"
  fi
  prev=$n
done
