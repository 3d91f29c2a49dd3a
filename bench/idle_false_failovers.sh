#!/usr/bin/env bash
# Counts false failovers on an idle cluster: `berth up` with the given timing, the demo counter
# deployed (a dataset, a health check, a service port), then DURATION seconds of nothing. Every
# second it records whether any node was declared lost and whether the counter's task changed.
#   bench/idle_false_failovers.sh PATH_TO_BERTH [DURATION_S=600]
# Timing comes from the environment, e.g. BERTH_HEARTBEAT_INTERVAL_MS=200 BERTH_LEASE_MS=1000
# BERTH_LOST_TIMEOUT_MS=1500 for the tuned settings.
set -euo pipefail
berth=${1:?usage: idle_false_failovers.sh PATH_TO_BERTH [DURATION_S]}
duration=${2:-600}
port=${PORT:-18787}
dir=$(mktemp -d /tmp/berth-idle-XXXXXX)
master=http://127.0.0.1:$port
# The API needs the admin token: `berth up` has its master use <data-dir>/admin-token, written
# here first; curl reads the header from a file, not the command line.
(umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/admin-token"
 echo "Authorization: Bearer $(cat "$dir/admin-token")" >"$dir/auth-header")
api() { curl -H "@$dir/auth-header" "$@"; }
"$berth" up --port "$port" --data-dir "$dir" > "$dir/up.out" 2>&1 &
up=$!
trap 'kill -TERM $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q "berth is up" "$dir/up.out" 2>/dev/null && break; sleep 0.2; done
# The demo's app, deployed without killing anything: --rounds 0 is not allowed, so deploy by hand.
counter=$(dirname "$berth")/berth-counter
api -fsS -X PUT "$master/v2/apps/idle-counter" -d "{\"id\":\"/idle-counter\",\"cmd\":\"$counter --port \$PORT0 --data-dir \$BERTH_VOLUME_DATA\",\"cpus\":0.1,\"mem\":64,\"portDefinitions\":[{\"port\":10090}],\"healthChecks\":[{\"protocol\":\"HTTP\",\"path\":\"/v1/ping\",\"intervalSeconds\":1,\"timeoutSeconds\":1,\"gracePeriodSeconds\":10}],\"container\":{\"type\":\"MESOS\",\"volumes\":[{\"containerPath\":\"/data\",\"mode\":\"RW\",\"external\":{\"name\":\"idle-clicks\",\"provider\":\"dvdi\",\"options\":{\"dvdi/driver\":\"berth\"}}}]}}" > /dev/null
task=""
for _ in $(seq 1 100); do
  task=$(api -fsS "$master/v2/apps/idle-counter/tasks" | python3 -c 'import json,sys; t=[x for x in json.load(sys.stdin)["tasks"] if x["state"]=="TASK_RUNNING"]; print(t[0]["id"] if t else "")')
  [ -n "$task" ] && break; sleep 0.2
done
[ -n "$task" ] || { echo "the counter never ran"; exit 1; }
lost_seen=0; task_changes=0; samples=0
end=$((SECONDS + duration))
while [ $SECONDS -lt $end ]; do
  lost=$(api -fsS "$master/berth/v1/nodes" | python3 -c 'import json,sys; print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["state"]=="lost"))')
  now=$(api -fsS "$master/v2/apps/idle-counter/tasks" | python3 -c 'import json,sys; t=[x for x in json.load(sys.stdin)["tasks"] if x["state"]=="TASK_RUNNING"]; print(t[0]["id"] if t else "")')
  [ "$lost" != "0" ] && lost_seen=$((lost_seen + 1))
  [ "$now" != "$task" ] && { task_changes=$((task_changes + 1)); task=$now; }
  samples=$((samples + 1))
  sleep 1
done
echo "idle for ${duration}s (${samples} samples): samples with a lost node: $lost_seen, counter task changes: $task_changes"
[ "$lost_seen" -eq 0 ] && [ "$task_changes" -eq 0 ]
