#!/usr/bin/env bash
# The instructions a fixed series of decisions costs the server, counted by
# callgrind: the same for the same build whatever else the machine is doing
# (throughput on a shared machine swings more than a change of a few per
# cent). Makes a small world, starts the server under callgrind with
# instrumentation off, switches it on for DECISIONS decisions sent one after
# another by one client with a fixed seed, then off, and prints the total
# (and, with DECIDE_ONLY=1, counts only inside `serving::decide`). A
# background task (a rebuild, a flush) may now and then run inside the
# window and add to the count: run it more than once.
#
# Usage: scripts/callgrind_decisions.sh [DECISIONS]   (default 300)
#   ADLOOM_BIN=path   that binary instead of this tree's release build
#   WORLD_DIR=dir     keep the world there (made once, reused)
#   ECHO=1            the same bodies to the echo baseline instead
#   KEEP_OUT=file     keep callgrind's output there (for callgrind_annotate)
# Needs valgrind (apt-get install valgrind). Only 127.0.0.1 is targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
DECISIONS=${1:-300}
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 2; }
if [ -z "${ADLOOM_BIN:-}" ]; then cargo build --release --quiet; fi
ADLOOM_BIN=${ADLOOM_BIN:-target/release/adloom}
WORK=$(mktemp -d)
WORLD=${WORLD_DIR:-$WORK/world}
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "${KEEP_OUT:-}" ] && cp "$WORK/out" "$KEEP_OUT"; rm -rf "$WORK"' EXIT

"$ADLOOM_BIN" world --data-dir "$WORLD" --people 20000 --ad-groups 5000 --audiences 50 \
  --accounts 100 2>&1 | grep -v "admin token" >&2
TOKEN=$(cat "$WORLD/admin-token")

if [ -n "${DECIDE_ONLY:-}" ]; then
  SCOPE=(--collect-atstart=no "--toggle-collect=adloom_engine::serving::decide::*")
else
  SCOPE=(--instr-atstart=no)
fi
valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "${SCOPE[@]}" \
  "$ADLOOM_BIN" serve --listen 127.0.0.1:0 --data-dir "$WORLD" 2> "$WORK/log" &
PID=$!
for _ in $(seq 6000); do grep -q "serving state loaded" "$WORK/log" 2>/dev/null && break; sleep 0.1; done
ADDR=$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)

[ -z "${DECIDE_ONLY:-}" ] && callgrind_control -i on "$PID" > /dev/null
python3 - "$ADDR" "$TOKEN" "$DECISIONS" "${ECHO:+/v1/admin/echo}" <<'PY'
import http.client, json, random, sys
addr, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
path = sys.argv[4] or "/v1/decisions"
host, port = addr.split(":")
client = http.client.HTTPConnection(host, int(port))
rng = random.Random(7)
served = 0
for _ in range(count):
    body = json.dumps({
        "user_id": f"u{rng.randrange(20000)}",
        "placement": "home_feed",
        "count": 3,
        "geo": {"country": rng.choice(["US", "GB", "DE", "FR", "CA", "BR"])},
        "interests": [f"interest {rng.randrange(200)}"],
    })
    client.request("POST", path, body,
                   {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    served += len(json.loads(client.getresponse().read()).get("ads", []))
print(f"{count} requests to {path}, {served} ads served")
PY
[ -z "${DECIDE_ONLY:-}" ] && callgrind_control -i off "$PID" > /dev/null
kill -INT "$PID"; wait "$PID" 2>/dev/null || true; PID=
TOTAL=$(callgrind_annotate "$WORK/out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen {gsub(",", "", $1); print $1; seen = 1}')
EACH=$([ -n "${ECHO:-}" ] && echo "request to the echo" || echo decision)
python3 -c "print(f'instructions: {$TOTAL:,} in all, {$TOTAL / $DECISIONS:,.0f} a $EACH${DECIDE_ONLY:+ (inside serving::decide)}')"
