#!/usr/bin/env bash
# Interleaved A/B of the PostgreSQL GET (issue #8; figures in docs/store.md, "Session 7").
#
#   MAIN_LIAISON=path/to/main/liaison bash bench/store/pg_ab.sh [OBJECTS]   # default 100000
#
# One throwaway cluster, one database of OBJECTS indicators (pg_load fill, then VACUUM), three
# `liaison serve` nodes side by side: SQLite (the same objects, taxii_load fill), node A
# (MAIN_LIAISON, e.g. main built from `git archive`; without it, this branch's binary with
# `store_text_cache_mb = 0`) and node B (this branch, text cache on). All with SERVER_THREADS
# serving threads.
# 1. The repeated page: wrk -t2 -c16 GET ?limit=100 (the same first page every time, as in
#    pg_run.sh), ROUNDS rounds, nodes alternating SQLite, A, B. Per node and round: req/s, the
#    node's CPU per GET and the cluster's (postmaster and backends) CPU per GET, from /proc.
# 2. The cold walk: every page of the collection exactly once (curl --parallel, 16 at a time,
#    one URL per page with its added_after boundary, read from the database), on freshly started
#    A and B nodes each round, so that B's cache starts empty: what the cache costs when no page
#    repeats; and the same walk of the SQLite node (its own boundaries; not restarted). Per node
#    and round: pages/s (wall time of the walk) and CPU per GET as above.
# The first page's bodies of A and B are compared byte for byte before anything is timed.
# Settings: ROUNDS (3), WRK_SECONDS (4), SERVER_THREADS (8), WORK (/tmp/liaison-pg-ab), QUERY (the
# repeated page's query, default limit=100; e.g. 'limit=100&match[version]=all'), WALK (1; 0 skips
# the cold walk).
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-100000}
rounds=${ROUNDS:-3}
seconds=${WRK_SECONDS:-4}
server_threads=${SERVER_THREADS:-8}
work=${WORK:-/tmp/liaison-pg-ab}
query=${QUERY:-limit=100}

# The build, the cluster, the database `bench`, cleanup on exit, and $url
# (bench/store/pg_cluster.sh).
source bench/store/pg_cluster.sh

# measure NAME PID WRK-ARGS...: one wrk run; prints NAME, req/s, and the node's and the cluster's
# CPU per GET
measure() {
  local name=$1 pid=$2 n0 c0 n1 c1 out reqs rps
  shift 2
  n0=$(ticks "$pid"); c0=$(cluster_ticks)
  out=$(wrk -t2 -c16 -H "$auth" -H "$accept" "$@")
  n1=$(ticks "$pid"); c1=$(cluster_ticks)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  awk -v n="$name" -v r="$rps" -v q="$reqs" -v dn=$((n1 - n0)) -v dc=$((c1 - c0)) -v hz="$hz" \
    'BEGIN {printf "%-8s %6s req/s  %6d GETs  node %4.0f us/GET  cluster %4.0f us/GET\n", n, r, q,
            dn * 1e6 / hz / q, dc * 1e6 / hz / q}'
}

# walk NAME PID URL [LIST]: every page of the walk once (LIST: its added_after values, default
# walk.txt); prints NAME, pages/s and CPU per GET as measure.
walk() {
  local name=$1 pid=$2 list=${4:-$work/walk.txt} n0 c0 n1 c1 t0 t1 pages
  sed "s|.*|url = \"$3\&added_after=&\"\noutput = \"/dev/null\"|" "$list" >"$work/walk.cfg"
  pages=$(wc -l <"$list")
  n0=$(ticks "$pid"); c0=$(cluster_ticks); t0=$(date +%s%N)
  curl -sS --fail --parallel --parallel-max 16 -H "$auth" -H "$accept" -K "$work/walk.cfg"
  t1=$(date +%s%N); n1=$(ticks "$pid"); c1=$(cluster_ticks)
  awk -v n="$name" -v q="$pages" -v dt=$((t1 - t0)) -v dn=$((n1 - n0)) -v dc=$((c1 - c0)) \
    -v hz="$hz" 'BEGIN {printf "%-8s %6.0f req/s  %6d GETs  node %4.0f us/GET  cluster %4.0f us/GET\n",
                 n, q * 1e9 / dt, q, dn * 1e6 / hz / q, dc * 1e6 / hz / q}'
}

sqlite_dir=$work/sqlite-$objects
collection_sqlite=$(fill_sqlite "$sqlite_dir" "$objects")
collection=$("$pg_load" fill "$url" "$objects")
# ANALYZE too: autovacuum would otherwise analyse the freshly loaded table during some round.
psql "$url" -q -c "VACUUM (ANALYZE) objects" >&2
printf 'threads = %s\n' "$server_threads" >"$sqlite_dir/liaison.toml"
for node in a b; do
  rm -rf "$work/$node"; mkdir -p "$work/$node"
  printf 'threads = %s\nstore = "%s"\n' "$server_threads" "$url" >"$work/$node/liaison.toml"
done
if [[ -z "${MAIN_LIAISON:-}" ]]; then echo 'store_text_cache_mb = 0' >>"$work/a/liaison.toml"; fi

# The walk's added_after values: the date_added of every 100th object of the collection (as
# RFC 3339 with microseconds), the first page's start excluded (the warm-up reads it).
psql "$url" -qAt -c "SELECT to_char(timestamp 'epoch' + date_added * interval '1 microsecond',
    'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM (SELECT date_added, row_number() OVER
    (ORDER BY date_added) AS n FROM objects WHERE cid = (SELECT cid FROM collections
    WHERE id = '$collection')) AS o WHERE n % 100 = 0 ORDER BY date_added" >"$work/walk.txt"
echo "bench: the cold walk has $(wc -l <"$work/walk.txt") pages" >&2
# The same for the SQLite store (its own date_added values, also microseconds).
python3 - "$sqlite_dir/liaison.db" "$collection_sqlite" >"$work/walk-sqlite.txt" <<'PY'
import datetime, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT date_added FROM objects WHERE cid = (SELECT cid FROM collections "
                  "WHERE id = ?) ORDER BY date_added", (sys.argv[2],)).fetchall()
epoch = datetime.datetime(1970, 1, 1)
for n, (d,) in enumerate(rows, 1):
    if n % 100 == 0:
        print((epoch + datetime.timedelta(microseconds=d)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
PY

start_nodes() {  # starts A and B afresh (B's cache empty); sets pid_a, pid_b, url_a, url_b
  for p in ${pid_a:-} ${pid_b:-}; do kill "$p"; wait "$p" 2>/dev/null || true; done
  serve "$main_liaison" "$work/a" "$work/a/liaison.toml"; pid_a=${pids[-1]}
  serve "$liaison" "$work/b" "$work/b/liaison.toml"; pid_b=${pids[-1]}
  url_a="http://127.0.0.1:$(cat "$work/a/port")/api/collections/$collection/objects/?limit=100"
  url_b="http://127.0.0.1:$(cat "$work/b/port")/api/collections/$collection/objects/?limit=100"
  # Open each node's pool (a backend per connection) without caching more than one text.
  for u in "$url_a" "$url_b"; do
    wrk -t2 -c16 -d1s -H "$auth" -H "$accept" "${u/limit=100/limit=1}" >/dev/null
  done
}

serve "$liaison" "$sqlite_dir" "$sqlite_dir/liaison.toml"; pid_s=${pids[-1]}
url_s="http://127.0.0.1:$(cat "$sqlite_dir/port")/api/collections/$collection_sqlite/objects/?$query"
start_nodes
curl -sf -H "$auth" -H "$accept" "$url_a" >"$work/first-a.json"
curl -sf -H "$auth" -H "$accept" "$url_b" >"$work/first-b.json"
curl -sf -H "$auth" -H "$accept" "$url_b" >"$work/first-b2.json"
cmp "$work/first-a.json" "$work/first-b.json" && cmp "$work/first-a.json" "$work/first-b2.json" ||
  { echo "bench: the first pages of A and B differ" >&2; exit 1; }
# The repeated page's URLs (not ${url/x/$query}: bash 5.2 expands & in the replacement).
q_a="${url_a%\?*}?$query"
q_b="${url_b%\?*}?$query"
curl -gsf -H "$auth" -H "$accept" "$q_a" >"$work/query-a.json"
curl -gsf -H "$auth" -H "$accept" "$q_b" >"$work/query-b.json"
cmp "$work/query-a.json" "$work/query-b.json" || { echo "bench: A and B differ on $query" >&2; exit 1; }
for u in "$url_s" "$q_a" "$q_b"; do  # warm-up
  wrk -t2 -c16 -d2s -H "$auth" -H "$accept" "$u" >/dev/null
done

echo "objects: $objects; A: $main_liaison$([[ -z "${MAIN_LIAISON:-}" ]] && echo ' (text cache off)'); B: $liaison"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- the repeated page (wrk -t2 -c16 -d${seconds}s GET ?$query), $rounds rounds"
for round in $(seq 1 "$rounds"); do
  measure SQLite "$pid_s" -d"${seconds}s" "$url_s"
  measure A "$pid_a" -d"${seconds}s" "$q_a"
  measure B "$pid_b" -d"${seconds}s" "$q_b"
done
echo "-- the cold walk: every page once (curl --parallel-max 16), fresh nodes, $rounds rounds"
for round in $(seq 1 "$rounds"); do
  [[ "${WALK:-1}" == 1 ]] || break
  start_nodes
  walk SQLite "$pid_s" "${url_s%\?*}?limit=100" "$work/walk-sqlite.txt"
  walk A "$pid_a" "$url_a"
  walk B "$pid_b" "$url_b"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
