# Sourced by bench/store/pg_run.sh and pg_ab.sh: starts a throwaway PostgreSQL cluster
# (scripts/pg-test-cluster.sh), creates the database `bench` in it, and stops the cluster and
# every pid in `pids` on exit. Sets cluster_dir, dsn, host, port and url (the libpq URL of
# `bench` over the cluster's Unix socket).
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
