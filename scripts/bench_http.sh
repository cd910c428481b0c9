#!/usr/bin/env bash
# HTTP load on loopback, each figure beside a baseline measured in the same
# run: wrk against nginx answering a 1x1 GIF from memory (`empty_gif`, no
# logging, 2 workers: what a static pixel server does, when nginx is
# installed) and against GET /healthz (adloom's own floor), then the tag
# pixel (GET /v3/, keep-alive; answered from the journal, then the time
# until the journal is applied to the store), once with a hashed email only
# and once with the tag's cookie id too, and the conversions API (POST
# .../events, 1000 events a request, each acknowledged only once durable).
#
# Usage: scripts/bench_http.sh [SECONDS] [CONNECTIONS]   (default 10 s, 64)
# Needs wrk (apt-get install wrk), and nginx for its baseline (apt-get
# install nginx-light). Only 127.0.0.1 is ever targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNS=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
# ADLOOM_BIN=path runs that binary instead of building this tree's (to
# measure two builds in turn).
if [ -z "${ADLOOM_BIN:-}" ]; then cargo build --release --quiet; fi
ADLOOM_BIN=${ADLOOM_BIN:-target/release/adloom}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$ADLOOM_BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --admin-token bench --pixel-rate-limit-per-ip 0 2> "$WORK/log" &
PID=$!
for _ in $(seq 100); do grep -q "adloom is listening" "$WORK/log" 2>/dev/null && break; sleep 0.1; done
ADDR=$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)
BASE="http://$ADDR"

api() { curl -sf -H "Authorization: Bearer bench" -H "Content-Type: application/json" "$@"; }
python3 -c "
import json
print(json.dumps([{'user_id': f'u{i}', 'email': f'person{i}@example.com', 'country': 'US'} for i in range(10000)]))" > "$WORK/people.json"
api -d "@$WORK/people.json" "$BASE/v1/admin/people" > /dev/null
ACCOUNT=$(api -d '{"name": "bench"}' "$BASE/v5/ad_accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
TAG=$(api -d '{"name": "site"}' "$BASE/v5/ad_accounts/$ACCOUNT/conversion_tags" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
EM=$(printf 'person7@example.com' | sha256sum | cut -d' ' -f1)

cat > "$WORK/events.lua" <<LUA
local counter = 0
local prefix = "x"
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  prefix = tostring(math.random(1, 1000000000))
end
function request()
  counter = counter + 1
  local now = os.time()
  local parts = {}
  for i = 1, 1000 do
    parts[i] = string.format('{"event_name":"checkout","action_source":"web","event_time":%d,"event_id":"%s-%d-%d","user_data":{"em":["$EM"]},"custom_data":{"value":"10.00","currency":"USD"}}', now, prefix, counter, i)
  end
  return wrk.format("POST", "/v5/ad_accounts/$ACCOUNT/events",
    {["Authorization"] = "Bearer bench", ["Content-Type"] = "application/json"},
    '{"data":[' .. table.concat(parts, ",") .. ']}')
end
LUA

run() { wrk -t2 -c"$1" -d"${SECONDS_EACH}s" --latency "${@:2}" 2>&1; }
summary() { awk '/Requests\/sec/ {rps=$2} /50%/ {p50=$2} /99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%s req/s, p50 %s, p99 %s, non-2xx %s\n", rps, p50, p99, (bad == "" ? 0 : bad)}'; }

if command -v nginx >/dev/null; then
  NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$WORK/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$NGINX_PORT; location / { empty_gif; } }
}
NGINX
  nginx -c "$WORK/nginx.conf" &
  NGINX_PID=$!
  sleep 0.5
  echo "baseline  nginx empty_gif         : $(run "$CONNS" "http://127.0.0.1:$NGINX_PORT/v3/?tid=1" | summary)"
  kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
fi
echo "baseline  GET /healthz            : $(run "$CONNS" "$BASE/healthz" | summary)"
# pixels LABEL QUERY: a pixel run, then the time until the journal is
# applied to the store (pixels are answered from the journal and applied
# behind it: the run is over for the store once the journal is empty).
pixels() {
  local out drain_start drain count
  out=$(run "$CONNS" "$BASE/v3/?tid=$TAG&event=pagevisit&$2&ad%5Bloc%5D=https%3A%2F%2Fshop.example%2Fshoes")
  echo "$1 GET /v3/ (recorded)     : $(echo "$out" | summary)"
  drain_start=$(date +%s.%N)
  while [ -s "$WORK/data/pixels.journal" ]; do sleep 0.02; done
  drain=$(python3 -c "import time; print(f'{time.time() - $drain_start:.2f}')")
  count=$(echo "$out" | awk '/requests in/ {print $1}')
  python3 -c "print(f'$1 in the store            : {$count / ($SECONDS_EACH + $drain):,.0f} pixels/s ({$count:,} pixels, journal applied {$drain} s after the run)')"
}
pixels "pixel    " "pd%5Bem%5D=$EM"
# The same person's browser, as the tag sends it: its first-party cookie id
# (pd[cid]) on every pixel, linked to the person by the first.
pixels "pixel+cid" "pd%5Bem%5D=$EM&pd%5Bcid%5D=browser-7"
OUT=$(run 8 -s "$WORK/events.lua" "$BASE/")
echo "events    POST .../events x1000   : $(echo "$OUT" | summary)"
RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')
python3 -c "print(f'          = {float(\"$RPS\") * 1000:,.0f} conversion events/s, each durable before its answer')"
curl -sf -H "Authorization: Bearer bench" "$BASE/metrics" | grep -E '^adloom_(pixel|conversion|event_commit)' | grep -v ' 0$' | sed 's/^/          /'
