#!/usr/bin/env bash
# Makes a data-dir fixture with an older commit of adloom, for the upgrade
# test (crates/adloom/tests/it/upgrade.rs): builds that commit's binary in
# a worktree, serves an empty data dir with it, fills it through the API
# with tests/fixtures/populate.py, stops it cleanly and keeps the database
# and what the old server answered in tests/fixtures/datadir-COMMIT/.
# With POSTGRES=URL (a server's URL without a database, e.g.
# postgres://postgres@127.0.0.1:5432), the old build serves a new database
# there instead, and the fixture is its dump as SQL statements
# (tests/fixtures/postgres-COMMIT/dump.sql); the database is dropped after.
#
# Usage: scripts/make_fixture.sh COMMIT
#   TARGET_DIR=dir   cargo's target dir for the old build [default: /tmp/adloom-fixture-target]
#   ADLOOM_BIN=path  that commit's binary, already built (no build then)
#   POSTGRES=url     make a PostgreSQL fixture on this server
set -euo pipefail
cd "$(dirname "$0")/.."
COMMIT=$(git rev-parse --short "${1:?usage: scripts/make_fixture.sh COMMIT}")
TARGET=${TARGET_DIR:-/tmp/adloom-fixture-target}
WORK=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  git worktree remove --force "$WORK/src" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${ADLOOM_BIN:-}" ]; then
  cp "$ADLOOM_BIN" "$WORK/adloom"
else
  git worktree add --detach "$WORK/src" "$COMMIT" >/dev/null
  (cd "$WORK/src" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet -p adloom --bin adloom)
  cp "$TARGET/debug/adloom" "$WORK/adloom"
fi

STORE=()
if [ -n "${POSTGRES:-}" ]; then
  DB=adloom_fixture_$COMMIT
  psql "$POSTGRES/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  STORE=(--store "$POSTGRES/$DB")
fi
"$WORK/adloom" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --admin-token fixture "${STORE[@]}" 2> "$WORK/log" &
PID=$!
for _ in $(seq 300); do grep -q "serving state loaded" "$WORK/log" 2>/dev/null && break; sleep 0.2; done
ADDR=$(grep -o 'addr=[0-9.:]*' "$WORK/log" | head -1 | cut -d= -f2)
python3 tests/fixtures/populate.py "http://$ADDR" fixture "$WORK/expected.json"
kill -TERM "$PID"
wait "$PID" || true
PID=

if [ -n "${POSTGRES:-}" ]; then
  OUT=tests/fixtures/postgres-$COMMIT
  mkdir -p "$OUT"
  # Plain INSERTs, no psql meta-commands: the test runs it as one batch.
  pg_dump --no-owner --no-privileges --inserts "$POSTGRES/$DB" | grep -v '^\\' > "$OUT/dump.sql"
  psql "$POSTGRES/postgres" -qc "DROP DATABASE $DB"
else
  OUT=tests/fixtures/datadir-$COMMIT
  mkdir -p "$OUT"
  cp "$WORK/data/adloom.db" "$OUT/adloom.db"
fi
cp "$WORK/expected.json" "$OUT/expected.json"
echo "$COMMIT $(git log -1 --format=%cs "$COMMIT")" > "$OUT/COMMIT"
ls -l "$OUT"
