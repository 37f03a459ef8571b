#!/usr/bin/env bash
# Two real `liaison serve` processes on loopback; B pulls A's collection with `liaison sync`,
# which is killed with SIGKILL mid-round, then re-run: B must end with exactly A's versions (no
# loss, no duplicates), and a further round must add nothing. Not part of ctest (it takes a
# while and needs the built binary); docs/sync.md.
#
#   scripts/sync-kill-test.sh [build/asan/src/app/liaison] [N objects, default 20000]
set -euo pipefail
LIAISON=${1:-build/release/src/app/liaison}
N=${2:-20000}
WORK=$(mktemp -d /tmp/liaison-sync-kill.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export LIAISON_ADMIN_PASSWORD=pw-for-tests

start() {  # name port
  "$LIAISON" serve --data "$WORK/$1" --listen "127.0.0.1:$2" 2>"$WORK/$1.log" &
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start" >&2; exit 3
}
start a 16543
start b 16544
A_COLL=$(grep -o 'collection [0-9a-f-]*' "$WORK/a.log" | head -1 | cut -d' ' -f2)
B_COLL=$(grep -o 'collection [0-9a-f-]*' "$WORK/b.log" | head -1 | cut -d' ' -f2)
# The admin user may be committed just after /health answers: retry briefly.
TOKEN=
for _ in $(seq 50); do
  TOKEN=$("$LIAISON" token create admin --data "$WORK/a" 2>/dev/null | grep -o 'lsn_[A-Za-z0-9_-]*' | head -1) || true
  [ -n "$TOKEN" ] && break
  sleep 0.1
done
[ -n "$TOKEN" ] || { echo "FAIL: no admin token on a" >&2; exit 3; }

# N indicators into A, by TAXII POST in envelopes of 1000.
python3 - "$N" "$WORK/env" <<'PY'
import sys, os
n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
for start in range(0, n, 1000):
    objs = []
    for i in range(start, min(n, start + 1000)):
        objs.append('{"type":"indicator","spec_version":"2.1","id":"indicator--6ba7b810-9dad-41d1-80b4-%012x",'
                    '"created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z","name":"n%d",'
                    '"pattern":"[ipv4-addr:value = \'10.%d.%d.%d\']","pattern_type":"stix",'
                    '"valid_from":"2024-03-01T10:00:00Z"}' % (i, i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
    open(f"{out}/{start:09d}.json", "w").write('{"objects":[' + ",".join(objs) + "]}")
PY
for f in "$WORK"/env/*.json; do
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
    -H 'Accept: application/taxii+json;version=2.1' -H 'Content-Type: application/taxii+json;version=2.1' \
    --data-binary @"$f" "http://127.0.0.1:16543/api/collections/$A_COLL/objects/"
done

cat >"$WORK/b.toml" <<TOML
data_dir = "$WORK/b"
[[peer]]
name = "a"
url = "http://127.0.0.1:16543/api/collections/$A_COLL/"
direction = "pull"
local_collection = "$B_COLL"
token = "$TOKEN"
page_size = 200
TOML

"$LIAISON" sync --config "$WORK/b.toml" >"$WORK/sync1.out" 2>&1 &
SYNC=$!
sleep 1.5
kill -9 "$SYNC" 2>/dev/null || true
wait "$SYNC" 2>/dev/null || true
echo "killed the first round: $(cat "$WORK/sync1.out")"
"$LIAISON" sync --config "$WORK/b.toml"
"$LIAISON" sync --config "$WORK/b.toml" | tee "$WORK/sync3.out"
grep -q "pulled 0 new (0 duplicates" "$WORK/sync3.out" || { echo "FAIL: third round moved data"; exit 1; }

count() {  # data dir, collection: versions and distinct (id, version)
  sqlite3 "$1/liaison.db" "SELECT count(*), count(DISTINCT o.id || '|' || o.version) FROM objects o JOIN collections c ON o.cid = c.cid WHERE c.id = '$2'"
}
A_COUNT=$(count "$WORK/a" "$A_COLL"); B_COUNT=$(count "$WORK/b" "$B_COLL")
echo "A: $A_COUNT  B: $B_COUNT"
[ "$A_COUNT" = "$N|$N" ] && [ "$B_COUNT" = "$N|$N" ] || { echo FAIL; exit 1; }
echo PASS
