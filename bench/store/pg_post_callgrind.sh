#!/usr/bin/env bash
# Where a PostgreSQL node's CPU goes on the POST path, in instructions (issue #8; figures in
# docs/BENCHMARKS.md, "Session 12").
#
#   bash bench/store/pg_post_callgrind.sh [ENVELOPES]   # default 40 envelopes of 100 objects
#
# One throwaway cluster with 2,000 indicators (pg_load fill), one `liaison serve` on it under
# valgrind --tool=callgrind (release build), a warm-up of 5 envelopes, then the counters are
# zeroed, ENVELOPES envelopes of 100 new indicators are POSTed over 2 connections (taxii_load
# post), and the counters dumped. Prints the node's inclusive instruction counts of the POST's
# parts, per object; the whole profile stays in $WORK/callgrind.out.1 (callgrind_annotate).
# Installs valgrind from Debian when missing (root needed then). Settings: WORK
# (/tmp/liaison-pg-callgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
envelopes=${1:-40}
work=${WORK:-/tmp/liaison-pg-callgrind}
if ! command -v valgrind >/dev/null; then
  echo "bench: installing valgrind from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >&2
fi

# The build, the cluster, the database `bench`, cleanup on exit, and $url
# (bench/store/pg_cluster.sh).
source bench/store/pg_cluster.sh

collection=$("$pg_load" fill "$url" 2000)
rm -rf "$work/node" "$work"/callgrind.out*; mkdir -p "$work/node"
printf 'threads = 4\nstore = "%s"\n' "$url" >"$work/node/liaison.toml"
LIAISON_ADMIN_PASSWORD=bench-pw valgrind --tool=callgrind \
  --callgrind-out-file="$work/callgrind.out" "$liaison" serve --config "$work/node/liaison.toml" \
  --data "$work/node" --listen 127.0.0.1:0 --port-file "$work/node/port" \
  >"$work/node/server.out" 2>"$work/node/server.log" &
node=$!
pids+=("$node")
for _ in $(seq 1 600); do [[ -s "$work/node/port" ]] && break; sleep 0.2; done
[[ -s "$work/node/port" ]] || { echo "pg_post_callgrind: the node did not start" >&2; exit 3; }
port=$(cat "$work/node/port")
"$taxii_load" post "$port" "$collection" 5 2 5000000 >/dev/null 2>&1
callgrind_control -z "$node" >/dev/null
"$taxii_load" post "$port" "$collection" "$envelopes" 2 6000000 >&2
callgrind_control -d "$node" >/dev/null
objects=$((envelopes * 100))
echo "instructions per POSTed object (inclusive), $envelopes envelopes of 100:"
callgrind_annotate --inclusive=yes "$work/callgrind.out.1" 2>/dev/null | awk -v n="$objects" '
  function show(label, pattern) {
    for (i = 1; i <= count; ++i) if (index(lines[i], pattern)) {
      v = lines[i]; sub(/^ */, "", v); split(v, f, " "); gsub(",", "", f[1]);
      printf "%-62s %8.0f\n", label, f[1] / n; return
    }
  }
  { lines[++count] = $0 }
  END {
    show("all of the node", "PROGRAM TOTALS")
    show("STIX validation (Validator::ValidateObject)", "Validator::ValidateObject(")
    show("  of which the pattern check", "Validator::Impl::CheckPattern(")
    show("  of which parsing each object again", "Validator::Impl::ParseDocument(")
    show("  of which reading its common properties (ExtractObject)", "internal::ExtractObject(")
    show("splitting the envelope (SplitObjects)", "stix::SplitObjects(")
    show("the store: Add and the receipt (AddWithAudit)", "Store::AddWithAudit(")
    show("  of which the objects (PostgresStore::Add)", "PostgresStore::Add(")
    show("  of which the receipt entry (PostgresStore::AppendAudit)", "PostgresStore::AppendAudit(")
    show("the signed receipt (digests, Ed25519)", "ReceiptObserver::BeforeAdd(")
    show("the status reply (StatusResponse)", "StatusResponse(")
  }'
