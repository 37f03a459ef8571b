// The PostgreSQL store: the conformance suite unchanged, plus what only a shared database can
// get wrong (several nodes writing at once). The binary starts its own throwaway cluster with
// scripts/pg-test-cluster.sh (or uses $LIAISON_PG_DSN when set) and exits 77, which ctest
// reports as skipped, only when PostgreSQL is not installed and cannot be.

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pg_test_cluster.h"
#include "store/postgres/postgres_store.h"
#include "store_conformance.h"

namespace liaison::store {
namespace {

using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreTestOptions;

std::string& Dsn() { return testing::PgDsn(); }

// One schema per test location, so that each test starts empty and reopening finds its data.
std::string SchemaFor(const std::filesystem::path& location) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char ch : location.string()) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "t_%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::unique_ptr<Store>> OpenForConformance(const std::filesystem::path& dir,
                                                  const StoreTestOptions& options) {
  PostgresOptions o;
  o.conninfo = Dsn();
  o.schema = SchemaFor(dir);
  o.clock = options.clock;
  o.max_page_size = options.max_page_size;
  return OpenPostgresStore(o);
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"postgres", OpenForConformance}),
                         testing::StoreBackendName);

constexpr char kCollection[] = "8f7c3a52-1d2e-4b6f-9a0c-3e5d7f9b1c2a";

stix::Object MakeObject(int node, int n) {
  stix::Object o;
  o.type = "indicator";
  char uuid[48];
  std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8%03d-%012d", node, n);
  o.id = absl::StrCat("indicator--", uuid);
  o.spec_version = "2.1";
  o.created = *Timestamp::Parse("2024-01-01T00:00:00Z");
  o.modified = o.created;
  o.json = absl::StrCat("{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"", o.id,
                        "\",\"created\":\"2024-01-01T00:00:00Z\","
                        "\"modified\":\"2024-01-01T00:00:00Z\"}");
  return o;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    schema_ = SchemaFor(absl::StrCat("pg-", info->name(), "-", ::getpid()));
  }
  Result<std::unique_ptr<Store>> Open(size_t connections = 4) {
    PostgresOptions o;
    o.conninfo = Dsn();
    o.schema = schema_;
    o.max_connections = connections;
    return OpenPostgresStore(o);
  }
  // Runs one SQL statement with plain libpq in the test's schema; returns the first value.
  std::string RawSql(const std::string& sql) {
    PGconn* c = PQconnectdb(Dsn().c_str());
    EXPECT_EQ(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, absl::StrCat("SET search_path TO ", schema_).c_str()));
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << PQresultErrorMessage(r);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
    PQfinish(c);
    return out;
  }
  std::string schema_;
};

TEST_F(PostgresStoreTest, MigrationsAreRecordedAndRunOnce) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
  }
  EXPECT_EQ(RawSql("SELECT max(version) FROM schema_migrations"), "3");
  auto again = Open();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RawSql("SELECT count(*) FROM schema_migrations"), "3");
}

TEST_F(PostgresStoreTest, RefusesASchemaFromANewerLiaison) {
  ASSERT_TRUE(Open().ok());
  RawSql("INSERT INTO schema_migrations(version, applied_at) VALUES (999, 'later')");
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailable) {
  PostgresOptions o;
  o.conninfo = "host=127.0.0.1 port=1 connect_timeout=2";
  auto store = OpenPostgresStore(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
}

TEST_F(PostgresStoreTest, TextWithNulIsRejectedNotTruncated) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  Collection c{kCollection, "api", "t", "", "", {}};
  ASSERT_TRUE((*store)->CreateCollection(c).ok());
  stix::Object o = MakeObject(0, 1);
  o.json.insert(5, std::string(1, '\0'));
  auto r = (*store)->Add(kCollection, std::span<const stix::Object>(&o, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

// Two "nodes" (two stores, each with its own connection pool) write concurrently while a reader
// polls the way TAXII clients do, with added_after set to the last date_added it saw. If
// date_added were assigned before commit order, a slow committer would land behind the reader's
// position and be skipped; the reader must instead see every object exactly once, in order.
struct RaceOutcome {
  size_t expected = 0;
  size_t seen = 0;    // objects the polling reader saw
  size_t unique = 0;  // distinct ones
  bool writes_failed = false;
};

RaceOutcome RunPollingRace(Store& node_a, Store& node_b) {
  constexpr int kWritersPerNode = 2;
  constexpr int kBatches = 15;
  constexpr int kBatchSize = 7;
  std::atomic<int> writers_left{2 * kWritersPerNode};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2 * kWritersPerNode; ++w) {
    Store* node = w % 2 == 0 ? &node_a : &node_b;
    threads.emplace_back([node, w, &writers_left, &failed] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<stix::Object> batch;
        for (int i = 0; i < kBatchSize; ++i) batch.push_back(MakeObject(w, b * kBatchSize + i));
        auto r = node->Add(kCollection, batch);
        if (!r.ok() || r->added != batch.size()) failed = true;
      }
      --writers_left;
    });
  }
  std::vector<std::string> seen;
  std::optional<Timestamp> last;
  auto poll = [&] {
    Filter f;
    f.added_after = last;
    f.limit = 5;
    f.versions = {VersionMatch::All()};
    auto page = node_b.QueryManifest(kCollection, f);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const ObjectRecord& r : page->records) {
      if (last) {
        EXPECT_GT(r.date_added, *last);
      }
      last = r.date_added;
      seen.push_back(r.id);
    }
  };
  RaceOutcome out;
  while (writers_left > 0) {
    poll();
    if (::testing::Test::HasFatalFailure()) break;
  }
  for (auto& t : threads) t.join();
  for (size_t before = SIZE_MAX; before != seen.size() && !::testing::Test::HasFatalFailure();) {
    before = seen.size();
    poll();
  }
  out.expected = size_t{2 * kWritersPerNode * kBatches * kBatchSize};
  out.seen = seen.size();
  out.unique = std::set<std::string>(seen.begin(), seen.end()).size();
  out.writes_failed = failed;
  return out;
}

TEST_F(PostgresStoreTest, ConcurrentNodesNeverLetAPollingReaderMissAnObject) {
  auto node_a = Open(4);
  ASSERT_TRUE(node_a.ok()) << node_a.status();
  auto node_b = Open(4);
  ASSERT_TRUE(node_b.ok()) << node_b.status();
  ASSERT_TRUE((*node_a)->CreateCollection({kCollection, "api", "t", "", "", {}}).ok());
  const RaceOutcome out = RunPollingRace(**node_a, **node_b);
  ASSERT_FALSE(out.writes_failed);
  EXPECT_EQ(out.unique, out.seen) << "an object was seen twice";
  EXPECT_EQ(out.seen, out.expected);
}

// The same race against the naive scheme (date_added read and incremented without the lock, a
// short random pause before COMMIT as a loaded server would have): the reader must be seen to
// miss objects, which shows the test above can fail. Tried a few times, since a race is a race.
TEST_F(PostgresStoreTest, NaiveDateAddedLetsAPollingReaderMissObjects) {
  std::atomic<uint64_t> seed{1};
  PostgresOptions o;
  o.conninfo = Dsn();
  o.max_connections = 4;
  o.naive_date_added_for_testing = true;
  o.before_commit_for_testing = [&seed] {
    // A per-call pause of 0-3 ms (splitmix64 of a shared counter: no shared RNG state).
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    std::this_thread::sleep_for(std::chrono::microseconds((z ^ (z >> 31)) % 3000));
  };
  bool missed = false;
  for (int attempt = 0; attempt < 5 && !missed; ++attempt) {
    o.schema = SchemaFor(absl::StrCat("pg-naive-", attempt, "-", ::getpid()));
    auto node_a = OpenPostgresStore(o);
    ASSERT_TRUE(node_a.ok()) << node_a.status();
    auto node_b = OpenPostgresStore(o);
    ASSERT_TRUE(node_b.ok()) << node_b.status();
    ASSERT_TRUE((*node_a)->CreateCollection({kCollection, "api", "t", "", "", {}}).ok());
    const RaceOutcome out = RunPollingRace(**node_a, **node_b);
    // Either outcome fails the assertions of the test above: the naive scheme also lets two
    // writers take the same date_added, and then one of the writes is refused.
    missed = out.writes_failed || out.seen < out.expected;
    std::printf("naive date_added, attempt %d: the reader saw %zu of %zu objects%s\n", attempt,
                out.seen, out.expected, out.writes_failed ? "; a write failed" : "");
  }
  EXPECT_TRUE(missed) << "the race test did not detect the naive ordering";
}

}  // namespace
}  // namespace liaison::store

int main(int argc, char** argv) { return liaison::store::testing::RunWithPgCluster(argc, argv); }
