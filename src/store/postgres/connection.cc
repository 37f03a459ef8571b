#include "store/postgres/connection.h"

#include <charconv>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "core/strings.h"

namespace liaison::store::postgres_internal {
namespace {

// Prepared statements kept per connection; filter list lengths do not change the SQL text here
// (lists travel as arrays), but the number of types in a UNION does, so bound the cache.
constexpr size_t kMaxPrepared = 256;

void AppendArrayElement(std::string& out, std::string_view value) {
  out += '"';
  for (char ch : value) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

template <typename T>
std::string TextArray(const std::vector<T>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendArrayElement(out, values[i]);
  }
  out += '}';
  return out;
}

}  // namespace

Params& Params::Add(std::string_view text) {
  values_.emplace_back(text);
  null_.push_back(false);
  return *this;
}
Params& Params::Add(int64_t value) { return Add(std::string_view(std::to_string(value))); }
Params& Params::Add(bool value) { return Add(std::string_view(value ? "t" : "f")); }
Params& Params::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  return *this;
}
Params& Params::AddTextArray(const std::vector<std::string>& values) {
  values_.push_back(TextArray(values));
  null_.push_back(false);
  return *this;
}
Params& Params::AddTextArray(const std::vector<std::string_view>& values) {
  values_.push_back(TextArray(values));
  null_.push_back(false);
  return *this;
}
Params& Params::AddIntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  values_.push_back(std::move(out));
  null_.push_back(false);
  return *this;
}
Params& Params::AddBoolArray(const std::vector<bool>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i] ? 't' : 'f';
  }
  out += '}';
  values_.push_back(std::move(out));
  null_.push_back(false);
  return *this;
}

Status Params::Check() const {
  for (const std::string& v : values_) {
    if (v.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          "postgres store: text with a NUL character cannot be stored");
    }
  }
  return absl::OkStatus();
}

int64_t QueryResult::Int(int row, int col) const {
  std::string_view text = Text(row, col);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

int64_t QueryResult::Affected() const {
  const char* n = r_ ? PQcmdTuples(r_.get()) : "";
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

Status ErrorStatus(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state != nullptr ? state : "";
  std::string text = StrCat("postgres store: ", what, ": ", message);
  if (code.empty() || PQstatus(conn) != CONNECTION_OK) {
    // No SQLSTATE: the connection broke or libpq failed locally.
    return absl::UnavailableError(text);
  }
  if (code == "23505") return absl::AlreadyExistsError(text);
  // Class 08 connection, 40 rollback (serialization failure, deadlock), 57 operator
  // intervention (shutdown, cancel), 55P03 lock not available: try again.
  if (code.starts_with("08") || code.starts_with("40") || code.starts_with("57") ||
      code == "55P03") {
    return absl::UnavailableError(text);
  }
  if (code == "53100") return absl::ResourceExhaustedError(text);   // disk full
  if (code.starts_with("53")) return absl::UnavailableError(text);  // out of connections, memory
  if (code == "XX001" || code == "XX002") return absl::DataLossError(text);
  if (code.starts_with("22")) return absl::InvalidArgumentError(text);  // e.g. invalid UTF-8
  return absl::InternalError(text);
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo,
                                                     const std::string& schema) {
  if (conninfo.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("postgres store: bad connection string");
  }
  PGconn* raw = PQconnectdb(conninfo.c_str());
  if (raw == nullptr) return absl::ResourceExhaustedError("postgres store: out of memory");
  std::unique_ptr<Connection> conn(new Connection(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    return absl::UnavailableError(
        StrCat("postgres store: cannot connect: ", std::string_view(PQerrorMessage(raw))));
  }
  // NOTICEs ("schema already exists, skipping") are expected on every reopen: not for stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  // Text is sent and stored as UTF-8 whatever the client locale says.
  if (PQsetClientEncoding(raw, "UTF8") != 0) {
    return absl::FailedPreconditionError("postgres store: the server refuses UTF-8");
  }
  if (!schema.empty()) {
    if (schema.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("postgres store: bad schema name");
    }
    // The schema may not exist yet: Migrate creates it; search_path tolerates that.
    std::string sql = StrCat("SET search_path TO ", QuoteIdentifier(schema));
    Status s = conn->ExecScript(sql);
    if (!s.ok()) return s;
  }
  return conn;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::Healthy() const {
  return PQstatus(conn_) == CONNECTION_OK &&
         (rollback_in_flight_ || PQtransactionStatus(conn_) == PQTRANS_IDLE);
}

void Connection::SendRollback() {
  Drain();
  // On failure to send, the connection is left inside its transaction: Healthy() says so and the
  // pool drops it.
  rollback_in_flight_ = PQsendQuery(conn_, "ROLLBACK") == 1;
}

void Connection::Drain() {
  if (!rollback_in_flight_) return;
  rollback_in_flight_ = false;
  while (PGresult* r = PQgetResult(conn_)) PQclear(r);
}

Status Connection::ExecScript(std::string_view sql) {
  Drain();
  const std::string text(sql);
  QueryResult r(PQexec(conn_, text.c_str()));
  const ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ErrorStatus(conn_, r.get(), "statement failed");
  }
  return absl::OkStatus();
}

Result<QueryResult> Connection::ExecScriptResult(std::string_view sql) {
  Drain();
  const std::string text(sql);
  QueryResult r(PQexec(conn_, text.c_str()));
  const ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ErrorStatus(conn_, r.get(), "statement failed");
  }
  return r;
}

Result<std::string> Connection::Literal(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("postgres store: text with a NUL byte");
  }
  char* quoted = PQescapeLiteral(conn_, text.data(), text.size());
  if (quoted == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("postgres store: cannot quote text: ", std::string_view(PQerrorMessage(conn_))));
  }
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

Result<QueryResult> Connection::Exec(std::string_view sql, const Params& params) {
  if (Status s = params.Check(); !s.ok()) return s;
  Drain();
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    if (prepared_.size() >= kMaxPrepared) {
      Status s = ExecScript("DEALLOCATE ALL");
      if (!s.ok()) return s;
      prepared_.clear();
    }
    std::string name = StrCat("liaison_", next_statement_++);
    QueryResult r(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
    if (r.get() == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return ErrorStatus(conn_, r.get(), "prepare failed");
    }
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].c_str();
  }
  QueryResult r(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                               values.data(), nullptr, nullptr, /*resultFormat=*/0));
  const ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ErrorStatus(conn_, r.get(), "query failed");
  }
  return r;
}

Result<Transaction> Transaction::Begin(Connection& conn, const char* begin, bool async_rollback) {
  Status s = conn.ExecScript(begin);
  if (!s.ok()) return s;
  return Transaction(&conn, async_rollback);
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  if (async_rollback_) {
    conn_->SendRollback();
  } else {
    (void)conn_->ExecScript("ROLLBACK");
  }
}

Status Transaction::Commit() {
  Connection* conn = conn_;
  conn_ = nullptr;
  // COMMIT returns after the commit record is flushed (synchronous_commit=on, the default):
  // an acknowledged write is durable.
  return conn->ExecScript("COMMIT");
}

}  // namespace liaison::store::postgres_internal
