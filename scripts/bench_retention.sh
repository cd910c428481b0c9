#!/usr/bin/env bash
# Day-two figures on a generated world: the data dir's size, `adloom
# backup` and `adloom restore` (time, file size, peak memory), and
# `adloom purge` run as if the data were 600 days old (libfaketime), so
# that every event is past its retention and every day of impressions and
# clicks is rolled up: rows removed a second and the size before and after.
# Events come from `adloom load` against the served world first.
#
# Usage: scripts/bench_retention.sh [LOAD_SECONDS]   (default 60)
#   WORLD_DIR=dir   the world (made once, reused; this script copies it
#                   before the purge, so the world itself is left as it is)
#   PEOPLE=n AD_GROUPS=n AUDIENCES=n ACCOUNTS=n   a smaller or larger world
#   RATE=n          adloom load's requests a second (default 3000)
# Needs faketime (Debian's `faketime`). Only 127.0.0.1 is ever asked.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_OF_LOAD=${1:-60}
PEOPLE=${PEOPLE:-1000000}
AD_GROUPS=${AD_GROUPS:-100000}
AUDIENCES=${AUDIENCES:-1000}
ACCOUNTS=${ACCOUNTS:-1000}
RATE=${RATE:-3000}
command -v faketime >/dev/null || { echo "needs faketime (apt-get install faketime)" >&2; exit 1; }
cargo build --release --quiet
BIN=$PWD/target/release/adloom
WORK=$(mktemp -d)
WORLD=${WORLD_DIR:-$WORK/world}
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

"$BIN" world --data-dir "$WORLD" --people "$PEOPLE" --ad-groups "$AD_GROUPS" \
  --audiences "$AUDIENCES" --accounts "$ACCOUNTS" 2>&1 | grep -v "admin token" || true
TOKEN=$(cat "$WORLD/admin-token")
# Events, impressions and clicks, as the load makes them.
if [ "$SECONDS_OF_LOAD" -gt 0 ]; then
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORLD" --pixel-rate-limit-per-ip 0 2> "$WORK/log" &
  PID=$!
  for _ in $(seq 600); do grep -q "serving state loaded" "$WORK/log" 2>/dev/null && break; sleep 0.5; done
  BASE="http://$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)"
  "$BIN" load --url "$BASE" --token "$TOKEN" --rate "$RATE" --seconds "$SECONDS_OF_LOAD" \
    --every "$SECONDS_OF_LOAD" | tail -12
  kill -TERM "$PID"
  wait "$PID" || true
  PID=
fi

size() { du -sb "$1" | cut -f1 | awk '{printf "%.1f MB", $1 / 1e6}'; }
count() { sqlite3 "$1/adloom.db" "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM engagements)" 2>/dev/null || echo "?"; }
timed() {
  # Wall seconds and peak resident memory of one command.
  /usr/bin/time -f "%e s, max RSS %M KB" "$@" > "$WORK/out" 2> "$WORK/time" || { cat "$WORK/out" "$WORK/time" >&2; exit 1; }
  tail -1 "$WORK/time"
}
echo "world: $PEOPLE people, $AD_GROUPS ad groups; data dir $(size "$WORLD"); events, engagements: $(count "$WORLD")"
# (Each figure in a variable first, so that a failed command stops the script.)
took=$(timed "$BIN" backup --data-dir "$WORLD" --output "$WORK/world.backup")
echo "backup:  $took; file $(size "$WORK/world.backup")"
took=$(timed "$BIN" restore --input "$WORK/world.backup" --data-dir "$WORK/restored")
echo "restore: $took"
rm -f "$WORK/world.backup"
took=$(timed faketime -f '+600d' "$BIN" purge --data-dir "$WORK/restored")
echo "purge, 600 days on: $took"
sed 's/^/  /' "$WORK/out"
echo "after the purge: data dir $(size "$WORK/restored"); events, engagements: $(count "$WORK/restored")"
