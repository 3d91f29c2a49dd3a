#!/usr/bin/env bash
# The Debian package as an operator uses it (docs/deploy.md §1):
#
#   tests/package/deb_test.sh BERTH_BINARY WORK_DIR
#
# Builds the package from BERTH_BINARY with scripts/make-deb into WORK_DIR, installs it into this
# machine with dpkg -i, checks what the postinst made, runs `systemd-analyze verify` on both
# units, then starts the master and the agent the way their installed units do — the ExecStart=
# command line, as the unit's User= — with the installed /etc/berth/berth.conf edited for free
# ports and a temporary data and work directory. Once the agent has registered it deploys a
# `sleep` app (and, where Docker runs with the berth/busybox image, a container), checks that
# they run without the agent's BERTH_... variables, stops master and agent (the tasks must run
# on, for the agent's next start to adopt), purges the package, checking that nothing of it is
# left. Root only: exits 77 (ctest: skipped) otherwise, and where
# berth is installed already or its user or directories exist, except under CI=true, where
# those are failures.
set -euo pipefail

berth_bin="${1:?usage: deb_test.sh BERTH_BINARY WORK_DIR}"
work="${2:?usage: deb_test.sh BERTH_BINARY WORK_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
started=$(date +%s)

test_name=deb_test
# shellcheck source=tests/package/common.sh
. "$root/tests/package/common.sh"

[ "$(id -u)" -eq 0 ] || skip "installing a package needs root (CI runs this as root)"
require_tools dpkg dpkg-deb dpkg-shlibdeps systemd-analyze setpriv curl jq ss
require_no_berth /etc/berth /var/lib/berth /usr/bin/berth

tmp=$(mktemp -d /tmp/berth-deb-test-XXXXXX)
chmod 0711 "$tmp"  # the master (berth) and the tasks (nobody) reach their directories below
master_pid=""
agent_pid=""
installed=false
containers=()

stop() {  # pid: SIGTERM, then SIGKILL after 15 s
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  stop "$agent_pid"
  stop "$master_pid"
  wait 2>/dev/null || true
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  if $installed; then dpkg --purge berth >"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log" >&2; fi
  finish $status "$tmp" "$tmp"/*.log
}
trap cleanup EXIT

# --- build and install -------------------------------------------------------------------

deb=$("$root/scripts/make-deb" --binary "$berth_bin" --output "$work" | tail -n 1)
[ -f "$deb" ] || fail "scripts/make-deb made no package"
say "built $deb"
fields=$(dpkg-deb --field "$deb" Package Version Architecture Maintainer Depends Description)
for field in Package Version Architecture Maintainer Depends Description; do
  grep -q "^$field: ." <<<"$fields" || fail "the package has no $field field: $fields"
done
grep -q '^Depends: .*libc6' <<<"$fields" || fail "Depends names no libc6: $fields"
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "/etc/berth/berth.conf" ] ||
  fail "the package's conffiles is not /etc/berth/berth.conf"

installed=true
dpkg -i "$deb" >"$tmp/install.log" 2>&1 || fail "dpkg -i failed: $(cat "$tmp/install.log")"
say "installed $(dpkg-query -W -f='${Package} ${Version}' berth)"

master_unit=/lib/systemd/system/berth-master.service
agent_unit=/lib/systemd/system/berth-agent.service
conf=/etc/berth/berth.conf
for f in /usr/bin/berth "$master_unit" "$agent_unit" "$conf"; do
  [ -f "$f" ] || fail "$f is not installed"
done
[ "$(stat -c '%U:%G %a' "$conf")" = "root:berth 640" ] ||
  fail "$conf is $(stat -c '%U:%G %a' "$conf"), not root:berth 640"
[ "$(getent passwd berth | cut -d: -f6)" = /var/lib/berth ] || fail "no system user berth: $(getent passwd berth)"
[ "$(getent passwd berth | cut -d: -f3)" -lt 1000 ] || fail "berth is not a system user"
[ "$(stat -c '%U %a' /var/lib/berth/master)" = "berth 700" ] ||
  fail "/var/lib/berth/master is $(stat -c '%U %a' /var/lib/berth/master)"
[ "$(stat -c '%U' /var/lib/berth/agent)" = root ] || fail "/var/lib/berth/agent is not root's"
# Installing twice (dpkg -i again, as an upgrade does) runs the postinst again: it must not fail.
dpkg -i "$deb" >"$tmp/reinstall.log" 2>&1 || fail "dpkg -i a second time failed: $(cat "$tmp/reinstall.log")"

# Every flag of both installed commands is in the installed config file, in its own section
# (src/cmd/service_commands_test.cpp checks their defaults too).
for command in master agent; do
  section=$(awk -v s="[$command]" '/^\[/ { inside = ($0 == s) } inside' "$conf")
  for flag in $(/usr/bin/berth "$command" --help | sed -n 's/^ *\(-h,\)\{0,1\}--\([a-z][a-z0-9-]*\).*/\2/p'); do
    case "$flag" in help | config) continue ;; esac
    grep -Eq "^(# ?)?$flag = " <<<"$section" || fail "--$flag of berth $command is not in [$command] of $conf"
  done
done

# --- the units -----------------------------------------------------------------------------

# Without systemd as PID 1 (a container, CI), verify still loads the units offline.
if ! systemd-analyze verify "$master_unit" "$agent_unit" >"$tmp/verify.log" 2>&1; then
  fail "systemd-analyze verify: $(cat "$tmp/verify.log")"
fi
if grep -E 'berth-(master|agent)\.service' "$tmp/verify.log"; then
  fail "systemd-analyze verify has something to say about the units (above)"
fi
say "systemd-analyze verify: both units clean"

unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
[ "$(unit_value "$master_unit" User)" = berth ] || fail "the master's unit does not run it as berth"
[ -z "$(unit_value "$agent_unit" User)" ] || fail "the agent's unit runs it as $(unit_value "$agent_unit" User), not root"
grep -q '^Requires=.*docker' "$agent_unit" && fail "the agent's unit requires Docker"
grep -q '^Wants=.*docker.service' "$agent_unit" || fail "the agent's unit does not want docker.service"

# --- the config file, edited as an operator would ------------------------------------------

port_free() { [ -z "$(ss -Htan "sport = :$1")" ]; }
base=""
for _ in $(seq 50); do
  candidate=$((40000 + (RANDOM * 32768 + RANDOM) % 20000))
  ok=true
  for p in $(seq "$candidate" $((candidate + 39))); do
    port_free "$p" || { ok=false; break; }
  done
  if $ok; then base=$candidate; break; fi
done
[ -n "$base" ] || fail "found no 40 free ports above 40000"
master_port=$base
agent_http_port=$((base + 1))
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# set_config SECTION KEY VALUE: replaces the line `# KEY = ...` or `KEY = ...` of SECTION, in
# place (the file keeps its owner and mode).
set_config() {
  awk -v section="$1" -v key="$2" -v value="$3" '
    /^\[/ { current = $0; gsub(/[][ ]/, "", current) }
    current == section && !done && $0 ~ ("^(# ?)?" key " = ") { print key " = " value; done = 1; next }
    { print }
    END { if (!done) exit 3 }' "$conf" >"$tmp/conf.new" || fail "no $2 line in [$1] of $conf"
  cat "$tmp/conf.new" >"$conf"
}
install -d -o berth -g berth -m 0700 "$tmp/master"
set_config master port "$master_port"
set_config master data-dir "\"$tmp/master\""
set_config master join-token "\"$token\""
set_config master service-ports "\"$((base + 10))-$((base + 20))\""
set_config master lost-timeout-ms 3000
set_config agent master "\"http://127.0.0.1:$master_port\""
set_config agent join-token "'$token'"
set_config agent work-dir "\"$tmp/agent\""
set_config agent http-port "$agent_http_port"
set_config agent ports "\"$((base + 20))-$((base + 39))\""
set_config agent memory-cgroup-root "\"$tmp/no-memory-cgroup\""
[ "$(stat -c '%U:%G %a' "$conf")" = "root:berth 640" ] || fail "editing $conf changed its owner or mode"

# --- master and agent, started as their units start them -----------------------------------

# run_unit UNIT LOG: the unit's ExecStart= as its User=, from /, in a clean environment (a
# BERTH_... variable of ours would beat the config file); prints the pid.
run_unit() {
  local exec_start user
  exec_start=$(unit_value "$1" ExecStart)
  exec_start=${exec_start#[-@+!:]}
  user=$(unit_value "$1" User)
  local -a argv runas=()
  read -r -a argv <<<"$exec_start"
  if [ -n "$user" ]; then runas=(setpriv --reuid="$user" --regid="$user" --init-groups --); fi
  (cd / && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${runas[@]}" "${argv[@]}") >"$2" 2>&1 &
  echo $!
}

master_pid=$(run_unit "$master_unit" "$tmp/master.log")
master="http://127.0.0.1:$master_port"
for _ in $(seq 300); do
  curl -fsS "$master/ping" >/dev/null 2>&1 && break
  kill -0 "$master_pid" 2>/dev/null || fail "the master exited"
  sleep 0.1
done
curl -fsS "$master/ping" >/dev/null || fail "the master does not answer on $master (its port from $conf)"
[ "$(ps -o user= -p "$master_pid")" = berth ] || fail "the master runs as $(ps -o user= -p "$master_pid"), not berth"
[ -s "$tmp/master/admin-token" ] || fail "the master wrote no admin token into its data directory"
[ "$(stat -c %U "$tmp/master/admin-token")" = berth ] || fail "the admin token is not the master's"
auth="Authorization: Bearer $(head -n 1 "$tmp/master/admin-token")"
say "master up on port $master_port as berth"

agent_pid=$(run_unit "$agent_unit" "$tmp/agent.log")
active=0
for _ in $(seq 300); do
  active=$(curl -fsS -H "$auth" "$master/berth/v1/nodes" | jq '[.nodes[] | select(.state == "active")] | length')
  [ "$active" = 1 ] && break
  kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited"
  sleep 0.1
done
[ "$active" = 1 ] || fail "the agent did not register: $(curl -sS -H "$auth" "$master/berth/v1/nodes")"
say "agent registered (as root, with the join token from $conf)"

# --- a task, and the environment it gets ---------------------------------------------------

# running_task APP: the id of APP's running task, waited for (60 s).
running_task() {
  local id=""
  for _ in $(seq 600); do
    id=$(curl -fsS -H "$auth" "$master/v2/apps$1/tasks" |
      jq -r '[.tasks[] | select(.state == "TASK_RUNNING")][0].id // empty')
    [ -n "$id" ] && break
    sleep 0.1
  done
  [ -n "$id" ] || fail "$1 has no running task: $(curl -sS -H "$auth" "$master/v2/apps$1/tasks")"
  echo "$id"
}

curl -fsS -H "$auth" -H 'Content-Type: application/json' -X POST "$master/v2/apps" \
  -d '{"id": "/deb-sleep", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1}' >/dev/null ||
  fail "POST /v2/apps refused the sleep app"
task=$(running_task /deb-sleep)
task_pid=""
for environ in /proc/[0-9]*/environ; do
  if grep -qsxz "MESOS_TASK_ID=$task" "$environ"; then
    candidate=${environ#/proc/}
    candidate=${candidate%/environ}
    [ "$(cat "/proc/$candidate/comm" 2>/dev/null)" = sleep ] && task_pid=$candidate
  fi
done
[ -n "$task_pid" ] || fail "no sleep process carries MESOS_TASK_ID=$task"
leaked=$(tr '\0' '\n' <"/proc/$task_pid/environ" | grep '^BERTH_' || true)
[ -z "$leaked" ] || fail "the task sees the agent's variables: $leaked"
[ "$(ps -o user= -p "$task_pid")" = nobody ] || fail "the task runs as $(ps -o user= -p "$task_pid"), not nobody"
say "task $task runs (pid $task_pid, as nobody, no BERTH_ variable)"

if docker info >/dev/null 2>&1 && docker image inspect berth/busybox >/dev/null 2>&1; then
  curl -fsS -H "$auth" -H 'Content-Type: application/json' -X POST "$master/v2/apps" -d '{
      "id": "/deb-box", "cmd": "sleep 600", "cpus": 0.1, "mem": 32,
      "container": {"type": "DOCKER", "docker": {"image": "berth/busybox"}},
      "networks": [{"mode": "container", "name": "none"}]}' >/dev/null ||
    fail "POST /v2/apps refused the container app"
  box_task=$(running_task /deb-box)
  container=$(docker ps -q --filter "label=org.berth.task=$box_task")
  [ -n "$container" ] || fail "no container carries the label org.berth.task=$box_task"
  containers+=("$container")
  leaked=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$container" | grep '^BERTH_' || true)
  [ -z "$leaked" ] || fail "the container sees the agent's variables: $leaked"
  say "container task $box_task runs (no BERTH_ variable)"
else
  say "Docker or the berth/busybox image is not here: no container task (scripts/build-images)"
fi

# --- stop, purge, and nothing left ---------------------------------------------------------

stop "$agent_pid"
stop "$master_pid"
wait 2>/dev/null || true
agent_pid=""
master_pid=""
# A stopped agent leaves its tasks running for its next start to adopt (docs/fencing.md §6).
kill -0 "$task_pid" 2>/dev/null || fail "the sleep task died with its agent's stop"
for c in "${containers[@]}"; do
  [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || fail "container $c died with its agent's stop"
done
kill -KILL "$task_pid" 2>/dev/null || true
installed=false
dpkg --purge berth >"$tmp/purge.log" 2>&1 || fail "dpkg --purge failed: $(cat "$tmp/purge.log")"
for leftover in /usr/bin/berth "$master_unit" "$agent_unit" /etc/berth /var/lib/berth; do
  [ ! -e "$leftover" ] || fail "$leftover is left after the purge"
done
! getent passwd berth >/dev/null || fail "the user berth is left after the purge"
! getent group berth >/dev/null || fail "the group berth is left after the purge"
! dpkg-query -W berth >/dev/null 2>&1 || fail "dpkg still knows berth after the purge"
say "purged: no file, user or group of berth left"
say "PASS in $(($(date +%s) - started)) s"
