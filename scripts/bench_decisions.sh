#!/usr/bin/env bash
# The decision API over HTTP on loopback, beside its baseline measured in the
# same run: POST /v1/admin/echo (the same authentication and JSON parsing,
# the body sent back) with the same request bodies.
#
# Makes the world with `adloom world` (default: the serving issue's target,
# 1,000,000 people, 1,000 advertisers, 100,000 ad groups, 1,000 audiences of
# 1,000 list records), or reuses WORLD_DIR if it already holds one. Reports
# the server's resident memory once the world is loaded and after the load.
#
# Usage: scripts/bench_decisions.sh [SECONDS] [CONNECTIONS]   (default 10 s, 64)
#   WORLD_DIR=dir   keep the world there (made once, reused by later runs)
#   PEOPLE=n AD_GROUPS=n AUDIENCES=n ACCOUNTS=n   a smaller or larger world
#   COUNTERS=redis://127.0.0.1:6379   budgets and frequency caps in Redis
#   ANONYMOUS=1   decisions name no person (no frequency caps to check; an
#                 ignored "seq" field keeps the bodies the same size)
# Needs wrk (apt-get install wrk). Only 127.0.0.1 is ever targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNS=${2:-64}
PEOPLE=${PEOPLE:-1000000}
AD_GROUPS=${AD_GROUPS:-100000}
AUDIENCES=${AUDIENCES:-1000}
ACCOUNTS=${ACCOUNTS:-1000}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
# ADLOOM_BIN=path runs that binary instead of building this tree's (to
# measure two builds in turn).
if [ -z "${ADLOOM_BIN:-}" ]; then cargo build --release --quiet; fi
ADLOOM_BIN=${ADLOOM_BIN:-target/release/adloom}
WORK=$(mktemp -d)
WORLD=${WORLD_DIR:-$WORK/world}
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

/usr/bin/time -f "world: %e s wall, %M KB peak" "$ADLOOM_BIN" world --data-dir "$WORLD" \
  --people "$PEOPLE" --ad-groups "$AD_GROUPS" --audiences "$AUDIENCES" --accounts "$ACCOUNTS" \
  2>&1 | grep -v "admin token"
TOKEN=$(cat "$WORLD/admin-token")

STARTED=$(date +%s.%N)
"$ADLOOM_BIN" serve --listen 127.0.0.1:0 --data-dir "$WORLD" --pixel-rate-limit-per-ip 0 \
  ${COUNTERS:+--counters "$COUNTERS"} 2> "$WORK/log" &
PID=$!
for _ in $(seq 6000); do grep -q "serving state loaded" "$WORK/log" 2>/dev/null && break; sleep 0.05; done
echo "ready: $(python3 -c "print(f'{$(date +%s.%N) - $STARTED:.1f}')") s from start${COUNTERS:+ (counters in $COUNTERS)}"
ADDR=$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)
BASE="http://$ADDR"
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$PID/status"; }
# Resident as loaded, then once the allocator has given back what start-up
# freed (it purges from a thread of its own, over ten seconds from a free:
# read every 2.5 s after loading, the bench world's server settled within
# 11 s before the faster start-up of 2026-12-07 and within 16 s after it,
# at the same 497 MB).
AT_LOAD=$(rss)
sleep 25
echo "loaded: $(grep -o "people_ms=[0-9]* catalog_ms=[0-9]*" "$WORK/log"); resident: $(rss) settled ($AT_LOAD as loaded)"

for path in echo decisions; do
  uri=$([ "$path" = echo ] && echo /v1/admin/echo || echo /v1/decisions)
  cat > "$WORK/$path.lua" <<LUA
local countries = {"US", "GB", "DE", "FR", "CA", "BR"}
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end
function request()
  local body = string.format('{$([ -n "${ANONYMOUS:-}" ] && echo '"seq":%d' || echo '"user_id":"u%d"'),"placement":"home_feed","count":3,"geo":{"country":"%s"},"interests":["interest %d"]}',
    math.random(0, $PEOPLE - 1), countries[math.random(1, #countries)], math.random(0, 199))
  return wrk.format("POST", "$uri",
    {["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json"}, body)
end
LUA
done

run() { wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s "$1" "$BASE/" 2>&1; }
summary() { awk '/Requests\/sec/ {rps=$2} /50%/ {p50=$2} /99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%s req/s, p50 %s, p99 %s, non-2xx %s\n", rps, p50, p99, (bad == "" ? 0 : bad)}'; }

ECHO=$(run "$WORK/echo.lua")
echo "baseline  POST /v1/admin/echo : $(echo "$ECHO" | summary)"
DECIDE=$(run "$WORK/decisions.lua")
echo "decisions POST /v1/decisions  : $(echo "$DECIDE" | summary)"
python3 -c "
e = float('$(echo "$ECHO" | awk '/Requests\/sec/ {print $2}')')
d = float('$(echo "$DECIDE" | awk '/Requests\/sec/ {print $2}')')
print(f'          decisions/s are {d / e:.0%} of the echo baseline')"
FILLED=$(curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"user_id":"u7","placement":"home_feed","count":3,"geo":{"country":"US"}}' "$BASE/v1/decisions" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ads"]))')
echo "          a sample decision for u7 filled $FILLED of 3 slots; resident after the load: $(rss)"
