#!/usr/bin/env bash
# People import over HTTP, end to end: N people as NDJSON through
# `POST /v1/admin/people` into a fresh `adloom serve` on loopback, against a
# baseline measured in the same run: `adloom hash` over the same N emails
# (normalization and hashing alone, no HTTP, no storage).
#
# Usage: scripts/bench_import.sh [N]   (default 100000; loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
cargo build --release --quiet
BIN=target/release/adloom
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; grep "people upserted" "$WORK/log" | sed "s/.*INFO//"; rm -rf "$WORK"' EXIT

python3 - "$N" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/people.ndjson", "w") as people, open(f"{work}/emails.txt", "w") as emails:
    for i in range(n):
        email = f"Person.{i}@Example.com"
        emails.write(email + "\n")
        people.write(
            f'{{"user_id": "user-{i}", "email": "{email}", "phone": "+1 415 {i:07d}", '
            f'"maids": [{{"id": "6d92078a-8246-4ba4-ae5b-{i:012x}"}}], "country": "US", '
            f'"interests": ["shoes", "travel"], "age": 34, "gender": "female"}}\n'
        )
PY

now() { date +%s.%N; }
rate() { python3 -c "import sys; n, a, b = map(float, sys.argv[1:]); print(f'{n / (b - a):,.0f}/s in {b - a:.2f} s')" "$N" "$1" "$2"; }

t0=$(now); "$BIN" hash --kind email < "$WORK/emails.txt" > /dev/null; t1=$(now)
echo "baseline: adloom hash --kind email, $N emails: $(rate "$t0" "$t1")"

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --admin-token bench 2> "$WORK/log" &
PID=$!
for _ in $(seq 100); do grep -q "adloom is listening" "$WORK/log" 2>/dev/null && break; sleep 0.1; done
ADDR=$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)

for round in "new people" "the same people again (replace)"; do
  t0=$(now)
  curl -sf -H "Authorization: Bearer bench" -H "Content-Type: application/x-ndjson" \
    --data-binary "@$WORK/people.ndjson" "http://$ADDR/v1/admin/people" > "$WORK/answer"
  t1=$(now)
  echo "import over HTTP, $round: $(rate "$t0" "$t1") -> $(cat "$WORK/answer")"
done
echo "body: $(du -h "$WORK/people.ndjson" | cut -f1), data dir after: $(du -sh "$WORK/data" | cut -f1)"; ls -la "$WORK/data" >&2
