#!/usr/bin/env bash
# PostgreSQL store benchmark (issue #8; figures in docs/store.md and docs/BENCHMARKS.md).
#
#   bash bench/store/pg_run.sh [OBJECTS]        # OBJECTS defaults to 100000
#
# Everything runs in one throwaway cluster (scripts/pg-test-cluster.sh: fsync on,
# synchronous_commit=on) and one run, so that the ratios compare like with like on a shared,
# loaded machine:
# 1. GET .../objects/?limit=100 with wrk on loopback from `liaison serve` on PostgreSQL and from
#    `liaison serve` on SQLite, each store holding the same OBJECTS indicators; the two are
#    measured alternately, ROUNDS times each, and summed. Bar: PostgreSQL >= 60 % of SQLite.
# 2. POST envelopes of 100 new indicators to the PostgreSQL node (taxii_load post, POST_CONNECTIONS
#    keep-alive connections) next to a bare COPY of the same rows into a table without indexes,
#    100 rows per transaction, over the same number of connections (pg_load bare). Bar: >= 50 %.
#    For information: a COPY of the same rows as the store writes them (all ten columns) into a
#    table with the store's own definition and indexes (pg_load same), the database's own cost of
#    the rows, and its ratio to the bare COPY, the POST's ceiling (no node can make the database
#    store the rows with their indexes faster than it COPYs them); and the same rows through Store::Add from as many threads (pg_load add): the
#    store's own share of the gap, without HTTP and STIX validation.
#
# Both nodes run with the same config apart from the store, SERVER_THREADS serving threads (8:
# a store call blocks its serving thread, and a PostgreSQL call waits on round trips to the
# server, so a PostgreSQL node wants more threads than cores; docs/store.md).
#
# Settings: ANALYZE (0; 1 runs ANALYZE after the load), VACUUM (1: VACUUM after the load; 0:
# none), WARMUP (3 s per node, not measured), SERVER_THREADS (8), WRK_THREADS (2),
# WRK_CONNECTIONS (16), WRK_SECONDS (10), ROUNDS (2), POST_ENVELOPES (1000), POST_CONNECTIONS
# (16, the GET's concurrency, as in bench/taxii/post.sh since session 7), POST_FEW_CONNECTIONS
# (4: the POST and the COPY again over that many, for information; 0 leaves them out), WORK
# (scratch directory, default /tmp/liaison-pg-bench). Installs wrk from Debian when missing
# (root needed then).
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-100000}
threads=${WRK_THREADS:-2}
connections=${WRK_CONNECTIONS:-16}
seconds=${WRK_SECONDS:-10}
rounds=${ROUNDS:-2}
post_envelopes=${POST_ENVELOPES:-1000}
post_connections=${POST_CONNECTIONS:-16}
few_connections=${POST_FEW_CONNECTIONS:-4}
server_threads=${SERVER_THREADS:-8}
work=${WORK:-/tmp/liaison-pg-bench}

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >&2
fi

# The build, the cluster, the database `bench`, cleanup on exit, and $url
# (bench/store/pg_cluster.sh).
source bench/store/pg_cluster.sh

# CPU seconds used so far by the cluster's processes (cluster_ticks, bench/store/pg_cluster.sh).
cluster_cpu() { awk -v t="$(cluster_ticks)" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'; }

wrk_rps() {  # wrk_rps URL -> requests/s
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" -H "$auth" -H "$accept" "$1")
  echo "$out" >&2
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

# Stores: SQLite through taxii_load's bulk path (reused between runs), PostgreSQL through
# pg_load's (Store::Add in batches of 10,000).
sqlite_dir=$work/sqlite-$objects
sqlite_collection=$(fill_sqlite "$sqlite_dir" "$objects")
pg_collection=$("$pg_load" fill "$url" "$objects")
# No ANALYZE here: the store's plans must not depend on statistics (docs/store.md), and the GET
# rounds start right after a bulk load, before autovacuum's first look. ANALYZE=1 runs one.
if [[ "${ANALYZE:-0}" == 1 ]]; then psql "$url" -q -c "ANALYZE" >&2; fi
# VACUUM=1 (the default) vacuums the loaded table before the GET rounds: what autovacuum does on
# its own a minute after a bulk load; without it, that vacuum of ~100 MB may run during the GET
# rounds and take CPU from them. Plans do not change: VACUUM without ANALYZE leaves statistics.
if [[ "${VACUUM:-1}" == 1 ]]; then psql "$url" -q -c "VACUUM objects" >&2; fi
pg_dir=$work/pg-node
rm -rf "$pg_dir"; mkdir -p "$pg_dir"
printf 'threads = %s\nstore = "%s"\n' "$server_threads" "$url" >"$pg_dir/liaison.toml"
printf 'threads = %s\n' "$server_threads" >"$sqlite_dir/liaison.toml"
serve "$liaison" "$sqlite_dir" "$sqlite_dir/liaison.toml"
serve "$liaison" "$pg_dir" "$pg_dir/liaison.toml"
sqlite_port=$(cat "$sqlite_dir/port")
pg_port=$(cat "$pg_dir/port")
sqlite_url="http://127.0.0.1:$sqlite_port/api/collections/$sqlite_collection/objects/?limit=100"
pg_url="http://127.0.0.1:$pg_port/api/collections/$pg_collection/objects/?limit=100"
# The same first page from both (same objects in the same order; the cursors differ, since
# date_added does): the comparison is like for like. Also warms the credential caches.
curl -sf -H "$auth" -H "$accept" "$sqlite_url" >"$work/first-sqlite.json"
curl -sf -H "$auth" -H "$accept" "$pg_url" >"$work/first-pg.json"
a=$(grep -o '"id":"[^"]*"' "$work/first-sqlite.json" | sha256sum)
b=$(grep -o '"id":"[^"]*"' "$work/first-pg.json" | sha256sum)
[[ "$a" == "$b" ]] || echo "bench: warning: the first pages differ" >&2

# Warm-up, not measured (WARMUP seconds, default 3, each node): a node's first seconds open its
# pool's connections (a backend each, whose first statements load the catalogs and plan) and, on
# a table loaded a moment ago, meet autovacuum's first pass; the rounds measure the steady state.
warmup=${WARMUP:-3}
if (( warmup > 0 )); then
  for u in "$sqlite_url" "$pg_url"; do
    wrk -t"$threads" -c"$connections" -d"${warmup}s" -H "$auth" -H "$accept" "$u" >/dev/null
  done
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
sqlite_sum=0
pg_sum=0
for round in $(seq 1 "$rounds"); do
  echo "== round $round: GET limit=100 from SQLite" >&2
  sqlite_sum=$(awk -v a="$sqlite_sum" -v b="$(wrk_rps "$sqlite_url")" 'BEGIN {print a + b}')
  echo "== round $round: GET limit=100 from PostgreSQL" >&2
  pg_sum=$(awk -v a="$pg_sum" -v b="$(wrk_rps "$pg_url")" 'BEGIN {print a + b}')
done

echo "== POST envelopes of 100 objects to the PostgreSQL node" >&2
post_rate=$("$taxii_load" post "$pg_port" "$pg_collection" "$post_envelopes" "$post_connections" \
  10000000)
echo "== the same rows through Store::Add (no HTTP, no validation)" >&2
cpu0=$(cluster_cpu)
add_rate=$("$pg_load" add "$url" "$post_envelopes" "$post_connections")
sleep 1  # the backends exit and are reaped
cpu1=$(cluster_cpu)
echo "== bare COPY of the same rows into an unindexed table" >&2
bare_rate=$("$pg_load" bare "$url" "$post_envelopes" "$post_connections")
sleep 1
cpu2=$(cluster_cpu)
echo "== bare COPY of the same rows into a table like the store's" >&2
same_rate=$("$pg_load" same "$url" "$post_envelopes" "$post_connections")
sleep 1
cpu3=$(cluster_cpu)
rows=$((post_envelopes * 100))
few_post=0 few_bare=0
if ((few_connections > 0)); then
  echo "== POST and bare COPY over $few_connections connections" >&2
  few_post=$("$taxii_load" post "$pg_port" "$pg_collection" "$post_envelopes" "$few_connections" \
    30000000)
  few_bare=$("$pg_load" bare "$url" "$post_envelopes" "$few_connections")
fi
# One connection each: the per-transaction cost without the concurrency that bare COPY has and
# the store's one-writer-at-a-time lock (docs/store.md) does not.
echo "== one connection: Store::Add and bare COPY" >&2
single=$((post_envelopes / 3))
add1_rate=$("$pg_load" add "$url" "$single" 1)
bare1_rate=$("$pg_load" bare "$url" "$single" 1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<REPORT
objects: $objects; server threads: $server_threads; wrk -t$threads -c$connections -d${seconds}s, $rounds rounds each, alternating
load average before / after: $load_before / $load_after
GET SQLite:      $(awk -v s="$sqlite_sum" -v r="$rounds" 'BEGIN {printf "%.0f", s / r}') req/s (mean of $rounds)
GET PostgreSQL:  $(awk -v s="$pg_sum" -v r="$rounds" 'BEGIN {printf "%.0f", s / r}') req/s (mean of $rounds)
GET ratio PostgreSQL/SQLite: $(awk -v a="$pg_sum" -v b="$sqlite_sum" 'BEGIN {printf "%.2f", a/b}') (bar >= 0.60)
POST objects/s to PostgreSQL ($post_connections connections): $post_rate
bare COPY rows/s (100/transaction, $post_connections connections): $bare_rate
POST ratio: $(awk -v a="$post_rate" -v b="$bare_rate" 'BEGIN {printf "%.2f", a/b}') (bar >= 0.50)
COPY rows/s into a table like the store's (its indexes; same rows, all columns): $same_rate
POST ratio to that: $(awk -v a="$post_rate" -v b="$same_rate" 'BEGIN {printf "%.2f", a/b}') (info)
POST ceiling, COPY like the store's / bare COPY: $(awk -v a="$same_rate" -v b="$bare_rate" 'BEGIN {printf "%.2f", a/b}') (info: the database alone, the store's indexes, no node)
POST / bare COPY over $few_connections connections: $few_post / $few_bare = $(awk -v a="$few_post" -v b="$few_bare" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}') (info)
Store::Add objects/s (100/call, $post_connections threads): $add_rate
Store::Add ratio (the store alone): $(awk -v a="$add_rate" -v b="$bare_rate" 'BEGIN {printf "%.2f", a/b}')
one connection, Store::Add / bare COPY: $add1_rate / $bare1_rate = $(awk -v a="$add1_rate" -v b="$bare1_rate" 'BEGIN {printf "%.2f", a/b}')
server CPU per row, Store::Add / COPY into a table like the store's / bare COPY: $(awk -v a="$cpu0" -v b="$cpu1" -v n="$rows" 'BEGIN {printf "%.1f", (b-a)*1e6/n}') / $(awk -v a="$cpu2" -v b="$cpu3" -v n="$rows" 'BEGIN {printf "%.1f", (b-a)*1e6/n}') / $(awk -v a="$cpu1" -v b="$cpu2" -v n="$rows" 'BEGIN {printf "%.1f", (b-a)*1e6/n}') us
REPORT
