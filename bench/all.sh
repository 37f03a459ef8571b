#!/usr/bin/env bash
# Every issue's benchmark, one after another, and a table of the figures against their bars.
#
#   bash bench/all.sh [LOG_DIR]          # LOG_DIR defaults to /tmp/liaison-bench-<time>
#
# Run it on a quiet machine: each figure is a ratio against a baseline measured in the same run,
# but two benches running at once would still disturb each other. Full output of every bench
# goes to LOG_DIR; the table at the end names the log each figure came from. Settings:
#   SKIP="pg sync"       benches to leave out (stix taxii policy match sync pg)
#   MATCH_LOG_MB (200)   size of the generated log for the match bench
#   SYNC_OBJECTS (1000000), PG_OBJECTS (100000), TAXII_OBJECTS (1000000)
# The TAXII and PostgreSQL scripts install wrk, nginx and PostgreSQL from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=${1:-/tmp/liaison-bench-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$logs"
skip=" ${SKIP:-} "
shared=${LIAISON_SHARED_DIR:-$(cd .. && pwd)/shared}

cmake --preset release >/dev/null
cmake --build build/release -j2 >&2
bin=build/release/bench
rows=()
row() { rows+=("$(printf '| %-34s | %-44s | %-9s | %s |' "$1" "$2" "$3" "$4")"); }
load() { cut -d' ' -f1 /proc/loadavg; }
wanted() { [[ $skip != *" $1 "* ]]; }
# Before each bench: the previous one's dirty pages written out (the TAXII POST rounds leave
# ~1.3 GB behind, whose writeback ran into the policy bench right after: session 8, policy GET
# 1.28 / 1.37 in all.sh against 1.03-1.08 / 1.17-1.18 alone minutes later).
settle() { sync; sleep 2; }

# Google Benchmark console lines: NAME TIME UNIT CPU UNIT ITERATIONS COUNTERS...
gb_field() {  # gb_field LOG NAME_REGEX FIELD -> the first matching line's field (time=2, cpu=4)
  awk -v re="$2" -v f="$3" '$1 ~ re {print $f; exit}' "$1"
}
gb_counter() {  # gb_counter LOG NAME_REGEX COUNTER -> value, with k/M/G suffixes expanded
  awk -v re="$2" -v c="$3" '$1 ~ re {
      for (i = 1; i <= NF; i++) if (index($i, c "=") == 1) {
        v = substr($i, length(c) + 2); sub(/\/s$/, "", v); m = 1
        if (v ~ /k$/) m = 1e3; else if (v ~ /M$/) m = 1e6; else if (v ~ /G$/) m = 1e9
        sub(/[kMG]$/, "", v); print v * m; exit
      }
    }' "$1"
}
plain() { sed -i 's/\x1b\[[0-9;]*m//g' "$1"; }  # Google Benchmark colours even a file
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

if wanted stix; then
  log=$logs/stix.log
  settle
  echo "== stix validation (load $(load))" >&2
  LIAISON_SHARED_DIR=$shared taskset -c 1 "$bin/stix/stix_validate_bench" \
    --benchmark_min_time=1 --benchmark_color=false >"$log" 2>&1
  plain "$log"
  for corpus in ics_attack mobile_attack capec; do
    row "#2 validation/parse, $corpus" "$(gb_counter "$log" "$corpus" ratio)" ">= 0.30" stix.log
  done
fi

if wanted taxii; then
  log=$logs/taxii.log
  settle
  echo "== TAXII GET/POST (load $(load))" >&2
  bash bench/taxii/run.sh "${TAXII_OBJECTS:-1000000}" >"$log" 2>"$logs/taxii.err"
  row "#3 GET liaison/nginx" "$(awk -F: '/^GET ratio/ {print $2+0}' "$log")" ">= 0.50" taxii.log
  row "#3 p50 1M/1k" "$(awk -F: '/^p50 ratio/ {print $2+0}' "$log")" "<= 1.50" taxii.log
  row "#3 POST liaison/bare SQLite" "$(awk -F: '/^POST ratio \(/ {print $2+0}' "$log")" ">= 0.50" \
    taxii.log
  row "#3 POST liaison/same schema" "$(awk -F: '/^POST ratio to that/ {print $2+0}' "$log")" \
    "(info)" taxii.log
  row "#3 POST 4 connections/bare" "$(awk '/^POST objects\/s over/ {print $NF}' "$log")" "(info)" \
    taxii.log
fi

if wanted policy; then
  log=$logs/policy.log
  settle
  echo "== policy GET overhead (load $(load))" >&2
  "$bin/policy/policy_release_bench" --benchmark_min_time=2 \
    --benchmark_filter='GetPage' --benchmark_color=false >"$log" 2>&1
  plain "$log"
  row "#6 GET realistic/allow-all, real" "$(ratio "$(gb_field "$log" Realistic 2)" \
    "$(gb_field "$log" AllowAll 2)")" "<= 1.20" policy.log
  row "#6 GET realistic/allow-all, CPU" "$(ratio "$(gb_field "$log" Realistic 4)" \
    "$(gb_field "$log" AllowAll 4)")" "<= 1.20" policy.log
fi

if wanted match; then
  log=$logs/match.log
  settle
  echo "== match (load $(load))" >&2
  LIAISON_BENCH_LOG_MB=${MATCH_LOG_MB:-200} taskset -c 1 "$bin/match/match_match_bench" \
    --benchmark_filter='Load|Extract|threads:1' --benchmark_min_time=1 --benchmark_color=false >"$log" 2>&1
  LIAISON_BENCH_LOG_MB=${MATCH_LOG_MB:-200} "$bin/match/match_match_bench" \
    --benchmark_filter='Parallel|TwoCores' --benchmark_min_time=2 --benchmark_color=false \
    >>"$log" 2>&1
  plain "$log"
  # The bench's own summary (first block: the pinned run) and its tabular rows.
  row "#5 indicators loaded per s" "$(awk '/^load:/ {gsub(/[(]/, ""); print $5 " M"; exit}' \
    "$log")" ">= 4 M" match.log
  row "#5 RSS of the 21M indicators, MB" "$(awk '/RSS of the set/ {for (i = 1; i < NF; i++)
    if ($i == "set") {print $(i + 1); exit}}' "$log")" "<= 1536" match.log
  row "#5 match/extract, one core (CPU)" "$(awk '/^per CPU second:/ && !/ratio 0.00/ {
    for (i = 1; i < NF; i++) if ($i == "ratio") {sub(/;$/, "", $(i + 1)); print $(i + 1); exit}}' \
    "$log")" ">= 0.50" match.log
  # 2 cores against one, interleaved in one benchmark (BM_Match_TwoCoresVsOne): each round
  # matches the log on one thread, then with ParallelMatcher's 2 workers.
  row "#5 2 cores/1 core, interleaved" "$(awk '/^2 cores vs 1, interleaved/ {v = $NF;
    sub(/x$/, "", v); print v; exit}' "$log")" ">= 1.80" match.log
  row "#5 ParallelMatcher 2 workers/1" "$(ratio "$(gb_field "$log" 'Parallel/1/' 2)" \
    "$(gb_field "$log" 'Parallel/2/' 2)")" "(context)" match.log
fi

if wanted sync; then
  log=$logs/sync.log
  settle
  echo "== sync 1M (load $(load))" >&2
  LIAISON_SYNC_BENCH_OBJECTS=${SYNC_OBJECTS:-1000000} "$bin/sync/sync_sync_bench" --benchmark_color=false >"$log" 2>&1
  plain "$log"
  row "#6 sync end to end, objects/s" "$(awk -v n="$(gb_counter "$log" SyncPull objects)" \
    -v s="$(gb_field "$log" SyncPull 2)" 'BEGIN {if (s > 0) printf "%.0f", n / s}')" ">= 10000" sync.log
fi

if wanted pg; then
  log=$logs/pg.log
  settle
  echo "== PostgreSQL (load $(load))" >&2
  WRK_SECONDS=${WRK_SECONDS:-5} ROUNDS=${ROUNDS:-2} bash bench/store/pg_run.sh \
    "${PG_OBJECTS:-100000}" >"$log" 2>"$logs/pg.err"
  row "#8 GET PostgreSQL/SQLite" "$(awk -F: '/^GET ratio/ {print $2+0}' "$log")" ">= 0.60" pg.log
  row "#8 POST PostgreSQL/bare COPY" "$(awk -F: '/^POST ratio:/ {print $2+0}' "$log")" ">= 0.50" \
    pg.log
  row "#8 POST PostgreSQL/COPY like the store's" \
    "$(awk -F: '/^POST ratio to that/ {print $2+0}' "$log")" "(info)" pg.log
  row "#8 POST ceiling: COPY like the store's/bare COPY" \
    "$(awk -F: '/^POST ceiling/ {print $2+0}' "$log")" "(info)" pg.log
  row "#8 POST 4 connections/COPY" "$(awk '/^POST \/ bare COPY over/ {print $(NF-1)}' "$log")" \
    "(info)" pg.log
fi

{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%F %H:%M') UTC, load now $(load), logs in $logs"
  echo "| figure | value | bar | log |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
} | tee "$logs/summary.md"
