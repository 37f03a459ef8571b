// SQLite store benchmarks: a page of 100 at any depth of collections of 1k to 1M objects (the
// O(page) claim of store.h), and ingest next to a bare SQLite insert of the same rows under the
// same durability settings (WAL, synchronous=FULL, one transaction per batch of 100).
//
//   build/release/bench/store/store_sqlite_store_bench --benchmark_filter=Query
//
// LIAISON_BENCH_SMOKE=1 (set by ctest) keeps collections small.

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/taxii/bare_sqlite.h"
#include "benchmark/benchmark.h"
#include "store/filter.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace liaison::store {
namespace {

constexpr char kCollection[] = "0c6f2f5e-4a35-4a8c-9c6b-6d1f2b0a7e11";

bool Smoke() { return std::getenv("LIAISON_BENCH_SMOKE") != nullptr; }

std::filesystem::path TempPath(std::string_view name) {
  const auto dir =
      std::filesystem::temp_directory_path() / absl::StrCat("liaison-store-bench-", getpid());
  std::filesystem::create_directories(dir);
  return dir / std::string(name);
}

// A realistic indicator of about 600 bytes.
stix::Object Indicator(int64_t n) {
  stix::Object o;
  o.type = "indicator";
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "6ba7b810-9dad-41d1-80b4-%012lld", static_cast<long long>(n));
  o.id = absl::StrCat("indicator--", uuid);
  o.spec_version = "2.1";
  o.created = *Timestamp::Parse("2024-01-01T00:00:00.000Z");
  o.modified = o.created;
  o.json = absl::StrCat(
      R"({"type":"indicator","spec_version":"2.1","id":")", o.id,
      R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
      R"("created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",)",
      R"("name":"C2 address )", n, R"(","description":"Command and control server seen in )",
      R"(the campaign; block at the perimeter.","indicator_types":["malicious-activity"],)",
      R"("pattern":"[ipv4-addr:value = '10.)", (n >> 16) & 255, ".", (n >> 8) & 255, ".", n & 255,
      R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z",)",
      R"("object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]})");
  return o;
}

// One store per collection size, built once and shared by the query benchmarks.
struct Corpus {
  std::unique_ptr<Store> store;
  std::vector<Timestamp> date_added;  // of every object, in order
  std::vector<std::string> ids;
};

Corpus& CorpusOf(int64_t n) {
  static std::map<int64_t, Corpus> corpora;
  auto it = corpora.find(n);
  if (it != corpora.end()) return it->second;
  Corpus& c = corpora[n];
  SqliteOptions options;
  options.path = TempPath(absl::StrCat("query-", n, ".db"));
  std::filesystem::remove(options.path);
  c.store = *OpenSqliteStore(options);
  Collection coll;
  coll.id = kCollection;
  (void)c.store->CreateCollection(coll);
  constexpr int64_t kBatch = 10'000;
  for (int64_t at = 0; at < n; at += kBatch) {
    std::vector<stix::Object> batch;
    for (int64_t i = at; i < std::min(n, at + kBatch); ++i) batch.push_back(Indicator(i));
    auto r = c.store->Add(kCollection, batch);
    if (!r.ok()) std::abort();
    for (size_t i = 0; i < batch.size(); ++i) {
      c.date_added.push_back(r->outcomes[i].date_added);
      c.ids.push_back(batch[i].id);
    }
  }
  return c;
}

// A page of 100 latest versions from a random depth, continued with a cursor (the TAXII `next`
// path; no other filter, so the default query walks objects_latest).
void BM_SqliteStore_QueryPageByCursor(benchmark::State& state) {
  const int64_t n = state.range(0);
  Corpus& c = CorpusOf(n);
  std::mt19937_64 rng(7);
  auto filter_at = [&](size_t pos) {
    Filter f;
    f.limit = 100;
    f.next =
        EncodeCursor({c.date_added[pos], c.ids[pos], *Timestamp::Parse("2024-01-01T00:00:00Z")});
    return f;
  };
  auto check = c.store->Query(kCollection, filter_at(0));
  if (!check.ok() || check->records.size() != std::min<size_t>(100, n - 1) ||
      check->records[0].id != c.ids[1]) {
    return state.SkipWithError("wrong first page");
  }
  const size_t span = static_cast<size_t>(n) > 200 ? n - 200 : 1;
  for (auto _ : state) {
    auto page = c.store->Query(kCollection, filter_at(rng() % span));
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_SqliteStore_QueryPageByCursor)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// The same with added_after (the sync path): rows are decided in C++ from their flags.
void BM_SqliteStore_QueryPageAddedAfter(benchmark::State& state) {
  const int64_t n = state.range(0);
  Corpus& c = CorpusOf(n);
  std::mt19937_64 rng(7);
  const size_t span = static_cast<size_t>(n) > 200 ? n - 200 : 1;
  Filter f;
  f.limit = 100;
  f.added_after = c.date_added[0];
  auto check = c.store->Query(kCollection, f);
  if (!check.ok() || check->records.size() != std::min<size_t>(100, n - 1)) {
    return state.SkipWithError("wrong first page");
  }
  for (auto _ : state) {
    f.added_after = c.date_added[rng() % span];
    auto page = c.store->Query(kCollection, f);
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_SqliteStore_QueryPageAddedAfter)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// Ingest: Add() in batches of 100 new objects into a growing collection, from one thread (one
// fsync per Add) or several (Adds waiting for the writer are group-committed).
std::unique_ptr<Store> add_store;
std::atomic<int64_t> add_next{0};

void BM_SqliteStore_Add(benchmark::State& state) {
  if (state.thread_index() == 0) {
    SqliteOptions options;
    options.path = TempPath(absl::StrCat("add-", state.threads(), ".db"));
    std::filesystem::remove(options.path);
    add_store = *OpenSqliteStore(options);
    Collection coll;
    coll.id = kCollection;
    (void)add_store->CreateCollection(coll);
  }
  std::vector<stix::Object> batch(100);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& o : batch) o = Indicator(add_next++);
    state.ResumeTiming();
    auto r = add_store->Add(kCollection, batch);
    if (!r.ok() || r->added != batch.size()) return state.SkipWithError("add failed");
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_SqliteStore_Add)->UseRealTime()->Threads(1)->Threads(4);

// The baseline: the same rows into a bare table, one transaction per 100, same durability.
void BM_BareSqlite_Insert(benchmark::State& state) {
  const auto path = TempPath("bare.db");
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return state.SkipWithError("open failed");
  sqlite3_stmt* insert = bench::PrepareBareTable(db);
  if (insert == nullptr) return state.SkipWithError("bare table");
  int64_t next = 0;
  std::vector<stix::Object> batch(100);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& o : batch) o = Indicator(next++);
    state.ResumeTiming();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (const auto& o : batch) {
      const std::string version = o.modified->ToString(9);
      sqlite3_bind_text(insert, 1, o.id.data(), o.id.size(), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, version.data(), version.size(), SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 3, o.json.data(), o.json.size(), SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return state.SkipWithError("commit failed");
    }
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_BareSqlite_Insert)->UseRealTime();

}  // namespace
}  // namespace liaison::store

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (liaison::store::Smoke()) {
    // Keep ctest's smoke run to the smallest collection.
    benchmark::RunSpecifiedBenchmarks("Store_Add/|Insert/|/1000$");
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  std::error_code ec;
  std::filesystem::remove_all(
      std::filesystem::temp_directory_path() / absl::StrCat("liaison-store-bench-", getpid()), ec);
  benchmark::Shutdown();
  return 0;
}
