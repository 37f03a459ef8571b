// The TAXII server benchmark's helper (bench/taxii/run.sh drives it):
//
//   taxii_load fill DATA_DIR COUNT          a store with COUNT indicators in one collection, loaded
//                                           through the store's bulk path (Add in batches of
//                                           10,000), plus a user admin/bench-pw; prints the
//                                           collection id
//   taxii_load post PORT COLLECTION ENVELOPES CONNECTIONS [FIRST]
//                                           POSTs ENVELOPES envelopes of 100 new indicators over
//                                           CONNECTIONS keep-alive connections; prints objects/s
//   taxii_load bare DB_FILE ENVELOPES       the same rows (100 per transaction, WAL,
//                                           synchronous=FULL) into a bare SQLite table; prints
//                                           rows/s
//   taxii_load bare-schema DIR ENVELOPES    the same rows, 100 per transaction, with plain SQL
//                                           into the objects table of a fresh liaison store
//                                           (its columns and four indexes, its page size, WAL,
//                                           synchronous=FULL): the storage cost alone, without
//                                           HTTP, validation, status or receipt; prints rows/s
//
// Objects are generated from their index, so `post` and `bare` write the same bytes.

#include <sodium.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/taxii/bare_sqlite.h"
#include "bench/taxii/corpus.h"
#include "core/timestamp.h"
#include "stix/object.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"

namespace {

using liaison::bench::IndicatorId;
using liaison::bench::IndicatorJson;
using liaison::bench::kCollection;
using Clock = std::chrono::steady_clock;

constexpr size_t kPerEnvelope = 100;

// A realistic indicator of about 600 bytes (the shape of bench/store's).
int Fill(const std::string& dir, int64_t count) {
  liaison::store::SqliteOptions options;
  options.path = std::filesystem::path(dir) / "liaison.db";
  auto store = liaison::store::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "fill: %s\n", std::string(store.status().message()).c_str());
    return 3;
  }
  return liaison::bench::FillStore(**store, count);
}

std::string Envelope(int64_t first) {
  std::string body = R"({"objects":[)";
  for (size_t i = 0; i < kPerEnvelope; ++i) {
    if (i > 0) body += ',';
    body += IndicatorJson(first + static_cast<int64_t>(i));
  }
  return body + "]}";
}

int Post(uint16_t port, const std::string& collection, int64_t envelopes, int connections,
         int64_t first) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  const std::string plain = "admin:bench-pw";
  std::string auth(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(auth.data(), auth.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  auth.resize(auth.size() - 1);
  auth = "Basic " + auth;
  // Bodies are built before the clock starts: the client's JSON building is not the server's.
  std::vector<std::string> bodies(envelopes);
  for (int64_t e = 0; e < envelopes; ++e) bodies[e] = Envelope(first + e * kPerEnvelope);
  std::atomic<int64_t> next{0}, failed{0};
  const std::string target = absl::StrCat("/api/collections/", collection, "/objects/");
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      boost::asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      beast::error_code ec;
      stream.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
      if (ec) {
        failed += 1;
        return;
      }
      beast::flat_buffer buffer;
      for (int64_t e; (e = next++) < envelopes;) {
        http::request<http::string_body> req(http::verb::post, target, 11);
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::accept, "application/taxii+json;version=2.1");
        req.set(http::field::content_type, "application/taxii+json;version=2.1");
        req.set(http::field::authorization, auth);
        req.body() = bodies[e];
        req.prepare_payload();
        http::write(stream, req, ec);
        http::response<http::string_body> res;
        if (!ec) http::read(stream, buffer, res, ec);
        if (ec || res.result_int() != 202 ||
            res.body().find("\"success_count\":100") == std::string::npos) {
          failed += 1;
          if (ec) return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = static_cast<double>(envelopes * kPerEnvelope) / s;
  std::fprintf(stderr,
               "post: %lld envelopes x %zu objects over %d connections in %.2f s, %lld failed\n",
               static_cast<long long>(envelopes), kPerEnvelope, connections, s,
               static_cast<long long>(failed.load()));
  std::printf("%.0f\n", rate);
  return failed.load() == 0 ? 0 : 1;
}

// Inserts the bench's rows (`envelopes` x 100, generated before the clock starts) through
// `insert`, 100 per transaction, binding each with `bind(n, id, json)`; closes `db` and prints
// rows/s. Shared by both baselines, so they differ only in their table and statement.
template <class Bind>
int InsertRows(sqlite3* db, sqlite3_stmt* insert, int64_t envelopes, const char* what, Bind bind) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(envelopes * kPerEnvelope);
  for (int64_t i = 0; i < envelopes * static_cast<int64_t>(kPerEnvelope); ++i) {
    rows.emplace_back(IndicatorId(i), IndicatorJson(i));
  }
  const auto start = Clock::now();
  for (int64_t e = 0; e < envelopes; ++e) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (size_t i = 0; i < kPerEnvelope; ++i) {
      const int64_t n = e * static_cast<int64_t>(kPerEnvelope) + static_cast<int64_t>(i);
      bind(n, rows[n].first, rows[n].second);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        return 3;
      }
      sqlite3_reset(insert);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return 3;
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  std::printf("%.0f\n", static_cast<double>(envelopes * kPerEnvelope) / s);
  return 0;
}

void BindText(sqlite3_stmt* st, int column, std::string_view text) {
  sqlite3_bind_text(st, column, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

// The bar's baseline: a table of three columns without indexes.
int Bare(const std::string& path, int64_t envelopes) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 3;
  sqlite3_stmt* insert = liaison::bench::PrepareBareTable(db);
  if (insert == nullptr) {
    std::fprintf(stderr, "bare: %s\n", sqlite3_errmsg(db));
    return 3;
  }
  const std::string version = "2024-01-01T00:00:00.000000000Z";
  return InsertRows(db, insert, envelopes, "bare",
                    [&](int64_t, const std::string& id, const std::string& json) {
                      BindText(insert, 1, id);
                      BindText(insert, 2, version);
                      BindText(insert, 3, json);
                    });
}

// The second baseline: what SQLite itself costs for liaison's rows, in liaison's schema. The
// store creates the schema and the collection; the rows then go in through one prepared INSERT
// per row, as `Bare` does, so the difference to `Bare` is the schema and the difference to a
// POST is everything the server does around the storage.
int BareSchema(const std::string& dir, int64_t envelopes) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / "liaison.db").string();
  {
    liaison::store::SqliteOptions options;
    options.path = path;
    auto store = liaison::store::OpenSqliteStore(options);
    if (!store.ok()) {
      std::fprintf(stderr, "bare-schema: %s\n", std::string(store.status().message()).c_str());
      return 3;
    }
    liaison::store::Collection c;
    c.id = kCollection;
    c.api_root = "api";
    c.title = "bench";
    if (!(*store)->CreateCollection(c).ok()) return 3;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 3;
  sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  sqlite3_stmt* cid_query = nullptr;
  sqlite3_prepare_v2(db, "SELECT cid FROM collections LIMIT 1", -1, &cid_query, nullptr);
  if (sqlite3_step(cid_query) != SQLITE_ROW) return 3;
  const int64_t cid = sqlite3_column_int64(cid_query, 0);
  sqlite3_finalize(cid_query);
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO objects(date_added, cid, id, version, type, spec_version, "
                         "is_first, is_last, spec_latest, json) "
                         "VALUES (?1, ?2, ?3, ?4, 'indicator', '2.1', 1, 1, 1, ?5)",
                         -1, &insert, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "bare-schema: %s\n", sqlite3_errmsg(db));
    return 3;
  }
  const std::string version = "2024-01-01T00:00:00.000Z";
  const int64_t first_added = liaison::Timestamp::Now().unix_seconds() * 1'000'000;
  return InsertRows(db, insert, envelopes, "bare-schema",
                    [&](int64_t n, const std::string& id, const std::string& json) {
                      sqlite3_bind_int64(insert, 1, first_added + n);
                      sqlite3_bind_int64(insert, 2, cid);
                      BindText(insert, 3, id);
                      BindText(insert, 4, version);
                      BindText(insert, 5, json);
                    });
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 3;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fill" && argc == 4) return Fill(argv[2], std::atoll(argv[3]));
  if (mode == "post" && (argc == 6 || argc == 7)) {
    return Post(static_cast<uint16_t>(std::atoi(argv[2])), argv[3], std::atoll(argv[4]),
                std::atoi(argv[5]), argc == 7 ? std::atoll(argv[6]) : 0);
  }
  if (mode == "bare" && argc == 4) return Bare(argv[2], std::atoll(argv[3]));
  if (mode == "bare-schema" && argc == 4) return BareSchema(argv[2], std::atoll(argv[3]));
  std::fprintf(stderr,
               "usage: taxii_load fill DATA_DIR COUNT | post PORT COLLECTION ENVELOPES "
               "CONNECTIONS [FIRST] | bare DB_FILE ENVELOPES | bare-schema DIR ENVELOPES\n");
  return 2;
}
