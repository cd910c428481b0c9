#!/usr/bin/env bash
# The reach estimate (Ads Manager's, and the API's ad_groups/audience_sizing)
# on a generated world: how long one estimate takes, since each one walks
# every person in memory. Makes the world with `adloom world` (default: the
# serving target, 1,000,000 people) or reuses WORLD_DIR.
#
# Usage: scripts/bench_reach.sh [ESTIMATES]   (default 20 of each kind)
#   WORLD_DIR=dir   keep the world there (made once, reused by later runs)
#   PEOPLE=n AD_GROUPS=n AUDIENCES=n ACCOUNTS=n   a smaller or larger world
# Only 127.0.0.1 is ever asked.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
PEOPLE=${PEOPLE:-1000000}
AD_GROUPS=${AD_GROUPS:-100000}
AUDIENCES=${AUDIENCES:-1000}
ACCOUNTS=${ACCOUNTS:-1000}
cargo build --release --quiet
WORK=$(mktemp -d)
WORLD=${WORLD_DIR:-$WORK/world}
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

target/release/adloom world --data-dir "$WORLD" --people "$PEOPLE" --ad-groups "$AD_GROUPS" \
  --audiences "$AUDIENCES" --accounts "$ACCOUNTS" 2>&1 | grep -v "admin token" || true
TOKEN=$(cat "$WORLD/admin-token")
target/release/adloom serve --listen 127.0.0.1:0 --data-dir "$WORLD" 2> "$WORK/log" &
PID=$!
for _ in $(seq 600); do grep -q "serving state loaded" "$WORK/log" 2>/dev/null && break; sleep 0.5; done
BASE="http://$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)"
ask() { curl -sf -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" "$@"; }
# An account with an audience.
ACCOUNT=
AUDIENCE=
for account in $(ask "$BASE/v5/ad_accounts?page_size=25" | python3 -c 'import json,sys; print(" ".join(a["id"] for a in json.load(sys.stdin)["items"]))'); do
  AUDIENCE=$(ask "$BASE/v5/ad_accounts/$account/audiences" | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"]; print(i[0]["id"] if i else "")')
  if [ -n "$AUDIENCE" ]; then ACCOUNT=$account; break; fi
done
[ -n "$ACCOUNT" ] || { echo "no account with an audience in the world" >&2; exit 1; }

time_of() {
  local body=$1
  for _ in $(seq "$N"); do
    ask -o /dev/null -w '%{time_total}\n' -X POST -d "$body" \
      "$BASE/v5/ad_accounts/$ACCOUNT/ad_groups/audience_sizing"
  done | sort -n | awk '{t[NR]=$1} END {printf "median %.1f ms, p90 %.1f ms, max %.1f ms (%d estimates)\n", t[int((NR+1)/2)]*1000, t[int(NR*0.9)]*1000, t[NR]*1000, NR}'
}
echo "people: $PEOPLE; account $ACCOUNT, audience $AUDIENCE"
echo "a country:          $(time_of '{"targeting_spec": {"GEO": ["US"]}}')"
echo "country + audience: $(time_of "{\"targeting_spec\": {\"GEO\": [\"US\"], \"AUDIENCE_INCLUDE\": [\"$AUDIENCE\"]}}")"
echo "what it answers:    $(ask -X POST -d '{"targeting_spec": {"GEO": ["US"]}}' "$BASE/v5/ad_accounts/$ACCOUNT/ad_groups/audience_sizing")"
