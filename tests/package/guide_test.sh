#!/usr/bin/env bash
# docs/deploy.md, run as written, on machines made of network namespaces:
#
#   tests/package/guide_test.sh BERTH_BINARY
#
# Every ```sh block of the guide carries a comment `<!-- guide-test: on MACHINES -->` saying
# where it runs, and every ```ini block that belongs to a machine's config file
# `<!-- guide-test: config of MACHINES -->`; a ```sh block without one fails the test, so no
# command of the guide goes untried. The machines:
#
#   host  this machine, in a copy of the guide's working directory: `make deb` there is
#         scripts/make-deb with the binary the suite built (the build is the suite's own)
#   ca    "a machine you trust": a directory of this machine
#   s1    §1's single machine: a network namespace with loopback only
#   m1    §2's master, 10.0.0.10, and n1, n2, n3 its agents, 10.0.0.11-13: network namespaces
#         on a bridge of their own, which this machine has no address on
#
# Each machine has its own host name, /etc/berth, /var/lib/berth and /var/backups (bind mounts
# in a mount namespace of its own), and one shell session: what a block exports, the next
# block on that machine sees. /srv/berth-pool is shared by all, as the guide's shared storage.
# The package is installed on this machine once (dpkg); each machine starts from a copy of
# what it installed. `systemctl` and `sudo` are stand-ins (no systemd runs here): systemctl
# starts a unit's ExecStart= as its User= with its StateDirectory=, in the machine's
# namespaces, waits for READY=1 where Type=notify says so, and stops it with SIGTERM as KillMode= says. An ```ini block for a machine sets
# each of its keys in that machine's /etc/berth/berth.conf; for n2 and n3 the block for n1 is
# taken with n1's name and address replaced, and `<the master's join-token>` is the token m1
# wrote.
#
# Between blocks the test checks what the guide says happens: the single machine lists its
# agent; the three agents register over TLS; the app runs 3 tasks across them; an agent's
# restart and the master's restore from a backup leave every task running, none restarted.
# Root only: exits 77 (ctest: skipped) otherwise or where berth is installed already, except
# under CI=true, where those are failures.
set -euo pipefail

berth_bin="${1:?usage: guide_test.sh BERTH_BINARY}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
guide="$root/docs/deploy.md"

test_name=guide_test
# shellcheck source=tests/package/common.sh
. "$root/tests/package/common.sh"

[ "$(id -u)" -eq 0 ] || skip "installing a package and making namespaces need root (CI runs this as root)"
require_tools dpkg apt ip unshare nsenter setpriv iptables openssl python3 curl jq
require_no_berth /etc/berth /var/lib/berth /usr/bin/berth /srv/berth-pool

tmp=$(mktemp -d /tmp/berth-guide-test-XXXXXX)
chmod 0711 "$tmp"
bridge=bguide0
machines=(s1 m1 n1 n2 n3)
declare -A address=([m1]=10.0.0.10 [n1]=10.0.0.11 [n2]=10.0.0.12 [n3]=10.0.0.13)
declare -A machine_init=()  # the pid holding each machine's namespaces
installed=false
forward_rule=false
made_pool=false

netns_of() { echo "berth-guide-$1"; }

cleanup() {
  local status=$?
  for m in "${!machine_init[@]}"; do
    kill -KILL "${machine_init[$m]}" 2>/dev/null || true  # its PID namespace ends with it
  done
  for m in "${machines[@]}"; do
    local ns
    ns=$(netns_of "$m")
    if [ -e "/run/netns/$ns" ]; then
      # Everything a machine ran: its units and their tasks (KillMode=process leaves tasks).
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
  ip link delete "$bridge" 2>/dev/null || true
  if $forward_rule; then iptables -D FORWARD -i "$bridge" -o "$bridge" -j ACCEPT 2>/dev/null || true; fi
  { grep -F " $tmp/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r |
    while read -r point; do umount -l "$point" 2>/dev/null || true; done
  if $installed; then dpkg --purge berth >"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log" >&2; fi
  if $made_pool; then rm -rf /srv/berth-pool; fi
  finish $status "$tmp" "$tmp"/*.log "$tmp"/machines/*/*.log
}
trap cleanup EXIT

# --- the guide's blocks ---------------------------------------------------------------------

mkdir -p "$tmp/blocks"
python3 - "$guide" "$tmp/blocks" <<'EOF' || fail "docs/deploy.md has a command block that says not where it runs (above)"
import re, sys
text = open(sys.argv[1]).read().split("\n")
tag = None
count = 0
bad = False
i = 0
while i < len(text):
    line = text[i]
    m = re.fullmatch(r"<!-- guide-test: (on|config of) ([a-z0-9 ]+) -->", line.strip())
    if m:
        tag = (m.group(1), m.group(2).split())
        i += 1
        continue
    fence = re.fullmatch(r"```(\w*)", line.strip())
    if fence:
        kind = fence.group(1)
        body = []
        i += 1
        while i < len(text) and text[i].strip() != "```":
            body.append(text[i])
            i += 1
        if kind == "sh" and (tag is None or tag[0] != "on"):
            print("a ```sh block before line %d has no <!-- guide-test: on ... --> comment" % i)
            bad = True
        if tag is not None:
            count += 1
            name = "%02d" % count
            open("%s/%s.%s" % (sys.argv[2], name, "sh" if tag[0] == "on" else "ini"), "w").write(
                "\n".join(body) + "\n")
            open("%s/%s.where" % (sys.argv[2], name), "w").write(" ".join(tag[1]) + "\n")
        tag = None
    elif line.strip():
        tag = None if not line.startswith("<!--") else tag
    i += 1
sys.exit(1 if bad else 0)
EOF
blocks=$(ls "$tmp/blocks" | sed -n 's/\.where$//p')
say "docs/deploy.md: $(echo $blocks | wc -w) blocks to run"

# --- the stand-ins: make (host only), sudo, systemctl ----------------------------------------

shims="$tmp/shims"
mkdir -p "$shims"
cat >"$shims/make" <<EOF
#!/bin/bash
# \`make deb\` of the guide: the package of the binary this suite built, into ./build.
[ "\$*" = deb ] || { echo "make (guide test): only 'make deb' is stood in for" >&2; exit 2; }
exec "$root/scripts/make-deb" --binary "$berth_bin" --output build
EOF
cat >"$shims/sudo" <<'EOF'
#!/bin/bash
# Everything here runs as root already; -u USER runs as that user.
if [ "${1:-}" = -u ]; then user=$2; shift 2; exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"; fi
exec "$@"
EOF
cat >"$shims/systemctl" <<'EOF'
#!/bin/bash
# systemctl on a machine of the guide's test: start, stop, restart and enable [--now] of the
# berth units, from their installed unit files, in this machine's namespaces.
set -euo pipefail
action=${1:?}; shift
now=false; units=()
for a in "$@"; do case $a in --now) now=true ;; *) units+=("${a%.service}") ;; esac; done
value() { sed -n "s/^$2=//p" "/lib/systemd/system/$1.service" | tail -n 1; }
start() {
  local unit=$1 pidfile="$GUIDE_STATE/$1.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then return 0; fi
  local user state exec_start
  user=$(value "$unit" User); state=$(value "$unit" StateDirectory)
  exec_start=$(value "$unit" ExecStart)
  local -a argv runas=()
  read -r -a argv <<<"${exec_start#[-@+!:]}"
  if [ -n "$state" ]; then
    install -d -m "$(value "$unit" StateDirectoryMode)" "/var/lib/$state"
    [ -z "$user" ] || chown -R "$user:$(value "$unit" Group)" "/var/lib/$state"
  fi
  if [ -n "$user" ]; then runas=(setpriv --reuid="$user" --regid="$user" --init-groups --); fi
  # Type=notify: as systemd does, return once the service said READY=1 on $NOTIFY_SOCKET.
  local -a notify=()
  local listener=""
  if [ "$(value "$unit" Type)" = notify ]; then
    local sock="$GUIDE_STATE/$unit.notify"
    rm -f "$sock" "$sock.bound"
    python3 - "$sock" <<'PY' &
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(path + ".bound", "w").close()
s.settimeout(60)
try:
    while b"READY=1" not in s.recv(4096).split(b"\n"):
        pass
except socket.timeout:
    sys.exit(1)
PY
    listener=$!
    until [ -e "$sock.bound" ]; do sleep 0.05; done
    notify=("NOTIFY_SOCKET=$sock")
  fi
  local mask
  mask=$(value "$unit" UMask)
  (cd / && umask "${mask:-0022}" && exec setsid env -i \
     PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${notify[@]}" "${runas[@]}" \
     "${argv[@]}") >>"$GUIDE_STATE/$unit.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if [ -n "$listener" ] && ! wait "$listener"; then
    echo "Job for $unit.service failed: no READY=1 within 60 s (see its log)" >&2
    exit 1
  fi
}
stop() {
  local pidfile="$GUIDE_STATE/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile"); rm -f "$pidfile"
  kill -TERM "$pid" 2>/dev/null || return 0
  gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; }
  for _ in $(seq 150); do gone && return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
for unit in "${units[@]}"; do
  [ -f "/lib/systemd/system/$unit.service" ] || { echo "Unit $unit.service not found." >&2; exit 5; }
  case $action in
    enable) if $now; then start "$unit"; fi ;;
    start) start "$unit" ;;
    stop) stop "$unit" ;;
    restart) stop "$unit"; start "$unit" ;;
    *) echo "systemctl (guide test): '$action' is not stood in for" >&2; exit 2 ;;
  esac
done
EOF
chmod +x "$shims"/*

# --- running a block on a machine -------------------------------------------------------------

# start_machine MACHINE: the machine's own namespaces, held by a process that sleeps: its
# network namespace (made below), and mount, UTS and PID namespaces with its host name and bind
# mounts. A machine's processes see only each other, as on separate machines.
start_machine() {
  local m=$1 state="$tmp/machines/$1" holder
  ip netns exec "$(netns_of "$m")" unshare --pid --fork --mount-proc --mount --uts \
    --propagation private bash -c '
      hostname "$1"
      mount --bind "$2/etc" /etc/berth
      mount --bind "$2/lib" /var/lib/berth
      mount --bind "$2/backups" /var/backups
      touch "$2/up"
      # As init it reaps the orphans (a unit whose starter exited), so that a stopped unit
      # leaves no zombie for `systemctl stop` to wait on.
      while :; do sleep 1; done' machine "$m" "$state" >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 50); do
    if [ -e "$state/up" ]; then
      machine_init[$m]=$(cat "/proc/$holder/task/$holder/children" 2>/dev/null | awk '{print $1}')
      [ -z "${machine_init[$m]}" ] || return 0
    fi
    sleep 0.1
  done
  fail "machine $m did not start"
}

# run_on MACHINE FILE [DIR]: runs FILE with bash -e in MACHINE's session, in DIR of the
# machine's state (home by default); its output goes to $tmp/machines/MACHINE/blocks.log and to
# the variable `output`.
output=""
run_on() {
  local m=$1 file=$2 state="$tmp/machines/$1" dir=${3:-home}
  local -a enter=(env)
  [ -z "${machine_init[$m]:-}" ] || enter=(nsenter -t "${machine_init[$m]}" -a env)
  mkdir -p "$state/home"
  touch "$state/session.env"
  local status=0
  output=$("${enter[@]}" PATH="$shims:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    GUIDE_MACHINE="$m" GUIDE_STATE="$state" HOME="$state/home" bash -c '
      set -e
      cd "$GUIDE_STATE/$1"
      . "$GUIDE_STATE/session.env"
      set -o pipefail
      . "$2"
      export -p >"$GUIDE_STATE/session.env"' guide-block "$dir" "$file" 2>&1) || status=$?
  { echo "### $(basename "$file") on $m (exit $status)"; echo "$output"; } >>"$state/blocks.log"
  [ $status -eq 0 ] || fail "the guide's block $(basename "$file") failed on $m (exit $status): $output"
}

# apply_config MACHINE FILE: sets each key of FILE's sections in MACHINE's berth.conf, replacing
# the packaged `# key = ...` line or an earlier setting.
apply_config() {
  local conf="$tmp/machines/$1/etc/berth.conf"
  python3 - "$conf" "$2" <<'EOF' || fail "cannot apply $2 to $conf"
import re, sys
conf_path, block_path = sys.argv[1], sys.argv[2]
lines = open(conf_path).read().split("\n")
section = None
for entry in open(block_path).read().split("\n"):
    entry = entry.strip()
    if not entry:
        continue
    if entry.startswith("["):
        section = entry
        continue
    key = entry.split("=", 1)[0].strip()
    current, done = None, False
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip()
        elif current == section and re.match(r"(# ?)?%s = " % re.escape(key), line):
            lines[i] = entry
            done = True
            break
    if not done:
        sys.exit("no %s line in %s of %s" % (key, section, conf_path))
with open(conf_path, "r+") as f:
    f.seek(0); f.write("\n".join(lines)); f.truncate()
EOF
}

# for_machine MACHINE FILE: FILE as written for n1, made MACHINE's.
for_machine() {
  local token_file="$tmp/machines/m1/lib/master/join-token"
  if grep -q "<the master's join-token>" "$2"; then
    for _ in $(seq 100); do [ -s "$token_file" ] && break; sleep 0.1; done
    [ -s "$token_file" ] || fail "m1's master wrote no join token within 10 s"
  fi
  sed -e "s/\bn1\b/$1/g" -e "s/10\.0\.0\.11\b/${address[$1]}/g" \
    -e "s/<the master's join-token>/$(cat "$token_file" 2>/dev/null)/" "$2"
}

# --- checks between blocks ----------------------------------------------------------------------

# api MACHINE PATH: GET PATH from the master of MACHINE's cluster, as admin.
api() {
  local m=$1 path=$2 base=http://127.0.0.1:8080
  local -a tls=()
  if [ "$m" != s1 ]; then m=m1 base=https://10.0.0.10:8080 tls=(--cacert "$tmp/machines/ca/home/ca.pem"); fi
  ip netns exec "$(netns_of "$m")" curl -sf --max-time 5 "${tls[@]}" \
    -H "Authorization: Bearer $(cat "$tmp/machines/$m/lib/master/admin-token")" "$base$path"
}

# wait_for MACHINE SECONDS JQ PATH: until the master's answer to PATH satisfies JQ.
wait_for() {
  local m=$1 seconds=$2 filter=$3 path=$4 answer=""
  for _ in $(seq $((seconds * 5))); do
    answer=$(api "$m" "$path" 2>/dev/null || true)
    if [ -n "$answer" ] && jq -e "$filter" >/dev/null 2>&1 <<<"$answer"; then return 0; fi
    sleep 0.2
  done
  fail "after ${seconds}s, GET $path on $m's master does not satisfy '$filter': $answer"
}

task_ids() { api m1 /v2/apps/hello/tasks | jq -r '[.tasks[].id] | sort | join(" ")'; }

after_block() {  # the guide's promise after a block ran on a machine
  local m=$1 file=$2
  case "$m:$(head -n 1 "$file")" in
    s1:*) wait_for s1 20 '[.[].hostname] == ["s1"]' /v1/state/nodes
      say "s1: master and agent from the installed units, the agent listed" ;;
    n3:*enable*) wait_for m1 30 '[.[] | "\(.hostname) \(.host)"] | sort == ["n1 10.0.0.11", "n2 10.0.0.12", "n3 10.0.0.13"]' /v1/state/nodes
      say "m1: n1, n2 and n3 registered over TLS" ;;
    m1:export*)
      grep -q n1 <<<"$output" && grep -q n3 <<<"$output" || fail "berth node list on m1 lacks a node: $output"
      wait_for m1 30 '.app.tasksRunning == 3' /v2/apps/hello
      [ "$(api m1 /v2/apps/hello/tasks | jq '[.tasks[].host] | unique | length')" -ge 2 ] ||
        fail "hello's 3 tasks all run on one machine: $(api m1 /v2/apps/hello/tasks)"
      tasks_before=$(task_ids)
      say "m1: hello runs 3 tasks across the agents ($tasks_before)" ;;
    n1:*restart*)
      wait_for m1 30 '[.[] | "\(.hostname) \(.host)"] | sort == ["n1 10.0.0.11", "n2 10.0.0.12", "n3 10.0.0.13"]' /v1/state/nodes
      sleep 3  # a lost task would be replaced within this
      [ "$(task_ids)" = "$tasks_before" ] || fail "n1's restart changed hello's tasks: $(task_ids), before $tasks_before"
      say "n1: the agent restarted and adopted its tasks" ;;
    m1:berth\ backup*)
      grep -q /hello <<<"$output" || fail "berth app list after the restore lacks /hello: $output"
      wait_for m1 30 '[.[] | "\(.hostname) \(.host)"] | sort == ["n1 10.0.0.11", "n2 10.0.0.12", "n3 10.0.0.13"]' /v1/state/nodes
      sleep 3
      [ "$(task_ids)" = "$tasks_before" ] || fail "the restore changed hello's tasks: $(task_ids), before $tasks_before"
      say "m1: restored from the backup; every agent back and every task adopted" ;;
  esac
}

# --- the machines -------------------------------------------------------------------------------

ip link add "$bridge" type bridge
ip link set "$bridge" up
iptables -I FORWARD -i "$bridge" -o "$bridge" -j ACCEPT
forward_rule=true
n=0
for m in "${machines[@]}"; do
  ns=$(netns_of "$m")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  [ -n "${address[$m]:-}" ] || continue
  n=$((n + 1))
  ip link add "bguide$n" type veth peer name eth0 netns "$ns"
  ip link set "bguide$n" master "$bridge" up
  ip -n "$ns" addr add "${address[$m]}/24" dev eth0
  ip -n "$ns" link set eth0 up
done
mkdir /srv/berth-pool
made_pool=true
mkdir -p "$tmp/machines/host/checkout" "$tmp/machines/ca/home"

tasks_before=""
for b in $blocks; do
  where=$(cat "$tmp/blocks/$b.where")
  if [ -f "$tmp/blocks/$b.ini" ]; then
    for m in $where; do
      for_machine "$m" "$tmp/blocks/$b.ini" >"$tmp/blocks/$b.$m.ini"
      apply_config "$m" "$tmp/blocks/$b.$m.ini"
    done
    say "$b: config of $where applied"
    continue
  fi
  for m in $where; do
    file="$tmp/blocks/$b.sh"
    if [ "$m" != n1 ] && [[ $m == n* ]]; then for_machine "$m" "$file" >"$tmp/blocks/$b.$m.sh" && file="$tmp/blocks/$b.$m.sh"; fi
    if [ "$m" = host ]; then run_on host "$file" checkout; else run_on "$m" "$file"; fi
    say "$b: ran on $m"
    if [ "$m" = host ]; then
      installed=true
      dpkg-query -W -f='${Status}' berth | grep -q 'ok installed' || fail "the guide's install left berth uninstalled: $output"
      # Every machine starts from what the package installed here.
      for each in "${machines[@]}"; do
        d="$tmp/machines/$each"
        mkdir -p "$d/etc" "$d/lib" "$d/backups"
        cp -a /etc/berth/. "$d/etc/"
        cp -a /var/lib/berth/. "$d/lib/"
        start_machine "$each"
      done
    fi
    if [ "$m" = ca ]; then
      # "Copy ca.pem to every machine and each <host>.pem/<host>-key.pem to its host, as
      # /etc/berth/tls/ (root:berth, mode 0640 for the key)."
      for each in m1 n1 n2 n3; do
        install -d -o root -g berth -m 0750 "$tmp/machines/$each/etc/tls"
        install -o root -g berth -m 0644 "$tmp/machines/ca/home/ca.pem" "$tmp/machines/ca/home/$each.pem" "$tmp/machines/$each/etc/tls/"
        install -o root -g berth -m 0640 "$tmp/machines/ca/home/$each-key.pem" "$tmp/machines/$each/etc/tls/"
      done
    fi
    after_block "$m" "$file"
  done
done
say "every block of docs/deploy.md ran and did what the guide says"
