#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests (issue #8): no pre-existing server is assumed.
#
#   scripts/pg-test-cluster.sh start   # prints "DIR<TAB>CONNINFO" and leaves the server running
#   scripts/pg-test-cluster.sh stop DIR  # stops the server and removes DIR
#   scripts/pg-test-cluster.sh run CMD...  # starts, runs CMD with LIAISON_PG_DSN set, stops
#   scripts/pg-test-cluster.sh crash DIR   # kills the server as a power cut would (immediate
#                                          # stop: no checkpoint, no goodbye to clients) and
#                                          # starts it again on the same port (WAL recovery)
#
# The cluster lives in a fresh temporary directory, listens on a free local TCP port on
# 127.0.0.1 and on a unix socket in that directory, trusts local connections (it holds only
# test data and dies with the test) and is tuned for speed (fsync stays on: the durability
# tests mean it). As root, initdb and postgres refuse to run, so they run as the `postgres`
# system user that the Debian package creates. Installs postgresql from Debian when missing
# and this runs as root; exits 77 ("skip") when the binaries are absent and cannot be installed.
set -euo pipefail

find_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 &&
    { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
  local bindir
  if ! bindir=$(find_bindir); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      echo "pg-test-cluster: installing postgresql from Debian" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        postgresql libpq-dev >&2 || true
    fi
    bindir=$(find_bindir) || {
      echo "pg-test-cluster: PostgreSQL binaries (initdb, pg_ctl) not found" >&2
      exit 77
    }
  fi
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/liaison-pg.XXXXXX")
  chmod 755 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  }
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -h 127.0.0.1 -c max_connections=200 -c shared_buffers=64MB \
          -c synchronous_commit=on -c full_page_writes=off" >/dev/null 2>&1; then
      printf '%s\thost=%s port=%s user=postgres dbname=postgres\n' "$dir" "$dir" "$port"
      return 0
    fi
  done
  cat "$dir/server.log" >&2 || true
  rm -rf "$dir"
  echo "pg-test-cluster: could not start the server" >&2
  exit 1
}

# check_dir DIR: exits 2 unless DIR is a cluster this script made.
check_dir() {
  [[ -n "$1" && -d "$1/data" && "$(basename "$1")" == liaison-pg.* ]] || {
    echo "pg-test-cluster: $1 is not a cluster made by this script" >&2
    exit 2
  }
}

stop() {
  local dir=$1
  check_dir "$dir"
  local bindir
  bindir=$(find_bindir) || true
  if [[ -n "$bindir" && -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

crash() {
  local dir=$1
  check_dir "$dir"
  local bindir
  bindir=$(find_bindir)
  # restart reuses the options the server was started with (postmaster.opts): same port, same
  # socket directory, same settings.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m immediate -w -t 60 \
    restart >/dev/null 2>&1 || {
    tail -20 "$dir/server.log" >&2
    exit 1
  }
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  crash) crash "${2:-}" ;;
  run)
    shift
    line=$(start)
    dir=${line%%$'\t'*}
    trap 'stop "$dir"' EXIT
    LIAISON_PG_DSN=${line#*$'\t'} "$@"
    ;;
  *)
    echo "usage: $0 start | stop DIR | crash DIR | run CMD..." >&2
    exit 2
    ;;
esac
