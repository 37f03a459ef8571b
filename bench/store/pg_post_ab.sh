#!/usr/bin/env bash
# Interleaved A/B of the PostgreSQL POST (issue #8; figures in docs/store.md, "Session 8").
#
#   MAIN_LIAISON=path/to/main/liaison bash bench/store/pg_post_ab.sh [OBJECTS]  # default 20000
#
# One throwaway cluster, one database of OBJECTS indicators (pg_load fill, then VACUUM ANALYZE),
# two `liaison serve` nodes side by side on it: A (MAIN_LIAISON, e.g. main built from
# `git archive`; without it, this branch's binary) and B (this branch). ROUNDS rounds, each:
# `taxii_load post` of ENVELOPES envelopes of 100 new indicators over CONNECTIONS connections to
# A, the same to B (new ids every time), then a COPY of as many rows over as many connections
# into a table without indexes (pg_load bare) and into one with the store's (pg_load same). Per
# run: objects/s, CPU per object of the node (the liaison process) and of the cluster
# (postmaster and backends), and the share of the machine left idle, from /proc. Every POST
# appends a receipt to the audit log; the chain is checked (seq 1..n without gaps) at the end.
# Settings: ROUNDS (3), ENVELOPES (300), CONNECTIONS (16), SERVER_THREADS (8), WORK
# (/tmp/liaison-pg-post-ab), SEPARATE_DB (0; 1 gives A a database of its own, filled by
# MAIN_PG_LOAD: for an A with an older schema, which a node refuses to share), CONFIG_A and
# CONFIG_B (lines added to a node's liaison.toml, e.g. CONFIG_B='store_writers = 4').
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
url_a=$url
if [[ ${SEPARATE_DB:-0} == 1 ]]; then
  # A in a database of its own, filled by A's pg_load (MAIN_PG_LOAD, built beside
  # MAIN_LIAISON): the way to compare two schemas (a node refuses a schema newer than its own).
  psql "$url" -q -c "CREATE DATABASE bench_a" >&2
  url_a=${url/\/bench\?//bench_a?}
  "${MAIN_PG_LOAD:?SEPARATE_DB=1 needs MAIN_PG_LOAD}" fill "$url_a" "$objects" >/dev/null
  psql "$url_a" -q -c "VACUUM (ANALYZE) objects" >&2
fi
for node in a b; do
  rm -rf "$work/$node"; mkdir -p "$work/$node"
done
printf 'threads = %s\nstore = "%s"\n%s\n' "$server_threads" "$url_a" "${CONFIG_A:-}" \
  >"$work/a/liaison.toml"
printf 'threads = %s\nstore = "%s"\n%s\n' "$server_threads" "$url" "${CONFIG_B:-}" \
  >"$work/b/liaison.toml"
serve "$main_liaison" "$work/a" "$work/a/liaison.toml"; pid_a=${pids[-1]}
serve "$liaison" "$work/b" "$work/b/liaison.toml"; pid_b=${pids[-1]}
port_a=$(cat "$work/a/port")
port_b=$(cat "$work/b/port")

first=10000000  # object indexes past the fill's
rows=$((envelopes * 100))
# The machine's idle and iowait ticks, and all its ticks, from /proc/stat.
idle_total() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t}' /proc/stat; }
# post NAME PID PORT: one taxii_load post run; prints NAME, objects/s, CPU per object, idle share
post() {
  local name=$1 pid=$2 port=$3 n0 c0 n1 c1 rate i0 i1
  n0=$(ticks "$pid"); c0=$(cluster_ticks); i0=$(idle_total)
  rate=$("$taxii_load" post "$port" "$collection" "$envelopes" "$connections" "$first" 2>/dev/null)
  n1=$(ticks "$pid"); c1=$(cluster_ticks); i1=$(idle_total)
  first=$((first + rows))
  awk -v n="$name" -v r="$rate" -v q="$rows" -v dn=$((n1 - n0)) -v dc=$((c1 - c0)) -v hz="$hz" \
    -v i0="$i0" -v i1="$i1" 'BEGIN {split(i0, a, " "); split(i1, b, " ");
      printf "%-5s %7.0f objects/s  node %5.1f us/object  cluster %5.1f us/object  idle %4.1f %%\n",
             n, r, dn * 1e6 / hz / q, dc * 1e6 / hz / q, 100 * (b[1] - a[1]) / (b[2] - a[2])}'
}
copy() {  # copy bare|same: one pg_load COPY run; prints its rows/s and cluster CPU per row
  local c0 c1 rate
  c0=$(cluster_ticks)
  rate=$("$pg_load" "$1" "$url" "$envelopes" "$connections" 2>/dev/null)
  sleep 1  # the backends exit and are reaped
  c1=$(cluster_ticks)
  awk -v n="$1" -v r="$rate" -v q="$rows" -v dc=$((c1 - c0)) -v hz="$hz" \
    'BEGIN {printf "%-5s %7.0f rows/s                        cluster %5.1f us/row\n", n, r,
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
  copy bare
  copy same
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# One chain: seq 1..n without a gap (the prev_hash links are checked by the tests).
psql "$url" -qAt -c "SELECT CASE WHEN count(*) = max(seq) AND min(seq) = 1 THEN 'audit chain: '
    || count(*) || ' entries, seq 1..n' ELSE 'audit chain: BROKEN' END FROM audit_log"
