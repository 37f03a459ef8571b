#!/usr/bin/env bash
# What each index of the PostgreSQL store's `objects` costs an insert (issue #8; docs/store.md,
# "Session 11"). No liaison code runs: this measures the database alone.
#
#   bash bench/store/pg_index_cost.sh [ROWS]   # ROWS per round, default 100000
#
# In one throwaway cluster (scripts/pg-test-cluster.sh): ROUNDS x ROWS indicator-like rows (ids
# are random uuids, as STIX ids are; JSON of the size taxii_load posts) are generated once into a
# source table; then each round inserts the next ROWS of them, in one INSERT ... SELECT, into
# one table per variant, in turn (the same rows for every table): no index, each of the store's
# indexes alone, and the id indexes of schema 7 (two) and of migration 8 (one). A CHECKPOINT
# ends each round, so that no round inherits another's dirty pages (the cluster runs with
# full_page_writes=off, as every test cluster does). Prints ms per round for each table and, per
# variant, the mean cost per row above the table without indexes. Settings: ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-100000}
rounds=${ROUNDS:-3}
cluster=$(scripts/pg-test-cluster.sh start)
cluster_dir=${cluster%%$'\t'*}
dsn=${cluster#*$'\t'}
trap 'scripts/pg-test-cluster.sh stop "$cluster_dir"' EXIT

columns='date_added bigint NOT NULL, cid bigint NOT NULL, id text COLLATE "C" NOT NULL,
  version text COLLATE "C" NOT NULL, type text COLLATE "C" NOT NULL,
  spec_version text COLLATE "C" NOT NULL, is_first boolean NOT NULL, is_last boolean NOT NULL,
  spec_latest boolean NOT NULL, json text NOT NULL'
# name|index definition ("" for none); the store's indexes are those of migrations 1, 4, 6, 8.
variants=(
  "none|"
  "pkey_date_added|ALTER TABLE %t ADD PRIMARY KEY (date_added)"
  "by_cid|CREATE INDEX ON %t(cid, date_added)"
  "by_type|CREATE INDEX ON %t(cid, type, date_added)"
  "latest|CREATE INDEX ON %t(cid, date_added) WHERE is_last"
  "by_id_7|CREATE UNIQUE INDEX ON %t(id, cid, version)"
  "first_7|CREATE UNIQUE INDEX ON %t(id, cid) WHERE is_first"
  "by_id_8|CREATE UNIQUE INDEX ON %t(id, cid, (CASE WHEN is_first THEN '' ELSE version END))"
)
{
  echo "CREATE TABLE src AS SELECT g AS n, 'indicator--' || md5(g::text)::uuid AS id"
  echo "FROM generate_series(1, $((rows * rounds))) g;"
  for v in "${variants[@]}"; do
    name=${v%%|*} def=${v#*|}
    echo "CREATE TABLE t_$name ($columns);"
    [[ -n "$def" ]] && echo "${def//%t/t_$name};"
  done
} | psql "$dsn" -q -v ON_ERROR_STOP=1 >&2

{
  echo '\timing on'
  for r in $(seq 1 "$rounds"); do
    for v in "${variants[@]}"; do
      name=${v%%|*}
      echo "\\echo $name"
      # The JSON is an indicator as bench/taxii/corpus.h builds it (about 540 bytes).
      echo "INSERT INTO t_$name SELECT n, 1, id, '2024-01-01T00:00:00.000000000Z', 'indicator',
        '2.1', true, true, true, '{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"' || id
        || '\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\",'
        || '\"created_by_ref\":\"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff\",\"name\":\"C2 '
        || 'address ' || n || '\",\"description\":\"Command and control server seen in the '
        || 'campaign; block at the perimeter.\",\"indicator_types\":[\"malicious-activity\"],'
        || '\"pattern\":\"[ipv4-addr:value = ''10.0.0.1'']\",\"pattern_type\":\"stix\",'
        || '\"valid_from\":\"2024-01-01T00:00:00Z\",\"object_marking_refs\":[\"marking-definition'
        || '--34098fce-860f-48ae-8e50-ebd3cc5e41da\"]}'
        FROM src WHERE n > $(((r - 1) * rows)) AND n <= $((r * rows));"
    done
    echo "CHECKPOINT;"
  done
} | psql "$dsn" -q -v ON_ERROR_STOP=1 2>&1 |
  awk -v rows="$rows" '
    /^Time:/ { if (name != "") { ms[name] = ms[name] " " $2; sum[name] += $2; n[name]++ }
               name = ""; next }
    NF == 1 { name = $1; if (!(name in seen)) { seen[name] = 1; order[++k] = name } }
    END {
      printf "%-16s %-30s %s\n", "table", "ms per round", "us per row above none"
      for (i = 1; i <= k; i++) {
        t = order[i]
        printf "%-16s %-30s %.1f\n", t, ms[t],
               (sum[t] / n[t] - sum["none"] / n["none"]) * 1000 / rows
      }
    }'
