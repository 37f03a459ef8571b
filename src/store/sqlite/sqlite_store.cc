#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "core/absl_compat.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "store/internal/group_commit.h"
#include "store/internal/records.h"
#include "store/sqlite/checkpointer.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/release_codes.h"
#include "store/sqlite/schema.h"

// Query evaluation, in brief (filter.h has the semantics, schema.cc the invariants):
//  - The base filters that are the same for every version of an id (collection, ids, types)
//    and those that are not (added_after, spec_versions) go into SQL, together with the keyset
//    bound date_added > max(cursor, added_after). Rows come back in date_added order straight
//    from an index whose equality prefix is (cid), (cid, type) or (cid) WHERE is_last, so
//    nothing is sorted and the walk stops after limit + 1 accepted rows.
//  - Version selection is decided per row from the row's flags when they suffice (e.g. `last`
//    and is_last), and otherwise from the row's sibling versions with store::SelectVersions, the
//    same reference code every backend uses. Siblings are read only for superseded versions
//    when added_after or match[spec_version] is given, and for ids stored in several spec
//    versions: rare, and bounded by the number of versions of one object.
//  - When neither added_after nor match[spec_version] is given, the flags decide `first`/`last`
//    exactly and move into SQL, so the default query walks objects_latest and never even sees a
//    superseded version.

namespace liaison::store {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::ConnectionOptions;
using sqlite_internal::KeyFilterContext;
using sqlite_internal::LookupReleaseCode;
using sqlite_internal::ReleaseCoder;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;

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

// Reads the row into `r`, reusing its strings' storage (the query loop reads one row after the
// other into the same Row, so a page costs no allocation per row).
void ReadRowInto(const Statement& st, Row& r) {
  r.date_added = st.Int(0);
  r.id.assign(st.Text(1));
  r.version.assign(st.Text(2));
  r.spec_version.assign(st.Text(3));
  r.type.assign(st.Text(4));
  r.is_first = st.Int(5) != 0;
  r.is_last = st.Int(6) != 0;
  r.spec_latest = st.Int(7) != 0;
}

Row ReadRow(const Statement& st) {
  Row r;
  r.date_added = st.Int(0);
  r.id = std::string(st.Text(1));
  r.version = std::string(st.Text(2));
  r.spec_version = std::string(st.Text(3));
  r.type = std::string(st.Text(4));
  r.is_first = st.Int(5) != 0;
  r.is_last = st.Int(6) != 0;
  r.spec_latest = st.Int(7) != 0;
  return r;
}

Result<std::vector<Row>> LoadVersions(Connection& c, int64_t cid, std::string_view id) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kRowColumns, " FROM objects WHERE cid = ?1 AND id = ?2");
  LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(kSql));
  st.Bind(1, cid);
  st.Bind(2, id);
  std::vector<Row> rows;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) break;
    rows.push_back(ReadRow(st));
  }
  return rows;
}

// An id that is its own JSON string body (printable ASCII without quote or backslash), as STIX
// ids (`type--uuid`) are. Only such ids take KnownIds' shortcut.
bool PlainId(std::string_view id) {
  for (const char ch : id) {
    if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') return false;
  }
  return true;
}

// Of the plain ids of `objects`, those the collection already holds, looked up in one statement
// (one seek per id in objects_by_id). An Add then reads the versions of an id (LoadVersions, a
// statement of its own, ~7 k instructions) only when the id is known: a new id has none.
Result<absl::flat_hash_set<std::string>> KnownIds(Connection& c, int64_t cid,
                                                  std::span<const stix::Object> objects) {
  std::string ids = "[";
  for (const stix::Object& o : objects) {
    if (!PlainId(o.id)) continue;
    if (ids.size() > 1) ids += ',';
    absl::StrAppend(&ids, "\"", ToAbsl(o.id), "\"");
  }
  ids += ']';
  LIAISON_ASSIGN_OR_RETURN(
      Statement st, c.Prepare("SELECT id FROM objects INDEXED BY objects_by_id WHERE cid = ?1 "
                              "AND id IN (SELECT value FROM json_each(?2))"));
  st.Bind(1, cid);
  st.Bind(2, ids);
  absl::flat_hash_set<std::string> known;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    known.emplace(st.Text(0));
  }
  return known;
}

// Rewrites the flags of the versions of one id whose flags changed.
Status RefreshFlags(Connection& c, const std::vector<Row>& versions) {
  const std::vector<Flags> flags = ComputeFlags(versions);
  for (size_t i = 0; i < versions.size(); ++i) {
    const Row& r = versions[i];
    if (flags[i] == Flags{r.is_first, r.is_last, r.spec_latest}) continue;
    LIAISON_ASSIGN_OR_RETURN(
        Statement st, c.Prepare("UPDATE objects SET is_first = ?2, is_last = ?3, spec_latest = ?4 "
                                "WHERE date_added = ?1"));
    st.Bind(1, r.date_added);
    st.Bind(2, int64_t{flags[i].is_first});
    st.Bind(3, int64_t{flags[i].is_last});
    st.Bind(4, int64_t{flags[i].spec_latest});
    LIAISON_RETURN_IF_ERROR(st.Run());
  }
  return absl::OkStatus();
}

// --- Query planning -----------------------------------------------------------------------------

std::string_view FlagSql(FlagFilter f) {
  switch (f) {
    case FlagFilter::kNone:
      return "";
    case FlagFilter::kLast:
      return " AND is_last = 1";
    case FlagFilter::kFirst:
      return " AND is_first = 1";
    case FlagFilter::kFirstOrLast:
      return " AND (is_first = 1 OR is_last = 1)";
  }
  return "";
}

// Raises `value` to at least `to` (several threads may raise it at once).
void RaiseTo(std::atomic<int64_t>& value, int64_t to) {
  int64_t seen = value.load();
  while (seen < to && !value.compare_exchange_weak(seen, to)) {
  }
}

// The highest pid in audit_pending (0 when empty).
Result<int64_t> MaxPendingPid(Connection& c) {
  LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT max(pid) FROM audit_pending"));
  LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && !st.IsNull(0) ? st.Int(0) : int64_t{0};
}

// "?a, ?a+1, ..." for n parameters starting at `first`.
std::string Placeholders(int first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    absl::StrAppend(&out, "?", first + static_cast<int>(i));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const SqliteOptions& options);

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
  std::unique_ptr<ReadScope> PinReads() override;
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
  Result<AddResult> AddWithAudit(std::string_view collection, std::span<const stix::Object> objects,
                                 const AddOptions& options, std::vector<AuditRecord> audit,
                                 const AuditChainFn& chain) override;
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
  Result<Page> QueryKept(std::string_view collection, const Filter& filter, const KeepFn& keep,
                         size_t max_scanned) override {
    return QueryImpl(collection, filter, /*with_json=*/true, /*each=*/nullptr, &keep,
                     std::max<size_t>(max_scanned, 1));
  }
  Result<Page> QueryKeyed(std::string_view collection, const Filter& filter,
                          const KeyFilterFactory& make_filter, const KeepFn& keep,
                          size_t max_scanned) override {
    return QueryImpl(collection, filter, /*with_json=*/true, /*each=*/nullptr, &keep,
                     std::max<size_t>(max_scanned, 1), &make_filter);
  }

 private:
  explicit SqliteStore(const SqliteOptions& options) : options_(options) {}

  // A reader connection borrowed from the pool; returned when destroyed.
  class ReaderLease {
   public:
    ReaderLease(SqliteStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    ReaderLease(ReaderLease&& other) noexcept = default;
    ~ReaderLease() {
      if (conn_) store_->ReleaseReader(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }

   private:
    SqliteStore* store_;
    std::unique_ptr<Connection> conn_;
  };

  // PinReads: the reader connection and its read transaction, pinned to the thread that made
  // the scope.
  class PinnedReads;

  ConnectionOptions ReaderOptions() const;
  Result<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn);

  // Runs fn(Connection&) in a read transaction (one consistent snapshot).
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs fn(Connection&) in a write transaction on the writer connection; commits when fn
  // succeeds, rolls back otherwise.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));

  Timestamp Now() const { return options_.clock ? options_.clock() : Timestamp::Now(); }

  // Status expiry (SqliteOptions::status_ttl): whether a status written at `request_timestamp`
  // has expired, and the pruning of expired ones, run inside a write transaction.
  bool StatusExpired(Timestamp request_timestamp) const;
  Status PruneStatuses(Connection& c);
  std::atomic<int64_t> last_prune_micros_{0};

  // Group commit (see Add): the Adds waiting for the writer are committed together, each in its
  // own savepoint, with one fsync. Under concurrent ingest this multiplies throughput; a lone
  // Add is committed at once, as before.
  // AppendAudit is group-committed too: a POST writes its objects and then, for its signed
  // receipt, one audit entry (taxii/sync); committed alone, that entry cost a second fsync per
  // POST. Audit entries have a queue and a leader of their own (they go to another file, under
  // audit_mu_), so the audit file's commit and fsync run beside the next group of objects
  // instead of after it: one group's audit fsync used to hold the next group's objects back.
  struct PrebuiltStatus {
    StatusResource status;
    std::string body;  // StatusBody(status)
  };
  struct AddJob {
    std::string_view collection;
    std::span<const stix::Object> objects;
    const AddOptions* options;
    // The objects' release facts, read by the caller before queueing (ReleaseFactsBatch).
    const sqlite_internal::ReleaseFactsBatch* facts = nullptr;
    // The status resource (AddOptions::status) as it reads when every object is added, and its
    // stored text, built by the caller before queueing; null when that cannot be known before
    // the write (an object without a version: its status names the date_added).
    PrebuiltStatus* prebuilt = nullptr;
    std::vector<AuditRecord>* audit = nullptr;  // set: an AppendAudit, not an Add
    const AuditChainFn* chain = nullptr;
    // AddWithAudit: entries stored in audit_pending in the Add's savepoint.
    const std::vector<AuditRecord>* pending_audit = nullptr;
    std::optional<Result<AddResult>> result;  // set by the group's commit
    bool done = false;                        // internal::GroupCommit
  };
  static constexpr size_t kMaxObjectsPerGroup = 20'000;
  // Queues `job`, and commits the queue when no other thread is doing so; returns its result.
  Result<AddResult> RunInGroup(AddJob& job);
  std::vector<Result<AddResult>> CommitGroup(const std::vector<AddJob*>& group);
  Result<AddResult> AddInTransaction(Connection& c, std::string_view collection,
                                     std::span<const stix::Object> objects,
                                     const sqlite_internal::ReleaseFactsBatch& facts,
                                     const AddOptions& options, PrebuiltStatus* prebuilt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // The objects of a group (its Adds), under the writer lock; AppendAudit jobs are skipped.
  std::vector<Result<AddResult>> CommitObjects(const std::vector<AddJob*>& group);
  // The entries of a group's AppendAudit jobs, in order, in one transaction of the audit file,
  // after the pending entries (below) committed before the transaction began.
  Status AppendAuditGroup(const std::vector<AddJob*>& jobs) ABSL_LOCKS_EXCLUDED(writer_mu_);
  Result<AddResult> AddImpl(std::string_view collection, std::span<const stix::Object> objects,
                            const AddOptions& options, const std::vector<AuditRecord>* audit);

  // Receipts ride the objects' commit (AddWithAudit; docs/store.md): a POST's audit entry is
  // inserted into audit_pending in the objects' transaction, so the POST waits for one fsync,
  // not two. The mover chains pending entries into the audit file (in pid order, recording the
  // highest pid moved in the same transaction, so a move is never repeated, by this process or
  // another) at most once per kMoveWindow (which bounds the audit file's fsyncs under POST load),
  // and before any audit read or append; the writer deletes moved rows in its next transaction.
  // Entries left pending by a crash are moved by the first call that brings the chain function
  // (ReleaseLog passes it on every read).
  class AuditMover;
  static constexpr absl::Duration kMoveWindow = absl::Milliseconds(100);
  Status MovePendingAudit() ABSL_LOCKS_EXCLUDED(audit_mu_);
  // MovePendingAudit for the entries of every process, not only this one's (audit reads).
  Status MoveAllPendingAudit() ABSL_LOCKS_EXCLUDED(audit_mu_);
  bool AuditPending() const { return pending_max_.load() > moved_durable_.load(); }
  void RememberChain(const AuditChainFn& chain) ABSL_LOCKS_EXCLUDED(chain_mu_);
  absl::Mutex chain_mu_;
  AuditChainFn pending_chain_ ABSL_GUARDED_BY(chain_mu_);
  std::atomic<int64_t> pending_max_{0};    // highest pid committed here or found at open
  std::atomic<int64_t> moved_durable_{0};  // highest pid the audit file holds, durably
  int64_t pending_deleted_ ABSL_GUARDED_BY(writer_mu_) = 0;  // rows <= this are deleted

  // With `each`, the records' JSON goes to it and the page has no records (QueryEach).
  // `keep` (QueryKept) sees each version of a date_added-ordered scan before it is read out.
  // `make_key_filter` (QueryKeyed) builds a release-key predicate that the date_added scan
  // tests on the index entry, before the row is read.
  Result<Page> QueryImpl(std::string_view collection, const Filter& filter, bool with_json,
                         const std::function<void(std::string_view)>* each = nullptr,
                         const KeepFn* keep = nullptr, size_t max_scanned = 0,
                         const KeyFilterFactory* make_key_filter = nullptr);
  // Whether `row` (which passed the SQL filters) is in the query's result.
  Result<bool> Selected(Connection& c, int64_t cid, const Row& row, const Filter& filter,
                        const VersionPlan& plan);

  const SqliteOptions options_;

  absl::Mutex writer_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(writer_mu_);
  // After writer_: destroyed (its thread joined) before the writer connection closes.
  std::unique_ptr<sqlite_internal::Checkpointer> checkpointer_;

  // One group commit for Adds and one for AppendAudits (see AddJob).
  internal::GroupCommit<AddJob> object_group_;
  internal::GroupCommit<AddJob> audit_group_;

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);

  // The audit log lives in its own file, <path>.audit (issue #6): in WAL mode every commit to a
  // database file makes each reader drop its page cache, and a partner's GET appends to the log,
  // so with the log beside the objects every GET after another started cold. Opened on first
  // use; `audit_mu_` serialises this process's appends (BEGIN IMMEDIATE other processes').
  Result<Connection*> AuditConnection() ABSL_EXCLUSIVE_LOCKS_REQUIRED(audit_mu_);
  absl::Mutex audit_mu_;
  std::unique_ptr<Connection> audit_ ABSL_GUARDED_BY(audit_mu_);

  // Last: its thread (which calls into the members above) stops first.
  std::unique_ptr<AuditMover> mover_;
};

// The thread that chains pending audit entries (see SqliteStore::MovePendingAudit).
class SqliteStore::AuditMover {
 public:
  explicit AuditMover(SqliteStore* store) : store_(store), thread_([this] { Run(); }) {}
  ~AuditMover() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  void Notify() {
    absl::MutexLock lock(&mu_);
    requested_ = true;
  }

 private:
  void Run() {
    for (;;) {
      bool stop = false;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](AuditMover* m)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) { return m->requested_ || m->stop_; },
            this));
        // The entries of the POSTs that commit within the window go in the same audit commit:
        // the window bounds the audit file's fsyncs, and nobody waits for them.
        mu_.AwaitWithTimeout(absl::Condition(&stop_), kMoveWindow);
        requested_ = false;
        stop = stop_;
      }
      // A failure leaves the entries pending (they are durable): the next call tries again.
      (void)store_->MovePendingAudit();
      if (stop) return;
    }
  }

  SqliteStore* const store_;
  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the fields above exist
};

namespace {

// The ok-ness and status of either a Status or a Result<T>.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
inline Status StatusOf(const Result<T>& r) {
  return r.status();
}

Result<int64_t> CollectionKey(Connection& c, std::string_view id) {
  LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT cid FROM collections WHERE id = ?1"));
  st.Bind(1, id);
  LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(id), " not found"));
  }
  return st.Int(0);
}

// Counts object deletions in meta('object_deletions') for ObjectsStamp: a deletion, unlike an
// Add, leaves max(date_added) where it was.
Status CountDeletion(Connection& c) {
  return c.Exec(
      "INSERT INTO meta(key, value) VALUES ('object_deletions', 1) "
      "ON CONFLICT(key) DO UPDATE SET value = value + 1");
}

Result<bool> UserExists(Connection& c, std::string_view name) {
  LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT 1 FROM users WHERE name = ?1"));
  st.Bind(1, name);
  return st.Step();
}

}  // namespace

namespace {

// The store whose reads this thread has pinned (SqliteStore::PinReads), and the connection in
// its read transaction. Raw pointers: the scope that sets them clears them.
thread_local const Store* pinned_store = nullptr;
thread_local Connection* pinned_connection = nullptr;

}  // namespace

class SqliteStore::PinnedReads final : public ReadScope {
 public:
  PinnedReads(ReaderLease lease, Transaction tx) : lease_(std::move(lease)), tx_(std::move(tx)) {}
  ~PinnedReads() override {
    pinned_store = nullptr;
    pinned_connection = nullptr;
    tx_.reset();  // rolls the read transaction back before the connection returns to the pool
  }
  Connection& connection() const { return *lease_; }

 private:
  ReaderLease lease_;
  std::optional<Transaction> tx_;
};

std::unique_ptr<Store::ReadScope> SqliteStore::PinReads() {
  if (pinned_store != nullptr) return nullptr;  // scopes do not nest
  auto lease = AcquireReader();
  if (!lease.ok()) return nullptr;  // the reads themselves will report the failure
  auto tx = Transaction::Begin(**lease, Transaction::Mode::kRead);
  if (!tx.ok()) return nullptr;
  auto scope = std::make_unique<PinnedReads>(std::move(*lease), std::move(*tx));
  pinned_store = this;
  pinned_connection = &scope->connection();
  return scope;
}

template <typename Fn>
auto SqliteStore::Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  // Inside a PinReads scope of this thread: the scope's snapshot, no transaction of its own.
  if (pinned_store == this) return fn(*pinned_connection);
  LIAISON_ASSIGN_OR_RETURN(ReaderLease lease, AcquireReader());
  // A read transaction is never committed: rolling it back just releases the snapshot.
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*lease, Transaction::Mode::kRead));
  return fn(*lease);
}

template <typename Fn>
auto SqliteStore::Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  absl::MutexLock lock(&writer_mu_);
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*writer_, Transaction::Mode::kWrite));
  auto result = fn(*writer_);
  if (!result.ok()) return result;  // ~Transaction rolls back
  if (Status s = tx.Commit(); !s.ok()) return s;
  return result;
}

ConnectionOptions SqliteStore::ReaderOptions() const {
  ConnectionOptions o;
  o.read_only = true;
  o.busy_timeout_ms = options_.busy_timeout_ms;
  o.cache_size_kib = options_.cache_size_kib;
  o.mmap_size_bytes = options_.mmap_size_bytes;
  return o;
}

Result<SqliteStore::ReaderLease> SqliteStore::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(conn));
    }
  }
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                           Connection::Open(options_.path, ReaderOptions()));
  return ReaderLease(this, std::move(conn));
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&readers_mu_);
  if (idle_readers_.size() < std::max<size_t>(options_.idle_readers, 1)) {
    idle_readers_.push_back(std::move(conn));
  }
  // else: closed here, outside the pool's bound.
}

Result<std::unique_ptr<Store>> SqliteStore::Open(const SqliteOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite store: empty path");
  if (options.max_page_size == 0) {
    return absl::InvalidArgumentError("sqlite store: max_page_size must be positive");
  }
  std::error_code ec;
  const bool exists = std::filesystem::exists(options.path, ec);
  if (!exists) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("sqlite store: ", options.path.string(), " does not exist"));
    }
    if (options.path.has_parent_path()) {
      std::filesystem::create_directories(options.path.parent_path(), ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat("sqlite store: cannot create ",
                                                   options.path.parent_path().string(), ": ",
                                                   ec.message()));
      }
    }
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  ConnectionOptions writer_options = store->ReaderOptions();
  writer_options.read_only = false;
  writer_options.create = options.create_if_missing;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                           Connection::Open(options.path, writer_options));
  // Bound the WAL file once checkpoints catch up, so a burst of ingest does not leave a huge
  // -wal file behind.
  LIAISON_RETURN_IF_ERROR(writer->Exec("PRAGMA journal_size_limit=67108864"));
  // A new store gets 16 KiB pages (SQLite's default is 4 KiB; an existing file keeps its size,
  // and in WAL mode it cannot change). A POST of 100 objects of ~600 bytes appends ~60 KB of
  // rows and a few entries to each index: with 4 KiB pages that was ~57 WAL frames per commit,
  // each written with two pwrite calls by the writer while it holds the write lock; 16 KiB pages
  // carry the same bytes in a quarter of the frames, and make the B-trees shallower for reads.
  if (!exists) LIAISON_RETURN_IF_ERROR(writer->Exec("PRAGMA page_size=16384"));
  LIAISON_RETURN_IF_ERROR(sqlite_internal::Migrate(*writer));
  {
    absl::MutexLock lock(&store->writer_mu_);
    store->checkpointer_ =
        std::make_unique<sqlite_internal::Checkpointer>(options.path, writer->db());
    // Entries a previous process left pending (a crash): moved once a chain function is known.
    LIAISON_ASSIGN_OR_RETURN(int64_t max_pid, MaxPendingPid(*writer));
    store->pending_max_.store(max_pid);
    store->writer_ = std::move(writer);
  }
  store->mover_ = std::make_unique<AuditMover>(store.get());
  return std::unique_ptr<Store>(std::move(store));
}

// --- Collections --------------------------------------------------------------------------------

Status SqliteStore::CreateCollection(const Collection& collection) {
  if (collection.id.empty()) return absl::InvalidArgumentError("collection: empty id");
  const std::string media_types = JoinLines(collection.media_types);
  return Write([&](Connection& c) -> Status {
    if (CollectionKey(c, collection.id).ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("collection ", collection.id, " already exists"));
    }
    LIAISON_ASSIGN_OR_RETURN(
        Statement st, c.Prepare("INSERT INTO collections(id, api_root, title, description, alias, "
                                "media_types) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    st.Bind(1, collection.id);
    st.Bind(2, collection.api_root);
    st.Bind(3, collection.title);
    st.Bind(4, collection.description);
    st.Bind(5, collection.alias);
    st.Bind(6, media_types);
    return st.Run();
  });
}

Status SqliteStore::UpdateCollection(const Collection& collection) {
  const std::string media_types = JoinLines(collection.media_types);
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("UPDATE collections SET api_root = ?2, title = ?3, description = ?4, "
                  "alias = ?5, media_types = ?6 WHERE id = ?1"));
    st.Bind(1, collection.id);
    st.Bind(2, collection.api_root);
    st.Bind(3, collection.title);
    st.Bind(4, collection.description);
    st.Bind(5, collection.alias);
    st.Bind(6, media_types);
    LIAISON_RETURN_IF_ERROR(st.Run());
    if (c.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("collection ", collection.id, " not found"));
    }
    return absl::OkStatus();
  });
}

namespace {

constexpr const char* kCollectionColumns = "id, api_root, title, description, alias, media_types";

Collection ReadCollection(const Statement& st) {
  Collection c;
  c.id = std::string(st.Text(0));
  c.api_root = std::string(st.Text(1));
  c.title = std::string(st.Text(2));
  c.description = std::string(st.Text(3));
  c.alias = std::string(st.Text(4));
  c.media_types = SplitLines(st.Text(5));
  return c;
}

}  // namespace

Result<Collection> SqliteStore::GetCollection(std::string_view id) {
  return Read([&](Connection& c) -> Result<Collection> {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare(absl::StrCat("SELECT ", kCollectionColumns, " FROM collections WHERE id = ?1")));
    st.Bind(1, id);
    LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("collection ", ToAbsl(id), " not found"));
    return ReadCollection(st);
  });
}

Result<std::vector<Collection>> SqliteStore::ListCollections() {
  return Read([&](Connection& c) -> Result<std::vector<Collection>> {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare(absl::StrCat("SELECT ", kCollectionColumns, " FROM collections ORDER BY cid")));
    std::vector<Collection> out;
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadCollection(st));
    }
    return out;
  });
}

Status SqliteStore::DeleteCollection(std::string_view id) {
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, id));
    for (const char* sql :
         {"DELETE FROM objects WHERE cid = ?1", "DELETE FROM permissions WHERE cid = ?1",
          "DELETE FROM collections WHERE cid = ?1"}) {
      LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
      st.Bind(1, cid);
      LIAISON_RETURN_IF_ERROR(st.Run());
    }
    return CountDeletion(c);
  });
}

// --- Objects ------------------------------------------------------------------------------------

namespace {

// Rows per INSERT statement at most (11 parameters each).
constexpr size_t kMaxRowsPerInsert = 64;

// A version about to be inserted (AddInTransaction); the views point into the Add's objects.
struct NewRow {
  int64_t date_added = 0;
  std::string_view id;
  std::string version;
  std::string_view type;
  std::string spec_version;
  bool is_first = false;
  bool is_last = false;
  bool spec_latest = false;
  std::string_view json;
  int64_t rkey = 0;
};

// "INSERT INTO objects ... VALUES (...), (...)" for `rows` rows, built once per size.
const std::string& InsertRowsSql(size_t rows) {
  static const auto* sql = [] {
    auto* out = new std::array<std::string, kMaxRowsPerInsert + 1>();
    for (size_t n = 1; n <= kMaxRowsPerInsert; ++n) {
      std::string& s = (*out)[n];
      s = "INSERT INTO objects(date_added, cid, id, version, type, spec_version, is_first, "
          "is_last, spec_latest, json, rkey) VALUES ";
      for (size_t r = 0; r < n; ++r) {
        absl::StrAppend(&s, r == 0 ? "(" : ", (", Placeholders(static_cast<int>(r * 11 + 1), 11),
                        ")");
      }
    }
    return out;
  }();
  return (*sql)[rows];
}

// Inserts `rows` (of collection `cid`) with multi-row INSERTs of 64, 32, ... 1 rows. One
// statement keeps its B-tree cursors open from row to row, and SQLite does not seek an index
// from its root for a key that goes after the cursor's last entry: the rows' date_added (the
// rowid), and the (cid, date_added...) and (cid, is_last) indexes, always append; a statement
// per row re-opened every cursor and descended every tree for each row.
Status InsertRows(Connection& c, int64_t cid, std::vector<NewRow>& rows) {
  for (size_t done = 0; done < rows.size();) {
    size_t n = kMaxRowsPerInsert;
    while (n > rows.size() - done) n /= 2;
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(InsertRowsSql(n)));
    for (size_t r = 0; r < n; ++r) {
      const NewRow& row = rows[done + r];
      const int p = static_cast<int>(r * 11);
      st.Bind(p + 1, row.date_added);
      st.Bind(p + 2, cid);
      st.Bind(p + 3, row.id);
      st.Bind(p + 4, row.version);
      st.Bind(p + 5, row.type);
      st.Bind(p + 6, row.spec_version);
      st.Bind(p + 7, int64_t{row.is_first});
      st.Bind(p + 8, int64_t{row.is_last});
      st.Bind(p + 9, int64_t{row.spec_latest});
      st.Bind(p + 10, row.json);
      st.Bind(p + 11, row.rkey);
    }
    LIAISON_RETURN_IF_ERROR(st.Run());
    done += n;
  }
  rows.clear();
  return absl::OkStatus();
}

// An audit entry from columns 0-5 of `st`: seq (or pid), time, kind, partner, policy_version,
// details, as audit_log and audit_pending both list them.
Result<AuditRecord> ReadAuditEntry(const Statement& st) {
  AuditRecord r;
  r.seq = st.Int(0);
  LIAISON_ASSIGN_OR_RETURN(r.time, ParseStoredTimestamp(st.Text(1)));
  r.kind = std::string(st.Text(2));
  r.partner = std::string(st.Text(3));
  r.policy_version = std::string(st.Text(4));
  r.details = std::string(st.Text(5));
  return r;
}

// Stores `entries` in audit_pending (AddWithAudit); returns the last pid.
Result<int64_t> InsertPendingAudit(Connection& c, const std::vector<AuditRecord>& entries) {
  LIAISON_ASSIGN_OR_RETURN(
      Statement st, c.Prepare("INSERT INTO audit_pending(time, kind, partner, policy_version, "
                              "details) VALUES (?1, ?2, ?3, ?4, ?5)"));
  for (const AuditRecord& e : entries) {
    const std::string time = TimestampText(e.time);
    st.Bind(1, time);
    st.Bind(2, e.kind);
    st.Bind(3, e.partner);
    st.Bind(4, e.policy_version);
    st.Bind(5, e.details);
    LIAISON_RETURN_IF_ERROR(st.Run());
    st.Reset();
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(c.db()));
}

// `body` is StatusBody(status).
Status WriteStatus(Connection& c, const StatusResource& status, std::string_view body) {
  const std::string request_timestamp = TimestampText(status.request_timestamp);
  LIAISON_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("INSERT OR REPLACE INTO statuses(id, api_root, request_timestamp, body) "
                "VALUES (?1, ?2, ?3, ?4)"));
  st.Bind(1, status.id);
  st.Bind(2, status.api_root);
  st.Bind(3, request_timestamp);
  st.Bind(4, body);
  return st.Run();
}

}  // namespace

Result<AddResult> SqliteStore::Add(std::string_view collection,
                                   std::span<const stix::Object> objects,
                                   const AddOptions& options) {
  return AddImpl(collection, objects, options, nullptr);
}

Result<AddResult> SqliteStore::AddWithAudit(std::string_view collection,
                                            std::span<const stix::Object> objects,
                                            const AddOptions& options,
                                            std::vector<AuditRecord> audit,
                                            const AuditChainFn& chain) {
  if (audit.empty()) return AddImpl(collection, objects, options, nullptr);
  if (!chain) return absl::InvalidArgumentError("audit entries without a chain function");
  RememberChain(chain);
  return AddImpl(collection, objects, options, &audit);
}

Result<AddResult> SqliteStore::AddImpl(std::string_view collection,
                                       std::span<const stix::Object> objects,
                                       const AddOptions& options,
                                       const std::vector<AuditRecord>* audit) {
  if (options.status && options.status->id.empty()) {
    return absl::InvalidArgumentError("status: empty id");
  }
  // Read here, on the caller's thread, not in the writer's serial section (see AddJob).
  sqlite_internal::ReleaseFactsBatch facts;
  for (const stix::Object& object : objects) facts.Append(object.json);
  AddJob job{collection, objects, &options, &facts};
  job.pending_audit = audit;
  // So is the status resource of the common case, every object new (its text is ~110 bytes an
  // object, 8 % of the serial section when built there).
  std::optional<PrebuiltStatus> prebuilt;
  if (options.status && std::all_of(objects.begin(), objects.end(), [](const stix::Object& o) {
        return o.version().has_value();
      })) {
    const std::vector<AddOutcome> added(objects.size(), AddOutcome{AddOutcome::Kind::kAdded, {}});
    prebuilt.emplace();
    prebuilt->status = AddStatus(*options.status, objects, added);
    prebuilt->body = StatusBody(prebuilt->status);
    job.prebuilt = &*prebuilt;
  }
  return RunInGroup(job);
}

Result<AddResult> SqliteStore::RunInGroup(AddJob& job) {
  (job.audit != nullptr ? audit_group_ : object_group_)
      .Run(
          job, kMaxObjectsPerGroup, [](const AddJob& j) { return j.objects.size(); },
          [this](const std::vector<AddJob*>& group) {
            std::vector<Result<AddResult>> results = CommitGroup(group);
            for (size_t i = 0; i < group.size(); ++i) group[i]->result = std::move(results[i]);
          });
  return std::move(*job.result);
}

std::vector<Result<AddResult>> SqliteStore::CommitGroup(const std::vector<AddJob*>& group) {
  std::vector<AddJob*> audits;
  for (AddJob* job : group) {
    if (job->audit != nullptr) audits.push_back(job);
  }
  std::vector<Result<AddResult>> results =
      audits.size() < group.size() ? CommitObjects(group)
                                   : std::vector<Result<AddResult>>(group.size(), AddResult{});
  // Audit entries after the objects, outside the writer lock (AuditConnection may write to the
  // object file once, to move a legacy log, while holding audit_mu_).
  if (!audits.empty()) {
    const Status s = AppendAuditGroup(audits);
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i]->audit != nullptr) results[i] = s.ok() ? Result<AddResult>(AddResult{}) : s;
    }
  }
  return results;
}

std::vector<Result<AddResult>> SqliteStore::CommitObjects(const std::vector<AddJob*>& group) {
  absl::MutexLock lock(&writer_mu_);
  Connection& c = *writer_;
  auto fail_all = [&](const Status& s) {
    return std::vector<Result<AddResult>>(group.size(), Result<AddResult>(s));
  };
  auto tx = Transaction::Begin(c, Transaction::Mode::kWrite);
  if (!tx.ok()) return fail_all(tx.status());
  // Pending audit entries the audit file now holds (see AuditMover) go with this commit.
  const int64_t moved = moved_durable_.load();
  if (moved > pending_deleted_) {
    auto del = c.Prepare("DELETE FROM audit_pending WHERE pid <= ?1");
    if (!del.ok()) return fail_all(del.status());
    del->Bind(1, moved);
    if (Status s = del->Run(); !s.ok()) return fail_all(s);
  }
  int64_t last_pid = 0;
  std::vector<Result<AddResult>> results;
  results.reserve(group.size());
  for (AddJob* job : group) {
    // Each Add is all-or-nothing on its own: a savepoint undoes a failed one without touching
    // the others of the group.
    if (job->audit != nullptr) {
      results.push_back(AddResult{});  // appended by CommitGroup once the objects are in
      continue;
    }
    if (Status s = c.Run("SAVEPOINT add_job"); !s.ok()) return fail_all(s);
    Result<AddResult> r = AddInTransaction(c, job->collection, job->objects, *job->facts,
                                           *job->options, job->prebuilt);
    if (r.ok() && job->pending_audit != nullptr) {
      auto pid = InsertPendingAudit(c, *job->pending_audit);
      if (pid.ok()) {
        last_pid = *pid;
      } else {
        r = pid.status();
      }
    }
    if (!r.ok()) {
      if (Status s = c.Run("ROLLBACK TO add_job"); !s.ok()) return fail_all(s);
    }
    if (Status s = c.Run("RELEASE add_job"); !s.ok()) return fail_all(s);
    results.push_back(std::move(r));
  }
  // One commit, one fsync for the whole group. If it fails, nothing of the group is stored.
  if (Status s = tx->Commit(); !s.ok()) {
    for (Result<AddResult>& r : results) {
      if (r.ok()) r = s;
    }
    return results;
  }
  pending_deleted_ = std::max(pending_deleted_, moved);
  if (last_pid > 0) {
    RaiseTo(pending_max_, last_pid);
    if (mover_) mover_->Notify();
  }
  return results;
}

Result<AddResult> SqliteStore::AddInTransaction(Connection& c, std::string_view collection,
                                                std::span<const stix::Object> objects,
                                                const sqlite_internal::ReleaseFactsBatch& facts,
                                                const AddOptions& options,
                                                PrebuiltStatus* prebuilt) {
  const int64_t now = ToUnixMicros(Now());
  {
    AddResult result;
    result.outcomes.reserve(objects.size());
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    int64_t last = 0;
    {
      LIAISON_ASSIGN_OR_RETURN(Statement st,
                               c.Prepare("SELECT value FROM meta WHERE key = 'last_date_added'"));
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return absl::DataLossError("sqlite store: meta.last_date_added is missing");
      last = st.Int(0);
    }
    // date_added: microseconds, strictly increasing across the store in commit order (the
    // write lock is held from BEGIN IMMEDIATE to COMMIT). When the clock lags behind the last
    // value (a burst of more than a million versions a second, or a clock stepped back), the
    // store's time runs ahead of the wall clock until it catches up.
    int64_t next = std::max(now, last + 1);
    ReleaseCoder coder(c);  // release keys (issue #6); its codes live as long as this Add
    // Ids stored before this Add (read in this transaction, after the group's earlier Adds), and
    // below, those this Add stores: any other plain id has no versions yet.
    LIAISON_ASSIGN_OR_RETURN(absl::flat_hash_set<std::string> known, KnownIds(c, cid, objects));
    // Versions of ids without earlier versions wait here and go in with multi-row INSERTs
    // (InsertRows); anything that reads or rewrites stored versions inserts them first.
    std::vector<NewRow> batch;
    batch.reserve(std::min(objects.size(), kMaxRowsPerInsert));
    for (size_t i = 0; i < objects.size(); ++i) {
      const stix::Object& object = objects[i];
      LIAISON_RETURN_IF_ERROR(CheckObject(object, i));
      std::string version = VersionKey(object.version());
      std::vector<Row> versions;
      if (!PlainId(object.id) || known.contains(ToAbsl(object.id))) {
        LIAISON_RETURN_IF_ERROR(InsertRows(c, cid, batch));
        LIAISON_ASSIGN_OR_RETURN(versions, LoadVersions(c, cid, object.id));
      }
      auto same = std::find_if(versions.begin(), versions.end(),
                               [&](const Row& r) { return r.version == version; });
      if (same != versions.end()) {
        result.outcomes.push_back({AddOutcome::Kind::kDuplicate, FromUnixMicros(same->date_added)});
        ++result.duplicates;
        continue;
      }
      LIAISON_ASSIGN_OR_RETURN(int64_t release_key, coder.KeyOf(facts.Get(i)));
      NewRow& row = batch.emplace_back();
      const int64_t date_added = next++;
      row.date_added = date_added;
      row.id = object.id;
      row.type = object.type;
      row.spec_version = EffectiveSpecVersion(object);
      row.json = object.json;
      row.rkey = release_key;
      // The first version of its id is first, last and the highest spec_version by itself; a
      // further one takes its flags from its siblings', and may change theirs (RefreshFlags).
      row.is_first = row.is_last = row.spec_latest = true;
      if (!versions.empty()) {
        Row added;
        added.date_added = date_added;
        added.id = object.id;
        added.version = version;
        added.spec_version = row.spec_version;
        added.type = object.type;
        versions.push_back(std::move(added));
        const Flags flags = ComputeFlags(versions).back();
        row.is_first = flags.is_first;
        row.is_last = flags.is_last;
        row.spec_latest = flags.spec_latest;
      }
      row.version = std::move(version);
      result.outcomes.push_back({AddOutcome::Kind::kAdded, FromUnixMicros(date_added)});
      ++result.added;
      known.insert(object.id);
      if (!versions.empty()) {
        LIAISON_RETURN_IF_ERROR(InsertRows(c, cid, batch));  // this row alone (flushed above)
        LIAISON_RETURN_IF_ERROR(RefreshFlags(c, versions));
      } else if (batch.size() == kMaxRowsPerInsert) {
        LIAISON_RETURN_IF_ERROR(InsertRows(c, cid, batch));
      }
    }
    LIAISON_RETURN_IF_ERROR(InsertRows(c, cid, batch));
    if (result.added > 0) {
      LIAISON_ASSIGN_OR_RETURN(
          Statement st, c.Prepare("UPDATE meta SET value = ?1 WHERE key = 'last_date_added'"));
      st.Bind(1, next - 1);
      LIAISON_RETURN_IF_ERROR(st.Run());
    }
    if (options.status) {
      LIAISON_RETURN_IF_ERROR(PruneStatuses(c));
      if (prebuilt != nullptr && result.added == objects.size()) {
        LIAISON_RETURN_IF_ERROR(WriteStatus(c, prebuilt->status, prebuilt->body));
        result.status = std::move(prebuilt->status);
      } else {
        StatusResource status = AddStatus(*options.status, objects, result.outcomes);
        LIAISON_RETURN_IF_ERROR(WriteStatus(c, status, StatusBody(status)));
        result.status = std::move(status);
      }
    }
    return result;
  }
}

Result<bool> SqliteStore::Selected(Connection& c, int64_t cid, const Row& row, const Filter& filter,
                                   const VersionPlan& plan) {
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
  bool need_siblings = false;
  if (!version_ok) {
    // A superseded version can still be the first/last among the versions that pass a filter
    // which differs between versions (added_after, spec_version). Otherwise it is out.
    if (!(plan.base_varies && (plan.first || plan.last))) return false;
    need_siblings = true;
  } else if (!plan.explicit_spec && !row.spec_latest) {
    // The default spec_version rule keeps the highest spec version among the selected versions;
    // this row is not the highest overall, so it depends on which others are selected.
    need_siblings = true;
  }
  if (!need_siblings) return true;
  LIAISON_ASSIGN_OR_RETURN(std::vector<Row> versions, LoadVersions(c, cid, row.id));
  LIAISON_ASSIGN_OR_RETURN(std::vector<VersionRecord> records, ToVersionRecords(versions));
  const std::vector<bool> selected = SelectVersions(records, filter);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (versions[i].date_added == row.date_added) return selected[i];
  }
  return false;
}

Result<Page> SqliteStore::QueryImpl(std::string_view collection, const Filter& filter,
                                    bool with_json,
                                    const std::function<void(std::string_view)>* each,
                                    const KeepFn* keep, size_t max_scanned,
                                    const KeyFilterFactory* make_key_filter) {
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

  // Parameters: ?1 cid, ?2 start, then spec versions, then ids or types.
  const int spec_first = 3;
  const int list_first = spec_first + static_cast<int>(specs.size());
  std::string extra;
  if (!specs.empty()) {
    absl::StrAppend(&extra, " AND spec_version IN (", Placeholders(spec_first, specs.size()), ")");
  }
  absl::StrAppend(&extra, ToAbsl(FlagSql(plan.sql_flag)));
  const std::string columns = absl::StrCat(kRowColumns, with_json ? ", json" : "");
  // QueryKeyed: the key filter runs in the plain date_added scan (the objects endpoint and the
  // partner view's scans; other plans leave every version to `keep`), and hands each kept row's
  // release key to `keep` (column kJsonColumn + 1).
  const bool keyed = make_key_filter != nullptr && keep != nullptr && each == nullptr &&
                     with_json && ids.empty() && types.empty();

  std::string sql;
  const bool by_id = !ids.empty();
  int key_param = 0;
  if (by_id) {
    // A handful of rows per id: fetch them all (without JSON), then order them here.
    sql = absl::StrCat("SELECT ", kRowColumns,
                       " FROM objects INDEXED BY objects_by_id WHERE cid = ?1 AND id IN (",
                       Placeholders(list_first, ids.size()), ") AND date_added > ?2", extra);
    if (!types.empty()) {
      absl::StrAppend(&sql, " AND type IN (",
                      Placeholders(list_first + static_cast<int>(ids.size()), types.size()), ")");
    }
  } else if (!types.empty()) {
    // One date_added-ordered index range per type, merged by SQLite without sorting.
    std::vector<std::string> branches;
    for (size_t i = 0; i < types.size(); ++i) {
      branches.push_back(
          absl::StrCat("SELECT ", columns,
                       " FROM objects INDEXED BY objects_by_type WHERE cid = ?1 AND type = ?",
                       list_first + static_cast<int>(i), " AND date_added > ?2", extra));
    }
    sql = absl::StrCat(absl::StrJoin(branches, " UNION ALL "), " ORDER BY 1");
  } else {
    const char* index =
        plan.sql_flag == FlagFilter::kLast ? "objects_latest" : "objects_by_cid_key";
    // The release-key test comes first and reads only the index entry (rkey is in
    // objects_by_cid_key; SQLite defers the table seek until a row column is needed), so a
    // version the key drops costs an index step, not a row read.
    if (keyed) key_param = list_first;
    sql = absl::StrCat("SELECT ", columns, keyed ? ", rkey" : "", " FROM objects INDEXED BY ",
                       index, " WHERE cid = ?1 AND date_added > ?2",
                       keyed ? absl::StrCat(" AND liaison_key_keep(rkey, ?", key_param, ")") : "",
                       extra, " ORDER BY date_added");
  }

  return Read([&](Connection& c) -> Result<Page> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    st.Bind(1, cid);
    st.Bind(2, start);
    for (size_t i = 0; i < specs.size(); ++i) st.Bind(spec_first + static_cast<int>(i), specs[i]);
    if (by_id) {
      for (size_t i = 0; i < ids.size(); ++i) st.Bind(list_first + static_cast<int>(i), ids[i]);
      for (size_t i = 0; i < types.size(); ++i) {
        st.Bind(list_first + static_cast<int>(ids.size() + i), types[i]);
      }
    } else {
      for (size_t i = 0; i < types.size(); ++i) {
        st.Bind(list_first + static_cast<int>(i), types[i]);
      }
    }
    // The key filter is built here, inside the read, so the dictionary codes it looks up are
    // those of the snapshot the scan reads (a name coded later cannot appear in this scan).
    KeyFilterFn key_filter;
    KeyFilterContext key_context;
    if (keyed) {
      const KeyCodeFn code = [&c](KeyKind kind, std::string_view name) {
        return LookupReleaseCode(c, kind, name);
      };
      LIAISON_ASSIGN_OR_RETURN(key_filter, (*make_key_filter)(code));
      if (key_filter) key_context.keep = &key_filter;
      key_context.max_dropped = max_scanned;
      st.BindKeyFilter(key_param, &key_context);
    }

    Page page;
    std::vector<Row> accepted;
    accepted.reserve(std::min<size_t>(limit + 1, 1024));
    // QueryKept: whether the scan stopped at max_scanned, and the last version examined when it
    // was dropped (date_added, id, version key).
    bool stopped = false;
    bool last_dropped = false;
    int64_t dropped_added = 0;
    std::string dropped_id, dropped_key;  // reused: a dropped version costs no allocation
    auto accept = [&](Row row) -> Result<bool> {
      LIAISON_ASSIGN_OR_RETURN(bool selected, Selected(c, cid, row, filter, plan));
      if (selected) accepted.push_back(std::move(row));
      return selected;
    };
    std::vector<std::string> json;  // parallel to `accepted` when reading JSON in the scan
    if (with_json) json.reserve(std::min<size_t>(limit, 1024));
    if (by_id) {
      std::vector<Row> candidates;
      for (;;) {
        LIAISON_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        candidates.push_back(ReadRow(st));
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const Row& a, const Row& b) { return a.date_added < b.date_added; });
      for (Row& row : candidates) {
        if (accepted.size() > limit) break;
        LIAISON_RETURN_IF_ERROR(StatusOf(accept(std::move(row))));
      }
      if (with_json) {
        LIAISON_ASSIGN_OR_RETURN(Statement text,
                                 c.Prepare("SELECT json FROM objects WHERE date_added = ?1"));
        for (size_t i = 0; i < accepted.size() && i < limit; ++i) {
          text.Bind(1, accepted[i].date_added);
          LIAISON_ASSIGN_OR_RETURN(bool found, text.Step());
          if (!found) return absl::InternalError("sqlite store: row vanished in a snapshot");
          json.emplace_back(text.Text(0));
          text.Reset();
        }
      }
    } else if (each != nullptr) {
      // Streaming (QueryEach): each accepted row's text goes out straight from SQLite's row
      // buffer; only the last accepted row is kept, for the cursor. Rows are read into two
      // reused Rows, so the page costs no allocation per row.
      Row row, last;
      size_t count = 0;
      for (;;) {
        LIAISON_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        ReadRowInto(st, row);
        LIAISON_ASSIGN_OR_RETURN(bool selected, Selected(c, cid, row, filter, plan));
        if (!selected) continue;
        // An accepted row past the page only tells that there is more.
        if (count == limit) {
          page.more = true;
          break;
        }
        if (count == 0) page.date_added_first = FromUnixMicros(row.date_added);
        ++count;
        (*each)(st.Text(kJsonColumn));
        std::swap(row, last);
      }
      if (count > 0) page.date_added_last = FromUnixMicros(last.date_added);
      if (page.more) {
        auto version = ParseVersionKey(last.version);
        if (!version.ok()) {
          return absl::DataLossError(absl::StrCat("sqlite store: bad stored version of ", last.id));
        }
        page.next = EncodeCursor({FromUnixMicros(last.date_added), last.id, *version});
      }
      return page;
    } else {
      size_t scanned = 0;
      while (accepted.size() <= limit) {
        if (keep != nullptr && scanned == max_scanned) {
          // QueryKept: stop here; the caller continues after the last version examined.
          stopped = true;
          break;
        }
        LIAISON_ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        ++scanned;
        if (keep != nullptr) {
          // The caller's filter runs on views of the row, so a dropped version costs no copy.
          const int64_t added = st.Int(0);
          const Store::RecordView view{st.Text(1),           st.Text(4),
                                       st.Text(kJsonColumn), FromUnixMicros(added),
                                       st.Int(6) != 0,       keyed ? st.Int(kJsonColumn + 1) : 0};
          if (!(*keep)(view)) {
            last_dropped = true;
            dropped_added = added;
            dropped_id.assign(view.id);
            dropped_key.assign(st.Text(2));
            continue;
          }
          last_dropped = false;
        }
        LIAISON_ASSIGN_OR_RETURN(bool selected, accept(ReadRow(st)));
        // The row past the page only tells that there is more: no need for its text.
        if (selected && with_json && accepted.size() <= limit)
          json.emplace_back(st.Text(kJsonColumn));
      }
    }

    page.more = accepted.size() > limit;
    if (page.more) {
      accepted.resize(limit);
      last_dropped = false;  // the page ends at its last version, as for Query
    }
    page.records.reserve(accepted.size());
    for (size_t i = 0; i < accepted.size(); ++i) {
      Row& row = accepted[i];
      ObjectRecord rec;
      auto version = ParseVersionKey(row.version);
      if (!version.ok()) {
        return absl::DataLossError(absl::StrCat("sqlite store: bad stored version of ", row.id));
      }
      rec.version = *version;
      rec.date_added = FromUnixMicros(row.date_added);
      rec.media_type = MediaTypeFor(row.spec_version);
      rec.id = std::move(row.id);
      rec.type = std::move(row.type);
      rec.spec_version = std::move(row.spec_version);
      rec.is_first = row.is_first;
      rec.is_last = row.is_last;
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
    } else if (stopped) {
      // Continue after the last version examined: a kept one is the page's last record.
      page.more = true;
      if (last_dropped) {
        auto version = ParseVersionKey(dropped_key);
        if (!version.ok()) {
          return absl::DataLossError(
              absl::StrCat("sqlite store: bad stored version of ", dropped_id));
        }
        page.next = EncodeCursor({FromUnixMicros(dropped_added), dropped_id, *version});
      } else if (!page.records.empty()) {
        const ObjectRecord& last = page.records.back();
        page.next = EncodeCursor({last.date_added, last.id, last.version});
      } else {
        page.more = false;  // nothing examined (max_scanned 0 is not allowed; defensive)
      }
    }
    if (each != nullptr) {
      for (const ObjectRecord& rec : page.records) (*each)(rec.json);
      page.records.clear();
    }
    return page;
  });
}

Result<size_t> SqliteStore::DeleteObject(std::string_view collection, std::string_view object_id,
                                         const DeleteFilter& filter) {
  if (filter.versions.size() > kMaxFilterValues || filter.spec_versions.size() > kMaxFilterValues) {
    return absl::InvalidArgumentError("delete: too many filter values");
  }
  return Write([&](Connection& c) -> Result<size_t> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    LIAISON_ASSIGN_OR_RETURN(std::vector<Row> versions, LoadVersions(c, cid, object_id));
    if (versions.empty()) {
      return absl::NotFoundError(absl::StrCat("object ", ToAbsl(object_id),
                                              " not found in collection ", ToAbsl(collection)));
    }
    LIAISON_ASSIGN_OR_RETURN(std::vector<VersionRecord> records, ToVersionRecords(versions));
    const std::vector<bool> doomed = SelectVersionsForDelete(records, filter);
    std::vector<Row> kept;
    size_t deleted = 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      if (!doomed[i]) {
        kept.push_back(versions[i]);
        continue;
      }
      LIAISON_ASSIGN_OR_RETURN(Statement st,
                               c.Prepare("DELETE FROM objects WHERE date_added = ?1"));
      st.Bind(1, versions[i].date_added);
      LIAISON_RETURN_IF_ERROR(st.Run());
      ++deleted;
    }
    if (deleted > 0) LIAISON_RETURN_IF_ERROR(RefreshFlags(c, kept));
    if (deleted > 0) LIAISON_RETURN_IF_ERROR(CountDeletion(c));
    return deleted;
  });
}

// --- Status resources ---------------------------------------------------------------------------

bool SqliteStore::StatusExpired(Timestamp request_timestamp) const {
  if (options_.status_ttl.count() <= 0) return false;
  const int64_t ttl = options_.status_ttl.count() * 1'000'000;
  return ToUnixMicros(request_timestamp) < ToUnixMicros(Now()) - ttl;
}

Status SqliteStore::PruneStatuses(Connection& c) {
  if (options_.status_ttl.count() <= 0) return absl::OkStatus();
  const int64_t now = ToUnixMicros(Now());
  int64_t last = last_prune_micros_.load();
  if (now - last < 60'000'000 || !last_prune_micros_.compare_exchange_strong(last, now)) {
    return absl::OkStatus();
  }
  // Rowids grow with insertion, which follows request_timestamp closely: walk from the oldest
  // and stop at the first live one, so a prune costs O(expired), with no index to maintain.
  // A status that slips past here is still refused by GetStatus.
  const std::string cutoff =
      TimestampText(FromUnixMicros(now - options_.status_ttl.count() * 1'000'000));
  LIAISON_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("SELECT rowid, request_timestamp FROM statuses ORDER BY rowid LIMIT 10000"));
  int64_t upto = -1;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || std::string_view(st.Text(1)) >= cutoff) break;
    upto = st.Int(0);
  }
  if (upto < 0) return absl::OkStatus();
  LIAISON_ASSIGN_OR_RETURN(Statement del, c.Prepare("DELETE FROM statuses WHERE rowid <= ?1"));
  del.Bind(1, upto);
  return del.Run();
}

Status SqliteStore::PutStatus(const StatusResource& status) {
  if (status.id.empty()) return absl::InvalidArgumentError("status: empty id");
  return Write([&](Connection& c) -> Status {
    LIAISON_RETURN_IF_ERROR(PruneStatuses(c));
    return WriteStatus(c, status, StatusBody(status));
  });
}

Result<StatusResource> SqliteStore::GetStatus(std::string_view id) {
  return Read([&](Connection& c) -> Result<StatusResource> {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT api_root, request_timestamp, body FROM statuses WHERE id = ?1"));
    st.Bind(1, id);
    LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("status ", ToAbsl(id), " not found"));
    StatusResource s;
    s.id = std::string(id);
    s.api_root = std::string(st.Text(0));
    LIAISON_ASSIGN_OR_RETURN(s.request_timestamp, ParseStoredTimestamp(st.Text(1)));
    if (StatusExpired(s.request_timestamp)) {
      return absl::NotFoundError(absl::StrCat("status ", ToAbsl(id), " has expired"));
    }
    LIAISON_RETURN_IF_ERROR(ParseStatusBody(st.Text(2), s));
    return s;
  });
}

// --- Users, tokens, permissions -----------------------------------------------------------------

namespace {

Status CheckUser(const User& user) {
  if (user.name.empty()) return absl::InvalidArgumentError("user: empty name");
  for (const std::string& g : user.groups) {
    if (g.empty() || g.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError("user: a group name is empty or has a line break");
    }
  }
  return absl::OkStatus();
}

User ReadUser(const Statement& st) {
  User u;
  u.name = std::string(st.Text(0));
  u.password_hash = std::string(st.Text(1));
  u.is_admin = st.Int(2) != 0;
  u.groups = SplitLines(st.Text(3));
  return u;
}

Result<ApiToken> ReadToken(const Statement& st) {
  ApiToken t;
  t.token_hash = std::string(st.Text(0));
  t.user = std::string(st.Text(1));
  t.description = std::string(st.Text(2));
  LIAISON_ASSIGN_OR_RETURN(t.created, ParseStoredTimestamp(st.Text(3)));
  if (!st.IsNull(4)) {
    LIAISON_ASSIGN_OR_RETURN(Timestamp expires, ParseStoredTimestamp(st.Text(4)));
    t.expires = expires;
  }
  return t;
}

constexpr const char* kTokenColumns = "token_hash, user, description, created, expires";

}  // namespace

Status SqliteStore::CreateUser(const User& user) {
  LIAISON_RETURN_IF_ERROR(CheckUser(user));
  const std::string groups = JoinLines(user.groups);
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(bool exists, UserExists(c, user.name));
    if (exists)
      return absl::AlreadyExistsError(absl::StrCat("user ", user.name, " already exists"));
    LIAISON_ASSIGN_OR_RETURN(Statement st,
                             c.Prepare("INSERT INTO users(name, password_hash, is_admin, groups) "
                                       "VALUES (?1, ?2, ?3, ?4)"));
    st.Bind(1, user.name);
    st.Bind(2, user.password_hash);
    st.Bind(3, int64_t{user.is_admin});
    st.Bind(4, groups);
    return st.Run();
  });
}

Status SqliteStore::UpdateUser(const User& user) {
  LIAISON_RETURN_IF_ERROR(CheckUser(user));
  const std::string groups = JoinLines(user.groups);
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(Statement st,
                             c.Prepare("UPDATE users SET password_hash = ?2, is_admin = ?3, "
                                       "groups = ?4 WHERE name = ?1"));
    st.Bind(1, user.name);
    st.Bind(2, user.password_hash);
    st.Bind(3, int64_t{user.is_admin});
    st.Bind(4, groups);
    LIAISON_RETURN_IF_ERROR(st.Run());
    if (c.Changes() == 0)
      return absl::NotFoundError(absl::StrCat("user ", user.name, " not found"));
    return absl::OkStatus();
  });
}

Result<User> SqliteStore::GetUser(std::string_view name) {
  return Read([&](Connection& c) -> Result<User> {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT name, password_hash, is_admin, groups FROM users WHERE name = ?1"));
    st.Bind(1, name);
    LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("user ", ToAbsl(name), " not found"));
    return ReadUser(st);
  });
}

Result<std::vector<User>> SqliteStore::ListUsers() {
  return Read([&](Connection& c) -> Result<std::vector<User>> {
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT name, password_hash, is_admin, groups FROM users ORDER BY name"));
    std::vector<User> out;
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadUser(st));
    }
    return out;
  });
}

Status SqliteStore::DeleteUser(std::string_view name) {
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(bool exists, UserExists(c, name));
    if (!exists) return absl::NotFoundError(absl::StrCat("user ", ToAbsl(name), " not found"));
    for (const char* sql : {"DELETE FROM tokens WHERE user = ?1",
                            "DELETE FROM permissions WHERE kind = 0 AND principal = ?1",
                            "DELETE FROM users WHERE name = ?1"}) {
      LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
      st.Bind(1, name);
      LIAISON_RETURN_IF_ERROR(st.Run());
    }
    return absl::OkStatus();
  });
}

Status SqliteStore::AddToken(const ApiToken& token) {
  if (token.token_hash.empty()) return absl::InvalidArgumentError("token: empty hash");
  const std::string created = TimestampText(token.created);
  const std::string expires = token.expires ? TimestampText(*token.expires) : std::string();
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(bool user_exists, UserExists(c, token.user));
    if (!user_exists) {
      return absl::NotFoundError(absl::StrCat("user ", token.user, " not found"));
    }
    {
      LIAISON_ASSIGN_OR_RETURN(Statement st,
                               c.Prepare("SELECT 1 FROM tokens WHERE token_hash = ?1"));
      st.Bind(1, token.token_hash);
      LIAISON_ASSIGN_OR_RETURN(bool exists, st.Step());
      if (exists) return absl::AlreadyExistsError("token already exists");
    }
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO tokens(token_hash, user, description, created, expires) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)"));
    st.Bind(1, token.token_hash);
    st.Bind(2, token.user);
    st.Bind(3, token.description);
    st.Bind(4, created);
    if (token.expires) {
      st.Bind(5, expires);
    } else {
      st.BindNull(5);
    }
    return st.Run();
  });
}

Result<ApiToken> SqliteStore::FindToken(std::string_view token_hash) {
  return Read([&](Connection& c) -> Result<ApiToken> {
    // On every authenticated request: keep the SQL text built once.
    static const std::string kSql =
        absl::StrCat("SELECT ", kTokenColumns, " FROM tokens WHERE token_hash = ?1");
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(kSql));
    st.Bind(1, token_hash);
    LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
    // The message never echoes the hash: it is derived from a credential.
    if (!found) return absl::NotFoundError("token not found");
    return ReadToken(st);
  });
}

Result<std::vector<ApiToken>> SqliteStore::ListTokens(std::string_view user) {
  return Read([&](Connection& c) -> Result<std::vector<ApiToken>> {
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(absl::StrCat("SELECT ", kTokenColumns,
                                                                  " FROM tokens WHERE user = ?1 "
                                                                  "ORDER BY created, token_hash")));
    st.Bind(1, user);
    std::vector<ApiToken> out;
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LIAISON_ASSIGN_OR_RETURN(ApiToken t, ReadToken(st));
      out.push_back(std::move(t));
    }
    return out;
  });
}

Status SqliteStore::DeleteToken(std::string_view token_hash) {
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare("DELETE FROM tokens WHERE token_hash = ?1"));
    st.Bind(1, token_hash);
    LIAISON_RETURN_IF_ERROR(st.Run());
    if (c.Changes() == 0) return absl::NotFoundError("token not found");
    return absl::OkStatus();
  });
}

Status SqliteStore::SetPermission(std::string_view collection, const Principal& principal,
                                  Permission permission) {
  if (principal.name.empty()) return absl::InvalidArgumentError("permission: empty principal");
  const int64_t kind = principal.kind == Principal::Kind::kUser ? 0 : 1;
  return Write([&](Connection& c) -> Status {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    if (principal.kind == Principal::Kind::kUser) {
      LIAISON_ASSIGN_OR_RETURN(bool exists, UserExists(c, principal.name));
      if (!exists) return absl::NotFoundError(absl::StrCat("user ", principal.name, " not found"));
    }
    if (!permission.can_read && !permission.can_write) {
      LIAISON_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("DELETE FROM permissions WHERE cid = ?1 AND kind = ?2 AND principal = ?3"));
      st.Bind(1, cid);
      st.Bind(2, kind);
      st.Bind(3, principal.name);
      return st.Run();
    }
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT OR REPLACE INTO permissions(cid, kind, principal, can_read, can_write) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)"));
    st.Bind(1, cid);
    st.Bind(2, kind);
    st.Bind(3, principal.name);
    st.Bind(4, int64_t{permission.can_read});
    st.Bind(5, int64_t{permission.can_write});
    return st.Run();
  });
}

Result<std::vector<std::pair<Principal, Permission>>> SqliteStore::ListPermissions(
    std::string_view collection) {
  using Grants = std::vector<std::pair<Principal, Permission>>;
  return Read([&](Connection& c) -> Result<Grants> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    LIAISON_ASSIGN_OR_RETURN(
        Statement st, c.Prepare("SELECT kind, principal, can_read, can_write FROM permissions "
                                "WHERE cid = ?1 ORDER BY kind, principal"));
    st.Bind(1, cid);
    Grants out;
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Principal p;
      p.kind = st.Int(0) == 0 ? Principal::Kind::kUser : Principal::Kind::kGroup;
      p.name = std::string(st.Text(1));
      out.emplace_back(std::move(p), Permission{st.Int(2) != 0, st.Int(3) != 0});
    }
    return out;
  });
}

// --- Audit log ----------------------------------------------------------------------------------

Result<std::vector<AuditRecord>> SqliteStore::AppendAudit(std::vector<AuditRecord> entries,
                                                          const AuditChainFn& chain) {
  if (chain) RememberChain(chain);
  if (entries.empty()) {
    // Nothing to append: still chain what is pending (ReleaseLog's reads call this first).
    LIAISON_RETURN_IF_ERROR(MoveAllPendingAudit());
    return entries;
  }
  AddJob job{"", {}, nullptr, nullptr, nullptr, &entries, &chain};
  LIAISON_RETURN_IF_ERROR(RunInGroup(job).status());
  return entries;
}

void SqliteStore::RememberChain(const AuditChainFn& chain) {
  absl::MutexLock lock(&chain_mu_);
  if (!pending_chain_) pending_chain_ = chain;
}

Status SqliteStore::MoveAllPendingAudit() {
  LIAISON_ASSIGN_OR_RETURN(int64_t max_pid, Read([](Connection& c) { return MaxPendingPid(c); }));
  RaiseTo(pending_max_, max_pid);
  return MovePendingAudit();
}

Status SqliteStore::MovePendingAudit() {
  if (!AuditPending()) return absl::OkStatus();
  {
    absl::MutexLock lock(&chain_mu_);
    if (!pending_chain_) return absl::OkStatus();  // left by a crash: wait for the chain
  }
  return AppendAuditGroup({});
}

// The release log lives in its own file, `<store>.audit` (see AuditConnection). A group's
// appends run after its objects committed, outside the writer lock, in one transaction of that
// file: one fsync per group for the receipts of many POSTs, and no write to the object file
// that would make its readers drop their page cache.
Status SqliteStore::AppendAuditGroup(const std::vector<AddJob*>& jobs) {
  AuditChainFn pending_chain;
  if (AuditPending()) {
    absl::MutexLock lock(&chain_mu_);
    pending_chain = pending_chain_;
  }
  absl::MutexLock lock(&audit_mu_);
  LIAISON_ASSIGN_OR_RETURN(Connection * audit, AuditConnection());
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*audit, Transaction::Mode::kWrite));
  int64_t moved = -1;  // the pending entries the audit file holds once this commits
  Status appended = [&](Connection& c) -> Status {
    // In a write transaction: the head read here is still the head when we insert, so two
    // concurrent appends (from another process on the same files) cannot both chain onto the
    // same entry; the jobs of the group chain one after the other.
    int64_t seq = 0;
    std::string prev;
    {
      LIAISON_ASSIGN_OR_RETURN(
          Statement st, c.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) {
        seq = st.Int(0);
        prev = std::string(st.Text(1));
      }
    }
    LIAISON_ASSIGN_OR_RETURN(
        Statement ins,
        c.Prepare("INSERT INTO audit_log(seq, time, kind, partner, policy_version, details, "
                  "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    auto append = [&](AuditRecord& e, const AuditChainFn& chain) -> Status {
      e.seq = ++seq;
      e.prev_hash = prev;
      e.hash = chain(e);
      const std::string time = TimestampText(e.time);
      ins.Bind(1, e.seq);
      ins.Bind(2, time);
      ins.Bind(3, e.kind);
      ins.Bind(4, e.partner);
      ins.Bind(5, e.policy_version);
      ins.Bind(6, e.details);
      ins.Bind(7, e.prev_hash);
      ins.Bind(8, e.hash);
      LIAISON_RETURN_IF_ERROR(ins.Run());
      ins.Reset();
      prev = e.hash;
      return absl::OkStatus();
    };
    // Pending entries first: each was acknowledged (its POST answered) before this append began
    // if its commit was, so the chain keeps the order in which things were acknowledged.
    if (pending_chain) {
      LIAISON_ASSIGN_OR_RETURN(
          Statement upto,
          c.Prepare("SELECT value FROM audit_meta WHERE key = 'pending_moved_upto'"));
      LIAISON_ASSIGN_OR_RETURN(bool row, upto.Step());
      moved = row ? upto.Int(0) : 0;
      upto.Reset();
      // Read in a snapshot of the object file taken now, inside this write transaction: a
      // pid is committed before any larger one (AUTOINCREMENT under the object file's write
      // lock), so every pid <= the largest read here has been read.
      LIAISON_ASSIGN_OR_RETURN(
          std::vector<AuditRecord> pending,
          Read([&](Connection& objects) -> Result<std::vector<AuditRecord>> {
            LIAISON_ASSIGN_OR_RETURN(
                Statement st,
                objects.Prepare("SELECT pid, time, kind, partner, policy_version, details "
                                "FROM audit_pending WHERE pid > ?1 ORDER BY pid"));
            st.Bind(1, moved);
            std::vector<AuditRecord> out;
            for (;;) {
              LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
              if (!row) break;
              // seq holds the pid until append assigns the seq.
              LIAISON_ASSIGN_OR_RETURN(AuditRecord r, ReadAuditEntry(st));
              out.push_back(std::move(r));
            }
            return out;
          }));
      if (!pending.empty()) {
        for (AuditRecord& e : pending) {
          moved = e.seq;
          LIAISON_RETURN_IF_ERROR(append(e, pending_chain));
        }
        LIAISON_ASSIGN_OR_RETURN(
            Statement set,
            c.Prepare("INSERT INTO audit_meta(key, value) VALUES ('pending_moved_upto', ?1) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
        set.Bind(1, moved);
        LIAISON_RETURN_IF_ERROR(set.Run());
      }
    }
    for (AddJob* job : jobs) {
      for (AuditRecord& e : *job->audit) LIAISON_RETURN_IF_ERROR(append(e, *job->chain));
    }
    return absl::OkStatus();
  }(*audit);
  LIAISON_RETURN_IF_ERROR(appended);  // ~Transaction rolls back
  LIAISON_RETURN_IF_ERROR(tx.Commit());
  if (moved >= 0) RaiseTo(moved_durable_, moved);
  return absl::OkStatus();
}

Result<Connection*> SqliteStore::AuditConnection() {
  if (audit_) return audit_.get();
  std::filesystem::path path = options_.path;
  path += ".audit";
  ConnectionOptions o;
  o.create = true;
  o.busy_timeout_ms = options_.busy_timeout_ms;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path, o));
  LIAISON_RETURN_IF_ERROR(conn->UseWal());
  // The same table as schema migration 2 created in the main file (kept there, empty, so that
  // older schemas stay valid).
  LIAISON_RETURN_IF_ERROR(
      conn->Exec("CREATE TABLE IF NOT EXISTS audit_log(seq INTEGER PRIMARY KEY, time TEXT NOT "
                 "NULL, kind TEXT NOT NULL, partner TEXT NOT NULL, policy_version TEXT NOT NULL, "
                 "details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS audit_by_partner ON audit_log(partner, seq);"
                 // audit_meta('pending_moved_upto'): see SqliteStore::AuditMover.
                 "CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value ANY) "
                 "WITHOUT ROWID;"));
  // A store written before the move keeps its entries in the main file: copy them over once
  // (when the audit file is still empty), then remove them there. A crash between the two
  // leaves copies in the main file that nothing reads.
  {
    LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*conn, Transaction::Mode::kWrite));
    LIAISON_ASSIGN_OR_RETURN(Statement any, conn->Prepare("SELECT 1 FROM audit_log LIMIT 1"));
    LIAISON_ASSIGN_OR_RETURN(bool has_rows, any.Step());
    any.Reset();
    if (!has_rows) {
      using Legacy = std::vector<std::vector<std::string>>;
      LIAISON_ASSIGN_OR_RETURN(
          Legacy legacy, Read([&](Connection& c) -> Result<Legacy> {
            LIAISON_ASSIGN_OR_RETURN(
                Statement st, c.Prepare("SELECT seq, time, kind, partner, policy_version, details, "
                                        "prev_hash, hash FROM audit_log ORDER BY seq"));
            Legacy rows;
            for (;;) {
              LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
              if (!row) break;
              std::vector<std::string> r;
              for (int i = 0; i < 8; ++i) r.emplace_back(st.Text(i));
              rows.push_back(std::move(r));
            }
            return rows;
          }));
      if (!legacy.empty()) {
        LIAISON_ASSIGN_OR_RETURN(
            Statement ins,
            conn->Prepare("INSERT INTO audit_log(seq, time, kind, partner, policy_version, "
                          "details, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
        for (const std::vector<std::string>& r : legacy) {
          ins.Bind(1, static_cast<int64_t>(std::stoll(r[0])));
          for (int i = 1; i < 8; ++i) ins.Bind(i + 1, r[i]);
          LIAISON_RETURN_IF_ERROR(ins.Run());
          ins.Reset();
        }
      }
      LIAISON_RETURN_IF_ERROR(tx.Commit());
      if (!legacy.empty()) {
        LIAISON_RETURN_IF_ERROR(StatusOf(Write([&](Connection& c) -> Result<bool> {
          LIAISON_RETURN_IF_ERROR(c.Exec("DELETE FROM audit_log"));
          return true;
        })));
      }
    }
  }
  audit_ = std::move(conn);
  return audit_.get();
}

Result<std::vector<AuditRecord>> SqliteStore::ReadAudit(const AuditQuery& query) {
  // Entries of Adds that returned before this call (in any process) are in the chain it reads.
  LIAISON_RETURN_IF_ERROR(MoveAllPendingAudit());
  absl::MutexLock lock(&audit_mu_);
  LIAISON_ASSIGN_OR_RETURN(Connection * audit, AuditConnection());
  LIAISON_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*audit, Transaction::Mode::kRead));
  return [&](Connection& c) -> Result<std::vector<AuditRecord>> {
    std::string sql =
        "SELECT seq, time, kind, partner, policy_version, details, prev_hash, hash "
        "FROM audit_log WHERE seq > ?1";
    if (query.partner) sql += " AND partner = ?2";
    // time is stored as fixed-width RFC 3339 with nine fractional digits: text order is time
    // order.
    if (query.since) sql += " AND time >= ?4";
    sql += " ORDER BY seq LIMIT ?3";
    LIAISON_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    st.Bind(1, query.after_seq);
    if (query.partner) st.Bind(2, *query.partner);
    st.Bind(3, static_cast<int64_t>(std::min<size_t>(query.limit, 1'000'000)));
    const std::string since = query.since ? TimestampText(*query.since) : std::string();
    if (query.since) st.Bind(4, since);
    std::vector<AuditRecord> out;
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LIAISON_ASSIGN_OR_RETURN(AuditRecord r, ReadAuditEntry(st));
      r.prev_hash = std::string(st.Text(6));
      r.hash = std::string(st.Text(7));
      out.push_back(std::move(r));
    }
    return out;
  }(*audit);
}

// ---------------------------------------------------------------------------------------------

// --- Shared rate limits ------------------------------------------------------------------------

// The writer's transaction (BEGIN IMMEDIATE) makes the count and the insert one step for every
// process that opens the file.
Result<Store::UseCount> SqliteStore::AdmitUse(std::string_view key, Timestamp now,
                                              std::chrono::microseconds window, int64_t max_uses,
                                              std::chrono::microseconds min_gap) {
  LIAISON_RETURN_IF_ERROR(internal::CheckUseArguments(key, window, max_uses, min_gap));
  const int64_t at = ToUnixMicros(now);
  return Write([&](Connection& c) -> Result<UseCount> {
    LIAISON_ASSIGN_OR_RETURN(Statement forget,
                             c.Prepare("DELETE FROM rate_uses WHERE key = ?1 AND used_at <= ?2"));
    forget.Bind(1, key);
    forget.Bind(2, at - window.count());
    LIAISON_RETURN_IF_ERROR(forget.Run());
    LIAISON_ASSIGN_OR_RETURN(
        Statement count,
        c.Prepare("SELECT count(*), min(used_at), max(used_at) FROM rate_uses WHERE key = ?1"));
    count.Bind(1, key);
    LIAISON_ASSIGN_OR_RETURN(bool row, count.Step());
    UseCount found;
    if (row && count.Int(0) > 0) {
      found.uses = count.Int(0);
      found.oldest = FromUnixMicros(count.Int(1));
      found.latest = FromUnixMicros(count.Int(2));
    }
    found.admitted = internal::UseAdmitted(found, at, max_uses, min_gap);
    if (found.admitted) {
      LIAISON_ASSIGN_OR_RETURN(Statement use,
                               c.Prepare("INSERT INTO rate_uses(key, used_at) VALUES (?1, ?2)"));
      use.Bind(1, key);
      use.Bind(2, at);
      LIAISON_RETURN_IF_ERROR(use.Run());
    }
    return found;
  });
}

// --- Sync state ---------------------------------------------------------------------------------

Result<std::optional<std::string>> SqliteStore::GetSyncState(std::string_view key) {
  return Read([&](Connection& c) -> Result<std::optional<std::string>> {
    LIAISON_ASSIGN_OR_RETURN(Statement st,
                             c.Prepare("SELECT value FROM sync_state WHERE key = ?1"));
    st.Bind(1, key);
    LIAISON_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(std::string(st.Text(0)));
  });
}

namespace {

Status InsertReceivedRange(Connection& c, const ReceivedRange& r) {
  if (r.last < r.first) return absl::InvalidArgumentError("received range: last before first");
  LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, r.collection));
  LIAISON_ASSIGN_OR_RETURN(
      Statement st, c.Prepare("INSERT OR REPLACE INTO received_ranges(cid, peer, first_added, "
                              "last_added) VALUES (?1, ?2, ?3, ?4)"));
  st.Bind(1, cid);
  st.Bind(2, r.peer);
  st.Bind(3, ToUnixMicros(r.first));
  st.Bind(4, ToUnixMicros(r.last));
  return st.Run();
}

}  // namespace

Status SqliteStore::PutSyncState(std::string_view key, std::string_view value,
                                 const std::optional<ReceivedRange>& range) {
  if (key.empty()) return absl::InvalidArgumentError("sync state: empty key");
  return Write([&](Connection& c) -> Status {
    if (range) LIAISON_RETURN_IF_ERROR(InsertReceivedRange(c, *range));
    LIAISON_ASSIGN_OR_RETURN(
        Statement st, c.Prepare("INSERT OR REPLACE INTO sync_state(key, value) VALUES (?1, ?2)"));
    st.Bind(1, key);
    st.Bind(2, value);
    return st.Run();
  });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::ListSyncState(
    std::string_view prefix, size_t limit) {
  using Rows = std::vector<std::pair<std::string, std::string>>;
  return Read([&](Connection& c) -> Result<Rows> {
    // A range on the primary key rather than LIKE, whose wildcards a key might contain.
    LIAISON_ASSIGN_OR_RETURN(
        Statement st, c.Prepare("SELECT key, value FROM sync_state WHERE key >= ?1 "
                                "AND substr(key, 1, length(?1)) = ?1 ORDER BY key LIMIT ?2"));
    st.Bind(1, prefix);
    st.Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    Rows rows;
    while (true) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      rows.emplace_back(std::string(st.Text(0)), std::string(st.Text(1)));
    }
    return rows;
  });
}

Status SqliteStore::AddReceivedRange(std::string_view collection, std::string_view peer,
                                     Timestamp first, Timestamp last) {
  const ReceivedRange range{std::string(collection), std::string(peer), first, last};
  return Write([&](Connection& c) -> Status { return InsertReceivedRange(c, range); });
}

Result<std::vector<std::pair<Timestamp, Timestamp>>> SqliteStore::ReceivedRanges(
    std::string_view collection, std::string_view peer, Timestamp from, Timestamp to) {
  using Ranges = std::vector<std::pair<Timestamp, Timestamp>>;
  return Read([&](Connection& c) -> Result<Ranges> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    // Ranges never overlap one another (each is one Add's own interval), so the one starting
    // at or before `from` is the only earlier one that can reach into [from, to].
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT first_added, last_added FROM ("
                  "SELECT first_added, last_added FROM received_ranges WHERE cid = ?1 AND "
                  "peer = ?2 AND first_added <= ?3 ORDER BY first_added DESC LIMIT 1) "
                  "UNION ALL SELECT first_added, last_added FROM received_ranges WHERE cid = ?1 "
                  "AND peer = ?2 AND first_added > ?3 AND first_added <= ?4 ORDER BY 1"));
    st.Bind(1, cid);
    st.Bind(2, peer);
    st.Bind(3, ToUnixMicros(from));
    st.Bind(4, ToUnixMicros(to));
    Ranges out;
    while (true) {
      LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Timestamp a = FromUnixMicros(st.Int(0)), b = FromUnixMicros(st.Int(1));
      if (b < from) continue;
      out.emplace_back(a, b);
    }
    return out;
  });
}

// --- Change stamp -------------------------------------------------------------------------------

Result<std::string> SqliteStore::ObjectsStamp(std::string_view collection) {
  return Read([&](Connection& c) -> Result<std::string> {
    LIAISON_ASSIGN_OR_RETURN(int64_t cid, CollectionKey(c, collection));
    // An Add gives every new version a date_added above all earlier ones (store-wide), so the
    // collection's max(date_added) moves with each Add; deletions are counted apart. Both are
    // O(log n) (objects_by_cid_key starts with cid, date_added; meta is keyed).
    LIAISON_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT (SELECT max(date_added) FROM objects INDEXED BY objects_by_cid_key "
                  "WHERE cid = ?1), (SELECT value FROM meta WHERE key = 'object_deletions')"));
    st.Bind(1, cid);
    LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::InternalError("sqlite store: stamp query returned no row");
    return absl::StrCat(cid, "/", st.IsNull(0) ? 0 : st.Int(0), "/", st.IsNull(1) ? 0 : st.Int(1));
  });
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  return SqliteStore::Open(options);
}

}  // namespace liaison::store
