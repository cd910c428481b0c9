#!/usr/bin/env bash
# One embedded node beside three nodes on one PostgreSQL database, then the
# same three with Redis counters and the NATS JetStream bus, in the same run
# and over the same world (made by `adloom world`, seeded):
#   decisions/s   wrk, POST /v1/decisions (as scripts/bench_decisions.sh)
#   events/s      wrk, GET /v3/ tag pixels with distinct hashed emails, each
#                 acknowledged once durable (in the store; on the bus, once
#                 JetStream has it, and then how long the nodes take to
#                 apply the stream to PostgreSQL)
# The three nodes share the load (a wrk per node, connections split).
# Everything runs on this one machine: the cluster's figures show what
# replication costs here, not what more machines would add.
#
# Usage: scripts/bench_cluster.sh [SECONDS] [CONNECTIONS]   (default 10 s, 48)
#   PEOPLE=n AD_GROUPS=n AUDIENCES=n ACCOUNTS=n   the world (20k, 2k, 100, 50)
# Needs wrk (apt-get install wrk), PostgreSQL, Redis and NATS
# (scripts/services). Only
# 127.0.0.1 is ever targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNS=${2:-48}
PEOPLE=${PEOPLE:-20000}
AD_GROUPS=${AD_GROUPS:-2000}
AUDIENCES=${AUDIENCES:-100}
ACCOUNTS=${ACCOUNTS:-50}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
scripts/services
cargo build --release --quiet
WORK=$(mktemp -d)
SCHEMA=adloom_bench_$$
PG="postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$SCHEMA"
export ADLOOM_ADMIN_TOKEN=bench-admin-token
export PGOPTIONS="-c client_min_messages=warning"
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres test -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql -q -h 127.0.0.1 -U postgres test -c "CREATE SCHEMA $SCHEMA"

world() {
  /usr/bin/time -f "world ($1): %e s" target/release/adloom world "${@:2}" --people "$PEOPLE" \
    --ad-groups "$AD_GROUPS" --audiences "$AUDIENCES" --accounts "$ACCOUNTS" 2>&1 >/dev/null |
    grep -v "admin token" || true
}
world embedded --data-dir "$WORK/embedded"
world postgres --data-dir "$WORK/pg-world" --store "$PG"

# Starts a node; sets URL to its base URL once its serving state is loaded,
# and PID to its process.
node() {
  local log="$WORK/node-$1.log"
  target/release/adloom serve --listen 127.0.0.1:0 --data-dir "$WORK/$1" --pixel-rate-limit-per-ip 0 "${@:2}" >"$log" 2>&1 &
  PID=$!
  PIDS+=($PID)
  for _ in $(seq 600); do grep -q "serving state loaded" "$log" 2>/dev/null && break; sleep 0.2; done
  URL="http://$(grep -o 'addr=[0-9.:]*' "$log" | head -1 | cut -d= -f2)"
}
node embedded
SINGLE=$URL
CLUSTER=()
CLUSTER_PIDS=()
for n in 1 2 3; do
  node "pg$n" --store "$PG"
  CLUSTER+=("$URL")
  CLUSTER_PIDS+=("$PID")
done

# A tag to send pixels to (one per backend: they are separate worlds).
tag_of() {
  local account
  account=$(curl -s -H "Authorization: Bearer $ADLOOM_ADMIN_TOKEN" "$1/v5/ad_accounts?page_size=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  curl -s -H "Authorization: Bearer $ADLOOM_ADMIN_TOKEN" -H "Content-Type: application/json" \
    -d '{"name": "bench"}' "$1/v5/ad_accounts/$account/conversion_tags" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

lua() { # KIND TAG
  cat <<LUA
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end
local countries = {"US", "GB", "DE", "FR", "CA", "BR"}
function request()
  if "$1" == "decisions" then
    local body = string.format('{"user_id":"u%d","placement":"home_feed","count":3,"geo":{"country":"%s"},"interests":["interest %d"]}',
      math.random(0, $PEOPLE - 1), countries[math.random(1, #countries)], math.random(0, 199))
    return wrk.format("POST", "/v1/decisions",
      {["Authorization"] = "Bearer $ADLOOM_ADMIN_TOKEN", ["Content-Type"] = "application/json"}, body)
  end
  local em = ""
  for _ = 1, 8 do em = em .. string.format("%08x", math.random(0, 0x7fffffff)) end
  return wrk.format("GET", "/v3/?tid=$2&event=pagevisit&pd[em]=" .. em)
end
LUA
}

# Runs KIND against the given nodes at once; prints total req/s, the worst
# p99 and the non-2xx count.
measure() { # KIND TAG URL...
  local kind=$1 tag=$2 i=0
  shift 2
  # Two client threads in all for one node (as bench_decisions.sh), one per
  # node for the cluster.
  local per=$(( CONNS / $# )) threads=$(( $# == 1 ? 2 : 1 )) runs=()
  for url in "$@"; do
    lua "$kind" "$tag" > "$WORK/$kind-$i.lua"
    wrk -t"$threads" -c"$per" -d"${SECONDS_EACH}s" --latency -s "$WORK/$kind-$i.lua" "$url/" > "$WORK/$kind-$i.out" 2>&1 &
    runs+=($!)
    i=$((i + 1))
  done
  wait "${runs[@]}"
  cat "$WORK"/"$kind"-*.out | awk '
    /Requests\/sec/ {rps += $2}
    /99%/ {v = $2; ms = v ~ /ms$/ ? v + 0 : (v ~ /us$/ ? v / 1000 : v * 1000); if (ms > p99) p99 = ms}
    /Non-2xx/ {bad += $NF}
    /requests in/ {sent += $1}
    END {printf "%.0f req/s, p99 %.1f ms, non-2xx %d\n", rps, p99, bad; print sent - bad > "'"$WORK/sent"'"}'
  rm -f "$WORK"/"$kind"-*.out
}

events_in_store() {
  psql -tA -h 127.0.0.1 -U postgres test -c "SELECT COUNT(*) FROM $SCHEMA.events"
}

SINGLE_TAG=$(tag_of "$SINGLE")
CLUSTER_TAG=$(tag_of "${CLUSTER[0]}")
echo "decisions, one embedded node      : $(measure decisions - "$SINGLE")"
echo "decisions, three PG nodes         : $(measure decisions - "${CLUSTER[@]}")"
echo "tag events, one embedded node     : $(measure events "$SINGLE_TAG" "$SINGLE")"
echo "tag events, three PG nodes        : $(measure events "$CLUSTER_TAG" "${CLUSTER[@]}")"

# The same three nodes again, with shared counters and the event bus.
kill "${CLUSTER_PIDS[@]}"
wait "${CLUSTER_PIDS[@]}" 2>/dev/null || true
FULL=()
for n in 1 2 3; do
  node "pg$n" --store "$PG" --counters redis://127.0.0.1:6379 --bus nats://127.0.0.1:4222
  FULL+=("$URL")
done
echo "decisions, three nodes + Redis    : $(measure decisions - "${FULL[@]}")"
before=$(events_in_store)
echo "tag events, three nodes + NATS    : $(measure events "$CLUSTER_TAG" "${FULL[@]}")"
# How long the nodes take to apply what JetStream acknowledged.
sent=$(cat "$WORK"/sent)
started=$(date +%s.%N)
deadline=$((SECONDS + 60))
while now=$(events_in_store); [ $((now - before)) -lt "$sent" ] && [ "$SECONDS" -lt "$deadline" ]; do
  sleep 0.1
done
echo "  applied $((now - before)) of $sent acknowledged in $(echo "$(date +%s.%N) - $started" | bc | cut -c1-5) s after the run"
