#pragma once

// The POST bar's baseline table (issue #3): the bench's rows as three text columns without
// indexes, in WAL mode with synchronous=FULL (the server's durability). Shared by `taxii_load
// bare` and sqlite_store_bench's BM_BareSqlite_Insert, so that both baselines write the same
// table.

#include <sqlite3.h>

namespace liaison::bench {

// Creates the table in `db` (a fresh file) and prepares its INSERT (?1 id, ?2 version, ?3 json);
// nullptr when either fails.
inline sqlite3_stmt* PrepareBareTable(sqlite3* db) {
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE objects(id TEXT, version TEXT, json TEXT)",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return nullptr;
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO objects VALUES (?1, ?2, ?3)", -1, &insert, nullptr) !=
      SQLITE_OK) {
    return nullptr;
  }
  return insert;
}

}  // namespace liaison::bench
