#!/usr/bin/env bash
# Interleaved A/B of the PostgreSQL POST (issue #8; figures in docs/store.md, "Session 8").
#
#   MAIN_LIAISON=path/to/main/liaison bash bench/store/pg_post_ab.sh [OBJECTS]  # default 20000
#
# One throwaway cluster, one database of OBJECTS indicators (pg_load fill, then VACUUM ANALYZE),
# two `liaison serve` nodes side by side on it: A (MAIN_LIAISON, e.g. main built from
# `git archive`; without it, this branch's binary) and B (this branch). ROUNDS rounds, each:
# `taxii_load post` of ENVELOPES envelopes of 100 new indicators over CONNECTIONS connections to
# A, the same to B (new ids every time), then a bare COPY of as many rows over as many
# connections (pg_load bare). Per run: objects/s, and CPU per object of the node (the liaison
# process) and of the cluster (postmaster and backends), from /proc. Every POST appends a
# receipt to the audit log; the chain is checked (seq 1..n without gaps) at the end.
# Settings: ROUNDS (3), ENVELOPES (300), CONNECTIONS (16), SERVER_THREADS (8), WORK
# (/tmp/liaison-pg-post-ab).
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-20000}
rounds=${ROUNDS:-3}
envelopes=${ENVELOPES:-300}
connections=${CONNECTIONS:-16}
server_threads=${SERVER_THREADS:-8}
work=${WORK:-/tmp/liaison-pg-post-ab}

# The build, the cluster, the database `bench`, cleanup on exit, and $url
# (bench/store/pg_cluster.sh).
source bench/store/pg_cluster.sh


collection=$("$pg_load" fill "$url" "$objects")
psql "$url" -q -c "VACUUM (ANALYZE) objects" >&2
for node in a b; do
  rm -rf "$work/$node"; mkdir -p "$work/$node"
  printf 'threads = %s\nstore = "%s"\n' "$server_threads" "$url" >"$work/$node/liaison.toml"
done
serve "$main_liaison" "$work/a" "$work/a/liaison.toml"; pid_a=${pids[-1]}
serve "$liaison" "$work/b" "$work/b/liaison.toml"; pid_b=${pids[-1]}
port_a=$(cat "$work/a/port")
port_b=$(cat "$work/b/port")

first=10000000  # object indexes past the fill's
rows=$((envelopes * 100))
# post NAME PID PORT: one taxii_load post run; prints NAME, objects/s, CPU per object
post() {
  local name=$1 pid=$2 port=$3 n0 c0 n1 c1 rate
  n0=$(ticks "$pid"); c0=$(cluster_ticks)
  rate=$("$taxii_load" post "$port" "$collection" "$envelopes" "$connections" "$first" 2>/dev/null)
  n1=$(ticks "$pid"); c1=$(cluster_ticks)
  first=$((first + rows))
  awk -v n="$name" -v r="$rate" -v q="$rows" -v dn=$((n1 - n0)) -v dc=$((c1 - c0)) -v hz="$hz" \
    'BEGIN {printf "%-5s %7.0f objects/s  node %5.1f us/object  cluster %5.1f us/object\n", n, r,
            dn * 1e6 / hz / q, dc * 1e6 / hz / q}'
}
bare() {
  local c0 c1 rate
  c0=$(cluster_ticks)
  rate=$("$pg_load" bare "$url" "$envelopes" "$connections" 2>/dev/null)
  sleep 1  # the backends exit and are reaped
  c1=$(cluster_ticks)
  awk -v r="$rate" -v q="$rows" -v dc=$((c1 - c0)) -v hz="$hz" \
    'BEGIN {printf "COPY  %7.0f rows/s                        cluster %5.1f us/row\n", r,
            dc * 1e6 / hz / q}'
}

# Warm-up, not measured: each node's pool and its backends' catalogs.
"$taxii_load" post "$port_a" "$collection" 20 "$connections" 5000000 >/dev/null 2>&1
"$taxii_load" post "$port_b" "$collection" 20 "$connections" 6000000 >/dev/null 2>&1

echo "objects: $objects; A: $main_liaison; B: $liaison"
echo "POST of $envelopes envelopes of 100 over $connections connections; $rounds rounds"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  post A "$pid_a" "$port_a"
  post B "$pid_b" "$port_b"
  bare
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# One chain: seq 1..n without a gap (the prev_hash links are checked by the tests).
psql "$url" -qAt -c "SELECT CASE WHEN count(*) = max(seq) AND min(seq) = 1 THEN 'audit chain: '
    || count(*) || ' entries, seq 1..n' ELSE 'audit chain: BROKEN' END FROM audit_log"
