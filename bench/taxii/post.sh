#!/usr/bin/env bash
# The POST bar of issue #3, measured in interleaved rounds (bench/taxii/run.sh runs it; figures in
# docs/taxii.md and docs/BENCHMARKS.md).
#
#   bash bench/taxii/post.sh [WORK]        # WORK: scratch directory (default /tmp/liaison-taxii-post)
#
# Each round runs the bare SQLite insert (taxii_load bare: the same rows, 100 per transaction,
# WAL, synchronous=FULL, a fresh file) and then POST envelopes of 100 new indicators to a running
# `liaison serve` (taxii_load post), one right after the other. The disk's fsync latency swings
# within minutes (the bare insert alone went 111k-168k rows/s in ten minutes on this machine),
# so a ratio of two figures taken minutes apart says little: the ratio is taken per round, and
# the report gives the median of the per-round ratios next to every raw figure.
# A second baseline runs in each round too (taxii_load bare-schema): the same rows with plain SQL
# into liaison's own objects table and its four indexes, i.e. what the storage alone costs; the
# bar is taken against the first (a table without indexes), the second says how much of the gap
# is the schema and how much the server around it.
#
# The POST runs over POST_CONNECTIONS (16) connections, the concurrency the GET bar is measured
# at (wrk -c16): a server's rate is taken where it is saturated. Each round also posts over
# POST_FEW_CONNECTIONS (4) for information: with 4 requests in flight the rate is bound by each
# request's latency (two fsync'd commits: objects, then the receipt's audit entry), not by the
# server's capacity (docs/taxii.md, "Fifth pass").
#
# Each round posts POST_ROUND_ENVELOPES (1,000) envelopes per side: a throughput taken over
# ~1.5 s, not over the ~0.4 s of 300 envelopes (session 7's rounds), where the start of 16 client
# connections and the filling of the server's group commit were a measurable share of the round
# (session 8, quiet machine: 300-envelope rounds 63-69 k objects/s, 1,000-envelope rounds
# 71-78 k, the same build minutes apart).
# Settings: POST_ROUNDS (7), POST_ROUND_ENVELOPES (1000 per round and side), POST_CONNECTIONS (16),
# POST_FEW_CONNECTIONS (4; 0 leaves that line out),
# LIAISON (the server binary, default build/release/src/app/liaison; taxii_load is built by the
# caller or by run.sh). Every run starts from a fresh store of 1,000 objects (a run adds ~1.5 M
# objects, ~1.3 GB; a store kept across runs grew without bound and made runs differ by its size),
# and ids are new on every round, so no envelope is acknowledged as a duplicate without a write.
# Prints "post_median bare_median ratio_median ratio_min ratio_max schema_median
# schema_ratio_median few_median few_ratio_median" on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-${WORK:-/tmp/liaison-taxii-post}}
rounds=${POST_ROUNDS:-7}
envelopes=${POST_ROUND_ENVELOPES:-1000}
connections=${POST_CONNECTIONS:-16}
few=${POST_FEW_CONNECTIONS:-4}
liaison=${LIAISON:-build/release/src/app/liaison}
load=build/release/bench/taxii/taxii_load
store=$work/store
mkdir -p "$work"

rm -rf "$store"
mkdir -p "$store"
collection=$("$load" fill "$store" 1000)

rm -f "$store/port"
LIAISON_ADMIN_PASSWORD=bench-pw "$liaison" serve --data "$store" --listen 127.0.0.1:0 \
  --port-file "$store/port" >"$store/server.out" 2>"$store/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do [[ -s $store/port ]] && break; sleep 0.1; done
port=$(cat "$store/port")

first=10000000
# Warm-up, one round's worth: the login cache (one Argon2id verification), the connections, and
# the server's caches (SQLite pages, allocator arenas). A serving server is warm; with only a
# few warm-up envelopes the first rounds' POST rate was ~30 % below the later rounds'.
"$load" post "$port" "$collection" "$envelopes" "$connections" "$first" >/dev/null 2>&1
first=$((first + envelopes * 100))

echo "round  bare_rows/s  schema_rows/s  post_objects/s  ratio  ratio_schema  post_c$few  ratio_c$few  load" >&2
ratios=() posts=() bares=() schemas=() schema_ratios=() fews=() few_ratios=()
for ((r = 1; r <= rounds; ++r)); do
  bare=$("$load" bare "$work/bare.db" "$envelopes")
  schema=$("$load" bare-schema "$work/bare-schema" "$envelopes")
  post=$("$load" post "$port" "$collection" "$envelopes" "$connections" "$first" 2>/dev/null)
  first=$((first + envelopes * 100))
  few_rate=0
  if ((few > 0)); then
    few_rate=$("$load" post "$port" "$collection" "$envelopes" "$few" "$first" 2>/dev/null)
    first=$((first + envelopes * 100))
  fi
  ratio=$(awk -v a="$post" -v b="$bare" 'BEGIN {printf "%.3f", a / b}')
  schema_ratio=$(awk -v a="$post" -v b="$schema" 'BEGIN {printf "%.3f", a / b}')
  few_ratio=$(awk -v a="$few_rate" -v b="$bare" 'BEGIN {printf "%.3f", a / b}')
  printf '%5d  %11s  %13s  %14s  %5s  %12s  %7s  %8s  %s\n' "$r" "$bare" "$schema" "$post" \
    "$ratio" "$schema_ratio" "$few_rate" "$few_ratio" "$(cut -d' ' -f1 /proc/loadavg)" >&2
  ratios+=("$ratio") posts+=("$post") bares+=("$bare") schemas+=("$schema")
  schema_ratios+=("$schema_ratio") fews+=("$few_rate") few_ratios+=("$few_ratio")
done
rm -rf "$work/bare.db" "$work/bare.db-wal" "$work/bare.db-shm" "$work/bare-schema"

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo, hi}'; }
echo "$(median "${posts[@]}") $(median "${bares[@]}") $(median "${ratios[@]}") $(minmax "${ratios[@]}")" \
  "$(median "${schemas[@]}") $(median "${schema_ratios[@]}") $(median "${fews[@]}")" \
  "$(median "${few_ratios[@]}")"
