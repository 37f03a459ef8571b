#pragma once

// A thin layer over libpq for the PostgreSQL store: one connection with a cache of prepared
// statements, query results, and the mapping of SQLSTATE codes onto the store's error codes.
// Internal to store/postgres.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/result.h"

namespace liaison::store::postgres_internal {

// Planner settings of every store connection. Every statement of the store is meant to be an
// index walk (keyset pages, Merge Append of type ranges, lookups by id, the audit log by seq),
// and the plans must not depend on statistics: a table bulk-loaded before its first ANALYZE, or
// a collection newer than the statistics, once made the planner sort a whole collection for a
// page, or scan the table for the ids of every POST (seen: 8 POSTs/s instead of 60 until
// autovacuum analysed the table). enable_sort / enable_seqscan = off do not forbid sorts or
// scans (a statement with no usable index still gets one); they make the planner take an index
// whenever one applies. Parallel workers cost more to start than these statements take.
// Prepared statements run with their generic plan (made once per connection, again after an
// ANALYZE or DDL invalidates it): with the default (auto), once `objects` has statistics the
// page statement was planned afresh on EVERY execution (pg_prepared_statements: 0 generic, all
// custom), because the generic plan's estimate for `LIMIT $3` (10 % of the rows) made it look
// 20x dearer than a custom plan of the same shape. Planning cost the backend 45-85 us of CPU per
// page of 100 (~40 % of its work for a GET; docs/store.md, session 6). The plans are the same
// index walks either way (the settings above keep them off statistics). Write transactions that
// want plans for their actual parameters say so (kBeginWrite in postgres_store.cc).
// JIT is off: enable_seqscan = off prices a scan that no index can replace at 10^10, far above
// jit_above_cost, so such a statement (a small table without a usable index) was compiled on
// every execution (measured: 143 ms for a scan of an empty table, 0.02 ms without JIT).
inline constexpr char kSessionSettings[] =
    "SET enable_sort = off; SET enable_seqscan = off; SET max_parallel_workers_per_gather = 0; "
    "SET plan_cache_mode = force_generic_plan; SET jit = off; "
    // The write paths (the locks, then statements that must see the previous holder's commits)
    // and the batched reads (one snapshot per statement) rely on READ COMMITTED; a database
    // whose default was changed must not change them. Reads that need one snapshot say so.
    "SET default_transaction_isolation = 'read committed'";

// Query parameters, in text format (PostgreSQL casts them to the column types) except the
// binary arrays below.
class Params {
 public:
  Params& Add(std::string_view text);
  Params& Add(int64_t value);
  Params& Add(bool value);
  Params& AddNull();
  // A text[] literal ({"a","b"}) from `values`, for `= ANY($n::text[])` and unnest().
  Params& AddTextArray(const std::vector<std::string>& values);
  Params& AddTextArray(const std::vector<std::string_view>& values);
  Params& AddIntArray(const std::vector<int64_t>& values);
  Params& AddBoolArray(const std::vector<bool>& values);

  // The same arrays in PostgreSQL's binary array format (array_recv): the server copies the
  // elements instead of parsing quoted, backslash-escaped text. For the large arrays of a
  // multi-row INSERT, where text parsing (array_in) cost the server about as much as inserting
  // the rows. The statement must give the parameter its type (`$2::text[]`).
  Params& AddBinaryTextArray(const std::vector<std::string_view>& values);
  Params& AddBinaryTextArray(const std::vector<std::string>& values);
  Params& AddBinaryIntArray(const std::vector<int64_t>& values);
  Params& AddBinaryBoolArray(const std::vector<bool>& values);

  size_t size() const { return values_.size(); }
  // InvalidArgument when a value holds a NUL byte, which PostgreSQL text cannot store.
  Status Check() const;

 private:
  friend class Connection;
  template <typename T>
  Params& AddBinaryText(const std::vector<T>& values);
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> binary_;  // 1 for a value in binary format
  bool nul_in_binary_ = false;
};

// One query result (owned PGresult).
class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view Text(int row, int col) const {
    return std::string_view(PQgetvalue(r_.get(), row, col),
                            static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  // Integer and boolean columns, in either result format (Connection::ExecBinary); DataLoss
  // for anything else is the caller's to report. Text() of a text column is the same bytes in
  // both formats.
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const {
    if (PQfformat(r_.get(), col) == 1)
      return PQgetlength(r_.get(), row, col) == 1 && PQgetvalue(r_.get(), row, col)[0] == 1;
    return Text(row, col) == "t";
  }
  // Rows an INSERT/UPDATE/DELETE touched.
  int64_t Affected() const;
  PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_{nullptr, &PQclear};
};

class Connection {
 public:
  // Connects and, when `schema` is not empty, sets the search_path to it, then runs `settings`
  // (more SET statements, may be empty). TCP keepalives are on unless `conninfo` says otherwise
  // (idle 30 s, then 3 probes 10 s apart; and tcp_user_timeout 60 s): a node notices a database
  // host that vanished in about a minute instead of the kernel's two hours. Unavailable when the
  // server cannot be reached; InvalidArgument for a malformed connection string.
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo,
                                                  const std::string& schema,
                                                  std::string_view settings = "");
  ~Connection();

  // Runs one statement as a prepared statement (prepared on first use on this connection,
  // keyed by its text).
  Result<QueryResult> Exec(std::string_view sql, const Params& params);
  Result<QueryResult> Exec(std::string_view sql) { return Exec(sql, Params()); }
  // Exec with every result column in binary format: the server sends a text column's bytes as
  // they are stored (textsend) instead of through textout, which copies each value into a C
  // string and measures it again (strlen over every JSON text of a page). Text(), Int() and
  // Bool() read either format; other column types are not decoded.
  Result<QueryResult> ExecBinary(std::string_view sql, const Params& params);
  // Runs `steps` in ONE round trip (libpq pipeline mode): every statement is sent (prepared on
  // first use, the PREPARE travelling in the same pipeline), then all answers are read. The
  // statements run in order, each with its own snapshot under READ COMMITTED, exactly as if sent
  // one by one. The first failure is returned and the statements after it are not run (in a
  // transaction, the transaction is then aborted: the caller rolls back).
  struct Step {
    std::string sql;
    Params params;
  };
  // `failed_step`, when given, receives the index of the step that failed (steps.size() when
  // the failure was not a statement's: sending, or the connection). `binary_results`: every
  // result in binary format, as ExecBinary's.
  Result<std::vector<QueryResult>> Pipeline(const std::vector<Step>& steps,
                                            size_t* failed_step = nullptr,
                                            bool binary_results = false);
  // Runs SQL text that may hold several statements, without parameters (migrations, BEGIN).
  Status ExecScript(std::string_view sql);
  // Like ExecScript, in one round trip, and returns the last statement's result.
  Result<QueryResult> ExecScriptResult(std::string_view sql);
  // `text` as an SQL string literal (PQescapeLiteral). InvalidArgument for a NUL byte or text the
  // connection's encoding rejects.
  Result<std::string> Literal(std::string_view text);

  // False once the connection is lost or left in an unknown transaction state: the pool drops
  // it instead of handing it out again. A connection with a ROLLBACK in flight (SendRollback)
  // counts as healthy; Drain tells.
  bool Healthy() const;
  // Healthy(), and nothing arrived while it sat idle. A server that ends an idle session (a
  // restart, pg_terminate_backend, idle_session_timeout) sends its goodbye and closes the
  // socket; poll() sees either without a round trip. For a connection taken from the pool: the
  // request it is handed to would otherwise fail on it.
  bool Usable();
  // Closes the connection now (the server's backend exits); Healthy() is false from then on.
  void Close();

  // Sends ROLLBACK without waiting for the answer: ending a read-only transaction then costs the
  // caller no round trip (the server finishes it while the connection sits in the pool). The
  // next Exec, ExecScript or Drain collects the answer first.
  void SendRollback();
  // Collects the answer of a SendRollback, if any.
  void Drain();

  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result<QueryResult> ExecFormat(std::string_view sql, const Params& params, int result_format);
  PGconn* conn_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // SQL text -> statement name
  int64_t next_statement_ = 0;
  bool rollback_in_flight_ = false;
};

// Refuses, before anything is sent, a connection string (with PGHOST, PGHOSTADDR and PGSSLMODE
// from the environment) that reaches a database over the network with sslmode left at libpq's
// default: "prefer" falls back to clear text without a word and checks no certificate, so the
// store's objects, its audit log and the login would cross the network readable and unverified.
// A Unix-domain socket and a loopback host need nothing; otherwise the operator chooses:
// sslmode=verify-full (with sslrootcert) is the safe one, require/verify-ca are accepted, and
// disable is accepted as an explicit choice of clear text. FailedPrecondition, naming the host,
// otherwise; InvalidArgument for a connection string libpq cannot parse.
Status CheckTransportSecurity(const std::string& conninfo);

// Maps a failed result (or a connection error when `result` is null) to a Status.
Status ErrorStatus(PGconn* conn, const PGresult* result, std::string_view what);

// Quotes an identifier (a schema name) for SQL text.
std::string QuoteIdentifier(std::string_view name);

// A transaction on one connection, rolled back when destroyed uncommitted.
class Transaction {
 public:
  // `begin` is the BEGIN statement (isolation level and access mode). A transaction that is
  // never committed (read-only ones) may end with `async_rollback`: see SendRollback.
  static Result<Transaction> Begin(Connection& conn, const char* begin = "BEGIN",
                                   bool async_rollback = false);
  // Takes over a transaction the caller began itself (e.g. BEGIN sent with a first query).
  static Transaction Adopt(Connection& conn, bool async_rollback) {
    return Transaction(&conn, async_rollback);
  }
  Transaction(Transaction&& other) noexcept
      : conn_(other.conn_), async_rollback_(other.async_rollback_) {
    other.conn_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  Transaction(Connection* conn, bool async_rollback)
      : conn_(conn), async_rollback_(async_rollback) {}
  Connection* conn_;
  bool async_rollback_;
};

}  // namespace liaison::store::postgres_internal
