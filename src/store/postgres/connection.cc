#include "store/postgres/connection.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
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

void AppendBE32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

// The header of a one-dimensional binary array without NULLs (array_send's layout: ndim,
// has-nulls flag, element type OID, then per dimension its length and lower bound).
std::string BinaryArrayHeader(uint32_t element_oid, size_t n) {
  std::string out;
  AppendBE32(out, 1);
  AppendBE32(out, 0);
  AppendBE32(out, element_oid);
  AppendBE32(out, static_cast<uint32_t>(n));
  AppendBE32(out, 1);
  return out;
}

// Element type OIDs (pg_type.dat; fixed since PostgreSQL's first releases).
constexpr uint32_t kBoolOid = 16;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kTextOid = 25;

}  // namespace

Params& Params::Add(std::string_view text) {
  values_.emplace_back(text);
  null_.push_back(false);
  binary_.push_back(0);
  return *this;
}

template <typename T>
Params& Params::AddBinaryText(const std::vector<T>& values) {
  size_t bytes = 20;
  for (const auto& v : values) bytes += 4 + v.size();
  std::string out = BinaryArrayHeader(kTextOid, values.size());
  out.reserve(bytes);
  for (const auto& v : values) {
    if (std::string_view(v).find('\0') != std::string_view::npos) nul_in_binary_ = true;
    AppendBE32(out, static_cast<uint32_t>(v.size()));
    out.append(v.data(), v.size());
  }
  values_.push_back(std::move(out));
  null_.push_back(false);
  binary_.push_back(1);
  return *this;
}
Params& Params::AddBinaryTextArray(const std::vector<std::string_view>& values) {
  return AddBinaryText(values);
}
Params& Params::AddBinaryTextArray(const std::vector<std::string>& values) {
  return AddBinaryText(values);
}
Params& Params::AddBinaryIntArray(const std::vector<int64_t>& values) {
  std::string out = BinaryArrayHeader(kInt8Oid, values.size());
  for (int64_t v : values) {
    AppendBE32(out, 8);
    const auto u = static_cast<uint64_t>(v);
    AppendBE32(out, static_cast<uint32_t>(u >> 32));
    AppendBE32(out, static_cast<uint32_t>(u & 0xFFFFFFFFu));
  }
  values_.push_back(std::move(out));
  null_.push_back(false);
  binary_.push_back(1);
  return *this;
}
Params& Params::AddBinaryBoolArray(const std::vector<bool>& values) {
  std::string out = BinaryArrayHeader(kBoolOid, values.size());
  for (bool v : values) {
    AppendBE32(out, 1);
    out += static_cast<char>(v ? 1 : 0);
  }
  values_.push_back(std::move(out));
  null_.push_back(false);
  binary_.push_back(1);
  return *this;
}

Params& Params::Add(int64_t value) { return Add(std::string_view(std::to_string(value))); }
Params& Params::Add(bool value) { return Add(std::string_view(value ? "t" : "f")); }
Params& Params::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  binary_.push_back(0);
  return *this;
}
Params& Params::AddTextArray(const std::vector<std::string>& values) {
  values_.push_back(TextArray(values));
  null_.push_back(false);
  binary_.push_back(0);
  return *this;
}
Params& Params::AddTextArray(const std::vector<std::string_view>& values) {
  values_.push_back(TextArray(values));
  null_.push_back(false);
  binary_.push_back(0);
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
  binary_.push_back(0);
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
  binary_.push_back(0);
  return *this;
}

Status Params::Check() const {
  if (nul_in_binary_) {
    return absl::InvalidArgumentError("postgres store: text with a NUL character cannot be stored");
  }
  for (size_t i = 0; i < values_.size(); ++i) {
    if (binary_[i] == 0 && values_[i].find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          "postgres store: text with a NUL character cannot be stored");
    }
  }
  return absl::OkStatus();
}

int64_t QueryResult::Int(int row, int col) const {
  std::string_view text = Text(row, col);
  if (PQfformat(r_.get(), col) == 1) {
    // int8send / int4send / int2send: big-endian two's complement.
    uint64_t u = 0;
    for (unsigned char ch : text) u = (u << 8) | ch;
    switch (text.size()) {
      case 8:
        return static_cast<int64_t>(u);
      case 4:
        return static_cast<int32_t>(static_cast<uint32_t>(u));
      case 2:
        return static_cast<int16_t>(static_cast<uint16_t>(u));
      default:
        return 0;
    }
  }
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

namespace {

// A host of a connection string that is this machine: a socket directory (or an abstract
// socket), localhost, 127.0.0.0/8 or ::1.
bool LocalHost(std::string_view host) {
  if (host.empty() || host.front() == '/' || host.front() == '@') return true;
  if (host == "localhost" || host == "::1") return true;
  // An IPv4 literal in 127.0.0.0/8 (not a name that merely starts with "127.").
  return host.substr(0, 4) == "127." &&
         host.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace

Status CheckTransportSecurity(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    Status s = absl::InvalidArgumentError(
        StrCat("postgres store: bad connection string: ",
               error != nullptr ? std::string_view(error) : "out of memory"));
    PQfreemem(error);
    return s;
  }
  std::string host, hostaddr, sslmode;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view keyword = o->keyword;
    if (keyword == "host") host = o->val;
    if (keyword == "hostaddr") hostaddr = o->val;
    if (keyword == "sslmode") sslmode = o->val;
  }
  PQconninfoFree(options);
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr ? v : "");
  };
  if (host.empty()) host = env("PGHOST");
  if (hostaddr.empty()) hostaddr = env("PGHOSTADDR");
  if (sslmode.empty()) sslmode = env("PGSSLMODE");
  if (sslmode != "" && sslmode != "prefer" && sslmode != "allow") return absl::OkStatus();
  // The names a connection goes to: host (several, comma-separated), else hostaddr.
  const std::string_view names = host.empty() ? hostaddr : host;
  for (size_t start = 0; start <= names.size();) {
    const size_t comma = std::min(names.find(',', start), names.size());
    const std::string_view name = names.substr(start, comma - start);
    start = comma + 1;
    if (LocalHost(name)) continue;
    return absl::FailedPreconditionError(StrCat(
        "postgres store: the database at ", name, " is reached over the network, and sslmode ",
        sslmode.empty() ? "is left at libpq's default (prefer: clear text when the server offers "
                          "no TLS, no certificate check)"
                        : StrCat("is ", sslmode,
                                 " (clear text when the server offers no TLS, no "
                                 "certificate check)"),
        ": add sslmode=verify-full and sslrootcert=<the CA file> to the store URL, or "
        "sslmode=disable to accept clear text explicitly"));
  }
  return absl::OkStatus();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo,
                                                     const std::string& schema,
                                                     std::string_view settings) {
  if (conninfo.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("postgres store: bad connection string");
  }
  // Defaults first: the fields of the expanded connection string (dbname) override them.
  const char* const keywords[] = {"keepalives",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count",
                                  "tcp_user_timeout",
                                  "dbname",
                                  nullptr};
  const char* const values[] = {"1", "30", "10", "3", "60000", conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
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
  std::string sql = kSessionSettings;
  if (!schema.empty()) {
    if (schema.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("postgres store: bad schema name");
    }
    // The schema may not exist yet: Migrate creates it; search_path tolerates that.
    sql += StrCat("; SET search_path TO ", QuoteIdentifier(schema));
  }
  if (!settings.empty()) sql += StrCat("; ", settings);
  if (Status s = conn->ExecScript(sql); !s.ok()) return s;
  return conn;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void Connection::Close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool Connection::Healthy() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK &&
         PQpipelineStatus(conn_) == PQ_PIPELINE_OFF &&
         (rollback_in_flight_ || PQtransactionStatus(conn_) == PQTRANS_IDLE);
}

bool Connection::Usable() {
  Drain();
  if (!Healthy()) return false;
  // Nothing should arrive on an idle connection. A server ending the session sends a FATAL
  // message and then closes its end, and the pool may look between the two; anything else (a
  // NOTICE, a parameter change after a reload) is rare enough that a fresh connection is the
  // cheaper answer than telling the cases apart.
  pollfd p{PQsocket(conn_), POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 0;
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
  return ExecFormat(sql, params, /*result_format=*/0);
}

Result<QueryResult> Connection::ExecBinary(std::string_view sql, const Params& params) {
  return ExecFormat(sql, params, /*result_format=*/1);
}

Result<QueryResult> Connection::ExecFormat(std::string_view sql, const Params& params,
                                           int result_format) {
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
  std::vector<int> lengths(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].c_str();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  QueryResult r(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                               values.data(), lengths.data(), params.binary_.data(),
                               result_format));
  const ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ErrorStatus(conn_, r.get(), "query failed");
  }
  return r;
}

Result<std::vector<QueryResult>> Connection::Pipeline(const std::vector<Step>& steps,
                                                      size_t* failed_step, bool binary_results) {
  if (failed_step != nullptr) *failed_step = steps.size();
  for (const Step& step : steps) {
    if (Status s = step.params.Check(); !s.ok()) return s;
  }
  Drain();
  // DEALLOCATE cannot run inside the pipeline: make room for every statement first.
  if (prepared_.size() + steps.size() > kMaxPrepared) {
    if (Status s = ExecScript("DEALLOCATE ALL"); !s.ok()) return s;
    prepared_.clear();
  }
  if (PQenterPipelineMode(conn_) != 1) return ErrorStatus(conn_, nullptr, "pipeline");
  // What each answer in the stream belongs to: a PREPARE (the statement's SQL, registered once
  // the server accepted it) or the execution of steps[i].
  struct Expected {
    const std::string* prepare = nullptr;
    std::string name;
    size_t step = 0;
  };
  std::vector<Expected> expected;
  expected.reserve(steps.size() * 2);
  absl::flat_hash_map<std::string_view, std::string> pending;  // prepared in this pipeline
  bool sent = true;
  for (size_t i = 0; i < steps.size() && sent; ++i) {
    const Step& step = steps[i];
    std::string name;
    if (auto it = prepared_.find(step.sql); it != prepared_.end()) {
      name = it->second;
    } else if (auto p = pending.find(step.sql); p != pending.end()) {
      name = p->second;
    } else {
      name = StrCat("liaison_", next_statement_++);
      sent = PQsendPrepare(conn_, name.c_str(), step.sql.c_str(), 0, nullptr) == 1;
      expected.push_back({&step.sql, name, i});
      pending.emplace(step.sql, name);
    }
    std::vector<const char*> values(step.params.size());
    std::vector<int> lengths(step.params.size());
    for (size_t k = 0; k < step.params.size(); ++k) {
      values[k] = step.params.null_[k] ? nullptr : step.params.values_[k].c_str();
      lengths[k] = static_cast<int>(step.params.values_[k].size());
    }
    sent = sent && PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()),
                                       values.data(), lengths.data(), step.params.binary_.data(),
                                       /*resultFormat=*/binary_results ? 1 : 0) == 1;
    expected.push_back({nullptr, std::string(), i});
  }
  if (!sent || PQpipelineSync(conn_) != 1) {
    // The connection is left in pipeline mode with unknown state: Healthy() is false from now
    // on and the pool drops it.
    return ErrorStatus(conn_, nullptr, "pipeline send failed");
  }
  std::vector<QueryResult> out(steps.size());
  Status first_error;
  for (const Expected& e : expected) {
    // Each command's answer is one result followed by a null.
    QueryResult r(PQgetResult(conn_));
    if (r.get() == nullptr) return ErrorStatus(conn_, nullptr, "pipeline answer missing");
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_PIPELINE_ABORTED) continue;  // after the first error: not run
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      if (first_error.ok()) {
        first_error = ErrorStatus(conn_, r.get(), e.prepare ? "prepare failed" : "query failed");
        if (failed_step != nullptr) *failed_step = e.step;
      }
      continue;
    }
    if (e.prepare != nullptr) {
      prepared_.emplace(*e.prepare, e.name);
    } else {
      out[e.step] = std::move(r);
    }
  }
  QueryResult sync(PQgetResult(conn_));
  if (sync.get() == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
      PQexitPipelineMode(conn_) != 1) {
    return ErrorStatus(conn_, nullptr, "pipeline did not end");
  }
  if (!first_error.ok()) return first_error;
  return out;
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
