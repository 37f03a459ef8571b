#pragma once

// Thin RAII over sqlite3 for the SQLite store: a connection with a cache of prepared
// statements, a statement handle that resets itself, a transaction guard, and the mapping of
// SQLite result codes to Status. Internal to store/sqlite.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace liaison::store::sqlite_internal {

// Maps a SQLite result code to the Status code that tells the caller what to do: busy/locked
// -> Unavailable (retry), corrupt/not-a-database -> DataLoss, disk full -> ResourceExhausted,
// constraint -> AlreadyExists, read-only -> FailedPrecondition, I/O -> Unavailable, else
// Internal. `what` says which operation failed.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

class Connection;

// What the SQL function liaison_key_keep(key, ?N) calls, ?N bound with Statement::BindKeyFilter
// (release keys, store/release_key.h): `keep` decides each key; after `max_dropped` rows were
// dropped every further row passes, so one scan of the index stays bounded.
struct KeyFilterContext {
  const std::function<bool(int64_t key)>* keep = nullptr;
  size_t dropped = 0;
  size_t max_dropped = 0;
};

// A prepared statement borrowed from a Connection's cache (or owned when the cached one was
// busy). Resets and clears its bindings when destroyed. Text and blobs are bound without
// copying: the bound memory must stay valid until the statement is stepped to completion,
// reset or destroyed.
class Statement {
 public:
  Statement(Statement&& other) noexcept
      : conn_(std::exchange(other.conn_, nullptr)),
        stmt_(std::exchange(other.stmt_, nullptr)),
        owned_(other.owned_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  void Bind(int index, int64_t value);
  void Bind(int index, std::string_view text);
  void BindNull(int index);
  // Binds `context` for liaison_key_keep; it must outlive the statement's use.
  void BindKeyFilter(int index, KeyFilterContext* context);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();
  // Makes the statement reusable within the same borrow.
  void Reset();

  int64_t Int(int column) const;
  std::string_view Text(int column) const;  // valid until the next Step/Reset
  bool IsNull(int column) const;

 private:
  friend class Connection;
  Statement(Connection* conn, sqlite3_stmt* stmt, bool owned)
      : conn_(conn), stmt_(stmt), owned_(owned) {}

  Connection* conn_;
  sqlite3_stmt* stmt_;
  bool owned_;
};

struct ConnectionOptions {
  bool create = false;
  bool read_only = false;  // sets query_only: a reader can never write by mistake
  int busy_timeout_ms = 5000;
  int64_t cache_size_kib = 0;
  int64_t mmap_size_bytes = 0;
};

// One sqlite3 connection. Not thread safe: one thread uses it at a time.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::filesystem::path& path,
                                                  const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Returns the cached prepared statement for `sql`, preparing it on first use. When that
  // statement is already borrowed (a nested use of the same SQL), a fresh one is prepared.
  Result<Statement> Prepare(std::string_view sql);
  // Runs SQL text without results (pragmas, DDL; may hold several statements).
  Status Exec(const char* sql);
  // Runs one statement without results through the statement cache. For the statements run on
  // every request (BEGIN, COMMIT, ROLLBACK, SAVEPOINT): sqlite3_exec would parse them again each
  // time, which was about 5 % of a GET page's CPU.
  Status Run(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // Puts the database file in WAL mode (persistent; not inside a transaction). FailedPrecondition
  // when the file cannot use it. Two connections switching a new file at once both upgrade a
  // read lock to the write lock, and SQLite answers SQLITE_BUSY to one of them at once, without
  // its busy handler (waiting would deadlock): retried here until the busy timeout (seen as a
  // failed audit append in a fresh-clone CI run, session 10; 1 in 100 repeats of
  // ConcurrentAuditAppendersFromSeveralOpeningsKeepOneChain).
  Status UseWal();

  sqlite3* db() const { return db_; }

 private:
  friend class Statement;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  Connection(sqlite3* db, int busy_timeout_ms) : db_(db), busy_timeout_ms_(busy_timeout_ms) {}
  void Return(sqlite3_stmt* stmt);

  sqlite3* db_;
  const int busy_timeout_ms_;
  // Bounded by the number of distinct query shapes (filter list lengths are part of a shape);
  // cleared when it grows past kMaxCachedStatements.
  absl::flat_hash_map<std::string, Cached> cache_;
};

// Begins a transaction and rolls it back unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kRead, kWrite };
  static Result<Transaction> Begin(Connection& conn, Mode mode);
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace liaison::store::sqlite_internal
