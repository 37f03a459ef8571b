#pragma once

// Store: everything the TAXII server, the policy layer and sync ever see of storage. Backends
// (store/sqlite, store/postgres) implement it with the same semantics, checked by one
// conformance suite (tests/store/store_conformance.h). docs/store.md explains the design.
//
// Objects. A collection keeps every version of every object: a version is identified by
// (id, version) where version is `modified`, else `created`, else "no version" (such objects
// have a single version). Adding a version that is already there is not an error; it is reported
// as a duplicate and nothing changes. Each stored version gets a `date_added` from the store when
// its transaction commits: date_added is unique and strictly increasing across the whole store,
// in commit order, so a reader paging with `next` or with `added_after` set to the previous
// page's last date_added never misses a version committed meanwhile, and never sees one twice.
//
// Errors. NotFound for an unknown collection/user/token/status/object, AlreadyExists on
// creating something that exists, InvalidArgument for bad input (a malformed cursor, an object
// without id), Unavailable when the backend is busy or unreachable (retry), DataLoss when the
// stored data is corrupt, Internal for bugs.
//
// Thread safety. Every method may be called concurrently from any number of threads.
// Acknowledged writes (an OK return) are durable: they survive a crash or kill -9.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"
#include "stix/object.h"
#include "store/filter.h"
#include "store/release_key.h"

namespace liaison::store {

// A TAXII collection (TAXII 2.1 section 5.2 "Collection Resource"), without can_read/can_write,
// which depend on the caller (see Permission).
struct Collection {
  std::string id;        // a UUID, unique in the store
  std::string api_root;  // the API root it is served under (the server's config names these)
  std::string title;
  std::string description;
  std::string alias;
  std::vector<std::string> media_types;

  friend bool operator==(const Collection&, const Collection&) = default;
};

// One stored version of an object, as queries return it.
struct ObjectRecord {
  std::string id;
  std::string type;
  std::string spec_version;          // as given, or "2.1" for an SCO / "2.0" otherwise
  std::optional<Timestamp> version;  // modified, else created; nullopt when neither
  Timestamp date_added;              // microsecond precision
  std::string media_type;            // "application/stix+json;version=<spec_version>"
  std::string json;                  // original text; empty in manifest/version queries
  // Whether this is the earliest / latest stored version of its id in the collection, as the
  // backend's version flags say; nullopt when the backend does not say (callers then look).
  // The release policy uses them to select first/last among released versions cheaply.
  std::optional<bool> is_first;
  std::optional<bool> is_last;
};

// One page of a query.
struct Page {
  std::vector<ObjectRecord> records;  // ordered by (date_added, id, version)
  bool more = false;
  std::string next;  // set when `more`; pass back in Filter::next
  // For X-TAXII-Date-Added-First/Last; nullopt on an empty page.
  std::optional<Timestamp> date_added_first;
  std::optional<Timestamp> date_added_last;
};

// TAXII 2.1 section 4.3 "Status Resource".
struct StatusDetail {
  std::string id;
  std::string version;  // the object's version as a STIX timestamp (date_added if none)
  std::string message;

  friend bool operator==(const StatusDetail&, const StatusDetail&) = default;
};

struct StatusResource {
  std::string id;
  std::string api_root;
  std::string status = "pending";  // "pending" or "complete"
  Timestamp request_timestamp;
  int64_t total_count = 0;
  int64_t success_count = 0;
  int64_t failure_count = 0;
  int64_t pending_count = 0;
  std::vector<StatusDetail> successes;
  std::vector<StatusDetail> failures;
  std::vector<StatusDetail> pendings;

  friend bool operator==(const StatusResource&, const StatusResource&) = default;
};

struct AddOptions {
  // When set, the store appends one success per object in the call (message "added" or
  // "duplicate"), recomputes the counts from the three lists, sets status to "complete" unless
  // there are pendings, and writes the resource in the same transaction as the objects: a
  // status that says success always means the objects are stored. The caller fills id,
  // api_root, request_timestamp and failures (objects it rejected before calling Add).
  std::optional<StatusResource> status;
};

struct AddOutcome {
  enum class Kind { kAdded, kDuplicate };
  Kind kind = Kind::kAdded;
  Timestamp date_added;  // of the stored version: now, or when a duplicate was first added
};

struct AddResult {
  std::vector<AddOutcome> outcomes;  // one per input object, same order
  size_t added = 0;
  size_t duplicates = 0;
  std::optional<StatusResource> status;  // as written, when AddOptions::status was set
};

// Users authenticate with a password (the encoded Argon2id hash string that libsodium's
// crypto_pwhash_str produces; hashing and verifying are the caller's) or with API tokens.
struct User {
  std::string name;
  std::string password_hash;
  bool is_admin = false;
  std::vector<std::string> groups;  // e.g. partner organisations; permissions may name them

  friend bool operator==(const User&, const User&) = default;
};

// An API token, stored only as a hash of the secret (the caller hashes, e.g. SHA-256 hex).
struct ApiToken {
  std::string token_hash;
  std::string user;
  std::string description;
  Timestamp created;
  std::optional<Timestamp> expires;

  friend bool operator==(const ApiToken&, const ApiToken&) = default;
};

// Who a collection permission is granted to.
struct Principal {
  enum class Kind { kUser, kGroup };
  Kind kind = Kind::kUser;
  std::string name;

  static Principal UserNamed(std::string name) { return {Kind::kUser, std::move(name)}; }
  static Principal GroupNamed(std::string name) { return {Kind::kGroup, std::move(name)}; }
  friend bool operator==(const Principal&, const Principal&) = default;
};

struct Permission {
  bool can_read = false;
  bool can_write = false;

  friend bool operator==(const Permission&, const Permission&) = default;
};

// One entry of the hash-chained audit log (the release log of src/policy, PSI runs, sync
// receipts). The store keeps entries in `seq` order and never rewrites them; what makes the log
// tamper-evident is the chain computed by the caller (policy/release_log.h), not the store.
struct AuditRecord {
  int64_t seq = 0;             // 1, 2, 3, ... assigned by AppendAudit
  Timestamp time;              // when the entry was made (the caller's clock)
  std::string kind;            // "release", "psi", "receipt", ...
  std::string partner;         // the partner the entry concerns ("" for none)
  std::string policy_version;  // the partner's policy version at the time ("" for none)
  std::string details;         // JSON text
  std::string prev_hash;       // hash of entry seq - 1 ("" for the first entry)
  std::string hash;            // the chain value of this entry

  friend bool operator==(const AuditRecord&, const AuditRecord&) = default;
};

// Computes `hash` for a record whose seq and prev_hash the store has filled in.
using AuditChainFn = std::function<std::string(const AuditRecord& record)>;

// Which audit entries ReadAudit returns.
struct AuditQuery {
  int64_t after_seq = 0;               // entries with seq > after_seq
  std::optional<std::string> partner;  // only this partner's entries
  std::optional<Timestamp> since;      // only entries with time >= since
  size_t limit = 1000;                 // at most this many, in seq order
};

// Versions of `collection` with date_added in [first, last] that came from sync peer `peer`.
struct ReceivedRange {
  std::string collection;
  std::string peer;
  Timestamp first;
  Timestamp last;
};

class Store {
 public:
  virtual ~Store() = default;

  // The largest page a query returns (the server advertises it); Filter::limit is clamped to it.
  virtual size_t max_page_size() const = 0;

  // --- Collections --------------------------------------------------------------------------
  // AlreadyExists when the id is taken; InvalidArgument when it is empty.
  virtual Status CreateCollection(const Collection& collection) = 0;
  // Replaces everything but the id. NotFound when absent.
  virtual Status UpdateCollection(const Collection& collection) = 0;
  virtual Result<Collection> GetCollection(std::string_view id) = 0;
  // In creation order.
  virtual Result<std::vector<Collection>> ListCollections() = 0;
  // Removes the collection with its objects and permissions. NotFound when absent.
  virtual Status DeleteCollection(std::string_view id) = 0;

  // --- Objects ------------------------------------------------------------------------------
  // Adds `objects` to `collection` in one transaction: all of them or, on any error, none.
  // Duplicates (an id + version already stored, or earlier in `objects`) are reported, not
  // added. Each object needs a non-empty id of the form `<type>--...`, a type and its JSON text;
  // otherwise InvalidArgument naming the index ("objects/3: ..."). NotFound for an unknown
  // collection. The call returns after the commit is durable.
  virtual Result<AddResult> Add(std::string_view collection, std::span<const stix::Object> objects,
                                const AddOptions& options) = 0;
  Result<AddResult> Add(std::string_view collection, std::span<const stix::Object> objects) {
    return Add(collection, objects, AddOptions{});
  }

  // Returns one page of object versions with their JSON text. Costs O(page size + versions
  // skipped by match[version]) index steps, never a scan of the collection. InvalidArgument for
  // a bad filter or cursor, NotFound for an unknown collection.
  virtual Result<Page> Query(std::string_view collection, const Filter& filter) = 0;
  // Like Query but records carry no JSON: the TAXII manifest endpoint.
  virtual Result<Page> QueryManifest(std::string_view collection, const Filter& filter) = 0;
  // Like Query, but hands each record's JSON text to `each`, in page order, instead of returning
  // records: the returned page has no records (more, next and the date_added bounds are set as
  // by Query). The view is valid only during the call. For the TAXII objects endpoint, which
  // needs nothing else of a record: a backend can pass text straight from its row buffer,
  // without building a record per object. The default calls Query.
  virtual Result<Page> QueryEach(std::string_view collection, const Filter& filter,
                                 const std::function<void(std::string_view json)>& each);

  // --- Read scopes --------------------------------------------------------------------------
  // Until the returned scope is destroyed, the reads this thread makes on this store share one
  // snapshot: the several reads of one request (user, collection, page) then cost one read
  // transaction instead of one each. For read-only sequences: a write made inside the scope is
  // not visible to the scope's later reads. Scopes do not nest (an inner one does nothing).
  // The default does nothing: each read is its own snapshot.
  class ReadScope {
   public:
    virtual ~ReadScope() = default;
  };
  virtual std::unique_ptr<ReadScope> PinReads() { return nullptr; }

  // Removes the versions of `object_id` that `filter` selects; returns how many. NotFound when
  // the collection or the object (any version) does not exist.
  virtual Result<size_t> DeleteObject(std::string_view collection, std::string_view object_id,
                                      const DeleteFilter& filter) = 0;

  // The TAXII "get an object" endpoint: Query with match[id] = object_id (filter.ids is
  // replaced). NotFound when no version of the object exists at all; an empty page when versions
  // exist but the filter excludes them.
  Result<Page> GetObject(std::string_view collection, std::string_view object_id, Filter filter);
  // The TAXII versions endpoint: every version of `object_id` (match[version] is replaced by
  // `all`; added_after, limit, next and match[spec_version] apply), without JSON. NotFound as
  // GetObject.
  Result<Page> QueryVersions(std::string_view collection, std::string_view object_id,
                             Filter filter);

  // --- Status resources ---------------------------------------------------------------------
  // Inserts or replaces (pending -> complete). InvalidArgument when the id is empty.
  virtual Status PutStatus(const StatusResource& status) = 0;
  virtual Result<StatusResource> GetStatus(std::string_view id) = 0;

  // --- Users, tokens, permissions -----------------------------------------------------------
  virtual Status CreateUser(const User& user) = 0;  // AlreadyExists
  virtual Status UpdateUser(const User& user) = 0;  // NotFound
  virtual Result<User> GetUser(std::string_view name) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;  // by name
  // Also removes the user's tokens and permissions. NotFound when absent.
  virtual Status DeleteUser(std::string_view name) = 0;

  // AlreadyExists for a known hash; NotFound for an unknown user.
  virtual Status AddToken(const ApiToken& token) = 0;
  // Looks a token up by the hash of the secret the client presented. NotFound when unknown.
  // Expiry is the caller's to check.
  virtual Result<ApiToken> FindToken(std::string_view token_hash) = 0;
  virtual Result<std::vector<ApiToken>> ListTokens(std::string_view user) = 0;
  virtual Status DeleteToken(std::string_view token_hash) = 0;  // NotFound

  // Grants exactly `permission` (both false removes the grant). NotFound for an unknown
  // collection; a user principal must exist, a group need not.
  virtual Status SetPermission(std::string_view collection, const Principal& principal,
                               Permission permission) = 0;
  // Grants on one collection, users first then groups, by name.
  virtual Result<std::vector<std::pair<Principal, Permission>>> ListPermissions(
      std::string_view collection) = 0;
  // What `user` may do on `collection`: its own grant ORed with its groups' grants. NotFound for
  // an unknown user or collection.
  Result<Permission> EffectivePermission(std::string_view collection, std::string_view user);

  // --- Audit log (issue #6) -----------------------------------------------------------------
  // Appends `entries` (seq, prev_hash and hash are ignored) in one transaction, after the last
  // stored entry: each gets the next seq, the previous entry's hash as prev_hash, and
  // hash = chain(record). Appends are serialised, so the chain never forks. Returns the entries
  // as written. The call returns after the commit is durable. Backends without an audit log
  // answer Unimplemented.
  virtual Result<std::vector<AuditRecord>> AppendAudit(std::vector<AuditRecord> entries,
                                                       const AuditChainFn& chain) {
    (void)entries;
    (void)chain;
    return absl::UnimplementedError("this store keeps no audit log");
  }
  // Returns stored entries in seq order, as stored (verification is the caller's).
  virtual Result<std::vector<AuditRecord>> ReadAudit(const AuditQuery& query) {
    (void)query;
    return absl::UnimplementedError("this store keeps no audit log");
  }

  // --- Sync state (docs/sync.md) -------------------------------------------------------------
  // Small persistent values that sync with peers keeps between rounds and across restarts:
  // cursors, failed pushes, receipts. Keys are opaque to the store. The defaults answer
  // Unimplemented, so a backend without sync support still compiles; SQLite implements them.
  //
  // Returns the value stored under `key`, or nullopt when there is none.
  virtual Result<std::optional<std::string>> GetSyncState(std::string_view key);
  // Inserts or replaces; durable when it returns OK. With `range`, also records it (as
  // AddReceivedRange) in the same transaction: a pull saves its cursor and what it received with
  // one commit.
  virtual Status PutSyncState(std::string_view key, std::string_view value,
                              const std::optional<ReceivedRange>& range);
  Status PutSyncState(std::string_view key, std::string_view value) {
    return PutSyncState(key, value, std::nullopt);
  }
  // The keys starting with `prefix`, with their values, in key order; at most `limit`.
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListSyncState(
      std::string_view prefix, size_t limit);
  // Records that the versions of `collection` whose date_added lies in [first, last] were
  // received from `peer` (one Add's added versions occupy such an interval alone, since date_added
  // is assigned consecutively inside one transaction). Sync never pushes them back to `peer`.
  virtual Status AddReceivedRange(std::string_view collection, std::string_view peer,
                                  Timestamp first, Timestamp last);
  // The recorded ranges of `collection` from `peer` that overlap [from, to], ordered by start.
  virtual Result<std::vector<std::pair<Timestamp, Timestamp>>> ReceivedRanges(
      std::string_view collection, std::string_view peer, Timestamp from, Timestamp to);

  // --- Change stamp (issue #6) ---------------------------------------------------------------
  // A short value that differs whenever an object version has been added to or deleted from
  // `collection` since an earlier call returned it (other changes may change it too). The
  // release policy caches decisions about the latest versions of objects (relationship ends)
  // across requests and drops them when the stamp moves. Cheap: O(log n). The default answers
  // Unimplemented, and callers then cache nothing across requests.
  virtual Result<std::string> ObjectsStamp(std::string_view collection);

  // --- Shared rate limits (issue #7's PSI run limits on several nodes, issue #8) ---------------
  // What AdmitUse found: the recorded uses of the key within the window before `now`.
  struct UseCount {
    bool admitted = false;            // this use was recorded
    int64_t uses = 0;                 // earlier uses within the window (this one not counted)
    std::optional<Timestamp> oldest;  // the oldest of them
    std::optional<Timestamp> latest;  // the latest of them
  };
  // Records one use of `key` at `now` when fewer than `max_uses` uses of it lie within `window`
  // before `now` (now - t < window) and none within `min_gap` (now - t < min_gap); atomically
  // against every other opening of the store (other threads, processes, nodes on one database),
  // so that several servers enforce one limit together and a restart forgets nothing. Uses that
  // left the window are forgotten. Durable when it returns OK. InvalidArgument for an empty key,
  // a window that is not positive, max_uses < 1 or a negative gap. The default answers
  // Unimplemented.
  virtual Result<UseCount> AdmitUse(std::string_view key, Timestamp now,
                                    std::chrono::microseconds window, int64_t max_uses,
                                    std::chrono::microseconds min_gap);

  // --- Query with a caller's filter (issue #6) ------------------------------------------------
  // A stored version as QueryKept shows it to `keep`, before anything is copied: the views are
  // valid only during that call.
  struct RecordView {
    std::string_view id;
    std::string_view type;
    std::string_view json;
    Timestamp date_added;
    std::optional<bool> is_last;  // as ObjectRecord::is_last
    // The stored release key (store/release_key.h) when the backend read it (QueryKeyed), else 0.
    int64_t release_key = 0;
  };
  using KeepFn = std::function<bool(const RecordView& record)>;
  // Query, with versions for which `keep` answers false dropped: they are not returned and do
  // not count against the limit. A backend may skip calling `keep` for some versions (they are
  // then returned), so `keep` must be a filter the caller applies again, or may as well not
  // apply; it only lets the backend drop rows before copying them (the release policy drops
  // versions its cheap rules withhold, docs/policy.md). At most `max_scanned` versions are
  // examined per call; when the scan stops there, `more` is true and `next` continues after the
  // last version examined, so a page may be short (even empty) while `more` is true. The default
  // runs Query with a limit of at most max_scanned and filters the page.
  virtual Result<Page> QueryKept(std::string_view collection, const Filter& filter,
                                 const KeepFn& keep, size_t max_scanned);

  // --- Query with a release-key filter (issue #6, store/release_key.h) -------------------------
  // The code of a name in the store's release-key dictionary, read in the query's snapshot;
  // nullopt when the name has none (then no stored key mentions it).
  using KeyCodeFn =
      std::function<Result<std::optional<int64_t>>(KeyKind kind, std::string_view name)>;
  // A predicate on stored release keys: false drops the version. It must answer true for key 0
  // (unknown) and for any key it cannot decide.
  using KeyFilterFn = std::function<bool(int64_t key)>;
  // Builds the predicate from the dictionary codes the caller's rules need.
  using KeyFilterFactory = std::function<Result<KeyFilterFn>(const KeyCodeFn& code)>;
  // QueryKept, where the backend may first drop versions whose stored release key `make_filter`'s
  // predicate rejects, without reading their rows; what passes goes to `keep` as in QueryKept.
  // Versions dropped by key do not count against `max_scanned` until that many have been
  // dropped in one call; after that the backend hands every further version to `keep`, so one
  // call stays bounded. The default ignores the key (correct for any backend: the predicate may
  // only drop what `keep` would drop) and calls QueryKept.
  virtual Result<Page> QueryKeyed(std::string_view collection, const Filter& filter,
                                  const KeyFilterFactory& make_filter, const KeepFn& keep,
                                  size_t max_scanned) {
    (void)make_filter;
    return QueryKept(collection, filter, keep, max_scanned);
  }

  // --- Objects with their audit entries (issue #3) --------------------------------------------
  // Add, and when (only when) it succeeds, AppendAudit(audit, chain): a POST's signed receipt
  // is logged with the objects it acknowledges. Returns Add's result; like Add, after the
  // objects and the entries are durable. The entries' seq and hashes are assigned as AppendAudit
  // assigns them, in the one chain, but possibly after the call returns (ReadAudit shows them
  // as soon as it is called after). The default runs the two calls one after the other (a crash
  // between them keeps the objects and loses the entries; an append that fails fails the call,
  // with the objects stored). A backend may instead commit both together, with one flush
  // (the SQLite store does: docs/store.md, "Receipts ride the objects' commit").
  virtual Result<AddResult> AddWithAudit(std::string_view collection,
                                         std::span<const stix::Object> objects,
                                         const AddOptions& options, std::vector<AuditRecord> audit,
                                         const AuditChainFn& chain) {
    auto added = Add(collection, objects, options);
    if (!added.ok() || audit.empty()) return added;
    if (auto appended = AppendAudit(std::move(audit), chain); !appended.ok()) {
      return appended.status();
    }
    return added;
  }
};

}  // namespace liaison::store
