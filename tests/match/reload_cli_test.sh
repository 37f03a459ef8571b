#!/usr/bin/env bash
# `liaison match --reload` end to end: a log streamed through stdin, the indicator file replaced
# (and SIGHUP sent) half way; the run switches sets between two blocks without stopping, every
# event is counted, and the hits after the switch are those of the new file.
# Usage: reload_cli_test.sh path/to/liaison
set -euo pipefail
liaison=$1
dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 2 x 60,000 EVE flows (about 2 x 9 MB: several 4 MiB blocks each); flow i goes to 198.18.x.y.
gen() {  # gen FIRST COUNT
  awk -v first="$1" -v n="$2" 'BEGIN {
    for (i = first; i < first + n; i++)
      printf "{\"timestamp\":\"2025-01-01T00:00:00.000000+0000\",\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"src_port\":40000,\"dest_ip\":\"198.18.%d.%d\",\"dest_port\":443,\"proto\":\"TCP\",\"flow_id\":%d,\"pad\":\"%080d\"}\n", int(i / 250) % 256, i % 250, i, i
  }'
}
printf 'ipv4-addr 198.18.0.1\n' >"$dir/old.txt"   # flow 1 (first half) and 64001 (second)
printf 'ipv4-addr 198.18.0.2\n' >"$dir/new.txt"   # flow 2 (first half) and 64002 (second)
cp "$dir/old.txt" "$dir/list.txt"
mkfifo "$dir/log"
"$liaison" match --indicators "$dir/list.txt" --reload --now 2025-06-01T00:00:00Z -q \
  --window 31536000 -o "$dir/out.ndjson" - <"$dir/log" 2>"$dir/err.txt" &
pid=$!
# Events that no indicator matches (flows to 10.9.x.y), fed while the new set is being built.
spacer() {  # spacer COUNT
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "{\"timestamp\":\"2025-01-01T00:00:00.000000+0000\",\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"src_port\":40000,\"dest_ip\":\"10.9.%d.%d\",\"dest_port\":443,\"proto\":\"TCP\",\"flow_id\":%d}\n", int(i / 250) % 256, i % 250, i
  }'
}
spacers=0
{
  gen 0 60000
  # Swap the feed (a new file moved into place, as feed downloaders do) and signal.
  cp "$dir/new.txt" "$dir/list.tmp" && mv "$dir/list.tmp" "$dir/list.txt"
  kill -HUP "$pid"
  # Keep the stream flowing with events that match nothing until the switch is reported (it
  # happens between two blocks; how long the build takes depends on the machine's load), so
  # that every event of the second half is matched against the new set.
  for _ in $(seq 1 600); do
    grep -q "indicators reloaded at line" "$dir/err.txt" && break
    spacer 500
    spacers=$((spacers + 500))
    sleep 0.1
  done
  gen 60000 60000
} >"$dir/log"
wait "$pid" || { cat "$dir/err.txt" >&2; fail "liaison match exited with $?"; }
pid=
cat "$dir/err.txt"
grep -q "indicators reloaded at line" "$dir/err.txt" || fail "no reload reported"
total=$((120000 + spacers))
grep -q -- "-: eve, .*, $total lines, $total events" "$dir/err.txt" || fail "events lost"
# Before the switch only 198.18.0.1 fires (flow 1), after it only 198.18.0.2 (flow 64002; the
# switch comes before the second half, see the spacers). Without the reload flows 1 and 64001
# would give one sighting of count 2.
grep -q '"count":1' "$dir/out.ndjson" || fail "no sighting"
n=$(wc -l <"$dir/out.ndjson")
[[ "$n" == 2 ]] || { cat "$dir/out.ndjson" >&2; fail "expected 2 sightings, got $n"; }
grep -q "summary: .* 2 hits" "$dir/err.txt" || fail "expected 2 hits in all"
echo "PASS"
