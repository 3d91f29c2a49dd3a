#!/usr/bin/env bash
# What API authentication (and TLS) costs the master: requests per second of `GET /v2/apps`
# with APPS apps (instances 0) and of `POST /v2/apps` (a new app id every request), measured
# with wrk (bench/api_auth_rps.lua) against
#   no-auth  `berth master --no-auth`: no credential checked (the baseline)
#   token    the default: every request carries "Authorization: Bearer <admin token>"
#   tls      token over HTTPS (`--tls-cert/--tls-key`, a self-signed P-256 certificate made
#            with the openssl CLI), when this berth serves HTTPS; skipped otherwise
# Each (round, mode) gets a fresh master with the same APPS apps, so every POST run starts from
# the same state; the order of the modes rotates from round to round. Prints each run, then
# the median per mode and its cost relative to no-auth.
#
#   bench/api_auth_rps.sh PATH_TO_BERTH
#
# Environment: ROUNDS (3), DURATION_S (10 per wrk run), THREADS (2), CONNECTIONS (16),
# APPS (100), TLS (auto | no). Needs wrk (apt-get install wrk), curl, python3 and, for the TLS
# row, openssl.
set -euo pipefail

BERTH=${1:?usage: $0 PATH_TO_BERTH}
BERTH=$(readlink -f "$BERTH")
[[ -x "$BERTH" ]] || { echo "not an executable: $BERTH" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION_S=${DURATION_S:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
APPS=${APPS:-100}
TLS=${TLS:-auto}
LUA=$(cd "$(dirname "$0")" && pwd)/api_auth_rps.lua

TMP=$(mktemp -d /tmp/berth-rps.XXXXXX)
MASTER_PID=""
stop_master() {
  if [[ -n "$MASTER_PID" ]] && kill -0 "$MASTER_PID" 2>/dev/null; then
    kill -TERM "$MASTER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$MASTER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MASTER_PID" 2>/dev/null || true
    wait "$MASTER_PID" 2>/dev/null || true
  fi
  MASTER_PID=""
}
cleanup() {
  local rc=$?
  stop_master
  if [[ $rc -ne 0 && -f "$TMP/master.log" ]]; then
    echo "--- master log (last 20 lines) ---" >&2; tail -n 20 "$TMP/master.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(umask 077; echo "admin.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/admin-token")

# start_master MODE: a fresh master on a free port; sets URL and CURL_TLS.
start_master() {
  local mode=$1 port
  rm -rf "$TMP/master"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local extra=()
  URL="http://127.0.0.1:$port"
  CURL_TLS=()
  case "$mode" in
    no-auth) extra=(--no-auth) ;;
    token) ;;
    tls) extra=(--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"); URL="https://127.0.0.1:$port"
         CURL_TLS=(--cacert "$TMP/cert.pem") ;;
  esac
  "$BERTH" master --host 127.0.0.1 --port "$port" --data-dir "$TMP/master" \
    --admin-token-file "$TMP/admin-token" "${extra[@]}" >"$TMP/master.log" 2>&1 &
  MASTER_PID=$!
  for _ in $(seq 100); do curl -sf "${CURL_TLS[@]}" "$URL/ping" >/dev/null && return 0; sleep 0.1; done
  return 1
}

# seed_apps: APPS apps of 0 instances, over one keep-alive connection.
seed_apps() {
  python3 - "$URL" "$TMP/admin-token" "$APPS" "$TMP/cert.pem" <<'PY'
import http.client, json, ssl, sys, urllib.parse
url, token_file, n, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlsplit(url)
if u.scheme == "https":
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=30, context=ssl.create_default_context(cafile=ca))
else:
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
headers = {"Authorization": "Bearer " + open(token_file).read().split()[0], "Content-Type": "application/json"}
for i in range(n):
    app = {"id": "/seed/app-%03d" % i, "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": 0,
           "portDefinitions": [], "labels": {"team": "bench"}, "env": {"MODE": "bench"}}
    conn.request("POST", "/v2/apps", json.dumps(app), headers)
    r = conn.getresponse()
    body = r.read()
    if r.status not in (200, 201):
        sys.exit("seeding app %d: HTTP %d %s" % (i, r.status, body[:300]))
PY
}

# run_wrk MODE METHOD: one wrk run; prints its rps, fails on any non-2xx answer or socket error.
run_wrk() {
  local mode=$1 method=$2 token_file=$TMP/admin-token out line
  [[ "$mode" == no-auth ]] && token_file=""
  out=$(BENCH_TOKEN_FILE=$token_file BENCH_METHOD=$method BENCH_ID_PREFIX="rps-${method,,}" \
        wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION_S}s" -s "$LUA" "$URL/v2/apps" 2>&1)
  line=$(grep '^WRK ' <<<"$out" || true)
  [[ -n "$line" ]] || { echo "wrk failed: $out" >&2; return 1; }
  local non2xx errors
  non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
  errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  if [[ "$non2xx" != 0 || "$errors" != 0 ]]; then
    echo "$mode $method: $non2xx non-2xx answers, $errors socket errors: $line" >&2
    return 1
  fi
  echo "$line"
}

MODES=(no-auth token)
if [[ "$TLS" != no ]]; then
  if command -v openssl >/dev/null &&
     openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
       -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
       -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 &&
     start_master tls; then
    MODES+=(tls)
  else
    echo "TLS row skipped: this berth does not serve HTTPS with --tls-cert/--tls-key (see below)"
    tail -n 3 "$TMP/master.log" | sed 's/^/  /'
  fi
  stop_master
fi

echo "api_auth_rps: wrk -t $THREADS -c $CONNECTIONS -d ${DURATION_S}s, $APPS apps, $ROUNDS rounds, modes: ${MODES[*]}"
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
declare -A RPS  # RPS[mode,method] = "r1 r2 ..."
for round in $(seq "$ROUNDS"); do
  # Rotate the order so that no mode always runs first (or last) on a noisy machine.
  order=()
  for i in "${!MODES[@]}"; do order+=("${MODES[$(( (i + round - 1) % ${#MODES[@]} ))]}"); done
  for mode in "${order[@]}"; do
    start_master "$mode" || { echo "the $mode master did not start" >&2; exit 1; }
    seed_apps
    for method in GET POST; do
      line=$(run_wrk "$mode" "$method")
      rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
      RPS[$mode,$method]="${RPS[$mode,$method]:-} $rps"
      printf 'round %d  %-8s %-4s %s  (%s)\n' "$round" "$mode" "$method" "$line" \
        "$(uptime | sed 's/.*load average: //')"
    done
    stop_master
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "RESULT: median requests/s over $ROUNDS rounds (cost = 1 - rps / rps of no-auth)"
for method in GET POST; do
  base=$(median "${RPS[no-auth,$method]}")
  for mode in "${MODES[@]}"; do
    m=$(median "${RPS[$mode,$method]}")
    printf '%-4s /v2/apps  %-8s %9.1f req/s  cost %5.1f %%   runs:%s\n' "$method" "$mode" "$m" \
      "$(awk -v m="$m" -v b="$base" 'BEGIN { print (1 - m / b) * 100 }')" "${RPS[$mode,$method]}"
  done
done
