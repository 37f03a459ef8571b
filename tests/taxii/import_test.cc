// `liaison import` end to end: the real binary on bundles, NDJSON, gzip and STIX 2.0 files, with
// the store opened directly afterwards to check what landed.

#include <sys/wait.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"

namespace liaison::taxii {
namespace {

using ::testing::HasSubstr;

constexpr char kCollection[] = "9a0f3c4e-1111-4222-8333-444455556666";

std::string Indicator(int n, std::string_view pattern = "") {
  const std::string p = pattern.empty()
                            ? "[ipv4-addr:value = '203.0.113." + std::to_string(n) + "']"
                            : std::string(pattern);
  char id[80];
  std::snprintf(id, sizeof id, "indicator--%08d-aaaa-4aaa-8aaa-aaaaaaaaaaaa", n);
  return std::string(R"({"type":"indicator","spec_version":"2.1","id":")") + id +
         R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
         R"("pattern":")" +
         p + R"(","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"})";
}

// The same object with a `created` that is not a timestamp: invalid STIX.
std::string BadTimestamp(std::string object) {
  const std::string good = R"("created":"2024-01-01T00:00:00.000Z")";
  object.replace(object.find(good), good.size(), R"("created":"yesterday")");
  return object;
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liaison_import_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = Open();
    store::Collection c;
    c.id = kCollection;
    c.api_root = "api";
    c.title = "imports";
    c.alias = "feed";
    ASSERT_TRUE(store->CreateCollection(c).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<store::Store> Open() {
    store::SqliteOptions o;
    o.path = dir_ / "data" / "liaison.db";
    auto s = store::OpenSqliteStore(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::string Write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  std::string WriteGzip(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
    return path;
  }

  // Runs `liaison import ARGS --data DIR`; returns the exit status, stderr in `output_`.
  int Import(const std::string& args) {
    const std::string out = (dir_ / "stderr.txt").string();
    const std::string cmd = std::string(LIAISON_BINARY) + " import " + args + " --data " +
                            (dir_ / "data").string() + " 2>" + out;
    const int rc = std::system(cmd.c_str());
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    output_ = ss.str();
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  std::vector<store::ObjectRecord> All() {
    auto store = Open();
    store::Filter f;
    f.versions = {store::VersionMatch::All()};
    auto page = store->Query(kCollection, f);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<store::ObjectRecord>{};
  }

  std::filesystem::path dir_;
  std::string output_;
};

TEST_F(ImportTest, BundleLandsValidObjectsAndReportsInvalidOnes) {
  const std::string bundle =
      R"({"type":"bundle","id":"bundle--11111111-2222-4333-8444-555555555555","objects":[)" +
      Indicator(1) + "," + BadTimestamp(Indicator(2)) + "," + Indicator(3) + "]}";
  EXPECT_EQ(Import(Write("b.json", bundle) + " --collection " + kCollection), 1) << output_;
  EXPECT_THAT(output_, HasSubstr("/objects/1: invalid: "));
  EXPECT_THAT(output_, HasSubstr("/created"));
  EXPECT_THAT(output_, HasSubstr("2 added"));
  EXPECT_THAT(output_, HasSubstr("1 invalid"));
  auto records = All();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].id, "indicator--00000001-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  EXPECT_EQ(records[1].id, "indicator--00000003-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  // The original text is stored byte for byte.
  EXPECT_EQ(records[0].json, Indicator(1));
}

TEST_F(ImportTest, NdjsonGzipInSmallBatchesThenReimportIsANoOp) {
  std::string ndjson;
  for (int i = 0; i < 23; ++i) ndjson += Indicator(100 + i) + "\n";
  const std::string path = WriteGzip("feed.ndjson.gz", ndjson);
  // By alias, in batches of 4: six transactions.
  EXPECT_EQ(Import(path + " --collection feed --batch 4"), 0) << output_;
  EXPECT_THAT(output_, HasSubstr("23 objects (23 added, 0 duplicates"));
  EXPECT_EQ(All().size(), 23u);
  // DESIGN.md: re-running an import adds no version.
  EXPECT_EQ(Import(path + " --collection imports"), 0) << output_;
  EXPECT_THAT(output_, HasSubstr("(0 added, 23 duplicates"));
  EXPECT_EQ(All().size(), 23u);
}

TEST_F(ImportTest, Stix20IsUpgradedUnlessRefused) {
  const std::string v20 =
      R"({"type":"bundle","id":"bundle--11111111-2222-4333-8444-555555555556","spec_version":"2.0",)"
      R"("objects":[{"type":"indicator","id":"indicator--77777777-aaaa-4aaa-8aaa-aaaaaaaaaaaa",)"
      R"("created":"2017-01-01T00:00:00.000Z","modified":"2017-01-01T00:00:00.000Z",)"
      R"("labels":["malicious-activity"],"pattern":"[domain-name:value = 'example.com']",)"
      R"("valid_from":"2017-01-01T00:00:00Z"}]})";
  const std::string path = Write("v20.json", v20);
  EXPECT_EQ(Import(path + " --collection " + kCollection + " --no-upgrade"), 1) << output_;
  EXPECT_TRUE(All().empty());
  EXPECT_EQ(Import(path + " --collection " + kCollection), 0) << output_;
  EXPECT_THAT(output_, HasSubstr("1 upgraded from STIX 2.0"));
  auto records = All();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].spec_version, "2.1");
  EXPECT_THAT(records[0].json, HasSubstr(R"("pattern_type":"stix")"));
  EXPECT_THAT(records[0].json, HasSubstr(R"("indicator_types":["malicious-activity"])"));
}

TEST_F(ImportTest, BadInputsAreReportedWithoutStoppingTheRest) {
  const std::string good = Write("good.ndjson", Indicator(5) + "\n");
  const std::string broken = Write("broken.json", R"({"type":"bundle","objects":[)");
  EXPECT_EQ(Import(broken + " " + (dir_ / "missing.json").string() + " " + good + " --collection " +
                   kCollection),
            1)
      << output_;
  EXPECT_THAT(output_, HasSubstr("broken.json: error: "));
  EXPECT_THAT(output_, HasSubstr("missing.json: error: "));
  EXPECT_THAT(output_, HasSubstr("2 unreadable files"));
  EXPECT_EQ(All().size(), 1u);
}

TEST_F(ImportTest, UnknownCollectionIsAUsageError) {
  EXPECT_EQ(Import(Write("x.json", Indicator(1)) + " --collection nope"), 2) << output_;
  EXPECT_THAT(output_, HasSubstr("no collection with id, alias or title \"nope\""));
}

}  // namespace
}  // namespace liaison::taxii

namespace liaison::taxii {
namespace {

// A real feed: MITRE ATT&CK for ICS (STIX 2.1 bundle) from ../shared, when present.
TEST_F(ImportTest, RealAttackBundleImports) {
  const char* shared = std::getenv("LIAISON_SHARED_DIR");
  const std::filesystem::path file = std::filesystem::path(shared ? shared : "../shared") /
                                     "data/stix/mitre-attack/ics-attack-18.1.json";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is absent";
  const int rc = Import(file.string() + " --collection " + kCollection);
  EXPECT_TRUE(rc == 0 || rc == 1) << output_;
  EXPECT_THAT(output_, HasSubstr("imported 1 file"));
  auto store = Open();
  store::Filter f;
  f.limit = 1000;
  auto page = store->Query(kCollection, f);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_GT(page->records.size(), 100u) << output_;
}

}  // namespace
}  // namespace liaison::taxii
