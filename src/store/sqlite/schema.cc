#include "store/sqlite/schema.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/timestamp.h"
#include "store/sqlite/release_codes.h"

namespace liaison::store::sqlite_internal {
namespace {

// PRAGMA application_id of a liaison store ("LIAN"), so that opening some other SQLite file by
// mistake is an error rather than a silent migration of someone else's data.
constexpr int kApplicationId = 0x4C49414E;

// Migration N brings the schema from version N-1 to N. Never edit a shipped migration: append.
//
// Version 1. Invariants the code relies on:
//  - objects.date_added is the rowid: microseconds since the epoch, unique and strictly
//    increasing across the store in commit order. meta('last_date_added') keeps the high-water
//    mark so that deleting the newest rows never lets a date_added be issued twice.
//  - objects.version is store::VersionKey (fixed-width text, sorts as time; "" = no version).
//  - is_first / is_last / spec_latest say whether the row is the earliest / latest version of its
//    id in its collection, and whether its spec_version is the highest among them. Add and
//    DeleteObject keep them exact; queries use them to decide most rows without looking at
//    sibling versions, and objects_latest makes the default query (latest versions) a straight
//    index walk.
//  - Every index on objects ends with the rowid, i.e. with date_added, so an equality prefix
//    (cid; cid+type; cid+is_last) yields rows in date_added order: keyset pagination is an
//    index range scan.
constexpr const char* kMigrations[] = {
    // 1
    R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value ANY
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('last_date_added', 0);

CREATE TABLE collections(
  cid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  api_root TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  alias TEXT NOT NULL,
  media_types TEXT NOT NULL
);

CREATE TABLE objects(
  date_added INTEGER PRIMARY KEY,
  cid INTEGER NOT NULL,
  id TEXT NOT NULL,
  version TEXT NOT NULL,
  type TEXT NOT NULL,
  spec_version TEXT NOT NULL,
  is_first INTEGER NOT NULL,
  is_last INTEGER NOT NULL,
  spec_latest INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_by_id ON objects(cid, id, version);
CREATE INDEX objects_by_cid ON objects(cid);
CREATE INDEX objects_by_type ON objects(cid, type);
CREATE INDEX objects_latest ON objects(cid) WHERE is_last = 1;

CREATE TABLE statuses(
  id TEXT PRIMARY KEY,
  api_root TEXT NOT NULL,
  request_timestamp TEXT NOT NULL,
  body TEXT NOT NULL
);

CREATE TABLE users(
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL,
  groups TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tokens(
  token_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  description TEXT NOT NULL,
  created TEXT NOT NULL,
  expires TEXT
) WITHOUT ROWID;
CREATE INDEX tokens_by_user ON tokens(user);

CREATE TABLE permissions(
  cid INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  principal TEXT NOT NULL,
  can_read INTEGER NOT NULL,
  can_write INTEGER NOT NULL,
  PRIMARY KEY (cid, kind, principal)
) WITHOUT ROWID;
CREATE INDEX permissions_by_principal ON permissions(kind, principal);
)sql",
    // 2 (issue #6): the hash-chained audit log. seq is the rowid and the chain order; rows are
    // only ever appended. Nothing here protects the rows: policy/release_log.h verifies the
    // chain (hash over prev_hash and the canonical entry), which any edit breaks.
    R"sql(
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  partner TEXT NOT NULL,
  policy_version TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_by_partner ON audit_log(partner, seq);
)sql",
    // 3 (issue #6): sync with peers (docs/sync.md). sync_state holds cursors, failed pushes and
    // receipts by key. received_ranges records which date_added intervals of a collection came
    // from which peer, so that sync never pushes a version back to the peer it came from.
    R"sql(
CREATE TABLE sync_state(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE received_ranges(
  cid INTEGER NOT NULL,
  peer TEXT NOT NULL,
  first_added INTEGER NOT NULL,
  last_added INTEGER NOT NULL,
  PRIMARY KEY (cid, peer, first_added)
) WITHOUT ROWID;
)sql",
    // 4 (issue #6): release keys (store/release_key.h). objects.rkey summarises what release
    // rules 1-5 read (0 = unknown: the policy reads the row); release_codes is its dictionary
    // (codes only grow, never change). objects_by_cid_key replaces objects_by_cid: the same
    // (cid, date_added) order, so the same sequential appends on ingest, but a scan can test a
    // partner's key filter and spec_version on the index entry and seek the table row only for
    // the versions that pass. Existing rows are keyed by BackfillReleaseKeys in the same
    // transaction.
    R"sql(
ALTER TABLE objects ADD COLUMN rkey INTEGER NOT NULL DEFAULT 0;
CREATE TABLE release_codes(
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  code INTEGER NOT NULL,
  PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX release_codes_by_code ON release_codes(kind, code);
DROP INDEX objects_by_cid;
CREATE INDEX objects_by_cid_key ON objects(cid, date_added, rkey, spec_version);
)sql",
    // 5 (issue #3): audit entries committed with the objects they concern (AddWithAudit: a
    // POST's receipt), waiting to be chained into the audit file, which records in its
    // audit_meta('pending_moved_upto') the highest pid it holds. pid only grows (AUTOINCREMENT:
    // moved rows are deleted, and a reused pid would be taken for one already moved).
    R"sql(
CREATE TABLE audit_pending(
  pid INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  partner TEXT NOT NULL,
  policy_version TEXT NOT NULL,
  details TEXT NOT NULL
);
)sql",
    // 6 (issues #7 and #8): uses counted by Store::AdmitUse (shared rate limits: a partner's PSI
    // runs), by key and time in microseconds; rows older than a key's window are deleted by the
    // next use of that key.
    R"sql(
CREATE TABLE rate_uses(
  key TEXT NOT NULL,
  used_at INTEGER NOT NULL
);
CREATE INDEX rate_uses_by_key ON rate_uses(key, used_at);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

Result<int64_t> QueryInt(Connection& conn, const char* sql) {
  LIAISON_ASSIGN_OR_RETURN(Statement st, conn.Prepare(sql));
  LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row || st.IsNull(0)) return int64_t{0};
  return st.Int(0);
}

}  // namespace

Status Migrate(Connection& conn) {
  LIAISON_RETURN_IF_ERROR(conn.UseWal());
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, Transaction::Mode::kWrite));
  LIAISON_ASSIGN_OR_RETURN(int64_t app_id, QueryInt(conn, "PRAGMA application_id"));
  LIAISON_ASSIGN_OR_RETURN(int64_t tables, QueryInt(conn, "SELECT count(*) FROM sqlite_schema"));
  if (app_id != kApplicationId && (app_id != 0 || tables != 0)) {
    return absl::DataLossError("sqlite store: the file is not a liaison store");
  }
  LIAISON_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"));
  LIAISON_ASSIGN_OR_RETURN(int64_t current,
                           QueryInt(conn, "SELECT max(version) FROM schema_migrations"));
  if (current > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("sqlite store: schema version ", current,
                                                      " is newer than this liaison supports (",
                                                      kSchemaVersion, "); upgrade liaison"));
  }
  // All missing migrations commit together with the bookkeeping, so a crash half-way leaves the
  // store at its previous version.
  for (int v = static_cast<int>(current) + 1; v <= kSchemaVersion; ++v) {
    LIAISON_RETURN_IF_ERROR(conn.Exec(kMigrations[v - 1]));
    if (v == 4) LIAISON_RETURN_IF_ERROR(BackfillReleaseKeys(conn));
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        conn.Prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)"));
    const std::string now = Timestamp::Now().ToString(6);
    st.Bind(1, int64_t{v});
    st.Bind(2, now);
    LIAISON_RETURN_IF_ERROR(st.Run());
  }
  if (app_id != kApplicationId) {
    LIAISON_RETURN_IF_ERROR(
        conn.Exec(absl::StrCat("PRAGMA application_id=", kApplicationId).c_str()));
  }
  return tx.Commit();
}

}  // namespace liaison::store::sqlite_internal
