#pragma once

// The SQLite store's schema and its migrations. Internal to store/sqlite.

#include "core/result.h"
#include "store/sqlite/connection.h"

namespace liaison::store::sqlite_internal {

// The schema version this build writes. Stores at a lower version are migrated on open; a
// higher version was written by a newer liaison and is refused.
inline constexpr int kSchemaVersion = 6;

// Puts the database in WAL mode, checks that it is a liaison store (or empty), and applies the
// missing migrations, each in its own transaction recorded in `schema_migrations`.
// FailedPrecondition for a newer schema, DataLoss for a database that is not a liaison store.
Status Migrate(Connection& conn);

}  // namespace liaison::store::sqlite_internal
