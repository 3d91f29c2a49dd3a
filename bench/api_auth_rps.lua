-- wrk script of bench/api_auth_rps.sh. Environment:
--   BENCH_TOKEN_FILE  a file whose first line is the API token: sent as "Authorization: Bearer"
--                     (unset or empty: no credential, for a --no-auth master)
--   BENCH_METHOD      GET (GET /v2/apps) or POST (POST /v2/apps, a new app id every request)
--   BENCH_ID_PREFIX   the group the POSTed apps go under (default "rps")
-- done() prints one line the script parses: "WRK rps=... requests=... non2xx=... errors=...".
local token_file = os.getenv("BENCH_TOKEN_FILE") or ""
local method = os.getenv("BENCH_METHOD") or "GET"
local prefix = os.getenv("BENCH_ID_PREFIX") or "rps"

local threads_started = 0
function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_index", threads_started)
end

local headers = {}
local counter = 0
function init(args)
  if token_file ~= "" then
    local f = assert(io.open(token_file, "r"))
    local token = f:read("*l")
    f:close()
    headers["Authorization"] = "Bearer " .. token
  end
  if method == "POST" then headers["Content-Type"] = "application/json" end
end

function request()
  if method == "POST" then
    counter = counter + 1
    local body = string.format(
      '{"id":"/%s/t%d-%d","cmd":"sleep 1000","cpus":0.01,"mem":1,"instances":0,"portDefinitions":[]}',
      prefix, thread_index or 0, counter)
    return wrk.format("POST", "/v2/apps", headers, body)
  end
  return wrk.format("GET", "/v2/apps", headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK rps=%.1f requests=%d non2xx=%d errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6), summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
