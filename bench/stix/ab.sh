#!/bin/bash
# Compares validation/parse ratios of several builds of stix_validate_bench on a shared, noisy
# machine: runs each binary in turn, ROUNDS times, pinned to one CPU, and prints the median,
# minimum and maximum ratio per input and binary.
#
#   bash bench/stix/ab.sh 3 OLD/stix_validate_bench build/release/bench/stix/stix_validate_bench
set -euo pipefail
rounds=${1:?usage: ab.sh ROUNDS BINARY...}
shift
shared=${LIAISON_SHARED_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/../shared}
cpu=${AB_CPU:-1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
  for i in $(seq $#); do
    bin=${!i}
    LIAISON_SHARED_DIR=$shared taskset -c "$cpu" "$bin" --benchmark_min_time=0.5 2>/dev/null |
      sed -nE 's/^BM_Validate_VersusDomParse\/([a-z_0-9]+) .* ratio=([0-9.]+) .*/\1 \2/p' |
      while read -r input ratio; do echo "$ratio" >>"$out/$i.$input"; done
  done
done
for i in $(seq $#); do
  for f in "$out/$i".*; do
    input=${f##*/$i.}
    sort -n "$f" | awk -v b="${!i}" -v input="$input" '{a[NR]=$1}
      END {printf "%-22s %-50s median %.3f  min %.3f  max %.3f\n", input, b, a[int((NR+1)/2)], a[1], a[NR]}'
  done
done
