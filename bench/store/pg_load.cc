// The PostgreSQL store benchmark's helper (bench/store/pg_run.sh drives it; issue #8):
//
//   pg_load fill CONNINFO COUNT            a PostgreSQL store with COUNT indicators in one
//                                          collection, loaded through Store::Add in batches of
//                                          10,000, plus the user admin/bench-pw; prints the
//                                          collection id
//   pg_load bare CONNINFO ENVELOPES CONNECTIONS
//                                          the rows `taxii_load post` sends (ENVELOPES x 100),
//                                          one COPY of 100 rows per transaction into a bare
//                                          table (id, version, json; no index), over CONNECTIONS
//                                          connections at once, same server and durability as
//                                          the store; prints rows/s
//   pg_load same CONNINFO ENVELOPES CONNECTIONS
//                                          as bare, but each row as the store writes it (all
//                                          ten columns of `objects`) into a fresh table made
//                                          LIKE the store's `objects` INCLUDING ALL: its
//                                          indexes, which bare leaves out (the database's own
//                                          cost of the rows; needs a migrated store in the
//                                          database); prints rows/s
//   pg_load add CONNINFO ENVELOPES CONNECTIONS
//                                          the same rows through Store::Add, 100 per call, from
//                                          CONNECTIONS threads at once, into a fresh collection
//                                          (the store alone, without HTTP and validation);
//                                          prints objects/s
//
// Objects are generated from their index exactly as bench/taxii/taxii_load.cc does (keep the two
// generators in step), so `fill`, `bare` and `taxii_load post` write the same bytes.

#include <libpq-fe.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/taxii/corpus.h"
#include "core/timestamp.h"
#include "stix/object.h"
#include "store/postgres/postgres_store.h"
#include "taxii/auth.h"

namespace {

using liaison::bench::IndicatorId;
using liaison::bench::IndicatorJson;
using liaison::bench::kCollection;
using Clock = std::chrono::steady_clock;

constexpr int64_t kPerEnvelope = 100;

int Fill(const std::string& conninfo, int64_t count) {
  liaison::store::PostgresOptions options;
  options.conninfo = conninfo;
  auto store = liaison::store::OpenPostgresStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "fill: %s\n", std::string(store.status().message()).c_str());
    return 3;
  }
  return liaison::bench::FillStore(**store, count);
}

bool Ok(PGresult* r, ExecStatusType want, const char* what) {
  const bool ok = PQresultStatus(r) == want;
  if (!ok) std::fprintf(stderr, "pg_load: %s: %s", what, PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

// COPY text format: backslash, tab and newline are escaped; the generated rows hold none of
// them, but escape anyway so that the baseline stays honest if the generator changes.
void AppendCopyField(std::string& out, std::string_view v) {
  for (char ch : v) {
    if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') out += '\\';
    out += ch;
  }
}

// `bare` and `same` (see the top of the file): the rows of `envelopes` envelopes of 100, one
// COPY per envelope and transaction, over `connections` connections at once.
int Copy(const std::string& conninfo, int64_t envelopes, int connections, bool same) {
  const char* table = same ? "same_objects" : "bare_objects";
  {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::fprintf(stderr, "pg_load: %s", PQerrorMessage(c));
      return 3;
    }
    if (!Ok(PQexec(c, same ? "DROP TABLE IF EXISTS same_objects; CREATE TABLE same_objects("
                             "LIKE objects INCLUDING ALL)"
                           : "DROP TABLE IF EXISTS bare_objects; CREATE TABLE bare_objects("
                             "id text, version text, json text)"),
            PGRES_COMMAND_OK, "create")) {
      return 3;
    }
    PQfinish(c);
  }
  // Every envelope's COPY data is built before the clock starts, as taxii_load builds its
  // bodies first: the client's text building is not the server's work.
  const std::string version = "2024-01-01T00:00:00.000000000Z";
  std::vector<std::string> data(envelopes);
  for (int64_t e = 0; e < envelopes; ++e) {
    for (int64_t i = e * kPerEnvelope; i < (e + 1) * kPerEnvelope; ++i) {
      // same: date_added, cid, then id and version as bare, type, spec_version, the flags of a
      // new object (first, last, latest of its spec version), json.
      if (same) absl::StrAppend(&data[e], i + 1, "\t1\t");
      AppendCopyField(data[e], IndicatorId(i));
      data[e] += '\t';
      data[e] += version;
      data[e] += '\t';
      if (same) data[e] += "indicator\t2.1\tt\tt\tt\t";
      AppendCopyField(data[e], IndicatorJson(i));
      data[e] += '\n';
    }
  }
  std::vector<PGconn*> conns;
  for (int t = 0; t < connections; ++t) {
    conns.push_back(PQconnectdb(conninfo.c_str()));
    if (PQstatus(conns.back()) != CONNECTION_OK) return 3;
  }
  const std::string copy = absl::StrCat("COPY ", table, " FROM STDIN");
  std::atomic<int64_t> next{0}, failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, c = conns[t]] {
      for (int64_t e; (e = next++) < envelopes;) {
        // One transaction per envelope, as one POST is one transaction; COMMIT waits for the WAL
        // flush (synchronous_commit=on) exactly as the store's does.
        if (!Ok(PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin") ||
            !Ok(PQexec(c, copy.c_str()), PGRES_COPY_IN, "copy") ||
            PQputCopyData(c, data[e].data(), static_cast<int>(data[e].size())) != 1 ||
            PQputCopyEnd(c, nullptr) != 1 || !Ok(PQgetResult(c), PGRES_COMMAND_OK, "copy end") ||
            !Ok(PQexec(c, "COMMIT"), PGRES_COMMAND_OK, "commit")) {
          ++failed;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  for (PGconn* c : conns) PQfinish(c);
  std::fprintf(stderr, "%s: %lld COPYs of %lld rows over %d connections in %.2f s\n",
               same ? "same" : "bare", static_cast<long long>(envelopes),
               static_cast<long long>(kPerEnvelope), connections, s);
  if (failed > 0) return 3;
  std::printf("%.0f\n", static_cast<double>(envelopes * kPerEnvelope) / s);
  return 0;
}

int AddRows(const std::string& conninfo, int64_t envelopes, int connections) {
  liaison::store::PostgresOptions options;
  options.conninfo = conninfo;
  options.max_connections = static_cast<size_t>(connections);
  auto store = liaison::store::OpenPostgresStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "add: %s\n", std::string(store.status().message()).c_str());
    return 3;
  }
  liaison::store::Collection c;
  c.id = "0b7c2f4e-9d1a-4e6b-8c3f-2a5d7e9f1b3c";
  c.api_root = "api";
  c.title = "bench-add";
  (void)(*store)->DeleteCollection(c.id);
  if (!(*store)->CreateCollection(c).ok()) return 3;
  std::vector<std::vector<liaison::stix::Object>> batches(envelopes);
  for (int64_t e = 0; e < envelopes; ++e) {
    for (int64_t i = e * kPerEnvelope; i < (e + 1) * kPerEnvelope; ++i) {
      batches[e].push_back(liaison::bench::IndicatorObject(i));
    }
  }
  std::atomic<int64_t> next{0}, failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      for (int64_t e; (e = next++) < envelopes;) {
        auto r = (*store)->Add(c.id, batches[e]);
        if (!r.ok() || r->added != static_cast<size_t>(kPerEnvelope)) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "add: %lld Adds of %lld objects from %d threads in %.2f s, %lld failed\n",
               static_cast<long long>(envelopes), static_cast<long long>(kPerEnvelope), connections,
               s, static_cast<long long>(failed.load()));
  if (failed > 0) return 3;
  std::printf("%.0f\n", static_cast<double>(envelopes * kPerEnvelope) / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 3;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fill" && argc == 4) return Fill(argv[2], std::atoll(argv[3]));
  if (mode == "add" && argc == 5) {
    return AddRows(argv[2], std::atoll(argv[3]), std::atoi(argv[4]));
  }
  if ((mode == "bare" || mode == "same") && argc == 5) {
    return Copy(argv[2], std::atoll(argv[3]), std::atoi(argv[4]), mode == "same");
  }
  std::fprintf(stderr,
               "usage: pg_load fill CONNINFO COUNT | add|bare|same CONNINFO ENVELOPES "
               "CONNECTIONS\n");
  return 2;
}
