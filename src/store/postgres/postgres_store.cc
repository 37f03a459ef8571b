#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/absl_compat.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "store/internal/group_commit.h"
#include "store/internal/records.h"
#include "store/postgres/connection.h"
#include "store/postgres/page_keys.h"
#include "store/postgres/text_cache.h"

// The same data model as the SQLite backend (sqlite/schema.cc lists the invariants): one row per
// stored version keyed by date_added (bigint microseconds, unique, in commit order), the
// VersionKey text as version, and the is_first / is_last / spec_latest flags that let a query
// decide most rows without reading sibling versions. Every index on objects ends with
// date_added, so an equality prefix yields rows in date_added order and a page is an index range
// walk (LIMIT, keyset batches), never a sort of the collection.

namespace liaison::store {
namespace {

using postgres_internal::Connection;
using postgres_internal::PageKeysCache;
using postgres_internal::Params;
using postgres_internal::QueryResult;
using postgres_internal::TextCache;
using postgres_internal::Transaction;

using internal::AddStatus;
using internal::BadStatusBody;
using internal::CheckObject;
using internal::ComputeFlags;
using internal::Deduplicated;
using internal::DetailsToJson;
using internal::EffectiveSpecVersion;
using internal::FlagFilter;
using internal::Flags;
using internal::JoinLines;
using internal::kJsonColumn;
using internal::kMaxIdChars;
using internal::kRowColumns;
using internal::MediaTypeFor;
using internal::ParseStatusBody;
using internal::ParseStoredTimestamp;
using internal::PlanVersions;
using internal::Row;
using internal::SplitLines;
using internal::StatusBody;
using internal::TimestampText;
using internal::ToVersionRecords;
using internal::VersionPlan;

Row ReadRow(const QueryResult& r, int i) {
  Row row;
  row.date_added = r.Int(i, 0);
  row.id = std::string(r.Text(i, 1));
  row.version = std::string(r.Text(i, 2));
  row.spec_version = std::string(r.Text(i, 3));
  row.type = std::string(r.Text(i, 4));
  row.is_first = r.Bool(i, 5);
  row.is_last = r.Bool(i, 6);
  row.spec_latest = r.Bool(i, 7);
  return row;
}

// --- Query planning -----------------------------------------------------------------------------

std::string_view FlagSql(FlagFilter f) {
  switch (f) {
    case FlagFilter::kNone:
      return "";
    case FlagFilter::kLast:
      return " AND is_last";
    case FlagFilter::kFirst:
      return " AND is_first";
    case FlagFilter::kFirstOrLast:
      return " AND (is_first OR is_last)";
  }
  return "";
}

// The ok-ness and status of either a Status or a Result<T>.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
inline Status StatusOf(const Result<T>& r) {
  return r.status();
}

// Migration N brings the schema from version N-1 to N. Never edit a shipped migration: append.
// Text keys are COLLATE "C" so that ORDER BY and the VersionKey comparisons are bytewise, as in
// SQLite, whatever the database's locale.
constexpr const char* kMigrations[] = {
    // 1
    R"sql(
CREATE TABLE meta(
  key text COLLATE "C" PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO meta(key, value) VALUES ('last_date_added', 0);

CREATE TABLE collections(
  cid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL UNIQUE,
  api_root text NOT NULL,
  title text NOT NULL,
  description text NOT NULL,
  alias text NOT NULL,
  media_types text NOT NULL
);

CREATE TABLE objects(
  date_added bigint PRIMARY KEY,
  cid bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  version text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  spec_version text COLLATE "C" NOT NULL,
  is_first boolean NOT NULL,
  is_last boolean NOT NULL,
  spec_latest boolean NOT NULL,
  json text NOT NULL
);
CREATE UNIQUE INDEX objects_by_id ON objects(cid, id, version);
CREATE INDEX objects_by_cid ON objects(cid, date_added);
CREATE INDEX objects_by_type ON objects(cid, type, date_added);
CREATE INDEX objects_latest ON objects(cid, date_added) WHERE is_last;

CREATE TABLE statuses(
  id text COLLATE "C" PRIMARY KEY,
  api_root text NOT NULL,
  request_timestamp text NOT NULL,
  body text NOT NULL
);

CREATE TABLE users(
  name text COLLATE "C" PRIMARY KEY,
  password_hash text NOT NULL,
  is_admin boolean NOT NULL,
  groups text NOT NULL
);

CREATE TABLE tokens(
  token_hash text COLLATE "C" PRIMARY KEY,
  user_name text COLLATE "C" NOT NULL,
  description text NOT NULL,
  created text COLLATE "C" NOT NULL,
  expires text
);
CREATE INDEX tokens_by_user ON tokens(user_name);

CREATE TABLE permissions(
  cid bigint NOT NULL,
  kind integer NOT NULL,
  principal text COLLATE "C" NOT NULL,
  can_read boolean NOT NULL,
  can_write boolean NOT NULL,
  PRIMARY KEY (cid, kind, principal)
);
CREATE INDEX permissions_by_principal ON permissions(kind, principal);
)sql",
    // 2 (issues #6, #8): the hash-chained audit log (release log, PSI runs, sync receipts), as
    // SQLite's migration 2. seq is the chain order; rows are only appended. meta('audit_chain')
    // is the row every AppendAudit locks FOR UPDATE first, on every node: appends are
    // serialised database-wide, so two nodes never chain onto the same head.
    R"sql(
CREATE TABLE audit_log(
  seq bigint PRIMARY KEY,
  time text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  partner text COLLATE "C" NOT NULL,
  policy_version text NOT NULL,
  details text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_by_partner ON audit_log(partner, seq);
INSERT INTO meta(key, value) VALUES ('audit_chain', 0);
)sql",
    // 3 (issues #6, #8): sync with peers (docs/sync.md), as SQLite's migration 3: cursors, failed
    // pushes and receipts by key, and the date_added intervals of a collection that came from
    // each peer (never pushed back to it).
    R"sql(
CREATE TABLE sync_state(
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE received_ranges(
  cid bigint NOT NULL,
  peer text COLLATE "C" NOT NULL,
  first_added bigint NOT NULL,
  last_added bigint NOT NULL,
  PRIMARY KEY (cid, peer, first_added)
);
)sql",
    // 4 (issues #6, #8): objects_by_id leads with the object id. The lookups by id (duplicate
    // check and flags of every Add, sibling versions, match[id]) must not depend on statistics:
    // with (cid, id, version), a collection created after the last ANALYZE is estimated at one
    // row, so the planner answered `cid = $1 AND id = ANY($2)` from any cid-leading index and
    // filtered the whole collection by id (18 ms per Add of 100 into a collection of 100,000:
    // quadratic ingest). Those lookups now say `cid + 0 = $1`, which no index answers, and
    // this index is the only one their id condition can use. Also: the deletion counter of
    // ObjectsStamp, and the order in which expired status resources are pruned.
    R"sql(
CREATE UNIQUE INDEX objects_by_object_id ON objects(id, cid, version);
DROP INDEX objects_by_id;
ALTER INDEX objects_by_object_id RENAME TO objects_by_id;
INSERT INTO meta(key, value) VALUES ('object_deletions', 0);
CREATE INDEX statuses_by_time ON statuses((request_timestamp COLLATE "C"));
)sql",
    // 5 (issue #8, session 6): a page must walk its collection's range of objects_latest /
    // objects_by_cid, never the date_added primary key filtered by cid. A page's cid is not
    // known when the statement is planned (a subquery, or a generic plan), so the planner
    // estimates `cid = $n` as 1/n_distinct of the rows; with two collections in the statistics
    // (0.5) it walked the primary key, and a page of a small collection added after a large one
    // read through all of the large one's rows (100,000 rows filtered, 110-170 ms a page, custom
    // and generic plans alike). The estimate assumes many collections instead: the cid-leading
    // walk is then always the cheaper plan, and it is the right one whatever the real count.
    R"sql(
ALTER TABLE objects ALTER COLUMN cid SET (n_distinct = 1000);
)sql",
    // 6 (issue #8, session 9): concurrent object writers. `reservations` holds the date_added
    // range each backend has taken and not yet committed (lo/hi NULL when none; rows of backends
    // that are gone are swept); readers stop below min(lo). Updated in place (HOT, so the small
    // table stays a page or two however often it changes). objects_first lets at most one
    // version of an id be its first: two writers that each believe they add the first version
    // of a new id (neither sees the other's uncommitted row) collide here, the later one waits
    // for the earlier's commit and fails, and its Add is retried by a path that sees the row.
    R"sql(
CREATE TABLE reservations(
  pid integer PRIMARY KEY,
  started timestamptz,
  lo bigint,
  hi bigint
) WITH (fillfactor = 50);
CREATE UNIQUE INDEX objects_first ON objects(id, cid) WHERE is_first;
)sql",
    // 7 (issue #8, session 10): the change counter of the cache of page keys (page_keys.h).
    // Bumped, in their own transactions, by every write that changes or deletes a stored row of
    // `objects` (new flags, deletions); never by an insert.
    R"sql(
INSERT INTO meta(key, value) VALUES ('object_changes', 0);
)sql",
    // 8 (issue #8, session 11): one index on the object id where there were two. Every new
    // object went into objects_by_id (id, cid, version) and objects_first (id, cid) WHERE
    // is_first, and each of the two, keyed by a random uuid, cost as much per insert as the
    // other four indexes together (a descent to a random leaf; 7.7-10.2 us a row each against
    // 1.7-3.9 for the date_added-ordered ones, bench/store/pg_index_cost.sh). The third key
    // column is '' for the first version and the version key otherwise, so the one unique index
    // keeps both rules: at most one first version per id and collection (the writers' collision,
    // migration 6), and no version stored twice (a first version holds the smallest key, and
    // only an unversioned object has the key '', whose only version is its first). Lookups by
    // id use the leading column as before.
    R"sql(
CREATE UNIQUE INDEX objects_by_id_key ON objects(id, cid, (CASE WHEN is_first THEN '' ELSE version END));
DROP INDEX objects_by_id;
DROP INDEX objects_first;
ALTER INDEX objects_by_id_key RENAME TO objects_by_id;
)sql",
    // 9 (issues #7 and #8): uses counted by Store::AdmitUse (shared rate limits: a partner's PSI
    // runs, one limit for every node), by key and time in microseconds; rows older than a key's
    // window are deleted by the next use of that key.
    R"sql(
CREATE TABLE rate_uses(
  key text COLLATE "C" NOT NULL,
  used_at bigint NOT NULL
);
CREATE INDEX rate_uses_by_key ON rate_uses(key, used_at);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Serialises migrations of nodes starting together (a transaction-scoped advisory lock).
constexpr int64_t kMigrationLock = 0x4C49414E;  // "LIAN"

Status Migrate(Connection& c, const std::string& schema) {
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  LIAISON_RETURN_IF_ERROR(
      StatusOf(c.Exec("SELECT pg_advisory_xact_lock($1::bigint)", Params().Add(kMigrationLock))));
  if (!schema.empty()) {
    LIAISON_RETURN_IF_ERROR(c.ExecScript(
        StrCat("CREATE SCHEMA IF NOT EXISTS ", postgres_internal::QuoteIdentifier(schema))));
  }
  LIAISON_RETURN_IF_ERROR(
      c.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations("
                   "version integer PRIMARY KEY, applied_at text NOT NULL)"));
  LIAISON_ASSIGN_OR_RETURN(QueryResult r,
                           c.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  const int64_t current = r.Int(0, 0);
  if (current > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("postgres store: schema version ", current,
                                                      " is newer than this liaison supports (",
                                                      kSchemaVersion, "); upgrade liaison"));
  }
  // All missing migrations commit together with the bookkeeping: a crash half-way leaves the
  // database at its previous version (PostgreSQL DDL is transactional).
  for (int v = static_cast<int>(current) + 1; v <= kSchemaVersion; ++v) {
    LIAISON_RETURN_IF_ERROR(c.ExecScript(kMigrations[v - 1]));
    LIAISON_RETURN_IF_ERROR(
        StatusOf(c.Exec("INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                        Params().Add(int64_t{v}).Add(Timestamp::Now().ToString(6)))));
  }
  return tx.Commit();
}

// The collection's key; `lock` is a locking clause for its row ("", " FOR SHARE", " FOR UPDATE").
Result<int64_t> CollectionKey(Connection& c, std::string_view id, std::string_view lock = "") {
  LIAISON_ASSIGN_OR_RETURN(
      QueryResult r, c.Exec(absl::StrCat("SELECT cid FROM collections WHERE id = $1", ToAbsl(lock)),
                            Params().Add(id)));
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(id), " not found"));
  }
  return r.Int(0, 0);
}

Result<bool> UserExists(Connection& c, std::string_view name) {
  LIAISON_ASSIGN_OR_RETURN(QueryResult r,
                           c.Exec("SELECT 1 FROM users WHERE name = $1", Params().Add(name)));
  return r.rows() > 0;
}

// The horizon of readers: the smallest date_added a writer has reserved and not yet committed
// (the largest bigint when none is open). Every page statement stops below it; a subquery, so
// it is read in the statement's own snapshot (docs/store.md, "date_added under concurrent
// writers").
constexpr char kHorizonSql[] = "(SELECT coalesce(min(lo), 9223372036854775807) FROM reservations)";
// Ends this backend's reservation (in the transaction that commits its objects, or after a
// rollback).
constexpr char kClearReservationSql[] =
    "UPDATE reservations SET lo = NULL, hi = NULL WHERE pid = pg_backend_pid()";
// Rows of backends that no longer exist: such a backend's object transaction can never commit
// (only its own backend could), so its range will never fill. A backend is identified by pid
// and start time (pids are reused); when the start time cannot be read (a session of another
// role, without pg_read_all_stats) the backend counts as alive. A row whose objects committed
// meanwhile was already cleared by that commit, and DELETE re-checks the row it deletes.
constexpr char kSweepReservationsSql[] =
    "DELETE FROM reservations r WHERE NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(r.pid) a "
    "WHERE a.backend_start IS NULL OR a.backend_start = r.started)";

// Takes the high-water mark's row lock: from here to COMMIT no other transaction takes
// date_added values (all nodes). Returns the last date_added issued.
Result<int64_t> LockObjectWrites(Connection& c) {
  LIAISON_ASSIGN_OR_RETURN(
      QueryResult r, c.Exec("SELECT value FROM meta WHERE key = 'last_date_added' FOR UPDATE"));
  if (r.rows() == 0) return absl::DataLossError("postgres store: meta.last_date_added is missing");
  return r.Int(0, 0);
}

Result<std::vector<Row>> LoadVersions(Connection& c, int64_t cid, std::string_view id) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kRowColumns, " FROM objects WHERE id = $2 AND cid + 0 = $1");
  LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(kSql, Params().Add(cid).Add(id)));
  std::vector<Row> rows;
  rows.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) rows.push_back(ReadRow(r, i));
  return rows;
}

// New flag values for stored rows ($1 keys; $2, $3, $4 is_first, is_last, spec_latest), and the
// change counter of the cache of page keys (migration 7, page_keys.h) bumped with them.
constexpr char kUpdateFlagsSql[] =
    "WITH changed AS (UPDATE objects AS o SET is_first = u.f, is_last = u.l, spec_latest = u.s "
    "FROM unnest($1::bigint[], $2::boolean[], $3::boolean[], $4::boolean[]) AS u(d, f, l, s) "
    "WHERE o.date_added = u.d) "
    "UPDATE meta SET value = value + 1 WHERE key = 'object_changes'";

// Writes new flag values for the given rows in one statement.
Status UpdateFlags(Connection& c, const std::vector<int64_t>& keys,
                   const std::vector<Flags>& flags) {
  if (keys.empty()) return absl::OkStatus();
  std::vector<bool> first, last, spec;
  for (const Flags& f : flags) {
    first.push_back(f.is_first);
    last.push_back(f.is_last);
    spec.push_back(f.spec_latest);
  }
  return StatusOf(
      c.Exec(kUpdateFlagsSql,
             Params().AddIntArray(keys).AddBoolArray(first).AddBoolArray(last).AddBoolArray(spec)));
}

// Rewrites the flags of the versions of one id whose flags changed.
Status RefreshFlags(Connection& c, const std::vector<Row>& versions) {
  const std::vector<Flags> flags = ComputeFlags(versions);
  std::vector<int64_t> keys;
  std::vector<Flags> changed;
  for (size_t i = 0; i < versions.size(); ++i) {
    const Row& r = versions[i];
    if (flags[i] == Flags{r.is_first, r.is_last, r.spec_latest}) continue;
    keys.push_back(r.date_added);
    changed.push_back(flags[i]);
  }
  return UpdateFlags(c, keys, changed);
}

constexpr char kWriteStatusSql[] =
    "INSERT INTO statuses(id, api_root, request_timestamp, body) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (id) DO UPDATE SET api_root = EXCLUDED.api_root, "
    "request_timestamp = EXCLUDED.request_timestamp, body = EXCLUDED.body";

Params StatusParams(const StatusResource& status) {
  Params p;
  p.Add(status.id)
      .Add(status.api_root)
      .Add(TimestampText(status.request_timestamp))
      .Add(StatusBody(status));
  return p;
}

// Counts object deletions in meta('object_deletions') for ObjectsStamp (a deletion, unlike an
// Add, leaves the collection's max(date_added) where it was), and bumps the change counter of the
// cache of page keys (page_keys.h). Runs under the high-water mark's lock, like every object
// write.
Status CountDeletion(Connection& c) {
  return StatusOf(c.Exec(
      "UPDATE meta SET value = value + 1 WHERE key IN ('object_deletions', 'object_changes')"));
}

Status WriteStatus(Connection& c, const StatusResource& status) {
  return StatusOf(c.Exec(kWriteStatusSql, StatusParams(status)));
}

// Multi-row INSERT from arrays: one prepared statement whatever the batch size.
constexpr char kInsertSql[] =
    "INSERT INTO objects(date_added, cid, id, version, type, spec_version, is_first, is_last, "
    "spec_latest, json) SELECT u.d, $1, u.i, u.v, u.t, u.s, u.f, u.l, u.sl, u.j FROM "
    "unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], "
    "$8::boolean[], $9::boolean[], $10::text[]) AS u(d, i, v, t, s, f, l, sl, j)";

constexpr const char* kCollectionColumns = "id, api_root, title, description, alias, media_types";

Collection ReadCollection(const QueryResult& r, int i) {
  Collection c;
  c.id = std::string(r.Text(i, 0));
  c.api_root = std::string(r.Text(i, 1));
  c.title = std::string(r.Text(i, 2));
  c.description = std::string(r.Text(i, 3));
  c.alias = std::string(r.Text(i, 4));
  c.media_types = SplitLines(r.Text(i, 5));
  return c;
}

Status CheckUser(const User& user) {
  if (user.name.empty()) return absl::InvalidArgumentError("user: empty name");
  for (const std::string& g : user.groups) {
    if (g.empty() || g.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError("user: a group name is empty or has a line break");
    }
  }
  return absl::OkStatus();
}

User ReadUser(const QueryResult& r, int i) {
  User u;
  u.name = std::string(r.Text(i, 0));
  u.password_hash = std::string(r.Text(i, 1));
  u.is_admin = r.Bool(i, 2);
  u.groups = SplitLines(r.Text(i, 3));
  return u;
}

constexpr const char* kTokenColumns = "token_hash, user_name, description, created, expires";

Result<ApiToken> ReadToken(const QueryResult& r, int i) {
  ApiToken t;
  t.token_hash = std::string(r.Text(i, 0));
  t.user = std::string(r.Text(i, 1));
  t.description = std::string(r.Text(i, 2));
  LIAISON_ASSIGN_OR_RETURN(t.created, ParseStoredTimestamp(r.Text(i, 3)));
  if (!r.IsNull(i, 4)) {
    LIAISON_ASSIGN_OR_RETURN(Timestamp expires, ParseStoredTimestamp(r.Text(i, 4)));
    t.expires = expires;
  }
  return t;
}

// Write transactions plan their statements for the actual parameters every time. With the
// default, PostgreSQL switches a prepared statement to a generic plan after five executions and
// keeps it for the connection's life: a plan made while `objects` was nearly empty (a fresh
// database) scans the table, and ingest into a growing collection turned quadratic (300 Adds of
// 100 objects: 19.5 s on a fresh database against 3.6 s on a used one; 4.6 s with this). Reads
// keep the plan cache: forcing custom plans there made the one-statement page (collection in a
// subquery) pick a scan and sort (106 GET/s instead of 1,240).
constexpr const char* kBeginWrite = "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan";

// Rows per INSERT statement and JSON bytes per statement: bounds the memory of one round trip.
constexpr size_t kInsertRows = 500;
constexpr size_t kInsertBytes = size_t{8} << 20;

// The columns of one multi-row insert of object versions, sent as binary arrays; filled version
// by version until Full (bounded rows and bytes per statement).
struct InsertColumns {
  std::vector<int64_t> keys;  // date_added, or an ordinal the statement turns into one
  std::vector<std::string_view> ids, types, jsons;
  std::vector<std::string> vkeys, specs;
  std::vector<bool> first, last, spec_latest;
  size_t bytes = 0;

  bool Full() const {
    return keys.size() >= kInsertRows || (!keys.empty() && bytes >= kInsertBytes);
  }
  void Add(int64_t key, const stix::Object& o, const Flags& flags) {
    Add(key, o, flags, VersionKey(o.version()));
  }
  // With the version key already made (VersionKey(o.version())).
  void Add(int64_t key, const stix::Object& o, const Flags& flags, std::string version_key) {
    keys.push_back(key);
    ids.push_back(o.id);
    vkeys.push_back(std::move(version_key));
    types.push_back(o.type);
    specs.push_back(EffectiveSpecVersion(o));
    first.push_back(flags.is_first);
    last.push_back(flags.is_last);
    spec_latest.push_back(flags.spec_latest);
    jsons.push_back(o.json);
    bytes += o.json.size();
  }
  // keys, ids, version keys, types, spec versions, the three flags and the texts, in that order.
  Params& AppendTo(Params& p) const {
    return p.AddBinaryIntArray(keys)
        .AddBinaryTextArray(ids)
        .AddBinaryTextArray(vkeys)
        .AddBinaryTextArray(types)
        .AddBinaryTextArray(specs)
        .AddBinaryBoolArray(first)
        .AddBinaryBoolArray(last)
        .AddBinaryBoolArray(spec_latest)
        .AddBinaryTextArray(jsons);
  }
};
// Attempts of one Add on the one-by-one path when a unique key is violated (see CommitGroup).
constexpr int kUniqueRetries = 3;
// Ids per lookup of existing versions.
constexpr size_t kLookupIds = 1000;
// Objects per group-committed transaction (a single larger Add still goes alone): bounds the
// transaction's size and how long it holds the lock that every node's writers wait for.
constexpr size_t kGroupObjects = 10'000;

}  // namespace

// ---------------------------------------------------------------------------------------------

class PostgresStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const PostgresOptions& options);

  using Store::Add;

  size_t max_page_size() const override { return options_.max_page_size; }

  Status CreateCollection(const Collection& collection) override;
  Status UpdateCollection(const Collection& collection) override;
  Result<Collection> GetCollection(std::string_view id) override;
  Result<std::vector<Collection>> ListCollections() override;
  Status DeleteCollection(std::string_view id) override;

  Result<AddResult> Add(std::string_view collection, std::span<const stix::Object> objects,
                        const AddOptions& options) override;
  Result<Page> Query(std::string_view collection, const Filter& filter) override {
    return QueryImpl(collection, filter, /*with_json=*/true);
  }
  Result<Page> QueryManifest(std::string_view collection, const Filter& filter) override {
    return QueryImpl(collection, filter, /*with_json=*/false);
  }
  Result<Page> QueryEach(std::string_view collection, const Filter& filter,
                         const std::function<void(std::string_view json)>& each) override {
    return QueryImpl(collection, filter, /*with_json=*/true, &each);
  }
  Result<size_t> DeleteObject(std::string_view collection, std::string_view object_id,
                              const DeleteFilter& filter) override;

  Status PutStatus(const StatusResource& status) override;
  Result<StatusResource> GetStatus(std::string_view id) override;

  Status CreateUser(const User& user) override;
  Status UpdateUser(const User& user) override;
  Result<User> GetUser(std::string_view name) override;
  Result<std::vector<User>> ListUsers() override;
  Status DeleteUser(std::string_view name) override;

  Status AddToken(const ApiToken& token) override;
  Result<ApiToken> FindToken(std::string_view token_hash) override;
  Result<std::vector<ApiToken>> ListTokens(std::string_view user) override;
  Status DeleteToken(std::string_view token_hash) override;

  Status SetPermission(std::string_view collection, const Principal& principal,
                       Permission permission) override;
  Result<std::vector<std::pair<Principal, Permission>>> ListPermissions(
      std::string_view collection) override;

  Result<std::vector<AuditRecord>> AppendAudit(std::vector<AuditRecord> entries,
                                               const AuditChainFn& chain) override;
  Result<std::vector<AuditRecord>> ReadAudit(const AuditQuery& query) override;

  Result<UseCount> AdmitUse(std::string_view key, Timestamp now, std::chrono::microseconds window,
                            int64_t max_uses, std::chrono::microseconds min_gap) override;
  Result<std::optional<std::string>> GetSyncState(std::string_view key) override;
  using Store::PutSyncState;
  Status PutSyncState(std::string_view key, std::string_view value,
                      const std::optional<ReceivedRange>& range) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListSyncState(std::string_view prefix,
                                                                         size_t limit) override;
  Status AddReceivedRange(std::string_view collection, std::string_view peer, Timestamp first,
                          Timestamp last) override;
  Result<std::vector<std::pair<Timestamp, Timestamp>>> ReceivedRanges(std::string_view collection,
                                                                      std::string_view peer,
                                                                      Timestamp from,
                                                                      Timestamp to) override;

  Result<std::string> ObjectsStamp(std::string_view collection) override;

 private:
  explicit PostgresStore(const PostgresOptions& options)
      : options_(options),
        session_settings_(options.idle_in_transaction_timeout.count() > 0
                              ? StrCat("SET idle_in_transaction_session_timeout = ",
                                       options.idle_in_transaction_timeout.count())
                              : std::string()),
        texts_(options.text_cache_bytes),
        page_keys_(options.text_cache_bytes / 8),
        read_batch_(kReadLeaders),
        add_group_(static_cast<int>(std::max<size_t>(options.object_writers, 1))) {}

 public:
  ~PostgresStore() override {
    {
      absl::MutexLock lock(&sweep_mu_);
      stopping_ = true;
    }
    if (sweeper_.joinable()) sweeper_.join();
  }

 private:
  // Deletes the reservations of backends that are gone (see kSweepReservationsSql); the sweeper
  // thread runs it every options_.reservation_sweep until the store is destroyed.
  Status SweepReservations();
  void SweepLoop();

  // A pooled connection; returned to the pool (or closed when broken) when destroyed.
  class Lease {
   public:
    Lease(PostgresStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease() {
      if (conn_) store_->Release(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }

   private:
    PostgresStore* store_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> Acquire();
  void Release(std::unique_ptr<Connection> conn);

  // fn(Connection&) in a read-only REPEATABLE READ transaction: one snapshot for every
  // statement of the call (a page and the sibling versions it looks up agree).
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));
  // fn(Connection&) for a read of exactly ONE statement, outside any explicit transaction: a
  // single statement sees one snapshot anyway, and this saves the BEGIN round trip on the
  // hottest reads (the user and collection lookups of every TAXII request).
  template <typename Fn>
  auto ReadOne(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));
  // fn(Connection&) in a READ COMMITTED transaction; commits when fn succeeds.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));

  Timestamp Now() const { return options_.clock ? options_.clock() : Timestamp::Now(); }

  // One caller of Add waiting for its group commit.
  struct PendingAdd {
    std::string_view collection;
    std::span<const stix::Object> objects;
    const AddOptions* options;
    std::optional<Result<AddResult>> result;  // set by the group's commit
    bool done = false;                        // internal::GroupCommit
  };
  // Commits `group` in one transaction and sets each member's result.
  void CommitGroup(const std::vector<PendingAdd*>& group);
  // The fast way to commit a group: two round trips in all (see the definition). Returns true
  // when every member's result is set; false when a statement failed before COMMIT was sent
  // (the transaction is rolled back and the caller commits the group one Add at a time, which
  // tells the failing Add apart).
  bool CommitGroupPipelined(Connection& c, const std::vector<PendingAdd*>& group);
  // The fastest way, for the common case of objects whose ids the collection does not hold yet:
  // ONE round trip, with no client round trip while the lock is held (see the definition).
  // Returns false (rolled back) when its assumption fails; the caller then runs the above.
  bool CommitGroupOneTrip(Connection& c, const std::vector<PendingAdd*>& group);
  // One caller of AppendAudit waiting for its group commit.
  struct PendingAudit {
    std::vector<AuditRecord>* entries;
    const AuditChainFn* chain;
    std::optional<Status> result;  // set by the group's commit
    bool done = false;             // internal::GroupCommit
  };
  // The statements that append the entries of `group` onto the chain head this node committed
  // last (audit_head_), to run in a pipeline without a round trip in between: the chain lock,
  // a guard that fails the transaction (division by zero) unless the head is still that one,
  // the INSERTs. Chains the entries (seq, prev_hash, hash) and sets `head` to the new head.
  // nullopt when this node knows no head (first append, or another node may have appended
  // since a failure) or when an entry holds text PostgreSQL cannot (the two-trip path then
  // tells the failing member apart).
  struct AuditHead {
    int64_t seq = 0;
    std::string hash;
  };
  std::optional<std::vector<Connection::Step>> AuditOneTripSteps(
      const std::vector<PendingAudit*>& group, AuditHead& head);
  // Commits `group` (audit appends alone): one trip when the head is known (above), else the
  // two-trip CommitAuditGroup, members one by one when the group fails. Sets every result.
  void CommitAudits(Connection& c, const std::vector<PendingAudit*>& group);
  // The multi-row INSERTs of chained entries (bounded rows and bytes each).
  static std::vector<Connection::Step> AuditInsertSteps(const std::vector<const AuditRecord*>& all);
  void SetAuditHead(std::optional<AuditHead> head) {
    std::lock_guard<std::mutex> lock(audit_head_mu_);
    audit_head_ = std::move(head);
  }
  // Appends the entries of every member of `group` in ONE transaction (see AppendAudit). Sets
  // `retry` when nothing was committed and the members may be tried again one by one (a
  // statement before COMMIT failed); not when the outcome of COMMIT is unknown.
  Status CommitAuditGroup(Connection& c, const std::vector<PendingAudit*>& group, bool& retry);
  // Status expiry (PostgresOptions::status_ttl).
  bool StatusExpired(Timestamp request_timestamp) const;
  // The pruning statement to run in a write transaction, when one is due (at most once a
  // minute per store).
  std::optional<Connection::Step> PruneStatusesStep();

  Result<AddResult> AddInTransaction(Connection& c, std::string_view collection,
                                     std::span<const stix::Object> objects,
                                     const AddOptions& options);
  // With `each`, the page's texts go to it in order and the page returned has no records
  // (QueryEach).
  Result<Page> QueryImpl(std::string_view collection, const Filter& filter, bool with_json,
                         const std::function<void(std::string_view)>* each = nullptr);
  Result<bool> Selected(Connection& c, int64_t cid, const Row& row, const Filter& filter,
                        const VersionPlan& plan);

  // --- The cache of users, tokens, collections and permissions (PostgresOptions::cache_ttl).
  template <typename V>
  struct Cached {
    V value;
    std::chrono::steady_clock::time_point expires;
  };
  template <typename V>
  using CacheMap = absl::flat_hash_map<std::string, Cached<V>>;
  // The cached value of `key` while it is fresh, else fetch() (cached when it succeeds).
  template <typename V, typename Fetch>
  Result<V> ThroughCache(CacheMap<V>& map, std::string_view key, Fetch&& fetch);
  // Forgets everything cached; called after every write to users, tokens, collections or
  // permissions, whether it succeeded or not.
  void InvalidateCache();
  // Write(fn), then InvalidateCache().
  template <typename Fn>
  Status WriteAndInvalidate(Fn&& fn);

  // A streamed page whose texts come from the cache of texts (texts_): the keys statement, then
  // one statement for the texts this node has not cached.
  enum class CacheOutcome {
    kServed,     // the page went to `each` and is in `page`
    kRowGone,    // a row was deleted between the keys and its text: nothing went to `each`
    kUndecided,  // the keys alone do not decide the page: nothing went to `each`
  };
  // One caller of BatchedRead waiting for its batch.
  struct PendingRead {
    const std::string* sql;
    const Params* params;
    std::optional<Result<QueryResult>> result;  // set by the batch's leader
    bool done = false;                          // internal::GroupCommit
  };
  // Runs ONE read-only statement outside any explicit transaction (it sees one snapshot of its
  // own), binary results. Reads that queue up on the node while another batch is out are sent
  // by the next leader in one pipeline on one connection: one send and one wake-up of a
  // backend, and of the node, for the whole batch instead of one pair per read (see the
  // definition for why that matters).
  Result<QueryResult> BatchedRead(const std::string& sql, const Params& params);
  void RunReadBatch(const std::vector<PendingRead*>& batch);
  // Reads per batch: bounds how long the first member waits for the last one's answer.
  static constexpr size_t kReadBatch = 16;
  // Batches out at once, each on its own connection. With one, the node and a second core sat
  // idle while the one backend worked through a batch (15-17 % of the machine idle under the
  // GET benchmark); with two, 5-8 %; with four, slightly less again but the backends' CPU per
  // GET grew with the smaller batches (docs/store.md, session 10).
  static constexpr int kReadLeaders = 2;

  using ConnectionFn = std::function<Result<Connection*>()>;
  // `page_key` names the keys statement and its parameters in page_keys_.
  Result<CacheOutcome> StreamFromCache(const ConnectionFn& conn, const std::string& keys_sql,
                                       const Params& params, const std::string& page_key,
                                       size_t limit, const VersionPlan& plan,
                                       const std::function<void(std::string_view)>& each,
                                       Page& page);

  // The share of a streamed page's texts found in texts_ (per mille), averaged over recent pages
  // (each page moves it 1/8 of the way to its own share). Pages take the keys-then-texts path
  // while it is at least kKeysPathPermille; below, the one-statement path with the texts, where
  // one page in kSamplePages is looked up in the cache (measuring what would have been found)
  // and cached. A poller walking old pages once (every page new) then costs about what it cost
  // without the cache (docs/store.md, session 7: on the keys path such a walk cost 1.5-2x the
  // CPU; sampling every page into the cache, +500 us of node CPU a page; one in 8, +80-100).
  static constexpr int kKeysPathPermille = 500;
  static constexpr uint64_t kSamplePages = 32;
  void RecordHits(size_t hits, size_t texts) {
    if (texts == 0) return;
    const int share = static_cast<int>(hits * 1000 / texts);
    const int old = hit_permille_.load(std::memory_order_relaxed);
    // Racy read-modify-write on purpose: a lost update only delays the average by one page.
    hit_permille_.store(old + (share - old) / 8, std::memory_order_relaxed);
  }

  const PostgresOptions options_;
  const std::string session_settings_;  // SET statements of every connection, after the defaults
  TextCache texts_;                     // see PostgresOptions::text_cache_bytes
  // The keys of full pages (page_keys.h), an eighth of text_cache_bytes.
  PageKeysCache page_keys_;
  internal::GroupCommit<PendingRead> read_batch_;
  std::atomic<int> hit_permille_{1000};
  std::atomic<uint64_t> sample_tick_{0};

  absl::Mutex cache_mu_;
  // Bumped by InvalidateCache: a fetch that began before an invalidation does not store its
  // (possibly older) answer after it.
  uint64_t cache_generation_ ABSL_GUARDED_BY(cache_mu_) = 0;
  CacheMap<User> users_ ABSL_GUARDED_BY(cache_mu_);
  CacheMap<ApiToken> tokens_ ABSL_GUARDED_BY(cache_mu_);
  CacheMap<Collection> collections_ ABSL_GUARDED_BY(cache_mu_);
  CacheMap<std::vector<std::pair<Principal, Permission>>> grants_ ABSL_GUARDED_BY(cache_mu_);

  internal::GroupCommit<PendingAdd> add_group_;      // see Add
  internal::GroupCommit<PendingAudit> audit_group_;  // see AppendAudit
  // The audit chain's head as this node last committed it (seq, hash), or nullopt when unknown:
  // lets an append travel in one trip, its guard checking the head under the chain lock.
  std::mutex audit_head_mu_;
  std::optional<AuditHead> audit_head_ ABSL_GUARDED_BY(audit_head_mu_);

  std::atomic<int64_t> last_prune_micros_{0};

  absl::Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(pool_mu_);
  size_t open_ ABSL_GUARDED_BY(pool_mu_) = 0;
};

Result<PostgresStore::Lease> PostgresStore::Acquire() {
  {
    absl::MutexLock lock(&pool_mu_);
    struct Free {
      PostgresStore* s;
      static bool Eval(Free* f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !f->s->idle_.empty() || f->s->open_ < f->s->options_.max_connections;
      }
    } free{this};
    pool_mu_.Await(absl::Condition(&Free::Eval, &free));
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      // Collects a ROLLBACK sent when the connection was released (usually long done), and
      // drops a connection whose session the server ended while it sat here.
      if (conn->Usable()) return Lease(this, std::move(conn));
      --open_;
    }
    ++open_;
  }
  auto conn = Connection::Open(options_.conninfo, options_.schema, session_settings_);
  if (!conn.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_;
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void PostgresStore::Release(std::unique_ptr<Connection> conn) {
  const bool healthy = conn->Healthy();
  if (!healthy) conn.reset();  // closed outside the lock... and before it: libpq may block
  absl::MutexLock lock(&pool_mu_);
  if (healthy) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
}

template <typename Fn>
auto PostgresStore::Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  LIAISON_ASSIGN_OR_RETURN(Lease lease, Acquire());
  // Never committed: ~Transaction rolls back, which just releases the snapshot; without waiting
  // for the answer (the caller has its result; the next user of the connection collects it).
  LIAISON_ASSIGN_OR_RETURN(
      Transaction tx, Transaction::Begin(*lease, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                                         /*async_rollback=*/true));
  return fn(*lease);
}

template <typename Fn>
auto PostgresStore::ReadOne(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  LIAISON_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return fn(*lease);
}

template <typename Fn>
auto PostgresStore::Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  LIAISON_ASSIGN_OR_RETURN(Lease lease, Acquire());
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*lease, kBeginWrite));
  auto result = fn(*lease);
  if (!result.ok()) return result;  // ~Transaction rolls back
  if (Status s = tx.Commit(); !s.ok()) return s;
  return result;
}

// --- Cache ------------------------------------------------------------------------------------
//
// Why a cache, and why a TTL: every TAXII request reads its user (authentication) and its
// collection (and, for users who are not admins, the collection's grants) before the page, each
// a round trip to the database, where SQLite answers in-process. These rows change rarely and
// only through administrative writes. A write through this store drops the cache at once, so a
// node always sees its own changes; other nodes cannot tell this one, so their changes are seen
// once the entry expires. An entry's expiry is counted from BEFORE its fetch was sent, so an
// entry never outlives by more than cache_ttl the snapshot it was read in: a change committed
// at time t is honoured by every lookup that starts after t + cache_ttl, on every node.

template <typename V, typename Fetch>
Result<V> PostgresStore::ThroughCache(CacheMap<V>& map, std::string_view key, Fetch&& fetch) {
  if (options_.cache_ttl.count() <= 0) return fetch();
  const auto now = std::chrono::steady_clock::now();
  uint64_t generation;
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = map.find(ToAbsl(key));
    if (it != map.end() && it->second.expires > now) return it->second.value;
    generation = cache_generation_;
  }
  Result<V> fetched = fetch();
  if (fetched.ok()) {
    absl::MutexLock lock(&cache_mu_);
    if (generation == cache_generation_) {
      // Bounded memory: a node serves a bounded set of users and collections; past the bound
      // (e.g. a client cycling through random user names with valid tokens) start over.
      constexpr size_t kMaxEntries = 4096;
      if (map.size() >= kMaxEntries) map.clear();
      map.insert_or_assign(std::string(key), Cached<V>{*fetched, now + options_.cache_ttl});
    }
  }
  return fetched;
}

void PostgresStore::InvalidateCache() {
  absl::MutexLock lock(&cache_mu_);
  ++cache_generation_;
  users_.clear();
  tokens_.clear();
  collections_.clear();
  grants_.clear();
}

template <typename Fn>
Status PostgresStore::WriteAndInvalidate(Fn&& fn) {
  Status s = Write(std::forward<Fn>(fn));
  InvalidateCache();
  return s;
}

Result<std::unique_ptr<Store>> PostgresStore::Open(const PostgresOptions& options) {
  if (options.conninfo.empty()) {
    return absl::InvalidArgumentError("postgres store: empty connection string");
  }
  if (options.max_page_size == 0) {
    return absl::InvalidArgumentError("postgres store: max_page_size must be positive");
  }
  if (options.max_connections == 0) {
    return absl::InvalidArgumentError("postgres store: max_connections must be positive");
  }
  LIAISON_RETURN_IF_ERROR(postgres_internal::CheckTransportSecurity(options.conninfo));
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  {
    LIAISON_ASSIGN_OR_RETURN(Lease lease, store->Acquire());
    LIAISON_RETURN_IF_ERROR(Migrate(*lease, options.schema));
  }
  // Reservations a crashed node left behind are swept at once, then every reservation_sweep.
  LIAISON_RETURN_IF_ERROR(store->SweepReservations());
  if (options.reservation_sweep.count() > 0) {
    store->sweeper_ = std::thread([s = store.get()] { s->SweepLoop(); });
  }
  return std::unique_ptr<Store>(std::move(store));
}

Status PostgresStore::SweepReservations() {
  LIAISON_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return StatusOf((*lease).Exec(kSweepReservationsSql));
}

void PostgresStore::SweepLoop() {
  absl::MutexLock lock(&sweep_mu_);
  while (!sweep_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                     absl::FromChrono(options_.reservation_sweep))) {
    sweep_mu_.Unlock();
    (void)SweepReservations();  // a failure is retried at the next tick
    sweep_mu_.Lock();
  }
}

// --- Collections --------------------------------------------------------------------------------

Status PostgresStore::CreateCollection(const Collection& collection) {
  if (collection.id.empty()) return absl::InvalidArgumentError("collection: empty id");
  return WriteAndInvalidate([&](Connection& c) -> Status {
    auto r = c.Exec(
        "INSERT INTO collections(id, api_root, title, description, alias, media_types) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        Params()
            .Add(collection.id)
            .Add(collection.api_root)
            .Add(collection.title)
            .Add(collection.description)
            .Add(collection.alias)
            .Add(JoinLines(collection.media_types)));
    if (absl::IsAlreadyExists(r.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("collection ", collection.id, " already exists"));
    }
    return r.status();
  });
}

Status PostgresStore::UpdateCollection(const Collection& collection) {
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r, c.Exec("UPDATE collections SET api_root = $2, title = $3, description = $4, "
                              "alias = $5, media_types = $6 WHERE id = $1",
                              Params()
                                  .Add(collection.id)
                                  .Add(collection.api_root)
                                  .Add(collection.title)
                                  .Add(collection.description)
                                  .Add(collection.alias)
                                  .Add(JoinLines(collection.media_types))));
    if (r.Affected() == 0) {
      return absl::NotFoundError(absl::StrCat("collection ", collection.id, " not found"));
    }
    return absl::OkStatus();
  });
}

Result<Collection> PostgresStore::GetCollection(std::string_view id) {
  return ThroughCache(collections_, id, [&] {
    return ReadOne([&](Connection& c) -> Result<Collection> {
      LIAISON_ASSIGN_OR_RETURN(
          QueryResult r,
          c.Exec(absl::StrCat("SELECT ", kCollectionColumns, " FROM collections WHERE id = $1"),
                 Params().Add(id)));
      if (r.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(id), " not found"));
      }
      return ReadCollection(r, 0);
    });
  });
}

Result<std::vector<Collection>> PostgresStore::ListCollections() {
  return ReadOne([&](Connection& c) -> Result<std::vector<Collection>> {
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(absl::StrCat("SELECT ", kCollectionColumns,
                                                                " FROM collections ORDER BY cid")));
    std::vector<Collection> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadCollection(r, i));
    return out;
  });
}

Status PostgresStore::DeleteCollection(std::string_view id) {
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_RETURN_IF_ERROR(StatusOf(LockObjectWrites(c)));
    // The collection's row lock waits for the Adds into it that are still committing (they hold
    // a key-share lock on it: the one-trip guard) and turns later ones away, so the DELETE below
    // sees every object the collection will ever hold.
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, id, " FOR UPDATE"));
    for (const char* sql :
         {"DELETE FROM objects WHERE cid = $1", "DELETE FROM permissions WHERE cid = $1",
          "DELETE FROM received_ranges WHERE cid = $1", "DELETE FROM collections WHERE cid = $1"}) {
      LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(sql, Params().Add(cid))));
    }
    return CountDeletion(c);
  });
}

// --- Objects ------------------------------------------------------------------------------------

Result<AddResult> PostgresStore::Add(std::string_view collection,
                                     std::span<const stix::Object> objects,
                                     const AddOptions& options) {
  if (options.status && options.status->id.empty()) {
    return absl::InvalidArgumentError("status: empty id");
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    LIAISON_RETURN_IF_ERROR(CheckObject(objects[i], i));
  }
  // Group commit (as in the SQLite store): Adds that queue up while another group is committing
  // are committed by the next leader in ONE transaction, each inside its own savepoint (a failing
  // Add is rolled back to its savepoint and the others stay), with one date_added reservation
  // (or one hold of the mark's lock) and one WAL flush. Each caller still returns only after the
  // commit is durable. Up to options_.object_writers groups commit at once, each on its own
  // connection: concurrent POSTs on one node share reservations and flushes instead of queueing
  // for them one by one, and while one group's backend inserts or flushes, another's can.
  PendingAdd me{collection, objects, &options};
  add_group_.Run(
      me, kGroupObjects, [](const PendingAdd& p) { return p.objects.size(); },
      [this](const std::vector<PendingAdd*>& group) { CommitGroup(group); });
  return *std::move(me.result);
}

void PostgresStore::CommitGroup(const std::vector<PendingAdd*>& group) {
  auto fail_all = [&](const Status& s) {
    for (PendingAdd* p : group) {
      if (!p->result || p->result->ok()) p->result = s;
    }
  };
  auto lease = Acquire();
  if (!lease.ok()) return fail_all(lease.status());
  Connection& c = **lease;
  size_t total = 0;
  for (const PendingAdd* p : group) total += p->objects.size();
  // Larger Adds (they go alone) take the one-by-one path, which builds one bounded INSERT at a
  // time instead of the whole batch's statements at once.
  if (!options_.naive_date_added_for_testing && !options_.before_commit_for_testing &&
      total <= kGroupObjects && CommitGroupOneTrip(c, group)) {
    return;
  }
  for (PendingAdd* p : group) p->result.reset();
  // The one-trip path closes a connection whose reservation it could not clear (EndReservation).
  if (!c.Healthy()) {
    return fail_all(absl::UnavailableError("postgres store: the connection was lost"));
  }
  if (!options_.naive_date_added_for_testing && total <= kGroupObjects &&
      CommitGroupPipelined(c, group)) {
    return;
  }
  for (PendingAdd* p : group) p->result.reset();
  auto tx = Transaction::Begin(c, kBeginWrite);
  if (!tx.ok()) return fail_all(tx.status());
  for (PendingAdd* p : group) {
    // A unique key can only be violated here by an Add of another writer that took the one-trip
    // path for the same new id (which holds no lock this path takes) and has committed since
    // this Add read the stored versions: the next attempt sees that version (a duplicate, or a
    // first version that is no longer first).
    for (int attempt = 0; attempt < kUniqueRetries; ++attempt) {
      if (Status s = c.ExecScript("SAVEPOINT add"); !s.ok()) return fail_all(s);
      p->result = AddInTransaction(c, p->collection, p->objects, *p->options);
      if (p->result->ok()) break;
      // Undoes this Add only (and leaves an aborted statement behind); the savepoint name is
      // reused, each SAVEPOINT shadowing the previous one.
      if (Status s = c.ExecScript("ROLLBACK TO SAVEPOINT add"); !s.ok()) return fail_all(s);
      if (!absl::IsAlreadyExists(p->result->status())) break;
    }
  }
  if (options_.before_commit_for_testing) options_.before_commit_for_testing();
  if (Status s = tx->Commit(); !s.ok()) fail_all(s);
}

// Clears this connection's reservation after its object transaction failed. When that fails
// too, the connection is closed: its backend exits and the sweeper deletes the row (a
// reservation left open would hold every reader's horizon below it).
void EndReservation(Connection& c) {
  if (!c.Healthy() || !c.ExecScript(kClearReservationSql).ok()) c.Close();
}

// One round trip for a whole group, on the assumption that no version of its ids is stored yet
// in their collections (new objects: the bulk of imports and POSTs). Then duplicates and flags
// follow from the group alone, and the client needs nothing from the server before writing:
//   the reservation, a transaction of its own (BEGIN; the high-water mark advanced by n under
//   its row lock, for this statement only, and the range recorded as this backend's open
//   reservation; COMMIT without waiting for the flush); then BEGIN; the status resources; a
//   guard per collection that fails the transaction (division by zero) unless the collection
//   exists (its row key-share locked against DeleteCollection) and holds none of the ids; the
//   INSERTs, whose date_added the server computes from the reservation; the reservation
//   cleared; COMMIT.
// No lock is held across the insert or the flush: other writers of this and every node insert
// at the same time, and readers stop below the open reservations (kHorizonSql). Two writers that
// both add the first version of one new id collide on objects_first (the later one fails here).
// When the guard fails (an id already stored, an unknown collection) or anything else does, the
// transaction is rolled back and the group goes the two-round-trip way. Objects without a version
// are left to that way too: their status entries name them by date_added, known only once the lock
// is held.
bool PostgresStore::CommitGroupOneTrip(Connection& c, const std::vector<PendingAdd*>& group) {
  using Step = Connection::Step;
  std::vector<std::string_view> collections;
  absl::flat_hash_map<std::string_view, size_t> collection_index;
  // The group's versions by (collection, id); Row::date_added holds the ordinal (1..n).
  absl::flat_hash_map<std::pair<size_t, std::string_view>, std::vector<Row>> rows;
  struct NewRow {
    size_t collection;
    const stix::Object* object;
    int64_t ordinal;
    std::string version;  // VersionKey(object->version())
  };
  std::vector<NewRow> inserts;
  std::vector<AddResult> results(group.size());
  std::vector<std::vector<int64_t>> ordinals(group.size());  // per object of each member
  int64_t n = 0;
  for (size_t g = 0; g < group.size(); ++g) {
    const PendingAdd& p = *group[g];
    auto [it, fresh] = collection_index.try_emplace(p.collection, collections.size());
    if (fresh) collections.push_back(p.collection);
    for (const stix::Object& object : p.objects) {
      if (!object.version()) return false;
      const std::string version = VersionKey(object.version());
      std::vector<Row>& versions = rows[{it->second, std::string_view(object.id)}];
      auto same = std::find_if(versions.begin(), versions.end(),
                               [&](const Row& r) { return r.version == version; });
      if (same != versions.end()) {
        results[g].outcomes.push_back({AddOutcome::Kind::kDuplicate, Timestamp()});
        ordinals[g].push_back(same->date_added);
        ++results[g].duplicates;
        continue;
      }
      Row row;
      row.date_added = ++n;
      row.id = object.id;
      row.version = version;
      row.spec_version = EffectiveSpecVersion(object);
      row.type = object.type;
      versions.push_back(std::move(row));
      inserts.push_back({it->second, &object, n, version});
      results[g].outcomes.push_back({AddOutcome::Kind::kAdded, Timestamp()});
      ordinals[g].push_back(n);
      ++results[g].added;
    }
  }
  if (n == 0) return false;
  absl::flat_hash_map<int64_t, Flags> flags_by_ordinal;
  for (const auto& [key, versions] : rows) {
    const std::vector<Flags> flags = ComputeFlags(versions);
    for (size_t i = 0; i < versions.size(); ++i)
      flags_by_ordinal[versions[i].date_added] = flags[i];
  }

  std::vector<Step> steps;
  steps.push_back({"BEGIN", Params()});
  // Generic plans here, where the other write paths force custom ones (kBeginWrite): a custom
  // plan substitutes the parameters as constants, and planning the INSERT then copied its
  // arrays (the JSON of the whole group) several times over; profiled at about a fifth of the
  // backend's CPU during ingest (GetCachedPlan, copyObjectImpl, memmove). The statements of
  // this path have one reasonable plan whatever the statistics: the mark and the collection by
  // their unique keys, the guard's ids through objects_by_id, the only index an id condition
  // can use (`cid + 0`; PlansDoNotDependOnStatistics checks the generic plans).
  steps.push_back({"SET LOCAL plan_cache_mode = force_generic_plan", Params()});
  // The status resources first, BEFORE the date_added lock: every object has a version here and
  // the outcomes are known, so nothing in them waits for the lock, and writing them (a body of
  // ~100 bytes per object, compressed and TOASTed) no longer lengthens the lock hold that every
  // object writer of every node queues for. Same transaction: a status that says success still
  // commits with its objects or not at all.
  bool any_status = false;
  for (size_t g = 0; g < group.size(); ++g) {
    const PendingAdd& p = *group[g];
    if (!p.options->status) continue;
    // date_added is not known yet; no object of this path lacks a version (see above).
    StatusResource status = AddStatus(*p.options->status, p.objects, results[g].outcomes);
    steps.push_back({kWriteStatusSql, StatusParams(status)});
    results[g].status = std::move(status);
    any_status = true;
  }
  if (any_status) {
    if (std::optional<Step> prune = PruneStatusesStep()) steps.push_back(*std::move(prune));
  }
  // The reservation, a transaction of its own ahead of the objects' (the pipeline runs it
  // first): the mark's row lock is held only for this one statement, and the commit does not
  // wait for the WAL flush (the objects' synchronous commit flushes it anyway, and a reservation
  // lost in a crash reserved nothing anyone saw filled).
  const std::vector<Step> reserve = {
      {"BEGIN", Params()},
      {"SET LOCAL synchronous_commit = off", Params()},
      {"WITH m AS (UPDATE meta SET value = greatest($1::bigint, value + 1) + $2::bigint - 1 "
       "WHERE key = 'last_date_added' RETURNING value) INSERT INTO reservations(pid, started, "
       "lo, hi) SELECT pg_backend_pid(), (SELECT backend_start FROM "
       "pg_stat_get_activity(pg_backend_pid())), value - $2::bigint + 1, value FROM m ON "
       "CONFLICT (pid) DO UPDATE SET started = excluded.started, lo = excluded.lo, hi = "
       "excluded.hi RETURNING hi",
       Params().Add(ToUnixMicros(Now())).Add(n)},
      {"COMMIT", Params()}};
  steps.insert(steps.begin(), reserve.begin(), reserve.end());
  const size_t mark_step = 2;
  for (size_t ci = 0; ci < collections.size(); ++ci) {
    std::vector<std::string_view> ids;
    absl::flat_hash_set<std::string_view> seen;
    for (const NewRow& r : inserts) {
      if (r.collection == ci && seen.insert(r.object->id).second) ids.push_back(r.object->id);
    }
    for (size_t start = 0; start < ids.size(); start += kLookupIds) {
      std::vector<std::string_view> chunk(ids.begin() + start,
                                          ids.begin() + std::min(ids.size(), start + kLookupIds));
      // 1 / false raises division_by_zero at run time (the subqueries keep it from being folded
      // at plan time). The INSERTs take their date_added from this backend's reservation: were
      // its row gone, they would insert nothing, so its presence is checked here too.
      steps.push_back(
          {"SELECT 1 / (EXISTS (SELECT 1 FROM collections WHERE id = $1 FOR KEY SHARE) AND EXISTS "
           "(SELECT 1 FROM reservations WHERE pid = pg_backend_pid() AND hi IS NOT NULL) AND NOT "
           "EXISTS "
           "(SELECT 1 FROM objects WHERE id = ANY($2) AND cid + 0 = (SELECT cid FROM collections "
           "WHERE id = $1)))::int",
           Params().Add(collections[ci]).AddTextArray(chunk)});
    }
  }
  for (size_t pos = 0; pos < inserts.size();) {
    const size_t ci = inserts[pos].collection;
    InsertColumns cols;
    while (pos < inserts.size() && inserts[pos].collection == ci && !cols.Full()) {
      cols.Add(inserts[pos].ordinal, *inserts[pos].object, flags_by_ordinal[inserts[pos].ordinal],
               std::move(inserts[pos].version));
      ++pos;
    }
    Params params;
    params.Add(collections[ci]).Add(n);
    cols.AppendTo(params);
    steps.push_back(
        {"INSERT INTO objects(date_added, cid, id, version, type, spec_version, is_first, "
         "is_last, spec_latest, json) SELECT m.value - $2::bigint + u.o, c.cid, u.i, u.v, u.t, "
         "u.s, u.f, u.l, u.sl, u.j FROM (SELECT hi AS value FROM reservations WHERE pid = "
         "pg_backend_pid()) AS m, (SELECT cid FROM collections WHERE id = $1) AS c, "
         "unnest($3::bigint[], "
         "$4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::boolean[], "
         "$10::boolean[], $11::text[]) AS u(o, i, v, t, s, f, l, sl, j)",
         std::move(params)});
  }
  // The reservation ends with the commit that fills it (readers' horizon moves past it).
  steps.push_back({kClearReservationSql, Params()});
  const size_t commit_step = steps.size();
  steps.push_back({"COMMIT", Params()});
  size_t failed = 0;
  auto done = c.Pipeline(steps, &failed);
  if (!done.ok() && failed < commit_step) {
    (void)c.ExecScript("ROLLBACK");
    EndReservation(c);
    return false;
  }
  if (!done.ok() || (*done)[mark_step].rows() != 1) {
    // COMMIT failed or its outcome is unknown (connection lost): tell every caller.
    if (!done.ok()) EndReservation(c);
    const Status s = done.ok() ? absl::DataLossError(
                                     "postgres store: meta.last_date_added is "
                                     "missing")
                               : done.status();
    for (PendingAdd* p : group) p->result = s;
    return true;
  }
  const int64_t first = (*done)[mark_step].Int(0, 0) - n + 1;
  for (size_t g = 0; g < group.size(); ++g) {
    for (size_t i = 0; i < ordinals[g].size(); ++i) {
      results[g].outcomes[i].date_added = FromUnixMicros(first + ordinals[g][i] - 1);
    }
    group[g]->result = std::move(results[g]);
  }
  return true;
}

// Two round trips for a whole group, whatever its size (the lock on the high-water mark is held
// across both, so every round trip here is one that all writers of all nodes wait for; under CPU
// contention each costs a scheduling delay, and the one-statement-at-a-time path spent most of
// its lock hold waiting on them):
//   1. BEGIN, the lock, each collection's key and the stored versions of the ids in the group,
//      pipelined: each statement still runs after the previous one and, under READ COMMITTED,
//      with a snapshot taken after the lock was granted, so it sees every earlier writer.
//   2. the flag updates, the multi-row INSERTs, the new high-water mark, the status resources
//      and COMMIT, pipelined.
// Versions added by an earlier member of the group are seen by the later ones here in memory,
// as the one-by-one path would see them in the database.
bool PostgresStore::CommitGroupPipelined(Connection& c, const std::vector<PendingAdd*>& group) {
  using Step = Connection::Step;
  static const std::string kLookup = absl::StrCat(
      "SELECT ", kRowColumns,
      " FROM objects WHERE id = ANY($2) AND cid + 0 = (SELECT cid FROM collections WHERE id = $1)");

  // --- Round trip 1 ---
  std::vector<Step> steps;
  steps.push_back({"BEGIN", Params()});
  steps.push_back({"SET LOCAL plan_cache_mode = force_custom_plan", Params()});
  steps.push_back({"SELECT value FROM meta WHERE key = 'last_date_added' FOR UPDATE", Params()});
  // Collections in first-use order, with the step of their key lookup.
  std::vector<std::string_view> collections;
  absl::flat_hash_map<std::string_view, size_t> key_step;
  for (const PendingAdd* p : group) {
    if (key_step.contains(p->collection)) continue;
    key_step[p->collection] = steps.size();
    collections.push_back(p->collection);
    steps.push_back({"SELECT cid FROM collections WHERE id = $1", Params().Add(p->collection)});
  }
  const size_t first_lookup = steps.size();
  for (std::string_view collection : collections) {
    std::vector<std::string_view> ids;
    absl::flat_hash_set<std::string_view> seen;
    for (const PendingAdd* p : group) {
      if (p->collection != collection) continue;
      for (const stix::Object& o : p->objects) {
        if (seen.insert(o.id).second) ids.push_back(o.id);
      }
    }
    for (size_t start = 0; start < ids.size(); start += kLookupIds) {
      std::vector<std::string_view> chunk(ids.begin() + start,
                                          ids.begin() + std::min(ids.size(), start + kLookupIds));
      steps.push_back({kLookup, Params().Add(collection).AddTextArray(chunk)});
    }
  }
  // Ends an aborted transaction (on a broken connection this fails too, and so will the
  // one-by-one path, which then reports the error).
  auto rollback = [&] { (void)c.ExecScript("ROLLBACK"); };
  auto first = c.Pipeline(steps);
  if (!first.ok()) {
    rollback();
    return false;
  }
  const std::vector<QueryResult>& r1 = *first;
  if (r1[2].rows() == 0) {
    rollback();
    return false;  // the one-by-one path reports the missing row
  }
  const int64_t last = r1[2].Int(0, 0);
  const int64_t now = ToUnixMicros(Now());
  absl::flat_hash_map<std::string_view, int64_t> cids;
  for (std::string_view collection : collections) {
    const QueryResult& k = r1[key_step[collection]];
    if (k.rows() > 0) cids[collection] = k.Int(0, 0);
  }
  // Stored versions by (cid, id).
  absl::flat_hash_map<std::pair<int64_t, std::string>, std::vector<Row>> versions;
  {
    size_t step = first_lookup;
    for (std::string_view collection : collections) {
      size_t ids = 0;
      absl::flat_hash_set<std::string_view> seen;
      for (const PendingAdd* p : group) {
        if (p->collection != collection) continue;
        for (const stix::Object& o : p->objects) ids += seen.insert(o.id).second ? 1 : 0;
      }
      const size_t chunks = (ids + kLookupIds - 1) / kLookupIds;
      auto cid = cids.find(collection);
      for (size_t i = 0; i < chunks; ++i, ++step) {
        if (cid == cids.end()) continue;  // unknown collection: no rows
        const QueryResult& r = r1[step];
        for (int row = 0; row < r.rows(); ++row) {
          Row v = ReadRow(r, row);
          versions[{cid->second, v.id}].push_back(std::move(v));
        }
      }
    }
  }

  // --- Decide, in group order ---
  int64_t next = std::max(now, last + 1);
  struct NewRow {
    int64_t cid;
    const stix::Object* object;
    int64_t key;
  };
  std::vector<NewRow> inserts;
  std::vector<std::pair<int64_t, std::string>> touched;  // first-touch order
  std::vector<std::optional<Result<AddResult>>> results(group.size());
  steps.clear();
  for (size_t g = 0; g < group.size(); ++g) {
    const PendingAdd& p = *group[g];
    auto cid = cids.find(p.collection);
    if (cid == cids.end()) {
      results[g] =
          absl::NotFoundError(absl::StrCat("collection ", ToAbsl(p.collection), " not found"));
      continue;
    }
    AddResult result;
    result.outcomes.reserve(p.objects.size());
    for (const stix::Object& object : p.objects) {
      const std::string version = VersionKey(object.version());
      std::pair<int64_t, std::string> key{cid->second, object.id};
      std::vector<Row>& rows = versions[key];
      auto same = std::find_if(rows.begin(), rows.end(),
                               [&](const Row& r) { return r.version == version; });
      if (same != rows.end()) {
        result.outcomes.push_back({AddOutcome::Kind::kDuplicate, FromUnixMicros(same->date_added)});
        ++result.duplicates;
        continue;
      }
      if (std::none_of(rows.begin(), rows.end(),
                       [&](const Row& r) { return r.date_added > last; })) {
        touched.push_back(key);
      }
      Row row;
      row.date_added = next++;
      row.id = object.id;
      row.version = version;
      row.spec_version = EffectiveSpecVersion(object);
      row.type = object.type;
      rows.push_back(std::move(row));
      inserts.push_back({cid->second, &object, next - 1});
      result.outcomes.push_back({AddOutcome::Kind::kAdded, FromUnixMicros(next - 1)});
      ++result.added;
    }
    if (p.options->status) {
      StatusResource status = AddStatus(*p.options->status, p.objects, result.outcomes);
      result.status = std::move(status);
    }
    results[g] = std::move(result);
  }

  // --- Round trip 2 ---
  // Flags from all versions of each touched id: new rows get theirs in the INSERT, stored rows
  // whose flags changed are updated (one statement).
  absl::flat_hash_map<int64_t, Flags> new_flags;
  std::vector<int64_t> update_keys;
  std::vector<bool> uf, ul, us;
  for (const auto& key : touched) {
    const std::vector<Row>& rows = versions[key];
    const std::vector<Flags> flags = ComputeFlags(rows);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      if (r.date_added > last) {
        new_flags[r.date_added] = flags[i];
      } else if (!(flags[i] == Flags{r.is_first, r.is_last, r.spec_latest})) {
        update_keys.push_back(r.date_added);
        uf.push_back(flags[i].is_first);
        ul.push_back(flags[i].is_last);
        us.push_back(flags[i].spec_latest);
      }
    }
  }
  if (!update_keys.empty()) {
    steps.push_back(
        {kUpdateFlagsSql,
         Params().AddIntArray(update_keys).AddBoolArray(uf).AddBoolArray(ul).AddBoolArray(us)});
  }
  for (size_t pos = 0; pos < inserts.size();) {
    const int64_t cid = inserts[pos].cid;
    InsertColumns cols;
    while (pos < inserts.size() && inserts[pos].cid == cid && !cols.Full()) {
      cols.Add(inserts[pos].key, *inserts[pos].object, new_flags[inserts[pos].key]);
      ++pos;
    }
    Params params;
    params.Add(cid);
    cols.AppendTo(params);
    steps.push_back({kInsertSql, std::move(params)});
  }
  if (!inserts.empty()) {
    steps.push_back(
        {"UPDATE meta SET value = $1 WHERE key = 'last_date_added'", Params().Add(next - 1)});
  }
  bool any_status = false;
  for (const auto& r : results) {
    if (!r->ok() || !(*r)->status) continue;
    any_status = true;
    steps.push_back({kWriteStatusSql, StatusParams(*(*r)->status)});
  }
  if (any_status) {
    if (std::optional<Step> prune = PruneStatusesStep()) steps.push_back(*std::move(prune));
  }
  const bool hook = static_cast<bool>(options_.before_commit_for_testing);
  const size_t commit_step = steps.size();
  if (!hook) steps.push_back({"COMMIT", Params()});
  size_t failed = 0;
  auto second = c.Pipeline(steps, &failed);
  if (!second.ok() && failed < commit_step) {
    rollback();
    return false;
  }
  Status committed = second.status();
  if (committed.ok() && hook) {
    options_.before_commit_for_testing();
    committed = c.ExecScript("COMMIT");
  }
  for (size_t g = 0; g < group.size(); ++g) {
    if (!committed.ok() && results[g]->ok()) {
      group[g]->result = committed;
    } else {
      group[g]->result = *std::move(results[g]);
    }
  }
  return true;
}

Result<AddResult> PostgresStore::AddInTransaction(Connection& c, std::string_view collection,
                                                  std::span<const stix::Object> objects,
                                                  const AddOptions& options) {
  // The lock comes first: the duplicate checks and flags below must see every version committed
  // before this transaction's date_added values, and READ COMMITTED gives each following
  // statement a snapshot taken after the lock was granted (so after the previous writer's
  // commit).
  int64_t last = 0;
  if (options_.naive_date_added_for_testing) {
    // The race this store exists to avoid (see PostgresOptions): no lock, so a transaction that
    // takes a smaller date_added may commit after one with a larger value.
    LIAISON_ASSIGN_OR_RETURN(QueryResult r,
                             c.Exec("SELECT coalesce(max(date_added), 0) FROM objects"));
    last = r.Int(0, 0);
  } else {
    LIAISON_ASSIGN_OR_RETURN(last, LockObjectWrites(c));
  }
  const int64_t now = ToUnixMicros(Now());
  LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));

  // Every stored version of the ids in this call, in a few round trips.
  absl::flat_hash_map<std::string, std::vector<Row>> versions;
  {
    std::vector<std::string_view> ids;
    absl::flat_hash_set<std::string_view> seen;
    for (const stix::Object& o : objects) {
      if (seen.insert(o.id).second) ids.push_back(o.id);
    }
    static const std::string kSql =
        absl::StrCat("SELECT ", kRowColumns, " FROM objects WHERE id = ANY($2) AND cid + 0 = $1");
    for (size_t start = 0; start < ids.size(); start += kLookupIds) {
      std::vector<std::string_view> chunk(ids.begin() + start,
                                          ids.begin() + std::min(ids.size(), start + kLookupIds));
      LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(kSql, Params().Add(cid).AddTextArray(chunk)));
      for (int i = 0; i < r.rows(); ++i) {
        Row row = ReadRow(r, i);
        versions[row.id].push_back(std::move(row));
      }
    }
  }

  // date_added: microseconds, strictly increasing across the store in commit order (the lock is
  // held to COMMIT). When the clock lags behind the last value, the store's time runs ahead.
  int64_t next = std::max(now, last + 1);
  AddResult result;
  result.outcomes.reserve(objects.size());
  std::vector<const stix::Object*> added_objects;
  std::vector<std::string> touched;  // ids that got a new version, in first-touch order
  for (const stix::Object& object : objects) {
    const std::string version = VersionKey(object.version());
    std::vector<Row>& rows = versions[object.id];
    auto same =
        std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.version == version; });
    if (same != rows.end()) {
      result.outcomes.push_back({AddOutcome::Kind::kDuplicate, FromUnixMicros(same->date_added)});
      ++result.duplicates;
      continue;
    }
    Row row;
    row.date_added = next++;
    row.id = object.id;
    row.version = version;
    row.spec_version = EffectiveSpecVersion(object);
    row.type = object.type;
    // New rows are marked by date_added >= the first value issued here.
    if (std::none_of(rows.begin(), rows.end(), [&](const Row& r) { return r.date_added > last; })) {
      touched.push_back(object.id);
    }
    rows.push_back(std::move(row));
    added_objects.push_back(&object);
    result.outcomes.push_back({AddOutcome::Kind::kAdded, FromUnixMicros(next - 1)});
    ++result.added;
  }

  // Flags: new rows get theirs in the INSERT, older rows whose flags changed are updated.
  absl::flat_hash_map<int64_t, Flags> new_flags;
  std::vector<int64_t> update_keys;
  std::vector<Flags> update_flags;
  for (const std::string& id : touched) {
    const std::vector<Row>& rows = versions[id];
    const std::vector<Flags> flags = ComputeFlags(rows);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      if (r.date_added > last) {
        new_flags[r.date_added] = flags[i];
      } else if (!(flags[i] == Flags{r.is_first, r.is_last, r.spec_latest})) {
        update_keys.push_back(r.date_added);
        update_flags.push_back(flags[i]);
      }
    }
  }
  LIAISON_RETURN_IF_ERROR(UpdateFlags(c, update_keys, update_flags));

  // Bounded rows and bytes per INSERT statement.
  static constexpr const char* kInsert = kInsertSql;
  size_t pos = 0;
  const int64_t first_new = std::max(now, last + 1);
  while (pos < added_objects.size()) {
    InsertColumns cols;
    while (pos < added_objects.size() && !cols.Full()) {
      const int64_t key = first_new + static_cast<int64_t>(pos);
      cols.Add(key, *added_objects[pos], new_flags[key]);
      ++pos;
    }
    Params params;
    params.Add(cid);
    cols.AppendTo(params);
    LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(kInsert, params)));
  }
  if (result.added > 0 && !options_.naive_date_added_for_testing) {
    LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(
        "UPDATE meta SET value = $1 WHERE key = 'last_date_added'", Params().Add(next - 1))));
  }
  if (options.status) {
    StatusResource status = AddStatus(*options.status, objects, result.outcomes);
    LIAISON_RETURN_IF_ERROR(WriteStatus(c, status));
    if (std::optional<Connection::Step> prune = PruneStatusesStep()) {
      LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(prune->sql, prune->params)));
    }
    result.status = std::move(status);
  }
  return result;
}

// The page from the accepted rows (one past the page when there is more) and, with JSON, their
// texts (parallel, for the first `limit` rows).
Result<Page> FinishPage(std::vector<Row>& accepted, std::vector<std::string>& json, size_t limit,
                        bool with_json) {
  Page page;
  page.more = accepted.size() > limit;
  if (page.more) accepted.resize(limit);
  page.records.reserve(accepted.size());
  for (size_t i = 0; i < accepted.size(); ++i) {
    Row& row = accepted[i];
    ObjectRecord rec;
    auto version = ParseVersionKey(row.version);
    if (!version.ok()) {
      return absl::DataLossError(absl::StrCat("postgres store: bad stored version of ", row.id));
    }
    rec.version = *version;
    rec.date_added = FromUnixMicros(row.date_added);
    rec.media_type = MediaTypeFor(row.spec_version);
    // The version flags, exact in the snapshot the page was read in (kept by Add and
    // DeleteObject under the object writers' lock), for the release policy.
    rec.is_first = row.is_first;
    rec.is_last = row.is_last;
    rec.id = std::move(row.id);
    rec.type = std::move(row.type);
    rec.spec_version = std::move(row.spec_version);
    if (with_json) rec.json = std::move(json[i]);
    page.records.push_back(std::move(rec));
  }
  if (!page.records.empty()) {
    page.date_added_first = page.records.front().date_added;
    page.date_added_last = page.records.back().date_added;
  }
  if (page.more) {
    const ObjectRecord& last = page.records.back();
    page.next = EncodeCursor({last.date_added, last.id, last.version});
  }
  return page;
}

// What DecideByFlags looks at in a row, as views into a result (no copies).
struct RowFlags {
  int64_t date_added = 0;
  std::string_view version;
  bool is_first = false;
  bool is_last = false;
  bool spec_latest = false;
};

RowFlags ReadRowFlags(const QueryResult& r, int i) {
  return {r.Int(i, 0), r.Text(i, 2), r.Bool(i, 5), r.Bool(i, 6), r.Bool(i, 7)};
}

// The columns of a streamed page (QueryEach's one-statement path): kRowColumns without
// spec_version and type, which neither the flags decision, the cursor nor the envelope reads.
// Two values fewer per row for the backend to send and for libpq to parse, ~20 bytes a row
// (docs/store.md, session 6).
constexpr const char* kStreamColumns =
    "date_added, id, version, is_first, is_last, spec_latest, json";
constexpr int kStreamJsonColumn = 6;

RowFlags ReadStreamFlags(const QueryResult& r, int i) {
  return {r.Int(i, 0), r.Text(i, 2), r.Bool(i, 3), r.Bool(i, 4), r.Bool(i, 5)};
}

// Whether `row` is selected, decided from its own flags; nullopt when its sibling versions are
// needed to tell.
std::optional<bool> DecideByFlags(const RowFlags& row, const VersionPlan& plan) {
  bool version_ok = plan.all || (plan.last && row.is_last) || (plan.first && row.is_first);
  if (!version_ok && !plan.at.empty()) {
    if (row.version.empty()) {
      version_ok = std::find(plan.at.begin(), plan.at.end(), FromUnixMicros(row.date_added)) !=
                   plan.at.end();
    } else {
      version_ok =
          std::find(plan.at_keys.begin(), plan.at_keys.end(), row.version) != plan.at_keys.end();
    }
  }
  if (!version_ok) {
    // A superseded version can still be the first/last among the versions that pass a filter
    // which differs between versions (added_after, spec_version). Otherwise it is out.
    if (!(plan.base_varies && (plan.first || plan.last))) return false;
    return std::nullopt;
  }
  // The default spec_version rule keeps the highest spec version among the selected versions.
  if (!plan.explicit_spec && !row.spec_latest) return std::nullopt;
  return true;
}

std::optional<bool> DecideByFlags(const Row& row, const VersionPlan& plan) {
  return DecideByFlags(
      RowFlags{row.date_added, row.version, row.is_first, row.is_last, row.spec_latest}, plan);
}

// The columns of a streamed page served from the cache of texts: kStreamColumns without the JSON
// (same positions), ~60 bytes a row where the JSON is ~570 (docs/store.md, session 7).
constexpr const char* kKeyColumns = "date_added, id, version, is_first, is_last, spec_latest";

// The rows of the first keyset batch (`batch` = limit + 1 asked) that a page accepts, decided from
// the rows' own flags; nullopt when a row needs its sibling versions, when the batch neither fills
// the page nor reaches the end, or when nothing is accepted (an empty page must tell an unknown
// collection apart): the transactional path decides those. One past the page when there is more.
std::optional<std::vector<int>> AcceptFromFlags(const QueryResult& r, size_t limit,
                                                const VersionPlan& plan) {
  const size_t batch = limit + 1;
  std::vector<int> accepted;  // row numbers in `r`
  accepted.reserve(std::min<size_t>(static_cast<size_t>(r.rows()), batch));
  for (int i = 0; i < r.rows() && accepted.size() <= limit; ++i) {
    const std::optional<bool> keep = DecideByFlags(ReadStreamFlags(r, i), plan);
    if (!keep) return std::nullopt;
    if (*keep) accepted.push_back(i);
  }
  if (accepted.empty() || (accepted.size() <= limit && static_cast<size_t>(r.rows()) >= batch)) {
    return std::nullopt;
  }
  return accepted;
}

// The page of a streamed read whose accepted rows (`accepted`, at most the page, in order) are in
// `r` (columns as kStreamColumns up to spec_latest).
Result<Page> StreamedPage(const QueryResult& r, const std::vector<int>& accepted, bool more) {
  Page page;
  page.more = more;
  page.date_added_first = FromUnixMicros(r.Int(accepted.front(), 0));
  page.date_added_last = FromUnixMicros(r.Int(accepted.back(), 0));
  if (more) {
    const int last = accepted.back();
    auto version = ParseVersionKey(r.Text(last, 2));
    if (!version.ok()) {
      return absl::DataLossError(
          absl::StrCat("postgres store: bad stored version of ", ToAbsl(r.Text(last, 1))));
    }
    page.next = EncodeCursor({*page.date_added_last, std::string(r.Text(last, 1)), *version});
  }
  return page;
}

Result<bool> PostgresStore::Selected(Connection& c, int64_t cid, const Row& row,
                                     const Filter& filter, const VersionPlan& plan) {
  if (std::optional<bool> decided = DecideByFlags(row, plan)) return *decided;
  LIAISON_ASSIGN_OR_RETURN(std::vector<Row> versions, LoadVersions(c, cid, row.id));
  LIAISON_ASSIGN_OR_RETURN(std::vector<VersionRecord> records, ToVersionRecords(versions));
  const std::vector<bool> selected = SelectVersions(records, filter);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (versions[i].date_added == row.date_added) return selected[i];
  }
  return false;
}

Result<QueryResult> PostgresStore::BatchedRead(const std::string& sql, const Params& params) {
  PendingRead me{&sql, &params};
  read_batch_.Run(
      me, kReadBatch, [](const PendingRead&) { return size_t{1}; },
      [this](const std::vector<PendingRead*>& batch) { RunReadBatch(batch); });
  return *std::move(me.result);
}

// Why batch: profiled in session 8 (perf, the repeated page of 100 on a node with the text
// cache warm), a GET's CPU on the node and in the backend went mostly to the kernel: the node's
// send of the statement waking a backend, the backend's send of the answer waking the node's
// thread, the polls and receives around them (sendto, poll, recvfrom, epoll_wait: about a fifth
// of the node's samples and two fifths of the backends'), with the statement's own execution
// a small part. A pipeline of the statements of the GETs that queued up meanwhile pays those
// once per batch. Each statement still runs alone with its own snapshot: between the pipeline's
// statements there is no explicit transaction, and under READ COMMITTED (the store's sessions
// run no other) each statement of the implicit one takes a new snapshot. Only one batch is out
// at a time per node (the next leader collects what queued meanwhile), as for group commit.
void PostgresStore::RunReadBatch(const std::vector<PendingRead*>& batch) {
  auto lease = Acquire();
  if (!lease.ok()) {
    for (PendingRead* r : batch) r->result = lease.status();
    return;
  }
  Connection& c = **lease;
  if (options_.read_batch_for_testing) options_.read_batch_for_testing(batch.size());
  if (batch.size() > 1) {
    std::vector<Connection::Step> steps;
    steps.reserve(batch.size());
    for (const PendingRead* r : batch) steps.push_back({*r->sql, *r->params});
    auto results = c.Pipeline(steps, nullptr, /*binary_results=*/true);
    if (results.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move((*results)[i]);
      return;
    }
    // A statement failed, and the rest of the pipeline with it: each alone, so that only the
    // failing read reports its error (on a lost connection they all do).
  }
  for (PendingRead* r : batch) r->result = c.ExecBinary(*r->sql, *r->params);
}

// The keys statement of a page (`keys_sql`, kKeyColumns) and the change counter of the cache of
// page keys (page_keys.h) after them, in one snapshot. The statement's rows run only when the
// counter differs from parameter $`changes_param` (the counter of the cached keys, or -1): when
// it does not, the answer is one row of NULL keys and the counter (a one-time filter; the keys'
// index walk is never started).
std::string KeysWithChangesSql(const std::string& keys_sql, size_t changes_param) {
  return absl::StrCat(
      "SELECT page.*, m.value FROM (SELECT value FROM meta WHERE key = 'object_changes') AS m "
      "LEFT JOIN LATERAL (SELECT * FROM (",
      keys_sql, ") AS keys WHERE m.value <> $", changes_param, "::bigint) AS page ON true");
}
constexpr int kChangesColumn = 6;  // after kKeyColumns

Result<PostgresStore::CacheOutcome> PostgresStore::StreamFromCache(
    const ConnectionFn& conn, const std::string& keys_sql, const Params& params,
    const std::string& page_key, size_t limit, const VersionPlan& plan,
    const std::function<void(std::string_view)>& each, Page& page) {
  // (1) The keys and flags of the page: what exists, in which order, and what version selection
  // needs, all from the database (one snapshot); ~6 KB for a page of 100 instead of ~60 KB. Or,
  // when this node has the keys of this statement cached and no stored row has changed since
  // (page_keys.h), the cached keys: the statement then reads only the change counter.
  const std::optional<PageKeysCache::Entry> cached = page_keys_.Find(page_key);
  Params with_changes = params;
  with_changes.Add(cached ? cached->changes : int64_t{-1});
  LIAISON_ASSIGN_OR_RETURN(
      QueryResult answer,
      BatchedRead(KeysWithChangesSql(keys_sql, with_changes.size()), with_changes));
  if (answer.rows() == 0) {
    return absl::DataLossError("postgres store: meta.object_changes is missing");
  }
  const int64_t changes = answer.Int(0, kChangesColumn);
  std::shared_ptr<const QueryResult> keys;
  if (answer.IsNull(0, 0)) {
    // No keys: the cached ones still hold, or the page is empty (the transactional path tells an
    // empty collection from an unknown one).
    if (!cached || cached->changes != changes) return CacheOutcome::kUndecided;
    keys = cached->keys;
    if (options_.page_keys_hit_for_testing) options_.page_keys_hit_for_testing();
  } else {
    keys = std::make_shared<const QueryResult>(std::move(answer));
    // Only a full batch (limit + 1 rows) stays the statement's answer while no row changes.
    if (static_cast<size_t>(keys->rows()) == limit + 1) {
      page_keys_.Insert(page_key, {keys, changes});
    }
  }
  const QueryResult& r = *keys;
  std::optional<std::vector<int>> accepted = AcceptFromFlags(r, limit, plan);
  if (!accepted) return CacheOutcome::kUndecided;
  const bool more = accepted->size() > limit;
  if (more) accepted->resize(limit);
  // (2) The texts: from the cache, which only ever holds the immutable text of a date_added.
  std::vector<TextCache::Text> hits(accepted->size());
  std::vector<std::string_view> texts(accepted->size());
  std::vector<int64_t> missing;
  for (size_t k = 0; k < accepted->size(); ++k) {
    const int i = (*accepted)[k];
    hits[k] = texts_.Find(r.Int(i, 0), r.Text(i, 1), r.Text(i, 2));
    if (hits[k]) {
      texts[k] = hits[k].view();
    } else {
      missing.push_back(r.Int(i, 0));
    }
  }
  // (3) The texts this node has not cached, by primary key, in one statement. It runs in a later
  // snapshot than (1): a row deleted in between is missing here, and the page is then read again
  // in one statement (the caller), so that it is always one snapshot's answer. A row added in
  // between does not matter: the page's rows are (1)'s.
  QueryResult fetched;
  if (!missing.empty()) {
    if (options_.before_text_fetch_for_testing) options_.before_text_fetch_for_testing();
    LIAISON_ASSIGN_OR_RETURN(Connection * c, conn());
    LIAISON_ASSIGN_OR_RETURN(
        fetched,
        c->ExecBinary("SELECT date_added, json FROM objects WHERE date_added = ANY($1::bigint[])",
                      Params().AddBinaryIntArray(missing)));
    if (static_cast<size_t>(fetched.rows()) != missing.size()) return CacheOutcome::kRowGone;
    absl::flat_hash_map<int64_t, int> row_of;
    row_of.reserve(missing.size());
    for (int j = 0; j < fetched.rows(); ++j) row_of.emplace(fetched.Int(j, 0), j);
    for (size_t k = 0; k < accepted->size(); ++k) {
      if (hits[k]) continue;
      const int i = (*accepted)[k];
      auto it = row_of.find(r.Int(i, 0));
      if (it == row_of.end()) return CacheOutcome::kRowGone;
      texts[k] = fetched.Text(it->second, 1);
      texts_.Insert(r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), texts[k]);
    }
  }
  RecordHits(accepted->size() - missing.size(), accepted->size());
  for (std::string_view json : texts) each(json);
  LIAISON_ASSIGN_OR_RETURN(page, StreamedPage(r, *accepted, more));
  return CacheOutcome::kServed;
}

Result<Page> PostgresStore::QueryImpl(std::string_view collection, const Filter& filter,
                                      bool with_json,
                                      const std::function<void(std::string_view)>* each) {
  LIAISON_RETURN_IF_ERROR(ValidateFilter(filter));
  int64_t start = std::numeric_limits<int64_t>::min();
  if (filter.added_after) start = std::max(start, ToUnixMicros(*filter.added_after));
  if (!filter.next.empty()) {
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, DecodeCursor(filter.next));
    // date_added is unique in this store, so (date_added, id, version) > cursor reduces to
    // date_added > cursor.date_added, even when the cursor's own row has since been deleted.
    start = std::max(start, ToUnixMicros(cursor.date_added));
  }
  const size_t limit =
      std::min(filter.limit.value_or(options_.max_page_size), options_.max_page_size);
  const VersionPlan plan = PlanVersions(filter);
  const std::vector<std::string> ids = Deduplicated(filter.ids);
  const std::vector<std::string> types = Deduplicated(filter.types);
  const std::vector<std::string>& specs = filter.spec_versions;
  const bool by_id = !ids.empty();

  // Parameters: $1 cid, $2 keyset start, $3 batch size (not by id), $4 spec versions (when
  // given), then ids or one per type.
  const int spec_param = by_id ? 3 : 4;
  const int list_param = spec_param + (specs.empty() ? 0 : 1);
  // Below the readers' horizon (kHorizonSql): what a page shows never gains a row later.
  std::string extra = absl::StrCat(" AND date_added < ", kHorizonSql);
  if (!specs.empty()) absl::StrAppend(&extra, " AND spec_version = ANY($", spec_param, ")");
  absl::StrAppend(&extra, ToAbsl(FlagSql(plan.sql_flag)));
  // The streamed page (QueryEach) reads only what DecideByFlags, the cursor and the envelope
  // need (kStreamColumns); the other paths read whole rows (ReadRow).
  const auto page_sql = [&](std::string_view columns) {
    std::string sql;
    if (!types.empty()) {
      // One date_added-ordered range of objects_by_type per type; PostgreSQL merges them (Merge
      // Append) without sorting.
      std::vector<std::string> branches;
      for (size_t i = 0; i < types.size(); ++i) {
        branches.push_back(absl::StrCat("(SELECT ", ToAbsl(columns),
                                        " FROM objects WHERE cid = $1 AND type = $",
                                        list_param + static_cast<int>(i), " AND date_added > $2",
                                        extra, " ORDER BY date_added LIMIT $3)"));
      }
      sql = absl::StrCat("SELECT * FROM (", absl::StrJoin(branches, " UNION ALL "),
                         ") AS merged ORDER BY date_added LIMIT $3");
    } else {
      sql = absl::StrCat("SELECT ", ToAbsl(columns),
                         " FROM objects WHERE cid = $1 AND date_added > $2", extra,
                         " ORDER BY date_added LIMIT $3");
    }
    return sql;
  };
  const std::string columns = absl::StrCat(kRowColumns, with_json ? ", json" : "");

  std::string sql;
  if (by_id) {
    // A handful of rows per id: fetch them all (without JSON), then order them here.
    sql = absl::StrCat("SELECT ", kRowColumns, " FROM objects WHERE id = ANY($", list_param,
                       ") AND cid + 0 = $1 AND date_added > $2", extra);
    if (!types.empty()) absl::StrAppend(&sql, " AND type = ANY($", list_param + 1, ")");
  } else {
    sql = page_sql(columns);
  }

  // The connection, taken from the pool only when a statement needs one of its own (the keys
  // statement of a cached page travels in a batch, BatchedRead).
  std::optional<Lease> lease;
  const ConnectionFn conn = [&]() -> Result<Connection*> {
    if (!lease) {
      LIAISON_ASSIGN_OR_RETURN(Lease l, Acquire());
      lease.emplace(std::move(l));
    }
    return &**lease;
  };

  // Fast path: ONE statement outside any explicit transaction (a single statement sees one
  // snapshot), the collection resolved inside it. It stands when the first keyset batch decides
  // the whole page from the rows' own flags (the common case: the default `last`, match[type],
  // paging with next or added_after). Otherwise (a row needs its sibling versions, a second
  // batch is needed, or the page is empty, where an unknown collection must be told apart) the
  // transactional path below runs the query again.
  if (!by_id) {
    const bool stream = each != nullptr;
    const auto with_cid_subquery = [](const std::string& text) {
      return absl::StrReplaceAll(
          text, {{"cid = $1", "cid = (SELECT cid FROM collections WHERE id = $1)"}});
    };
    const size_t batch = limit + 1;
    Params p;
    p.Add(collection).Add(start).Add(static_cast<int64_t>(batch));
    if (!specs.empty()) p.AddTextArray(specs);
    for (const std::string& t : types) p.Add(t);
    bool try_one_statement = true;
    if (stream && texts_.enabled() &&
        hit_permille_.load(std::memory_order_relaxed) >= kKeysPathPermille) {
      const std::string keys_sql = with_cid_subquery(page_sql(kKeyColumns));
      // The statement and its parameters, as the cache of page keys knows them; each value
      // length-prefixed, so that no two filters share a key whatever bytes they hold.
      std::string page_key;
      const auto put = [&page_key](std::string_view v) {
        absl::StrAppend(&page_key, v.size(), ":", ToAbsl(v));
      };
      put(keys_sql);
      put(collection);
      absl::StrAppend(&page_key, start, ":", batch, ":", specs.size(), ":");
      for (const std::string& v : specs) put(v);
      for (const std::string& t : types) put(t);
      Page page;
      LIAISON_ASSIGN_OR_RETURN(CacheOutcome outcome, StreamFromCache(conn, keys_sql, p, page_key,
                                                                     limit, plan, *each, page));
      if (outcome == CacheOutcome::kServed) return page;
      // kRowGone: the one statement below reads the page again, keys and texts in one snapshot.
      // kUndecided: it would not decide either; the transactional path below does.
      try_one_statement = outcome == CacheOutcome::kRowGone;
    }
    const std::string fast_sql = with_cid_subquery(stream ? page_sql(kStreamColumns) : sql);
    LIAISON_ASSIGN_OR_RETURN(Connection * cp, conn());
    Connection& c = *cp;
    if (try_one_statement) {
      // Binary results: the JSON texts arrive without textout's copy and strlen.
      LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.ExecBinary(fast_sql, p));
      // Decide every row from views into the result first (a row that needs its siblings sends
      // the whole page down the other path, before anything has been handed out).
      std::optional<std::vector<int>> accepted;
      if (stream) {
        accepted = AcceptFromFlags(r, limit, plan);
      } else {
        accepted.emplace();
        accepted->reserve(std::min<size_t>(static_cast<size_t>(r.rows()), limit + 1));
        for (int i = 0; i < r.rows() && accepted->size() <= limit; ++i) {
          const std::optional<bool> keep = DecideByFlags(ReadRowFlags(r, i), plan);
          if (!keep) {
            accepted.reset();
            break;
          }
          if (*keep) accepted->push_back(i);
        }
        if (accepted && (accepted->empty() ||
                         (accepted->size() <= limit && static_cast<size_t>(r.rows()) >= batch))) {
          accepted.reset();
        }
      }
      if (accepted) {
        const bool more = accepted->size() > limit;
        if (more) accepted->resize(limit);
        if (stream) {
          // QueryEach: each text goes from libpq's buffer straight to the caller; the page
          // carries only what the envelope's headers and `next` need.
          // With the cache on, this path runs because recent pages found few of their texts
          // cached; one page in kSamplePages still looks them up and caches them, which is how
          // pages that start repeating are noticed (their share climbs back). Caching every page
          // of a walk of pages read once cost more node CPU than the texts' transfer it saves
          // later (docs/store.md, session 7).
          const bool sample =
              texts_.enabled() &&
              sample_tick_.fetch_add(1, std::memory_order_relaxed) % kSamplePages == 0;
          size_t hits = 0;
          for (int i : *accepted) {
            const std::string_view json = r.Text(i, kStreamJsonColumn);
            (*each)(json);
            if (!sample) continue;
            if (texts_.Find(r.Int(i, 0), r.Text(i, 1), r.Text(i, 2))) {
              ++hits;
            } else {
              texts_.Insert(r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), json);
            }
          }
          if (sample) RecordHits(hits, accepted->size());
          return StreamedPage(r, *accepted, more);
        }
        std::vector<Row> rows;
        std::vector<std::string> json;
        rows.reserve(accepted->size() + (more ? 1 : 0));
        for (int i : *accepted) {
          rows.push_back(ReadRow(r, i));
          if (with_json) json.emplace_back(r.Text(i, kJsonColumn));
        }
        // FinishPage tells `more` from one row past the page; that row's content is not used.
        if (more) rows.push_back(rows.back());
        return FinishPage(rows, json, limit, with_json);
      }
    }
  }

  LIAISON_ASSIGN_OR_RETURN(Connection * cp, conn());
  Connection& c = *cp;
  // BEGIN and the collection lookup in one round trip (a simple query of two statements; the id
  // travels as a quoted literal): a page is then BEGIN+lookup, the page, and an asynchronous
  // ROLLBACK, the fewest waits a consistent snapshot allows.
  LIAISON_ASSIGN_OR_RETURN(std::string quoted, c.Literal(collection));
  Result<QueryResult> begun =
      c.ExecScriptResult(StrCat("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                                "SELECT cid FROM collections WHERE id = ",
                                quoted));
  // Adopted whatever happened: when BEGIN ran but the lookup failed, the rollback ends it (and
  // when BEGIN failed, a ROLLBACK outside a transaction is only a warning).
  Transaction tx = Transaction::Adopt(c, /*async_rollback=*/true);
  LIAISON_ASSIGN_OR_RETURN(QueryResult found, std::move(begun));
  if (found.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(collection), " not found"));
  }
  const int64_t cid = found.Int(0, 0);
  return [&]() -> Result<Page> {
    std::vector<Row> accepted;
    std::vector<std::string> json;  // parallel to `accepted` when reading JSON in the scan
    auto accept = [&](Row row) -> Result<bool> {
      LIAISON_ASSIGN_OR_RETURN(bool keep, Selected(c, cid, row, filter, plan));
      if (keep) accepted.push_back(std::move(row));
      return keep;
    };
    if (by_id) {
      Params p;
      p.Add(cid).Add(start);
      if (!specs.empty()) p.AddTextArray(specs);
      p.AddTextArray(ids);
      if (!types.empty()) p.AddTextArray(types);
      LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(sql, p));
      std::vector<Row> candidates;
      for (int i = 0; i < r.rows(); ++i) candidates.push_back(ReadRow(r, i));
      std::sort(candidates.begin(), candidates.end(),
                [](const Row& a, const Row& b) { return a.date_added < b.date_added; });
      for (Row& row : candidates) {
        if (accepted.size() > limit) break;
        LIAISON_RETURN_IF_ERROR(StatusOf(accept(std::move(row))));
      }
      if (with_json && !accepted.empty()) {
        std::vector<int64_t> keys;
        for (size_t i = 0; i < accepted.size() && i < limit; ++i) {
          keys.push_back(accepted[i].date_added);
        }
        LIAISON_ASSIGN_OR_RETURN(
            QueryResult text,
            c.Exec("SELECT date_added, json FROM objects WHERE date_added = ANY($1::bigint[])",
                   Params().AddIntArray(keys)));
        absl::flat_hash_map<int64_t, std::string> by_key;
        for (int i = 0; i < text.rows(); ++i) by_key[text.Int(i, 0)] = text.Text(i, 1);
        for (int64_t key : keys) {
          auto it = by_key.find(key);
          if (it == by_key.end()) {
            return absl::InternalError("postgres store: row vanished in a snapshot");
          }
          json.push_back(std::move(it->second));
        }
      }
    } else {
      // Keyset batches: the first asks for exactly one page (+1 to know whether there is more);
      // when version selection rejects rows, later batches grow, up to a bound.
      int64_t from = start;
      size_t batch = limit + 1;
      for (;;) {
        Params p;
        p.Add(cid).Add(from).Add(static_cast<int64_t>(batch));
        if (!specs.empty()) p.AddTextArray(specs);
        for (const std::string& t : types) p.Add(t);
        LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(sql, p));
        for (int i = 0; i < r.rows() && accepted.size() <= limit; ++i) {
          LIAISON_ASSIGN_OR_RETURN(bool keep, accept(ReadRow(r, i)));
          // The row past the page only tells that there is more: no need for its text.
          if (keep && with_json && accepted.size() <= limit) {
            json.emplace_back(r.Text(i, kJsonColumn));
          }
        }
        if (accepted.size() > limit || static_cast<size_t>(r.rows()) < batch) break;
        from = r.Int(r.rows() - 1, 0);
        batch = std::min<size_t>(batch * 4, 4096);
      }
    }

    LIAISON_ASSIGN_OR_RETURN(Page page, FinishPage(accepted, json, limit, with_json));
    if (each != nullptr) {
      for (const ObjectRecord& rec : page.records) (*each)(rec.json);
      page.records.clear();
    }
    return page;
  }();
}

Result<size_t> PostgresStore::DeleteObject(std::string_view collection, std::string_view object_id,
                                           const DeleteFilter& filter) {
  if (filter.versions.size() > kMaxFilterValues || filter.spec_versions.size() > kMaxFilterValues) {
    return absl::InvalidArgumentError("delete: too many filter values");
  }
  return Write([&](Connection& c) -> Result<size_t> {
    // Flags of one id are rewritten from all its versions: no Add may interleave.
    LIAISON_RETURN_IF_ERROR(StatusOf(LockObjectWrites(c)));
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    LIAISON_ASSIGN_OR_RETURN(std::vector<Row> versions, LoadVersions(c, cid, object_id));
    if (versions.empty()) {
      return absl::NotFoundError(absl::StrCat("object ", ToAbsl(object_id),
                                              " not found in collection ", ToAbsl(collection)));
    }
    LIAISON_ASSIGN_OR_RETURN(std::vector<VersionRecord> records, ToVersionRecords(versions));
    const std::vector<bool> doomed = SelectVersionsForDelete(records, filter);
    std::vector<Row> kept;
    std::vector<int64_t> keys;
    for (size_t i = 0; i < versions.size(); ++i) {
      if (doomed[i]) {
        keys.push_back(versions[i].date_added);
      } else {
        kept.push_back(versions[i]);
      }
    }
    if (keys.empty()) return size_t{0};
    LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(
        "DELETE FROM objects WHERE date_added = ANY($1::bigint[])", Params().AddIntArray(keys))));
    LIAISON_RETURN_IF_ERROR(RefreshFlags(c, kept));
    LIAISON_RETURN_IF_ERROR(CountDeletion(c));
    return keys.size();
  });
}

// --- Status resources ---------------------------------------------------------------------------

bool PostgresStore::StatusExpired(Timestamp request_timestamp) const {
  if (options_.status_ttl.count() <= 0) return false;
  const int64_t ttl = options_.status_ttl.count() * 1'000'000;
  return ToUnixMicros(request_timestamp) < ToUnixMicros(Now()) - ttl;
}

std::optional<Connection::Step> PostgresStore::PruneStatusesStep() {
  if (options_.status_ttl.count() <= 0) return std::nullopt;
  const int64_t now = ToUnixMicros(Now());
  int64_t last = last_prune_micros_.load();
  if (now - last < 60'000'000 || !last_prune_micros_.compare_exchange_strong(last, now)) {
    return std::nullopt;
  }
  // Oldest first along statuses_by_time, a bounded number per write (the rest go at the next
  // prune; GetStatus refuses an expired one meanwhile). request_timestamp is fixed-width ISO
  // 8601 text, so bytewise order is time order.
  const std::string cutoff =
      TimestampText(FromUnixMicros(now - options_.status_ttl.count() * 1'000'000));
  return Connection::Step{
      "DELETE FROM statuses WHERE id IN (SELECT id FROM statuses WHERE "
      "(request_timestamp COLLATE \"C\") < $1 ORDER BY (request_timestamp COLLATE \"C\") "
      "LIMIT 10000)",
      Params().Add(cutoff)};
}

Status PostgresStore::PutStatus(const StatusResource& status) {
  if (status.id.empty()) return absl::InvalidArgumentError("status: empty id");
  return Write([&](Connection& c) -> Status {
    if (std::optional<Connection::Step> prune = PruneStatusesStep()) {
      LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(prune->sql, prune->params)));
    }
    return WriteStatus(c, status);
  });
}

Result<StatusResource> PostgresStore::GetStatus(std::string_view id) {
  return ReadOne([&](Connection& c) -> Result<StatusResource> {
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r,
        c.Exec("SELECT api_root, request_timestamp, body FROM statuses WHERE id = $1",
               Params().Add(id)));
    if (r.rows() == 0)
      return absl::NotFoundError(absl::StrCat("status ", ToAbsl(id), " not found"));
    StatusResource s;
    s.id = std::string(id);
    s.api_root = std::string(r.Text(0, 0));
    LIAISON_ASSIGN_OR_RETURN(s.request_timestamp, ParseStoredTimestamp(r.Text(0, 1)));
    if (StatusExpired(s.request_timestamp)) {
      return absl::NotFoundError(absl::StrCat("status ", ToAbsl(id), " has expired"));
    }
    LIAISON_RETURN_IF_ERROR(ParseStatusBody(r.Text(0, 2), s));
    return s;
  });
}

// --- Users, tokens, permissions -----------------------------------------------------------------

Status PostgresStore::CreateUser(const User& user) {
  LIAISON_RETURN_IF_ERROR(CheckUser(user));
  return Write([&](Connection& c) -> Status {
    auto r =
        c.Exec("INSERT INTO users(name, password_hash, is_admin, groups) VALUES ($1, $2, $3, $4)",
               Params()
                   .Add(user.name)
                   .Add(user.password_hash)
                   .Add(user.is_admin)
                   .Add(JoinLines(user.groups)));
    if (absl::IsAlreadyExists(r.status())) {
      return absl::AlreadyExistsError(absl::StrCat("user ", user.name, " already exists"));
    }
    return r.status();
  });
}

Status PostgresStore::UpdateUser(const User& user) {
  LIAISON_RETURN_IF_ERROR(CheckUser(user));
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r,
        c.Exec("UPDATE users SET password_hash = $2, is_admin = $3, groups = $4 WHERE name = $1",
               Params()
                   .Add(user.name)
                   .Add(user.password_hash)
                   .Add(user.is_admin)
                   .Add(JoinLines(user.groups))));
    if (r.Affected() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user.name, " not found"));
    }
    return absl::OkStatus();
  });
}

Result<User> PostgresStore::GetUser(std::string_view name) {
  return ThroughCache(users_, name, [&] {
    return ReadOne([&](Connection& c) -> Result<User> {
      LIAISON_ASSIGN_OR_RETURN(
          QueryResult r,
          c.Exec("SELECT name, password_hash, is_admin, groups FROM users WHERE name = $1",
                 Params().Add(name)));
      if (r.rows() == 0)
        return absl::NotFoundError(absl::StrCat("user ", ToAbsl(name), " not found"));
      return ReadUser(r, 0);
    });
  });
}

Result<std::vector<User>> PostgresStore::ListUsers() {
  return ReadOne([&](Connection& c) -> Result<std::vector<User>> {
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r,
        c.Exec("SELECT name, password_hash, is_admin, groups FROM users ORDER BY name"));
    std::vector<User> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadUser(r, i));
    return out;
  });
}

Status PostgresStore::DeleteUser(std::string_view name) {
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(bool exists, UserExists(c, name));
    if (!exists) return absl::NotFoundError(absl::StrCat("user ", ToAbsl(name), " not found"));
    for (const char* sql : {"DELETE FROM tokens WHERE user_name = $1",
                            "DELETE FROM permissions WHERE kind = 0 AND principal = $1",
                            "DELETE FROM users WHERE name = $1"}) {
      LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec(sql, Params().Add(name))));
    }
    return absl::OkStatus();
  });
}

Status PostgresStore::AddToken(const ApiToken& token) {
  if (token.token_hash.empty()) return absl::InvalidArgumentError("token: empty hash");
  return Write([&](Connection& c) -> Status {
    // FOR SHARE: a concurrent DeleteUser cannot remove the user under the new token.
    LIAISON_ASSIGN_OR_RETURN(QueryResult u, c.Exec("SELECT 1 FROM users WHERE name = $1 FOR SHARE",
                                                   Params().Add(token.user)));
    if (u.rows() == 0) return absl::NotFoundError(absl::StrCat("user ", token.user, " not found"));
    Params p;
    p.Add(token.token_hash)
        .Add(token.user)
        .Add(token.description)
        .Add(TimestampText(token.created));
    if (token.expires) {
      p.Add(TimestampText(*token.expires));
    } else {
      p.AddNull();
    }
    auto r = c.Exec(
        "INSERT INTO tokens(token_hash, user_name, description, created, expires) "
        "VALUES ($1, $2, $3, $4, $5)",
        p);
    // The message never echoes the hash: it is derived from a credential.
    if (absl::IsAlreadyExists(r.status())) return absl::AlreadyExistsError("token already exists");
    return r.status();
  });
}

Result<ApiToken> PostgresStore::FindToken(std::string_view token_hash) {
  return ThroughCache(tokens_, token_hash, [&] {
    return ReadOne([&](Connection& c) -> Result<ApiToken> {
      static const std::string kSql =
          absl::StrCat("SELECT ", kTokenColumns, " FROM tokens WHERE token_hash = $1");
      LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(kSql, Params().Add(token_hash)));
      if (r.rows() == 0) return absl::NotFoundError("token not found");
      return ReadToken(r, 0);
    });
  });
}

Result<std::vector<ApiToken>> PostgresStore::ListTokens(std::string_view user) {
  return ReadOne([&](Connection& c) -> Result<std::vector<ApiToken>> {
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(absl::StrCat("SELECT ", kTokenColumns,
                                                                " FROM tokens WHERE user_name = $1 "
                                                                "ORDER BY created, token_hash"),
                                                   Params().Add(user)));
    std::vector<ApiToken> out;
    for (int i = 0; i < r.rows(); ++i) {
      LIAISON_ASSIGN_OR_RETURN(ApiToken t, ReadToken(r, i));
      out.push_back(std::move(t));
    }
    return out;
  });
}

Status PostgresStore::DeleteToken(std::string_view token_hash) {
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec("DELETE FROM tokens WHERE token_hash = $1",
                                                   Params().Add(token_hash)));
    if (r.Affected() == 0) return absl::NotFoundError("token not found");
    return absl::OkStatus();
  });
}

Status PostgresStore::SetPermission(std::string_view collection, const Principal& principal,
                                    Permission permission) {
  if (principal.name.empty()) return absl::InvalidArgumentError("permission: empty principal");
  const int64_t kind = principal.kind == Principal::Kind::kUser ? 0 : 1;
  return WriteAndInvalidate([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection, " FOR SHARE"));
    if (principal.kind == Principal::Kind::kUser) {
      LIAISON_ASSIGN_OR_RETURN(
          QueryResult u,
          c.Exec("SELECT 1 FROM users WHERE name = $1 FOR SHARE", Params().Add(principal.name)));
      if (u.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("user ", principal.name, " not found"));
      }
    }
    if (!permission.can_read && !permission.can_write) {
      return StatusOf(
          c.Exec("DELETE FROM permissions WHERE cid = $1 AND kind = $2 AND principal = $3",
                 Params().Add(cid).Add(kind).Add(principal.name)));
    }
    return StatusOf(
        c.Exec("INSERT INTO permissions(cid, kind, principal, can_read, can_write) "
               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cid, kind, principal) DO UPDATE SET "
               "can_read = EXCLUDED.can_read, can_write = EXCLUDED.can_write",
               Params()
                   .Add(cid)
                   .Add(kind)
                   .Add(principal.name)
                   .Add(permission.can_read)
                   .Add(permission.can_write)));
  });
}

Result<std::vector<std::pair<Principal, Permission>>> PostgresStore::ListPermissions(
    std::string_view collection) {
  using Grants = std::vector<std::pair<Principal, Permission>>;
  return ThroughCache(grants_, collection, [&] {
    // One statement (one snapshot, one round trip): the collection's row tells NotFound apart
    // from a collection without grants (then one row of NULLs).
    return ReadOne([&](Connection& c) -> Result<Grants> {
      LIAISON_ASSIGN_OR_RETURN(
          QueryResult r,
          c.Exec("SELECT p.kind, p.principal, p.can_read, p.can_write FROM collections c "
                 "LEFT JOIN permissions p ON p.cid = c.cid WHERE c.id = $1 "
                 "ORDER BY p.kind, p.principal",
                 Params().Add(collection)));
      if (r.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(collection), " not found"));
      }
      Grants out;
      for (int i = 0; i < r.rows(); ++i) {
        if (r.IsNull(i, 0)) continue;
        Principal p;
        p.kind = r.Int(i, 0) == 0 ? Principal::Kind::kUser : Principal::Kind::kGroup;
        p.name = std::string(r.Text(i, 1));
        out.emplace_back(std::move(p), Permission{r.Bool(i, 2), r.Bool(i, 3)});
      }
      return out;
    });
  });
}

// --- Audit log ----------------------------------------------------------------------------------

Result<std::vector<AuditRecord>> PostgresStore::AppendAudit(std::vector<AuditRecord> entries,
                                                            const AuditChainFn& chain) {
  if (entries.empty()) return entries;
  // Group commit, as for Add: appends that queue up while another group is committing (every
  // POST from a sync peer appends a receipt, every partner GET a release entry) are committed by
  // the next leader in one transaction, under one hold of the chain lock and with one WAL flush,
  // each member's entries consecutive and chained with its own `chain`. Each caller returns
  // after the commit is durable. Measured before: one transaction per entry, five round trips
  // (three of them holding the chain lock that serialises every appender of every node) and one
  // flush per POST.
  PendingAudit me{&entries, &chain};
  audit_group_.Run(
      me, kGroupObjects, [](const PendingAudit& p) { return p.entries->size(); },
      [this](const std::vector<PendingAudit*>& group) {
        auto lease = Acquire();
        if (!lease.ok()) {
          for (PendingAudit* p : group) p->result = lease.status();
          return;
        }
        CommitAudits(**lease, group);
      });
  if (!me.result->ok()) return *me.result;
  return entries;
}

void PostgresStore::CommitAudits(Connection& c, const std::vector<PendingAudit*>& group) {
  AuditHead head;
  if (std::optional<std::vector<Connection::Step>> steps = AuditOneTripSteps(group, head)) {
    // One trip: BEGIN, the lock, the guard, the INSERTs, COMMIT.
    steps->insert(steps->begin(), {"BEGIN", Params()});
    const size_t commit_step = steps->size();
    steps->push_back({"COMMIT", Params()});
    size_t failed = 0;
    auto done = c.Pipeline(*steps, &failed);
    if (done.ok()) {
      for (PendingAudit* p : group) p->result = absl::OkStatus();
      SetAuditHead(std::move(head));
      return;
    }
    SetAuditHead(std::nullopt);
    if (failed >= commit_step) {
      // The COMMIT's outcome is unknown (e.g. the connection was lost): tell every caller.
      for (PendingAudit* p : group) p->result = done.status();
      return;
    }
    // The head moved (another node appended) or a statement failed: rolled back; the two-trip
    // way below reads the head under the lock and chains the entries anew.
    (void)c.ExecScript("ROLLBACK");
  }
  bool retry = false;
  Status s = CommitAuditGroup(c, group, retry);
  if (!s.ok() && retry && group.size() > 1) {
    // Tell the failing member apart: each alone (entries are re-chained from scratch).
    for (PendingAudit* p : group) {
      bool unused = false;
      p->result = CommitAuditGroup(c, {p}, unused);
    }
  } else {
    for (PendingAudit* p : group) p->result = s;
  }
}

std::optional<std::vector<Connection::Step>> PostgresStore::AuditOneTripSteps(
    const std::vector<PendingAudit*>& group, AuditHead& head) {
  {
    std::lock_guard<std::mutex> lock(audit_head_mu_);
    if (!audit_head_) return std::nullopt;
    head = *audit_head_;
  }
  // The guard's expected head: "seq hash" (seq is digits, so the text is unambiguous), or ""
  // for an empty log.
  const std::string expected = head.seq == 0 ? std::string() : StrCat(head.seq, " ", head.hash);
  std::vector<const AuditRecord*> all;
  for (PendingAudit* p : group) {
    for (AuditRecord& e : *p->entries) {
      e.seq = ++head.seq;
      e.prev_hash = head.hash;
      e.hash = (*p->chain)(e);
      head.hash = e.hash;
      all.push_back(&e);
    }
  }
  std::vector<Connection::Step> steps;
  // The chain lock first, as on the two-trip path; the guard is a statement of its own, run
  // after the lock is granted with a snapshot of its own (READ COMMITTED), so it sees the last
  // holder's entries: it fails (1 / 0) unless the newest entry is still the head the entries
  // were chained onto, and the whole transaction is rolled back. So the chain never forks: two
  // nodes that both believe they hold the head cannot both pass the guard, since the first to
  // commit changes the head the second checks under the lock (and seq is the primary key).
  steps.push_back({"SELECT value FROM meta WHERE key = 'audit_chain' FOR UPDATE", Params()});
  steps.push_back(
      {"SELECT 1 / (EXISTS (SELECT 1 FROM meta WHERE key = 'audit_chain') AND "
       "coalesce((SELECT seq::text || ' ' || hash FROM audit_log ORDER BY seq DESC LIMIT 1), "
       "'') = $1)::int",
       Params().Add(expected)});
  std::vector<Connection::Step> inserts = AuditInsertSteps(all);
  for (const Connection::Step& step : inserts) {
    // Text PostgreSQL cannot hold (a NUL byte): the two-trip way tells the member apart.
    if (!step.params.Check().ok()) return std::nullopt;
  }
  for (Connection::Step& step : inserts) steps.push_back(std::move(step));
  return steps;
}

std::vector<Connection::Step> PostgresStore::AuditInsertSteps(
    const std::vector<const AuditRecord*>& all) {
  static constexpr char kInsert[] =
      "INSERT INTO audit_log(seq, time, kind, partner, policy_version, details, prev_hash, hash) "
      "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], "
      "$6::text[], $7::text[], $8::text[])";
  std::vector<Connection::Step> steps;
  size_t pos = 0;
  while (pos < all.size()) {
    std::vector<int64_t> seqs;
    std::vector<std::string> times;
    std::vector<std::string_view> kinds, partners, policies, details, prevs, hashes;
    size_t bytes = 0;
    while (pos < all.size() && seqs.size() < kInsertRows &&
           (seqs.empty() || bytes < kInsertBytes)) {
      const AuditRecord& e = *all[pos++];
      seqs.push_back(e.seq);
      times.push_back(TimestampText(e.time));
      kinds.push_back(e.kind);
      partners.push_back(e.partner);
      policies.push_back(e.policy_version);
      details.push_back(e.details);
      prevs.push_back(e.prev_hash);
      hashes.push_back(e.hash);
      bytes += e.details.size();
    }
    steps.push_back({kInsert, Params()
                                  .AddIntArray(seqs)
                                  .AddTextArray(times)
                                  .AddTextArray(kinds)
                                  .AddTextArray(partners)
                                  .AddTextArray(policies)
                                  .AddTextArray(details)
                                  .AddTextArray(prevs)
                                  .AddTextArray(hashes)});
  }
  return steps;
}

Status PostgresStore::CommitAuditGroup(Connection& c, const std::vector<PendingAudit*>& group,
                                       bool& retry) {
  using Step = Connection::Step;
  retry = false;
  SetAuditHead(std::nullopt);  // known again only once this commit succeeds
  auto rollback = [&] { (void)c.ExecScript("ROLLBACK"); };
  // Round trip 1: BEGIN, the chain lock, the head. The lock is taken by every node before it
  // reads the head and held to COMMIT. A waiting appender is granted it only after the previous
  // holder's commit is visible, and the head read is a statement of its own (pipelined
  // statements run one after the other, each with a new snapshot under READ COMMITTED), so it
  // sees that holder's entries: the chain never forks. (Without the lock, two nodes read the
  // same head and the second insert of seq N+1 fails on the primary key.)
  auto first =
      c.Pipeline({{"BEGIN", Params()},
                  {"SELECT value FROM meta WHERE key = 'audit_chain' FOR UPDATE", Params()},
                  {"SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", Params()}});
  if (!first.ok()) {
    rollback();
    retry = true;
    return first.status();
  }
  if ((*first)[1].rows() == 0) {
    rollback();
    return absl::DataLossError("postgres store: meta.audit_chain is missing");
  }
  int64_t seq = 0;
  std::string prev;
  if ((*first)[2].rows() > 0) {
    seq = (*first)[2].Int(0, 0);
    prev = std::string((*first)[2].Text(0, 1));
  }
  std::vector<const AuditRecord*> all;
  for (PendingAudit* p : group) {
    for (AuditRecord& e : *p->entries) {
      e.seq = ++seq;
      e.prev_hash = prev;
      e.hash = (*p->chain)(e);
      prev = e.hash;
      all.push_back(&e);
    }
  }
  // Round trip 2: multi-row INSERTs from arrays (bounded rows and bytes each, as for objects)
  // and COMMIT.
  std::vector<Step> steps = AuditInsertSteps(all);
  // Text PostgreSQL cannot hold (a NUL byte) fails here, before anything is sent: end the
  // transaction, and let the members be told apart.
  for (const Step& step : steps) {
    if (Status st = step.params.Check(); !st.ok()) {
      rollback();
      retry = true;
      return st;
    }
  }
  const size_t commit_step = steps.size();
  steps.push_back({"COMMIT", Params()});
  size_t failed = 0;
  auto done = c.Pipeline(steps, &failed);
  if (!done.ok()) {
    if (failed < commit_step) {
      rollback();
      retry = true;
    }
    return done.status();
  }
  // Committed: the head this node knows for its next append's one trip.
  SetAuditHead(AuditHead{seq, std::move(prev)});
  return absl::OkStatus();
}

Result<std::vector<AuditRecord>> PostgresStore::ReadAudit(const AuditQuery& query) {
  return ReadOne([&](Connection& c) -> Result<std::vector<AuditRecord>> {
    std::string sql =
        "SELECT seq, time, kind, partner, policy_version, details, prev_hash, hash "
        "FROM audit_log WHERE seq > $1";
    Params p;
    p.Add(query.after_seq);
    if (query.partner) {
      sql += StrCat(" AND partner = $", p.size() + 1);
      p.Add(*query.partner);
    }
    // time is fixed-width RFC 3339 with nine fractional digits, COLLATE "C": text order is time
    // order.
    if (query.since) {
      sql += StrCat(" AND time >= $", p.size() + 1);
      p.Add(TimestampText(*query.since));
    }
    sql += StrCat(" ORDER BY seq LIMIT $", p.size() + 1);
    p.Add(static_cast<int64_t>(std::min<size_t>(query.limit, 1'000'000)));
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(sql, p));
    std::vector<AuditRecord> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      AuditRecord e;
      e.seq = r.Int(i, 0);
      LIAISON_ASSIGN_OR_RETURN(e.time, ParseStoredTimestamp(r.Text(i, 1)));
      e.kind = std::string(r.Text(i, 2));
      e.partner = std::string(r.Text(i, 3));
      e.policy_version = std::string(r.Text(i, 4));
      e.details = std::string(r.Text(i, 5));
      e.prev_hash = std::string(r.Text(i, 6));
      e.hash = std::string(r.Text(i, 7));
      out.push_back(std::move(e));
    }
    return out;
  });
}

// --- Sync state ---------------------------------------------------------------------------------

namespace {

Status InsertReceivedRange(Connection& c, const ReceivedRange& r) {
  if (r.last < r.first) return absl::InvalidArgumentError("received range: last before first");
  LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, r.collection));
  return StatusOf(c.Exec(
      "INSERT INTO received_ranges(cid, peer, first_added, last_added) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (cid, peer, first_added) DO UPDATE SET last_added = EXCLUDED.last_added",
      Params().Add(cid).Add(r.peer).Add(ToUnixMicros(r.first)).Add(ToUnixMicros(r.last))));
}

}  // namespace

// Under READ COMMITTED two nodes could both count below the limit and both insert: a
// transaction-scoped advisory lock on the key (the two-int form, a key space apart from the
// migration lock's) makes the count and the insert one step for every node.
constexpr int64_t kRateLimitLocks = 0x4C555345;  // "LUSE"
Result<Store::UseCount> PostgresStore::AdmitUse(std::string_view key, Timestamp now,
                                                std::chrono::microseconds window, int64_t max_uses,
                                                std::chrono::microseconds min_gap) {
  LIAISON_RETURN_IF_ERROR(internal::CheckUseArguments(key, window, max_uses, min_gap));
  const int64_t at = ToUnixMicros(now);
  return Write([&](Connection& c) -> Result<UseCount> {
    auto done =
        c.Pipeline({{"SELECT pg_advisory_xact_lock($1::int, hashtext($2))",
                     Params().Add(kRateLimitLocks).Add(key)},
                    {"DELETE FROM rate_uses WHERE key = $1 AND used_at <= $2",
                     Params().Add(key).Add(at - window.count())},
                    {"SELECT count(*), min(used_at), max(used_at) FROM rate_uses WHERE key = $1",
                     Params().Add(key)}});
    LIAISON_RETURN_IF_ERROR(done.status());
    const QueryResult& count = (*done)[2];
    UseCount found;
    if (count.rows() == 1 && count.Int(0, 0) > 0) {
      found.uses = count.Int(0, 0);
      found.oldest = FromUnixMicros(count.Int(0, 1));
      found.latest = FromUnixMicros(count.Int(0, 2));
    }
    found.admitted = internal::UseAdmitted(found, at, max_uses, min_gap);
    if (found.admitted) {
      LIAISON_RETURN_IF_ERROR(StatusOf(c.Exec("INSERT INTO rate_uses(key, used_at) VALUES ($1, $2)",
                                              Params().Add(key).Add(at))));
    }
    return found;
  });
}

Result<std::optional<std::string>> PostgresStore::GetSyncState(std::string_view key) {
  return ReadOne([&](Connection& c) -> Result<std::optional<std::string>> {
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r, c.Exec("SELECT value FROM sync_state WHERE key = $1", Params().Add(key)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(r.Text(0, 0)));
  });
}

Status PostgresStore::PutSyncState(std::string_view key, std::string_view value,
                                   const std::optional<ReceivedRange>& range) {
  if (key.empty()) return absl::InvalidArgumentError("sync state: empty key");
  return Write([&](Connection& c) -> Status {
    if (range) LIAISON_RETURN_IF_ERROR(InsertReceivedRange(c, *range));
    return StatusOf(
        c.Exec("INSERT INTO sync_state(key, value) VALUES ($1, $2) "
               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
               Params().Add(key).Add(value)));
  });
}

Result<std::vector<std::pair<std::string, std::string>>> PostgresStore::ListSyncState(
    std::string_view prefix, size_t limit) {
  using Rows = std::vector<std::pair<std::string, std::string>>;
  return ReadOne([&](Connection& c) -> Result<Rows> {
    // A range on the primary key rather than LIKE, whose wildcards a key might contain. When the
    // prefix ends in an ASCII character below DEL, prefix-with-that-character-plus-one bounds the
    // range from above (bytewise, COLLATE "C"), so the index walk stops at the prefix's end;
    // otherwise (rare: keys are ASCII paths) starts_with alone ends it.
    std::string upper(prefix);
    const bool bounded = !upper.empty() && static_cast<unsigned char>(upper.back()) < 0x7F;
    if (bounded) upper.back() = static_cast<char>(upper.back() + 1);
    Params p;
    p.Add(prefix).Add(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    std::string sql = "SELECT key, value FROM sync_state WHERE key >= $1 AND starts_with(key, $1)";
    if (bounded) {
      sql += " AND key < $3";
      p.Add(upper);
    }
    sql += " ORDER BY key LIMIT $2";
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(sql, p));
    Rows rows;
    rows.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      rows.emplace_back(std::string(r.Text(i, 0)), std::string(r.Text(i, 1)));
    }
    return rows;
  });
}

Status PostgresStore::AddReceivedRange(std::string_view collection, std::string_view peer,
                                       Timestamp first, Timestamp last) {
  const ReceivedRange range{std::string(collection), std::string(peer), first, last};
  return Write([&](Connection& c) -> Status { return InsertReceivedRange(c, range); });
}

Result<std::vector<std::pair<Timestamp, Timestamp>>> PostgresStore::ReceivedRanges(
    std::string_view collection, std::string_view peer, Timestamp from, Timestamp to) {
  using Ranges = std::vector<std::pair<Timestamp, Timestamp>>;
  return Read([&](Connection& c) -> Result<Ranges> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    // Ranges never overlap one another (each is one Add's own interval), so the one starting at
    // or before `from` is the only earlier one that can reach into [from, to]. Both branches are
    // ranges of the primary key.
    LIAISON_ASSIGN_OR_RETURN(
        QueryResult r,
        c.Exec("(SELECT first_added, last_added FROM received_ranges WHERE cid = $1 AND "
               "peer = $2 AND first_added <= $3 ORDER BY first_added DESC LIMIT 1) "
               "UNION ALL (SELECT first_added, last_added FROM received_ranges WHERE cid = $1 "
               "AND peer = $2 AND first_added > $3 AND first_added <= $4) ORDER BY 1",
               Params().Add(cid).Add(peer).Add(ToUnixMicros(from)).Add(ToUnixMicros(to))));
    Ranges out;
    for (int i = 0; i < r.rows(); ++i) {
      const Timestamp a = FromUnixMicros(r.Int(i, 0)), b = FromUnixMicros(r.Int(i, 1));
      if (b < from) continue;
      out.emplace_back(a, b);
    }
    return out;
  });
}

// --- Change stamp -------------------------------------------------------------------------------

Result<std::string> PostgresStore::ObjectsStamp(std::string_view collection) {
  return ReadOne([&](Connection& c) -> Result<std::string> {
    // As in SQLite, the collection's max(date_added), taken below the readers' horizon: no
    // version will ever be committed below that horizon, and each Add's versions come into view
    // as the horizon passes them, above every version seen before, so the max moves with each
    // Add readers can see; deletions are counted apart. One statement (one snapshot); the max is
    // one step down objects_by_cid. cid is an identity column, never reused, so a collection
    // deleted and created again gets new stamps.
    static const std::string kSql = absl::StrCat(
        "SELECT c.cid, (SELECT max(o.date_added) FROM objects o WHERE o.cid = c.cid AND "
        "o.date_added < ",
        kHorizonSql,
        "), (SELECT value FROM meta WHERE key = 'object_deletions') FROM collections c WHERE "
        "c.id = $1");
    LIAISON_ASSIGN_OR_RETURN(QueryResult r, c.Exec(kSql, Params().Add(collection)));
    if (r.rows() == 0) {
      return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(collection), " not found"));
    }
    return absl::StrCat(r.Int(0, 0), "/", r.IsNull(0, 1) ? 0 : r.Int(0, 1), "/",
                        r.IsNull(0, 2) ? 0 : r.Int(0, 2));
  });
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  return PostgresStore::Open(options);
}

}  // namespace liaison::store
