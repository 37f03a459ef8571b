// Tests of src/policy/release_log.h on the SQLite store: appends chain, verification catches any
// change, deletion or reordering made directly in the database file.

#include "policy/release_log.h"

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"

namespace liaison::policy {
namespace {

using ::testing::HasSubstr;

class ReleaseLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liaison_release_log_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    store::SqliteOptions o;
    o.path = dir_ / "store.db";
    auto s = store::OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  // Runs SQL on the log's file (<store>.audit) with the plain SQLite API, as an attacker with
  // file access would.
  void Tamper(const std::string& sql, const char* file = "store.db.audit") {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / file).c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
    Reopen();
  }
  void Fill(int n) {
    ReleaseLog log(*store_);
    for (int i = 0; i < n; ++i) {
      ReleaseDetails d{
          "coll", "objects", {{"indicator--" + std::to_string(i), "2024-01-01T00:00:00.000Z", {}}}};
      if (i % 2) d.versions[0].removed = {"description"};
      auto r = log.AppendRelease(i % 3 ? "cert-x" : "isac", "sha256:abc", d,
                                 Timestamp::FromUnixMillis(1'700'000'000'000 + i * 1000));
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->seq, i + 1);
    }
  }
  VerifyResult Verify() {
    auto v = ReleaseLog(*store_).Verify();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : VerifyResult{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ReleaseLogTest, AppendsChainAndVerify) {
  EXPECT_TRUE(Verify().ok);
  EXPECT_EQ(Verify().head, "");
  Fill(10);
  VerifyResult v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 10);
  EXPECT_EQ(v.head.size(), 64u);
  auto all = ReleaseLog(*store_).Read(std::nullopt, std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_EQ((*all)[i].prev_hash, (*all)[i - 1].hash);
}

TEST_F(ReleaseLogTest, EntriesKeptInTheMainFileMoveToTheAuditFile) {
  // Stores written before the log had its own file keep it in store.db's audit_log: move the
  // entries there, remove the audit file, and reopen.
  Fill(3);
  const std::string head = ReleaseLog(*store_).Read(std::nullopt, std::nullopt)->back().hash;
  store_.reset();
  Tamper("ATTACH '" + (dir_ / "store.db.audit").string() +
             "' AS a; INSERT INTO main.audit_log SELECT * FROM a.audit_log;",
         "store.db");
  store_.reset();
  for (const char* f : {"store.db.audit", "store.db.audit-wal", "store.db.audit-shm"}) {
    std::filesystem::remove(dir_ / f);
  }
  Reopen();
  VerifyResult v = Verify();
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.entries, 3);
  ASSERT_TRUE(ReleaseLog(*store_).Append("psi", "cert-x", "", "{}").ok());
  auto all = ReleaseLog(*store_).Read(std::nullopt, std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[3].prev_hash, head);
  // The main file's copies are gone (a later reopen copies nothing twice).
  sqlite3* db = nullptr;
  store_.reset();
  ASSERT_EQ(sqlite3_open((dir_ / "store.db").c_str(), &db), SQLITE_OK);
  int rows = -1;
  sqlite3_exec(
      db, "SELECT count(*) FROM audit_log",
      [](void* out, int, char** values, char**) {
        *static_cast<int*>(out) = std::atoi(values[0]);
        return 0;
      },
      &rows, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(rows, 0);
  Reopen();
  EXPECT_EQ(Verify().entries, 4);
}

TEST_F(ReleaseLogTest, ReadFiltersByPartnerAndTime) {
  Fill(9);
  auto isac = ReleaseLog(*store_).Read("isac", std::nullopt);
  ASSERT_TRUE(isac.ok());
  EXPECT_EQ(isac->size(), 3u);  // i = 0, 3, 6
  auto late = ReleaseLog(*store_).Read("cert-x", Timestamp::FromUnixMillis(1'700'000'005'000));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->size(), 3u);  // cert-x is i % 3 != 0: i = 5, 7, 8
}

TEST_F(ReleaseLogTest, GenericEntriesShareTheChain) {
  Fill(2);
  ReleaseLog log(*store_);
  ASSERT_TRUE(log.Append("psi", "cert-x", "", R"({"items":120,"intersection":4})").ok());
  ASSERT_TRUE(log.Append("receipt", "cert-x", "", R"({"sig":"..."})").ok());
  EXPECT_FALSE(log.Append("psi", "cert-x", "", "not json").ok());
  EXPECT_FALSE(log.Append("", "cert-x", "", "{}").ok());
  EXPECT_EQ(Verify().entries, 4);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(ReleaseLogTest, DetectsAChangedDetail) {
  Fill(5);
  Tamper(
      "UPDATE audit_log SET details = replace(details, 'indicator--2', 'indicator--9') "
      "WHERE seq = 3");
  VerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad, 3);
  EXPECT_THAT(v.problem, HasSubstr("changed"));
}

TEST_F(ReleaseLogTest, DetectsChangesToEveryField) {
  for (const char* update :
       {"partner = 'other'", "kind = 'psi'", "policy_version = 'sha256:0'",
        "time = '2023-01-01T00:00:00.000000000Z'", "prev_hash = 'x'", "hash = 'y'"}) {
    SCOPED_TRACE(update);
    TearDown();
    SetUp();
    Fill(4);
    Tamper(std::string("UPDATE audit_log SET ") + update + " WHERE seq = 2");
    VerifyResult v = Verify();
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.first_bad, 2);
  }
}

TEST_F(ReleaseLogTest, DetectsADeletedEntry) {
  Fill(5);
  Tamper("DELETE FROM audit_log WHERE seq = 2");
  VerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.problem, HasSubstr("deleted or reordered"));
}

TEST_F(ReleaseLogTest, DetectsADeletionRenumberedToHideTheGap) {
  Fill(5);
  Tamper("DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2");
  VerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad, 2);
}

TEST_F(ReleaseLogTest, DetectsReordering) {
  Fill(5);
  Tamper(
      "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = "
      "3; UPDATE audit_log SET seq = 3 WHERE seq = 100");
  VerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad, 2);
}

TEST_F(ReleaseLogTest, ACutOffTailChangesTheHead) {
  Fill(5);
  const std::string head = Verify().head;
  Tamper("DELETE FROM audit_log WHERE seq = 5");
  VerifyResult v = Verify();
  EXPECT_TRUE(v.ok);        // a shorter chain is still a chain ...
  EXPECT_NE(v.head, head);  // ... which only the head noted elsewhere reveals
}

TEST_F(ReleaseLogTest, ConcurrentAppendsNeverFork) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      ReleaseLog log(*store_);
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.Append("psi", "p", "", "{}").ok());
    });
  }
  for (std::thread& t : threads) t.join();
  VerifyResult v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 40);
}

}  // namespace
}  // namespace liaison::policy
