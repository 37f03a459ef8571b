#!/usr/bin/env bash
# Smoke test of the PostgreSQL benchmark's helper (ctest store_pg_load_smoke): every mode of
# pg_load against a throwaway cluster, so that the benchmark scripts' baselines (bare and same
# COPY, Store::Add) keep working as the store's schema changes. Figures are not looked at.
#
#   bash bench/store/pg_load_smoke.sh PATH/TO/pg_load
set -euo pipefail
pg_load=$1
cd "$(dirname "$0")/../.."
# shellcheck disable=SC2016  # expanded by the inner shell, where LIAISON_PG_DSN is set
exec scripts/pg-test-cluster.sh run bash -c '
  set -euo pipefail
  "$0" fill "$LIAISON_PG_DSN" 300 >/dev/null
  for mode in bare same add; do "$0" "$mode" "$LIAISON_PG_DSN" 3 2 >/dev/null; done
  echo "pg_load: fill, bare, same and add ran"' "$pg_load"
