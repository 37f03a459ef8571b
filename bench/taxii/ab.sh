#!/usr/bin/env bash
# Server CPU per request, for comparing two builds of `liaison` on a shared (loaded) machine,
# where requests/s alone swing too much to compare runs (docs/taxii.md, docs/BENCHMARKS.md).
#
#   bash bench/taxii/ab.sh DATA_DIR get|post BINARY...   (paths absolute or from the repo root)
#
# DATA_DIR is a store made by `taxii_load fill DATA_DIR COUNT` (its `collection` file names the
# collection). For each BINARY in turn: starts `BINARY serve` on DATA_DIR, runs the load (get:
# wrk -t2 -c16 on objects?limit=100 for AB_SECONDS, default 5; post: AB_ENVELOPES envelopes of
# 100 new indicators, default 150, over 4 connections), and prints the server's CPU time
# (user + system, from /proc/PID/stat) per request or per envelope, the rate and the load.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1 kind=$2
shift 2
load=build/release/bench/taxii/taxii_load
auth="Authorization: Basic $(printf 'admin:bench-pw' | base64)"
for bin in "$@"; do
  rm -f "$data/port"
  LIAISON_ADMIN_PASSWORD=bench-pw "$bin" serve --data "$data" --listen 127.0.0.1:0 \
    --port-file "$data/port" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [[ -s $data/port ]] && break; sleep 0.1; done
  port=$(cat "$data/port")
  collection=$(cat "$data/collection")
  cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
  if [[ $kind == get ]]; then
    url="http://127.0.0.1:$port/api/collections/$collection/objects/?limit=100"
    curl -sf -o /dev/null -H "$auth" "$url"
    c0=$(cpu)
    out=$(wrk -t2 -c16 -d"${AB_SECONDS:-5}s" -H "$auth" \
      -H 'Accept: application/taxii+json;version=2.1' "$url")
    c1=$(cpu)
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rate="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") req/s"
  else
    first=$(((RANDOM * 32768 + RANDOM) * 1000 + 100000000))  # ids not in the store yet
    "$load" post "$port" "$collection" 4 4 "$first" >/dev/null 2>&1
    n=${AB_ENVELOPES:-150}
    c0=$(cpu)
    rate="$("$load" post "$port" "$collection" "$n" 4 $((first + 1000)) 2>/dev/null) objects/s"
    c1=$(cpu)
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  ticks=$(getconf CLK_TCK)
  echo "$bin $kind: $n in, $rate, server CPU $(((c1 - c0) * 1000000 / ticks / n)) us each," \
    "load $(cut -d' ' -f1 /proc/loadavg)"
done
