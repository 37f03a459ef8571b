#!/bin/bash
# Compares the match/extract ratio of several builds of match_match_bench on a shared, noisy
# machine: runs each binary in turn, ROUNDS times, pinned to one CPU, and prints per binary the
# median, minimum and maximum of the separate-pass and the paired ratio (CPU time, one run
# each), with the load average before each run.
#
#   bash bench/match/ab.sh 3 OLD/match_match_bench build/release/bench/match/match_match_bench
set -euo pipefail
rounds=${1:?usage: ab.sh ROUNDS BINARY...}
shift
cpu=${AB_CPU:-1}
mb=${LIAISON_BENCH_LOG_MB:-200}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
  for i in $(seq $#); do
    bin=${!i}
    load=$(cut -d' ' -f1 /proc/loadavg)
    LIAISON_BENCH_LOG_MB=$mb taskset -c "$cpu" "$bin" \
      --benchmark_filter='Extract|threads:1|Paired' --benchmark_min_time=1 2>/dev/null >"$out/run"
    sep=$(sed -nE 's/^per CPU second: extract ([0-9]+) MB\/s, match ([0-9]+) MB\/s -> ratio ([0-9.]+).*/\3 \1 \2/p' "$out/run")
    pair=$(sed -nE 's/^paired .*extract ([0-9]+) MB\/s, match ([0-9]+) MB\/s -> ratio ([0-9.]+).*/\3 \1 \2/p' "$out/run")
    echo "binary $i load $load separate $sep paired $pair"
    echo "${sep%% *}" >>"$out/$i.separate"
    echo "${pair%% *}" >>"$out/$i.paired"
  done
done
for i in $(seq $#); do
  for kind in separate paired; do
    sort -n "$out/$i.$kind" | awk -v b="${!i}" -v k="$kind" '{a[NR]=$1}
      END {printf "%-50s %-8s median %.2f  min %.2f  max %.2f\n", b, k, a[int((NR+1)/2)], a[1], a[NR]}'
  done
done
