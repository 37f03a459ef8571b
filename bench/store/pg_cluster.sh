# Sourced by bench/store/pg_run.sh, pg_ab.sh and pg_post_ab.sh (with $work set): builds what they
# run (below), starts a throwaway PostgreSQL cluster
# (scripts/pg-test-cluster.sh), creates the database `bench` in it, and stops the cluster and
# every pid in `pids` on exit. Sets cluster_dir, dsn, host, port and url (the libpq URL of
# `bench` over the cluster's Unix socket), auth and accept (wrk/curl headers) and hz; defines
# serve, ticks, cluster_ticks and fill_sqlite (below).
# The release build of the node and the loaders (liaison, taxii_load, pg_load; main_liaison is
# MAIN_LIAISON for the A/B scripts, else this build), and the scratch directory $work.
cmake --preset release >/dev/null
cmake --build build/release --target liaison taxii_load pg_load -j2 >&2
liaison=$PWD/build/release/src/app/liaison
main_liaison=${MAIN_LIAISON:-$liaison}
taxii_load=build/release/bench/taxii/taxii_load
pg_load=build/release/bench/store/pg_load
mkdir -p "$work"

cluster=$(scripts/pg-test-cluster.sh start)
cluster_dir=${cluster%%$'\t'*}
dsn=${cluster#*$'\t'}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg-test-cluster.sh stop "$cluster_dir"
}
trap cleanup EXIT
host=$(sed -E 's/.*host=([^ ]+).*/\1/' <<<"$dsn")
port=$(sed -E 's/.*port=([^ ]+).*/\1/' <<<"$dsn")
psql "$dsn" -q -c "CREATE DATABASE bench" >&2
url="postgresql://postgres@/bench?host=$host&port=$port"

auth="Authorization: Basic $(printf 'admin:bench-pw' | base64)"
accept='Accept: application/taxii+json;version=2.1'
hz=$(getconf CLK_TCK)

serve() {  # serve BINARY DIR CONFIG: starts a node (not in a subshell: its pid, the last of
  # pids, must reach cleanup)
  rm -f "$2/port"
  LIAISON_ADMIN_PASSWORD=bench-pw "$1" serve --config "$3" --data "$2" \
    --listen 127.0.0.1:0 --port-file "$2/port" >"$2/server.out" 2>"$2/server.log" &
  pids+=($!)
  for _ in $(seq 1 300); do [[ -s "$2/port" ]] && break; sleep 0.1; done
  [[ -s "$2/port" ]] || { echo "bench: server in $2 did not start" >&2; cat "$2/server.log" >&2; exit 3; }
}

# ticks PID: clock ticks (utime + stime) used so far by one process (a node).
ticks() {
  local f
  read -r -a f < <(sed 's/.*) //' "/proc/$1/stat")
  echo $(( f[11] + f[12] ))
}

# Clock ticks (hz a second) used so far by the cluster's processes: the postmaster, its live
# children, and (cutime/cstime) the backends it has reaped. A load-independent view of the
# server's work: on this shared machine wall-clock rates move with other work, CPU much less.
cluster_ticks() {
  local pm t c g
  pm=$(head -1 "$cluster_dir/data/postmaster.pid")
  read -r -a g < <(sed 's/.*) //' "/proc/$pm/stat")
  t=$(( g[11] + g[12] + g[13] + g[14] ))
  for c in $(cat /proc/"$pm"/task/*/children); do
    read -r -a g < <(sed 's/.*) //' "/proc/$c/stat" 2>/dev/null) || continue
    t=$(( t + g[11] + g[12] ))
  done
  echo "$t"
}

# fill_sqlite DIR OBJECTS: a SQLite store of OBJECTS indicators through taxii_load's bulk path,
# reused by later runs; prints its collection id. Needs $taxii_load.
fill_sqlite() {
  if [[ ! -s "$1/collection" ]]; then
    rm -rf "$1"; mkdir -p "$1"
    "$taxii_load" fill "$1" "$2" >"$1/collection"
  fi
  cat "$1/collection"
}
