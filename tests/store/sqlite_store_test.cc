#include "store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "store/sqlite/checkpointer.h"
#include "store_conformance.h"

namespace liaison::store {
namespace {

using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreTestOptions;

Result<std::unique_ptr<Store>> OpenForConformance(const std::filesystem::path& dir,
                                                  const StoreTestOptions& options) {
  SqliteOptions o;
  o.path = dir / "liaison.db";
  o.clock = options.clock;
  o.max_page_size = options.max_page_size;
  return OpenSqliteStore(o);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"sqlite", OpenForConformance}),
                         testing::StoreBackendName);

constexpr char kCollection[] = "5b1f0b4e-3c1a-4d7e-9a55-0c6f1e2d3a4b";

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("liaison-sqlite-", info->name(), "-", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "liaison.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Result<std::unique_ptr<Store>> Open() {
    SqliteOptions o;
    o.path = path_;
    return OpenSqliteStore(o);
  }

  // Runs one SQL statement on the file with the plain SQLite API; returns the first column of
  // the first row as text.
  std::string RawSql(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
};

stix::Object Indicator(int n, const char* modified = "2021-01-01T00:00:00.000Z") {
  stix::Object o;
  o.type = "indicator";
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", n);
  o.id = absl::StrCat("indicator--", uuid);
  o.spec_version = "2.1";
  o.created = *Timestamp::Parse("2020-01-01T00:00:00.000Z");
  o.modified = *Timestamp::Parse(modified);
  o.json = absl::StrCat(R"({"type":"indicator","spec_version":"2.1","id":")", o.id,
                        R"(","created":"2020-01-01T00:00:00.000Z","modified":")", modified,
                        R"(","pattern":"[ipv4-addr:value = '10.0.0.)", n % 256,
                        R"(']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"})");
  return o;
}

Collection TestCollection() {
  Collection c;
  c.id = kCollection;
  c.api_root = "api1";
  c.title = "t";
  return c;
}

TEST_F(SqliteStoreTest, NewStoresUse16KiBPages) {
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(RawSql("PRAGMA page_size"), "16384");
}

// Checkpoints run on the checkpointer's thread: under a stream of commits the WAL is copied into
// the database in the background and stays bounded, and every committed row is there after the
// store is reopened.
TEST_F(SqliteStoreTest, CheckpointsRunInTheBackgroundAndBoundTheWal) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateCollection(TestCollection()).ok());
    int64_t max_wal = 0;
    for (int batch = 0; batch < 300; ++batch) {
      std::vector<stix::Object> objects;
      for (int i = 0; i < 50; ++i) objects.push_back(Indicator(batch * 50 + i));
      auto added = (*store)->Add(kCollection, objects);
      ASSERT_TRUE(added.ok()) << added.status();
      ASSERT_EQ(added->added, 50);
      std::error_code ec;
      const auto wal = std::filesystem::file_size(path_.string() + "-wal", ec);
      if (!ec) max_wal = std::max<int64_t>(max_wal, static_cast<int64_t>(wal));
    }
    // Under a continuous stream of commits the background checkpoints never copy the frames
    // committed while they run, so the WAL restarts only after the writer's inline checkpoint:
    // it stays below that bound (kInlineFrames frames of 16 KiB) plus one commit's frames.
    EXPECT_LT(max_wal, int64_t{sqlite_internal::Checkpointer::kInlineFrames + 100} * (16384 + 24));
    // The database file itself received pages: a checkpoint copied them.
    EXPECT_GT(std::filesystem::file_size(path_), 16384u * 64);
  }
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects"), "15000");
  EXPECT_EQ(RawSql("PRAGMA integrity_check"), "ok");
}

// The checkpointer itself: once a connection's commits take the WAL past kBackgroundFrames, a
// checkpoint completes on the checkpointer's thread, while the writer never checkpoints (it
// stays below kInlineFrames); afterwards the writer has SQLite's auto-checkpoint back.
TEST_F(SqliteStoreTest, CheckpointerCopiesTheWalOnItsOwnThread) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x TEXT)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  {
    sqlite_internal::Checkpointer checkpointer(path_, db);
    const std::string row(3000, 'x');  // under one 4 KiB page: one new page per row
    for (int i = 0; i < sqlite_internal::Checkpointer::kBackgroundFrames + 200; ++i) {
      const std::string sql = absl::StrCat("INSERT INTO t VALUES ('", row, i, "')");
      ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    }
    for (int i = 0; i < 500 && checkpointer.completed() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GE(checkpointer.completed(), 1);
  }
  EXPECT_GT(std::filesystem::file_size(path_), 4096u * 200);  // the pages reached the file
  sqlite3_close(db);
  EXPECT_EQ(RawSql("SELECT count(*) FROM t"), "1200");
}

TEST_F(SqliteStoreTest, UsesWalModeAndRecordsTheSchemaVersion) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(RawSql("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawSql("SELECT max(version) FROM schema_migrations"), "6");
  EXPECT_EQ(RawSql("PRAGMA application_id"), std::to_string(0x4C49414E));
}

// Release keys (issue #6, store/release_key.h): written at ingest, and computed for the rows of
// a store written before them when migration 4 runs, with the same dictionary codes.
TEST_F(SqliteStoreTest, ReleaseKeysAreWrittenAtIngestAndBackfilledByTheMigration) {
  auto labelled = [](int n, const char* label) {
    stix::Object o = Indicator(n);
    o.json.pop_back();
    absl::StrAppend(&o.json, R"(,"labels":[")", label, R"("],"confidence":)", n,
                    R"(,"created_by_ref":"identity--)", n % 2,
                    R"(","object_marking_refs":["marking-definition--)", n % 3, R"("]})");
    return o;
  };
  std::vector<stix::Object> objects;
  for (int i = 0; i < 30; ++i) objects.push_back(labelled(i, i % 2 ? "a" : "b"));
  objects.push_back(Indicator(99));
  objects.back().json = R"({"type":"indicator","id":7})";  // unreadable for the key: key 0
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateCollection(TestCollection()).ok());
    ASSERT_TRUE((*store)->Add(kCollection, objects).ok());
  }
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects WHERE rkey = 0"), "1");
  // Types, creators, markings, labels: 1 + 2 + 3 + 2 names.
  EXPECT_EQ(RawSql("SELECT count(*) FROM release_codes"), "8");
  const std::string keys =
      RawSql("SELECT group_concat(rkey) FROM (SELECT rkey FROM objects ORDER BY date_added)");
  ASSERT_FALSE(keys.empty());

  // Back to schema 3, as a store written before release keys.
  RawSql("DROP INDEX objects_by_cid_key");
  RawSql("ALTER TABLE objects DROP COLUMN rkey");
  RawSql("DROP TABLE release_codes");
  RawSql("CREATE INDEX objects_by_cid ON objects(cid)");
  RawSql("DROP TABLE audit_pending");
  RawSql("DROP TABLE rate_uses");
  RawSql("DELETE FROM schema_migrations WHERE version >= 4");
  EXPECT_EQ(RawSql("SELECT max(version) FROM schema_migrations"), "3");
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    Filter all;
    all.versions = {VersionMatch::All()};
    auto page = (*store)->Query(kCollection, all);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->records.size(), objects.size());
  }
  EXPECT_EQ(RawSql("SELECT max(version) FROM schema_migrations"), "6");
  EXPECT_EQ(RawSql("SELECT group_concat(rkey) FROM (SELECT rkey FROM objects ORDER BY date_added)"),
            keys);
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects WHERE rkey = 0"), "1");
}

// An Add reads an id's versions only for ids the collection holds (looked up for the whole Add
// at once) or that the same Add stored: duplicates and new versions within one Add, ids stored
// by an earlier Add, and ids that are not plain JSON strings (always read) must all come out as
// if every id had been read.
TEST_F(SqliteStoreTest, AddSeesVersionsOfIdsStoredEarlierInTheSameAdd) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateCollection(TestCollection()).ok());
  const std::vector<stix::Object> first = {Indicator(3)};
  ASSERT_TRUE((*store)->Add(kCollection, first).ok());
  stix::Object odd = Indicator(4);
  odd.id = "indicator--quote\"and\\backslash";
  std::vector<stix::Object> objects = {
      Indicator(1),
      Indicator(1),  // a duplicate of a version this Add stores
      Indicator(2),
      Indicator(2, "2022-01-01T00:00:00.000Z"),  // two versions, one Add
      Indicator(3, "2022-01-01T00:00:00.000Z"),  // a newer version of an earlier Add's id
      odd,
      odd};
  auto added = (*store)->Add(kCollection, objects);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->added, 5);
  EXPECT_EQ(added->duplicates, 2);
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects"), "6");
  // One latest version per id (1, 2, 3, odd), and it is the newest.
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects WHERE is_last = 1"), "4");
  EXPECT_EQ(RawSql("SELECT count(*) FROM objects WHERE is_first = 1"), "4");
  Filter latest;
  latest.ids = {Indicator(2).id, Indicator(3).id};
  auto page = (*store)->Query(kCollection, latest);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->records.size(), 2u);
  for (const ObjectRecord& r : page->records) {
    EXPECT_NE(r.json.find("2022-01-01"), std::string::npos) << r.json;
  }
}

TEST_F(SqliteStoreTest, RefusesAStoreWrittenByANewerVersion) {
  { ASSERT_TRUE(Open().ok()); }
  RawSql("INSERT INTO schema_migrations(version, applied_at) VALUES (99, 'later')");
  auto store = Open();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
}

TEST_F(SqliteStoreTest, RefusesADatabaseThatIsNotALiaisonStore) {
  RawSql("CREATE TABLE something_else(x)");
  auto store = Open();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST_F(SqliteStoreTest, OpenErrors) {
  SqliteOptions o;
  EXPECT_EQ(OpenSqliteStore(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.path = dir_ / "missing.db";
  o.create_if_missing = false;
  EXPECT_EQ(OpenSqliteStore(o).status().code(), absl::StatusCode::kNotFound);
  o.create_if_missing = true;
  o.path = dir_ / "nested" / "dirs" / "store.db";
  EXPECT_TRUE(OpenSqliteStore(o).ok());
}

TEST_F(SqliteStoreTest, TwoHandlesOnOneFileShareDateAddedOrder) {
  // As `liaison import` beside `liaison serve`: two stores (connections sets) on one file.
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->CreateCollection(TestCollection()).ok());
  std::vector<Timestamp> seen;
  for (int i = 0; i < 10; ++i) {
    Store& s = i % 2 == 0 ? **a : **b;
    std::vector<stix::Object> batch = {Indicator(i)};
    auto r = s.Add(kCollection, batch);
    ASSERT_TRUE(r.ok()) << r.status();
    seen.push_back(r->outcomes[0].date_added);
  }
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
  auto page = (*b)->Query(kCollection, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->records.size(), 10u);
}

TEST_F(SqliteStoreTest, PinnedReadsShareOneSnapshotUntilTheScopeEnds) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  Store& s = **store;
  ASSERT_TRUE(s.CreateCollection(TestCollection()).ok());
  std::vector<stix::Object> first = {Indicator(1)};
  ASSERT_TRUE(s.Add(kCollection, first).ok());
  {
    auto scope = s.PinReads();
    ASSERT_NE(scope, nullptr);
    EXPECT_EQ(s.PinReads(), nullptr);  // scopes do not nest
    auto before = s.Query(kCollection, {});
    ASSERT_TRUE(before.ok());
    EXPECT_EQ(before->records.size(), 1u);
    // A write from this thread commits, but the scope's reads keep their snapshot.
    std::vector<stix::Object> second = {Indicator(2)};
    ASSERT_TRUE(s.Add(kCollection, second).ok());
    auto pinned = s.Query(kCollection, {});
    ASSERT_TRUE(pinned.ok());
    EXPECT_EQ(pinned->records.size(), 1u);
    // Another thread is not pinned: it sees the write.
    size_t seen_elsewhere = 0;
    std::thread([&] {
      auto page = s.Query(kCollection, {});
      if (page.ok()) seen_elsewhere = page->records.size();
    }).join();
    EXPECT_EQ(seen_elsewhere, 2u);
  }
  auto after = s.Query(kCollection, {});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->records.size(), 2u);
}

TEST_F(SqliteStoreTest, ManyThreadsReadWhileOneWrites) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  Store& s = **store;
  ASSERT_TRUE(s.CreateCollection(TestCollection()).ok());
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      size_t last_count = 0;
      while (!done) {
        Filter f;
        f.versions = {VersionMatch::All()};
        size_t count = 0;
        for (;;) {
          auto p = s.QueryManifest(kCollection, f);
          if (!p.ok()) {
            ++errors;
            return;
          }
          count += p->records.size();
          if (!p->more) break;
          f.next = p->next;
        }
        // Snapshots only grow: a reader never sees a commit disappear.
        if (count < last_count) ++errors;
        last_count = count;
      }
    });
  }
  for (int b = 0; b < 30; ++b) {
    std::vector<stix::Object> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Indicator(b * 20 + i));
    auto r = s.Add(kCollection, batch);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
}

// An acknowledged Add survives kill -9, and an Add that was not acknowledged left nothing
// behind: every batch is either entirely present or entirely absent.
TEST_F(SqliteStoreTest, AcknowledgedAddsSurviveKillNine) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateCollection(TestCollection()).ok());
  }
  constexpr int kPerBatch = 10;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    auto store = Open();
    if (!store.ok()) _exit(2);
    for (int b = 0;; ++b) {
      std::vector<stix::Object> batch;
      for (int i = 0; i < kPerBatch; ++i) batch.push_back(Indicator(b * kPerBatch + i));
      if (!(*store)->Add(kCollection, batch).ok()) _exit(3);
      // Acknowledge only after Add returned, as the server answers only then.
      if (write(pipe_fds[1], &b, sizeof b) != sizeof b) _exit(4);
    }
  }
  close(pipe_fds[1]);
  int acked = -1;
  for (int n = 0; n < 25; ++n) {
    int b = 0;
    ASSERT_EQ(read(pipe_fds[0], &b, sizeof b), static_cast<ssize_t>(sizeof b));
    acked = b;
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  std::map<int, int> per_batch;
  Filter f;
  f.versions = {VersionMatch::All()};
  for (;;) {
    auto page = (*store)->QueryManifest(kCollection, f);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const ObjectRecord& r : page->records) {
      ++per_batch[std::stoi(r.id.substr(r.id.size() - 12)) / kPerBatch];
    }
    if (!page->more) break;
    f.next = page->next;
  }
  for (int b = 0; b <= acked; ++b) EXPECT_EQ(per_batch[b], kPerBatch) << "batch " << b;
  for (const auto& [b, n] : per_batch) EXPECT_EQ(n, kPerBatch) << "partial batch " << b;
}

// AddWithAudit's entries wait in audit_pending (object file) until moved into the audit file's
// chain. A crash can leave rows there: moved (their delete had not committed) or not (the move
// had not run). Reopened, the store chains the second kind once a chain function is known and
// never chains the first kind again.
TEST_F(SqliteStoreTest, AuditEntriesLeftPendingByACrashAreChainedOnceAfterRestart) {
  auto chain = [](const AuditRecord& r) { return absl::StrCat(r.prev_hash, "+", r.details); };
  auto entry = [](std::string details) {
    AuditRecord r;
    r.time = *Timestamp::Parse("2024-01-01T00:00:00Z");
    r.kind = "receipt";
    r.details = std::move(details);
    return r;
  };
  auto read_all = [](Store& store) {
    auto log = store.ReadAudit({});
    EXPECT_TRUE(log.ok()) << log.status();
    std::vector<std::string> out;
    if (log.ok()) {
      for (const AuditRecord& r : *log) out.push_back(absl::StrCat(r.seq, ":", r.hash));
    }
    return out;
  };
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateCollection(TestCollection()).ok());
    auto added = (*store)->AddWithAudit(kCollection, std::vector<stix::Object>{Indicator(1)}, {},
                                        {entry("a")}, chain);
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(read_all(**store), std::vector<std::string>{"1:+a"});
  }
  // As a crash would leave them: "a" moved but not deleted, "b" committed but not moved.
  RawSql("DELETE FROM audit_pending");
  RawSql(
      "INSERT INTO audit_pending(pid, time, kind, partner, policy_version, details) VALUES "
      "(1, '2024-01-01T00:00:00.000000000Z', 'receipt', '', '', 'a'), "
      "(2, '2024-01-01T00:00:00.000000000Z', 'receipt', '', '', 'b')");
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    // No chain function yet (a reader that brings none): "b" waits.
    EXPECT_EQ(read_all(**store), std::vector<std::string>{"1:+a"});
    ASSERT_TRUE((*store)->AppendAudit({}, chain).ok());
    EXPECT_EQ(read_all(**store), (std::vector<std::string>{"1:+a", "2:+a+b"}));
    // The next write deletes the moved rows; pids are never reused for new entries.
    auto added = (*store)->AddWithAudit(kCollection, std::vector<stix::Object>{Indicator(2)}, {},
                                        {entry("c")}, chain);
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(read_all(**store), (std::vector<std::string>{"1:+a", "2:+a+b", "3:+a+b+c"}));
  }
  EXPECT_EQ(RawSql("SELECT group_concat(pid) FROM audit_pending"), "3");
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AppendAudit({}, chain).ok());
    EXPECT_EQ(read_all(**store), (std::vector<std::string>{"1:+a", "2:+a+b", "3:+a+b+c"}));
  }
}

}  // namespace
}  // namespace liaison::store
