#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"

namespace liaison::store::sqlite_internal {
namespace {

constexpr size_t kMaxCachedStatements = 256;

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kAlreadyExists;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status(CodeFor(rc),
                absl::StrCat("sqlite store: ", ToAbsl(what), ": ", detail, " (code ", rc, ")"));
}

// --- Statement ------------------------------------------------------------------------------

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    conn_->Return(stmt_);
  }
}

void Statement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::Bind(int index, std::string_view text) {
  // SQLITE_STATIC: no copy; see the lifetime rule in the header.
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

namespace {
constexpr const char* kKeyFilterPointerType = "liaison_key_filter";

// liaison_key_keep(key, context): 1 keeps the row, 0 drops it. Without a bound context (NULL),
// or with a key that is not an integer, the row is kept: the caller's later filter decides.
void KeyKeepFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  auto* filter =
      argc == 2
          ? static_cast<KeyFilterContext*>(sqlite3_value_pointer(argv[1], kKeyFilterPointerType))
          : nullptr;
  if (filter == nullptr || filter->keep == nullptr ||
      sqlite3_value_type(argv[0]) != SQLITE_INTEGER || filter->dropped >= filter->max_dropped) {
    sqlite3_result_int(ctx, 1);
    return;
  }
  const bool keep = (*filter->keep)(sqlite3_value_int64(argv[0]));
  if (!keep) ++filter->dropped;
  sqlite3_result_int(ctx, keep ? 1 : 0);
}
}  // namespace

void Statement::BindKeyFilter(int index, KeyFilterContext* context) {
  sqlite3_bind_pointer(stmt_, index, context, kKeyFilterPointerType, nullptr);
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(conn_->db(), rc, sqlite3_sql(stmt_));
}

Status Statement::Run() {
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void Statement::Reset() { sqlite3_reset(stmt_); }

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Statement::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr) return std::string_view();
  return std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// --- Connection -----------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(const std::filesystem::path& path,
                                                     const ConnectionOptions& options) {
  // SQLite's memory statistics take a process-wide mutex around every malloc and free it makes
  // (Debian builds it thread safe, with statistics on); nothing here reads them. The setting is
  // only accepted before SQLite initialises (the first open of the process); later it is a no-op
  // (SQLITE_MISUSE), which changes nothing but speed.
  static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatus_off;
  // NOMUTEX: each connection is used by one thread at a time (the store's pool guarantees it),
  // so SQLite's own per-connection mutex would only cost time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(db, rc, absl::StrCat("open ", path.string()));
    sqlite3_close_v2(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<Connection> conn(new Connection(db, options.busy_timeout_ms));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // synchronous=FULL: in WAL mode the WAL is fsync'd at every commit, so an acknowledged write
  // survives power loss and kill -9 (NORMAL would only survive an application crash).
  LIAISON_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=FULL"));
  if (options.cache_size_kib > 0) {
    const std::string pragma = absl::StrCat("PRAGMA cache_size=-", options.cache_size_kib);
    LIAISON_RETURN_IF_ERROR(conn->Exec(pragma.c_str()));
  }
  if (options.mmap_size_bytes > 0) {
    const std::string pragma = absl::StrCat("PRAGMA mmap_size=", options.mmap_size_bytes);
    LIAISON_RETURN_IF_ERROR(conn->Exec(pragma.c_str()));
  }
  LIAISON_RETURN_IF_ERROR(conn->Exec("PRAGMA temp_store=MEMORY"));
  if (options.read_only) LIAISON_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=1"));
  // Not SQLITE_DETERMINISTIC: the answer depends on the bound context, not on the key alone.
  if (const int frc =
          sqlite3_create_function_v2(db, "liaison_key_keep", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                     nullptr, &KeyKeepFunction, nullptr, nullptr, nullptr);
      frc != SQLITE_OK) {
    return SqliteError(db, frc, "register liaison_key_keep");
  }
  return conn;
}

Status Connection::UseWal() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(busy_timeout_ms_, 0));
  while (true) {
    Result<Statement> st = Prepare("PRAGMA journal_mode=WAL");
    Result<bool> row = st.ok() ? st->Step() : Result<bool>(st.status());
    if (row.ok()) {
      if (!*row || st->Text(0) != "wal") {
        return absl::FailedPreconditionError(
            "sqlite store: the database cannot use WAL mode (is it on a network file system?)");
      }
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(row.status()) || std::chrono::steady_clock::now() >= deadline) {
      return row.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(ToAbsl(sql));
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, /*owned=*/false);
  }
  const bool cache_it = it == cache_.end();
  sqlite3_stmt* stmt = nullptr;
  const unsigned prep_flags = cache_it ? SQLITE_PREPARE_PERSISTENT : 0;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), prep_flags, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, absl::StrCat("prepare ", ToAbsl(sql)));
  if (!cache_it) return Statement(this, stmt, /*owned=*/true);
  if (cache_.size() >= kMaxCachedStatements) {
    // Drop the idle statements; borrowed ones stay until returned.
    for (auto i = cache_.begin(); i != cache_.end();) {
      if (!i->second.in_use) {
        sqlite3_finalize(i->second.stmt);
        cache_.erase(i++);
      } else {
        ++i;
      }
    }
  }
  cache_[std::string(sql)] = Cached{stmt, true};
  return Statement(this, stmt, /*owned=*/false);
}

void Connection::Return(sqlite3_stmt* stmt) {
  auto it = cache_.find(absl::string_view(sqlite3_sql(stmt)));
  if (it != cache_.end() && it->second.stmt == stmt) {
    it->second.in_use = false;
  } else {
    sqlite3_finalize(stmt);  // evicted while borrowed
  }
}

Status Connection::Exec(const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  sqlite3_free(error);
  return SqliteError(db_, rc, sql);
}

Status Connection::Run(std::string_view sql) {
  LIAISON_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  return st.Run();
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

// --- Transaction ----------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Connection& conn, Mode mode) {
  // IMMEDIATE takes the write lock up front, so a writer never fails half-way on a lock upgrade
  // and date_added is assigned while no other writer can commit.
  LIAISON_RETURN_IF_ERROR(conn.Run(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr) conn_->Run("ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  Connection* conn = std::exchange(conn_, nullptr);
  Status s = conn->Run("COMMIT");
  if (!s.ok()) conn->Run("ROLLBACK").IgnoreError();
  return s;
}

}  // namespace liaison::store::sqlite_internal
