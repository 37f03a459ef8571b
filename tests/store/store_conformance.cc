#include "store_conformance.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "gmock/gmock.h"
#include "simdjson.h"
#include "stix/object.h"
#include "store/faulty_store.h"
#include "store/filter.h"
#include "testing/shared_data.h"

namespace liaison::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

constexpr char kCollection[] = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
constexpr char kOther[] = "52892447-4d7e-4f70-b94d-d7f22742ff63";

Timestamp T(std::string_view text) { return *Timestamp::Parse(text); }

// A STIX object with consistent typed fields and JSON text. `n` picks the id; an empty
// `modified` leaves it out, and empty `created` and `modified` make an unversioned object.
struct Spec {
  std::string type = "indicator";
  int n = 0;
  std::string modified = "2020-01-01T00:00:00.000Z";
  std::string created = "2020-01-01T00:00:00.000Z";
  std::string spec_version = "2.1";
};

std::string IdOf(std::string_view type, int n) {
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", n);
  return absl::StrCat(ToAbsl(type), "--", uuid);
}

stix::Object Make(const Spec& s) {
  stix::Object o;
  o.type = s.type;
  o.id = IdOf(s.type, s.n);
  o.spec_version = s.spec_version;
  std::string json = absl::StrCat("{\"type\":\"", s.type, "\"");
  if (!s.spec_version.empty()) absl::StrAppend(&json, ",\"spec_version\":\"", s.spec_version, "\"");
  absl::StrAppend(&json, ",\"id\":\"", o.id, "\"");
  if (!s.created.empty()) {
    o.created = T(s.created);
    absl::StrAppend(&json, ",\"created\":\"", s.created, "\"");
  }
  if (!s.modified.empty()) {
    o.modified = T(s.modified);
    absl::StrAppend(&json, ",\"modified\":\"", s.modified, "\"");
  }
  absl::StrAppend(&json, ",\"name\":\"object ", s.n, "\"}");
  o.json = std::move(json);
  return o;
}

stix::Object V(int n, std::string modified, std::string spec_version = "2.1") {
  return Make({.n = n, .modified = std::move(modified), .spec_version = std::move(spec_version)});
}

// "n@modified" for each record, the compact form the expectations use.
std::string KeyOf(const ObjectRecord& r) {
  const std::string id_tail = r.id.substr(r.id.size() - 4);
  const int n = std::stoi(id_tail);
  return absl::StrCat(n, "@", r.version ? r.version->ToString(3) : std::string("none"));
}

std::vector<std::string> Keys(const Page& page) {
  std::vector<std::string> out;
  for (const ObjectRecord& r : page.records) out.push_back(KeyOf(r));
  return out;
}

Collection MakeCollection(std::string id, std::string title = "Indicators") {
  Collection c;
  c.id = std::move(id);
  c.api_root = "api1";
  c.title = std::move(title);
  c.description = "for tests";
  c.alias = "";
  c.media_types = {"application/stix+json;version=2.1"};
  return c;
}

// Follows `next` to the end; fails the test on errors or on pages larger than the limit.
std::vector<ObjectRecord> QueryAll(Store& store, std::string_view collection, Filter filter,
                                   int* pages = nullptr) {
  std::vector<ObjectRecord> out;
  int count = 0;
  for (;;) {
    auto page = store.Query(collection, filter);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    ++count;
    if (filter.limit) {
      EXPECT_LE(page->records.size(), *filter.limit);
    }
    for (ObjectRecord& r : page->records) out.push_back(std::move(r));
    if (!page->more) {
      EXPECT_TRUE(page->next.empty());
      break;
    }
    EXPECT_FALSE(page->next.empty());
    filter.next = page->next;
    if (count > 10000) {
      ADD_FAILURE() << "pagination does not end";
      break;
    }
  }
  if (pages != nullptr) *pages = count;
  return out;
}

std::vector<std::string> KeysOf(const std::vector<ObjectRecord>& records) {
  std::vector<std::string> out;
  for (const ObjectRecord& r : records) out.push_back(KeyOf(r));
  return out;
}

}  // namespace

void StoreConformanceTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat("liaison-store-", info->test_suite_name(), "-", info->name());
  std::replace(name.begin(), name.end(), '/', '_');
  dir_ = std::filesystem::temp_directory_path() / absl::StrCat(name, "-", ::getpid());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  options_.clock = [this] { return clock_.Now(); };
  auto opened = GetParam().open(dir_, options_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  ASSERT_TRUE(store_->CreateCollection(MakeCollection(kCollection)).ok());
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void StoreConformanceTest::Reopen() {
  store_.reset();
  auto opened = GetParam().open(dir_, options_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
}

namespace {

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const auto& assert_ok_ = (expr);                        \
    ASSERT_TRUE(assert_ok_.ok()) << StatusText(assert_ok_); \
  } while (false)
#define EXPECT_OK(expr)                                     \
  do {                                                      \
    const auto& expect_ok_ = (expr);                        \
    EXPECT_TRUE(expect_ok_.ok()) << StatusText(expect_ok_); \
  } while (false)

inline std::string StatusText(const Status& s) { return s.ToString(); }
template <typename T>
std::string StatusText(const Result<T>& r) {
  return r.status().ToString();
}

// --- Collections -------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, CollectionsCreateGetListUpdateDelete) {
  Store& s = store();
  EXPECT_EQ(s.CreateCollection(MakeCollection(kCollection)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.CreateCollection(MakeCollection("")).code(), absl::StatusCode::kInvalidArgument);
  Collection other = MakeCollection(kOther, "Reports");
  other.media_types = {"application/stix+json;version=2.1", "application/stix+json;version=2.0"};
  other.alias = "reports";
  ASSERT_OK(s.CreateCollection(other));

  auto got = s.GetCollection(kOther);
  ASSERT_OK(got);
  EXPECT_EQ(*got, other);
  auto all = s.ListCollections();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, kCollection);  // creation order
  EXPECT_EQ((*all)[1].id, kOther);

  other.title = "Reports (renamed)";
  other.media_types.clear();
  ASSERT_OK(s.UpdateCollection(other));
  EXPECT_EQ(*s.GetCollection(kOther), other);
  EXPECT_EQ(s.UpdateCollection(MakeCollection("missing")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.GetCollection("missing").status().code(), absl::StatusCode::kNotFound);

  std::vector<stix::Object> objects = {V(1, "2020-01-01T00:00:00.000Z")};
  ASSERT_OK(s.Add(kOther, objects));
  ASSERT_OK(s.DeleteCollection(kOther));
  EXPECT_EQ(s.GetCollection(kOther).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Query(kOther, {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.DeleteCollection(kOther).code(), absl::StatusCode::kNotFound);
  // Re-creating the id starts empty.
  ASSERT_OK(s.CreateCollection(other));
  auto page = s.Query(kOther, {});
  ASSERT_OK(page);
  EXPECT_THAT(page->records, IsEmpty());
}

// --- Add: versions, duplicates, atomicity --------------------------------------------------------

TEST_P(StoreConformanceTest, AddKeepsEveryVersion) {
  std::vector<stix::Object> objects = {V(1, "2021-01-01T00:00:00.000Z"),
                                       V(1, "2022-01-01T00:00:00.000Z"),
                                       V(1, "2020-06-01T00:00:00.000Z"),  // older, added last
                                       V(2, "2020-01-01T00:00:00.000Z")};
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);
  EXPECT_EQ(added->added, 4u);
  EXPECT_EQ(added->duplicates, 0u);

  auto last = store().Query(kCollection, {});
  ASSERT_OK(last);
  EXPECT_THAT(Keys(*last), ElementsAre("1@2022-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z"));

  auto versions = store().QueryVersions(kCollection, IdOf("indicator", 1), {});
  ASSERT_OK(versions);
  EXPECT_THAT(Keys(*versions),
              ElementsAre("1@2021-01-01T00:00:00.000Z", "1@2022-01-01T00:00:00.000Z",
                          "1@2020-06-01T00:00:00.000Z"));  // date_added order
  for (const ObjectRecord& r : versions->records) EXPECT_THAT(r.json, IsEmpty());

  Filter first;
  first.versions = {VersionMatch::First()};
  auto page = store().Query(kCollection, first);
  ASSERT_OK(page);
  EXPECT_THAT(Keys(*page), ElementsAre("1@2020-06-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z"));
}

TEST_P(StoreConformanceTest, AddReportsDuplicatesWithoutAddingThem) {
  std::vector<stix::Object> batch = {V(1, "2021-01-01T00:00:00.000Z"),
                                     V(2, "2021-01-01T00:00:00.000Z")};
  auto first = store().Add(kCollection, batch);
  ASSERT_OK(first);
  clock_.AdvanceMicros(1000);
  std::vector<stix::Object> again = {V(2, "2021-01-01T00:00:00.000Z"),
                                     V(3, "2021-01-01T00:00:00.000Z"),
                                     V(3, "2021-01-01T00:00:00.000Z")};  // twice in one call
  auto second = store().Add(kCollection, again);
  ASSERT_OK(second);
  EXPECT_EQ(second->added, 1u);
  EXPECT_EQ(second->duplicates, 2u);
  ASSERT_EQ(second->outcomes.size(), 3u);
  EXPECT_EQ(second->outcomes[0].kind, AddOutcome::Kind::kDuplicate);
  EXPECT_EQ(second->outcomes[0].date_added, first->outcomes[1].date_added);
  EXPECT_EQ(second->outcomes[1].kind, AddOutcome::Kind::kAdded);
  EXPECT_EQ(second->outcomes[2].kind, AddOutcome::Kind::kDuplicate);
  EXPECT_EQ(second->outcomes[2].date_added, second->outcomes[1].date_added);

  Filter all;
  all.versions = {VersionMatch::All()};
  EXPECT_EQ(QueryAll(store(), kCollection, all).size(), 3u);
}

TEST_P(StoreConformanceTest, AddIsAllOrNothing) {
  std::vector<stix::Object> seed = {V(9, "2021-01-01T00:00:00.000Z")};
  ASSERT_OK(store().Add(kCollection, seed));
  std::vector<stix::Object> batch = {V(1, "2021-01-01T00:00:00.000Z"),
                                     V(9, "2022-01-01T00:00:00.000Z"),  // a new version
                                     V(2, "2021-01-01T00:00:00.000Z")};
  stix::Object broken = V(3, "2021-01-01T00:00:00.000Z");
  broken.id = "malware--00000000-0000-4000-8000-000000000003";  // type and id disagree
  batch.push_back(broken);
  AddOptions with_status;
  with_status.status = StatusResource{.id = "s-1", .api_root = "api1"};
  auto result = store().Add(kCollection, batch, with_status);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("objects/3"));

  Filter all;
  all.versions = {VersionMatch::All()};
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, all)),
              ElementsAre("9@2021-01-01T00:00:00.000Z"));
  // The status resource was part of the transaction too.
  EXPECT_EQ(store().GetStatus("s-1").status().code(), absl::StatusCode::kNotFound);
  // And the version flags of object 9 were rolled back with the rest.
  auto last = store().Query(kCollection, {});
  ASSERT_OK(last);
  EXPECT_THAT(Keys(*last), ElementsAre("9@2021-01-01T00:00:00.000Z"));

  for (auto mutate : std::vector<std::function<void(stix::Object&)>>{
           [](stix::Object& o) { o.id.clear(); }, [](stix::Object& o) { o.type.clear(); },
           [](stix::Object& o) { o.json.clear(); },
           [](stix::Object& o) { o.id = o.type + "-" + o.id.substr(o.type.size() + 2); }}) {
    std::vector<stix::Object> bad = {V(4, "2021-01-01T00:00:00.000Z"),
                                     V(5, "2021-01-01T00:00:00.000Z")};
    mutate(bad[1]);
    auto r = store().Add(kCollection, bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("objects/1"));
  }
  EXPECT_EQ(QueryAll(store(), kCollection, all).size(), 1u);
}

TEST_P(StoreConformanceTest, ConcurrentAddsSucceedOrFailIndependently) {
  // Backends may commit concurrent Adds together (SQLite's group commit): one failing Add must
  // still leave the others whole, and itself leave nothing.
  constexpr int kThreads = 6, kRounds = 8, kPerAdd = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<stix::Object> batch;
        for (int i = 0; i < kPerAdd; ++i) {
          batch.push_back(V((t * kRounds + round) * kPerAdd + i, "2021-01-01T00:00:00.000Z"));
        }
        const bool poisoned = t % 2 == 1 && round % 2 == 0;
        if (poisoned) batch.back().json.clear();
        auto r = store().Add(kCollection, batch);
        if (r.ok() == poisoned) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Filter all;
  all.versions = {VersionMatch::All()};
  std::set<int> present;
  for (const ObjectRecord& r : QueryAll(store(), kCollection, all)) {
    present.insert(std::stoi(r.id.substr(r.id.size() - 4)));
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int round = 0; round < kRounds; ++round) {
      const bool poisoned = t % 2 == 1 && round % 2 == 0;
      for (int i = 0; i < kPerAdd; ++i) {
        EXPECT_EQ(present.count((t * kRounds + round) * kPerAdd + i), poisoned ? 0u : 1u)
            << "thread " << t << " round " << round;
      }
    }
  }
}

TEST_P(StoreConformanceTest, AddToUnknownCollectionIsNotFound) {
  std::vector<stix::Object> batch = {V(1, "2021-01-01T00:00:00.000Z")};
  EXPECT_EQ(store().Add("no-such-collection", batch).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, FaultyStoreFailsTheChosenCallWithoutWriting) {
  FaultyStore faulty(store(), /*fail_on_call=*/1);
  std::vector<stix::Object> batch = {V(1, "2021-01-01T00:00:00.000Z")};
  EXPECT_EQ(faulty.Add(kCollection, batch).status().code(), absl::StatusCode::kUnavailable);
  auto page = store().Query(kCollection, {});
  ASSERT_OK(page);
  EXPECT_THAT(page->records, IsEmpty());

  faulty.FailOnCall(2);
  ASSERT_OK(faulty.Add(kCollection, batch));
  EXPECT_EQ(faulty.Query(kCollection, {}).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_OK(faulty.Query(kCollection, {}));
  EXPECT_EQ(faulty.calls(), 3);
  EXPECT_EQ(faulty.failures(), 2);

  faulty.FailOnCall(1, /*sticky=*/true);
  EXPECT_FALSE(faulty.GetCollection(kCollection).ok());
  EXPECT_FALSE(faulty.ListCollections().ok());
  EXPECT_FALSE(faulty.GetObject(kCollection, IdOf("indicator", 1), {}).ok());
}

TEST_P(StoreConformanceTest, DateAddedIsStrictlyIncreasingEvenWhenTheClockStepsBack) {
  ASSERT_OK(store().CreateCollection(MakeCollection(kOther)));
  std::vector<Timestamp> seen;
  const Timestamp start = clock_.Now();
  for (int i = 0; i < 6; ++i) {
    if (i == 3) clock_.Set(Timestamp::FromUnixNanos(start.unix_seconds() - 3600, 0));
    std::vector<stix::Object> batch = {V(2 * i, "2021-01-01T00:00:00.000Z"),
                                       V(2 * i + 1, "2021-01-01T00:00:00.000Z")};
    auto r = store().Add(i % 2 == 0 ? kCollection : kOther, batch);
    ASSERT_OK(r);
    for (const AddOutcome& o : r->outcomes) seen.push_back(o.date_added);
  }
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;
  // date_added follows the clock when the clock is ahead.
  clock_.Set(Timestamp::FromUnixNanos(start.unix_seconds() + 100, 123'456'000));
  std::vector<stix::Object> batch = {V(99, "2021-01-01T00:00:00.000Z")};
  auto r = store().Add(kCollection, batch);
  ASSERT_OK(r);
  EXPECT_EQ(r->outcomes[0].date_added, clock_.Now());
}

// --- Version and spec_version selection ----------------------------------------------------------

class VersionFixture {
 public:
  // Object 1: three versions (2020, 2021, 2022); object 2: one version; object 3: unversioned.
  static std::vector<stix::Object> Objects() {
    return {V(1, "2021-01-01T00:00:00.000Z"), V(2, "2020-01-01T00:00:00.000Z"),
            V(1, "2020-01-01T00:00:00.000Z"), V(1, "2022-01-01T00:00:00.000Z"),
            Make({.type = "indicator", .n = 3, .modified = "", .created = ""})};
  }
};

TEST_P(StoreConformanceTest, MatchVersionFirstLastAllAndTimestamps) {
  auto objects = VersionFixture::Objects();
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);
  auto run = [&](std::vector<VersionMatch> versions) {
    Filter f;
    f.versions = std::move(versions);
    return KeysOf(QueryAll(store(), kCollection, f));
  };
  EXPECT_THAT(run({}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "1@2022-01-01T00:00:00.000Z", "3@none"));
  EXPECT_THAT(run({VersionMatch::Last()}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "1@2022-01-01T00:00:00.000Z", "3@none"));
  EXPECT_THAT(run({VersionMatch::First()}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "1@2020-01-01T00:00:00.000Z", "3@none"));
  EXPECT_THAT(run({VersionMatch::First(), VersionMatch::Last()}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "1@2020-01-01T00:00:00.000Z",
                          "1@2022-01-01T00:00:00.000Z", "3@none"));
  EXPECT_EQ(run({VersionMatch::All()}).size(), 5u);
  EXPECT_EQ(run({VersionMatch::All(), VersionMatch::First()}).size(), 5u);
  EXPECT_THAT(run({VersionMatch::At(T("2021-01-01T00:00:00Z"))}),
              ElementsAre("1@2021-01-01T00:00:00.000Z"));
  // A timestamp is an instant: other spellings of the same instant match.
  EXPECT_THAT(run({VersionMatch::At(T("2021-01-01T00:00:00.000000Z"))}),
              ElementsAre("1@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({VersionMatch::At(T("2020-01-01T00:00:00Z")), VersionMatch::Last()}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "1@2020-01-01T00:00:00.000Z",
                          "1@2022-01-01T00:00:00.000Z", "3@none"));
  EXPECT_THAT(run({VersionMatch::At(T("1999-01-01T00:00:00Z"))}), IsEmpty());
  // An unversioned object is identified by its date_added.
  EXPECT_THAT(run({VersionMatch::At(added->outcomes[4].date_added)}), ElementsAre("3@none"));
}

TEST_P(StoreConformanceTest, FirstAndLastAreAmongVersionsPassingOtherFilters) {
  // The newest version is added first, an older one later: with added_after between the two
  // additions, `last` is the older version, the latest of those added after that time.
  std::vector<stix::Object> newer = {V(1, "2022-01-01T00:00:00.000Z"),
                                     V(2, "2022-01-01T00:00:00.000Z")};
  auto a = store().Add(kCollection, newer);
  ASSERT_OK(a);
  clock_.AdvanceMicros(10);
  std::vector<stix::Object> older = {V(1, "2021-01-01T00:00:00.000Z"),
                                     V(1, "2020-01-01T00:00:00.000Z")};
  ASSERT_OK(store().Add(kCollection, older));

  Filter f;
  f.added_after = a->outcomes[1].date_added;
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, f)), ElementsAre("1@2021-01-01T00:00:00.000Z"));
  f.versions = {VersionMatch::First()};
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, f)), ElementsAre("1@2020-01-01T00:00:00.000Z"));
  f.versions = {VersionMatch::All()};
  EXPECT_EQ(QueryAll(store(), kCollection, f).size(), 2u);
  // Without added_after, object 1's latest version is the 2022 one.
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, {})),
              ElementsAre("1@2022-01-01T00:00:00.000Z", "2@2022-01-01T00:00:00.000Z"));
}

TEST_P(StoreConformanceTest, SpecVersionDefaultsToTheLatestPerObject) {
  std::vector<stix::Object> objects = {
      V(1, "2020-01-01T00:00:00.000Z", "2.0"), V(1, "2021-01-01T00:00:00.000Z", "2.1"),
      V(1, "2022-01-01T00:00:00.000Z", "2.0"), V(2, "2020-01-01T00:00:00.000Z", "2.0")};
  ASSERT_OK(store().Add(kCollection, objects));
  auto run = [&](std::vector<VersionMatch> versions, std::vector<std::string> specs) {
    Filter f;
    f.versions = std::move(versions);
    f.spec_versions = std::move(specs);
    return KeysOf(QueryAll(store(), kCollection, f));
  };
  // Version selection first, then the latest spec version among the selected versions.
  EXPECT_THAT(run({}, {}), ElementsAre("1@2022-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({VersionMatch::All()}, {}),
              ElementsAre("1@2021-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({VersionMatch::First()}, {}),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({VersionMatch::First(), VersionMatch::Last()}, {}),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "1@2022-01-01T00:00:00.000Z",
                          "2@2020-01-01T00:00:00.000Z"));
  // An explicit match[spec_version] is a plain filter applied before version selection.
  EXPECT_THAT(run({}, {"2.1"}), ElementsAre("1@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({VersionMatch::All()}, {"2.0"}),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "1@2022-01-01T00:00:00.000Z",
                          "2@2020-01-01T00:00:00.000Z"));
  EXPECT_EQ(run({VersionMatch::All()}, {"2.0", "2.1"}).size(), 4u);
  EXPECT_THAT(run({}, {"2.2"}), IsEmpty());

  auto manifest = store().QueryManifest(kCollection, {});
  ASSERT_OK(manifest);
  ASSERT_EQ(manifest->records.size(), 2u);
  EXPECT_EQ(manifest->records[0].media_type, "application/stix+json;version=2.0");
  EXPECT_EQ(manifest->records[0].spec_version, "2.0");
}

TEST_P(StoreConformanceTest, MissingSpecVersionIsTwoOneForScosAndTwoZeroOtherwise) {
  stix::Object sco =
      Make({.type = "ipv4-addr", .n = 1, .modified = "", .created = "", .spec_version = ""});
  stix::Object sdo = Make({.type = "malware", .n = 2, .spec_version = ""});
  std::vector<stix::Object> objects = {sco, sdo};
  ASSERT_OK(store().Add(kCollection, objects));
  auto page = store().QueryManifest(kCollection, {});
  ASSERT_OK(page);
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].spec_version, "2.1");
  EXPECT_EQ(page->records[1].spec_version, "2.0");
  EXPECT_FALSE(page->records[0].version.has_value());
}

TEST_P(StoreConformanceTest, IdAndTypeFiltersAreListsOfAlternatives) {
  std::vector<stix::Object> objects = {
      Make({.type = "indicator", .n = 1}),
      Make({.type = "malware", .n = 2}),
      Make({.type = "tool", .n = 3}),
      Make({.type = "indicator", .n = 4}),
      Make({.type = "malware", .n = 5}),
      Make({.type = "malware", .n = 5, .modified = "2021-01-01T00:00:00.000Z"})};
  ASSERT_OK(store().Add(kCollection, objects));
  auto run = [&](std::vector<std::string> ids, std::vector<std::string> types) {
    Filter f;
    f.ids = std::move(ids);
    f.types = std::move(types);
    return KeysOf(QueryAll(store(), kCollection, f));
  };
  EXPECT_THAT(run({}, {"malware"}),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "5@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({}, {"tool", "indicator", "tool"}),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "3@2020-01-01T00:00:00.000Z",
                          "4@2020-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({IdOf("malware", 5), IdOf("indicator", 1), IdOf("indicator", 77)}, {}),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "5@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({IdOf("malware", 5), IdOf("indicator", 1)}, {"malware"}),
              ElementsAre("5@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(run({}, {"campaign"}), IsEmpty());
  Filter paged;
  paged.types = {"indicator", "malware", "tool"};
  paged.limit = 2;
  int pages = 0;
  EXPECT_EQ(QueryAll(store(), kCollection, paged, &pages).size(), 5u);
  EXPECT_EQ(pages, 3);
  paged.types.clear();
  paged.ids = {IdOf("malware", 5), IdOf("indicator", 1), IdOf("tool", 3)};
  paged.versions = {VersionMatch::All()};
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, paged, &pages)),
              ElementsAre("1@2020-01-01T00:00:00.000Z", "3@2020-01-01T00:00:00.000Z",
                          "5@2020-01-01T00:00:00.000Z", "5@2021-01-01T00:00:00.000Z"));
  EXPECT_EQ(pages, 2);
}

// --- Pagination
// -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, PagesFollowDateAddedWithMoreNextAndBounds) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 25; ++i) objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);

  Filter f;
  f.limit = 10;
  auto p1 = store().Query(kCollection, f);
  ASSERT_OK(p1);
  EXPECT_EQ(p1->records.size(), 10u);
  EXPECT_TRUE(p1->more);
  EXPECT_EQ(p1->date_added_first, added->outcomes[0].date_added);
  EXPECT_EQ(p1->date_added_last, added->outcomes[9].date_added);
  f.next = p1->next;
  auto p2 = store().Query(kCollection, f);
  ASSERT_OK(p2);
  EXPECT_EQ(p2->records.size(), 10u);
  EXPECT_EQ(p2->date_added_first, added->outcomes[10].date_added);
  f.next = p2->next;
  auto p3 = store().Query(kCollection, f);
  ASSERT_OK(p3);
  EXPECT_EQ(p3->records.size(), 5u);
  EXPECT_FALSE(p3->more);
  EXPECT_THAT(p3->next, IsEmpty());
  EXPECT_EQ(p3->date_added_last, added->outcomes[24].date_added);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(p2->records[i].json, objects[10 + i].json);
    EXPECT_EQ(p2->records[i].date_added, added->outcomes[10 + i].date_added);
  }

  // The server's maximum applies with no limit and caps larger ones.
  Filter unlimited;
  auto all = store().Query(kCollection, unlimited);
  ASSERT_OK(all);
  EXPECT_EQ(all->records.size(), 25u);
  EXPECT_FALSE(all->more);
  Filter exact;
  exact.limit = 25;
  EXPECT_FALSE(store().Query(kCollection, exact)->more);
  std::vector<stix::Object> more_objects;
  for (int i = 100; i < 140; ++i) more_objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  ASSERT_OK(store().Add(kCollection, more_objects));
  unlimited.limit = 1'000'000;
  auto capped = store().Query(kCollection, unlimited);
  ASSERT_OK(capped);
  EXPECT_EQ(capped->records.size(), store().max_page_size());
  EXPECT_TRUE(capped->more);

  // An empty collection: an empty page, no more, no header dates.
  ASSERT_OK(store().CreateCollection(MakeCollection(kOther)));
  auto empty = store().Query(kOther, {});
  ASSERT_OK(empty);
  EXPECT_THAT(empty->records, IsEmpty());
  EXPECT_FALSE(empty->more);
  EXPECT_FALSE(empty->date_added_first.has_value());
}

TEST_P(StoreConformanceTest, AddedAfterIsExclusiveAndResumesFromTheLastDateAdded) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 12; ++i) objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);
  Filter f;
  f.added_after = added->outcomes[4].date_added;
  auto page = store().Query(kCollection, f);
  ASSERT_OK(page);
  ASSERT_EQ(page->records.size(), 7u);
  EXPECT_EQ(page->records[0].date_added, added->outcomes[5].date_added);
  // A client that pages with added_after = X-TAXII-Date-Added-Last sees every record once.
  Filter g;
  g.limit = 5;
  std::vector<std::string> seen;
  for (int guard = 0; guard < 10; ++guard) {
    auto p = store().Query(kCollection, g);
    ASSERT_OK(p);
    for (const auto& r : p->records) seen.push_back(KeyOf(r));
    if (p->records.empty()) break;
    g.added_after = p->date_added_last;
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 12u);
  // A sub-microsecond added_after is compared as an instant.
  Filter h;
  h.added_after = Timestamp::FromUnixNanos(added->outcomes[4].date_added.unix_seconds(),
                                           added->outcomes[4].date_added.nanos() + 1);
  EXPECT_EQ(store().Query(kCollection, h)->records.front().date_added,
            added->outcomes[5].date_added);
}

TEST_P(StoreConformanceTest, PagingSeesObjectsAddedBetweenPagesExactlyOnce) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 20; ++i) objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  ASSERT_OK(store().Add(kCollection, objects));
  Filter f;
  f.limit = 6;
  f.versions = {VersionMatch::All()};
  std::vector<std::string> seen;
  int round = 0;
  for (;;) {
    auto page = store().Query(kCollection, f);
    ASSERT_OK(page);
    for (const auto& r : page->records) seen.push_back(KeyOf(r));
    // Between pages: new objects, and new versions of objects already served and not yet.
    if (round < 3) {
      std::vector<stix::Object> batch = {V(100 + round, "2021-01-01T00:00:00.000Z"),
                                         V(round, "2022-01-01T00:00:00.000Z"),
                                         V(19 - round, "2022-01-01T00:00:00.000Z")};
      ASSERT_OK(store().Add(kCollection, batch));
    }
    ++round;
    if (!page->more) break;
    f.next = page->next;
  }
  EXPECT_EQ(seen.size(), 29u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  Filter all;
  all.versions = {VersionMatch::All()};
  EXPECT_THAT(seen, UnorderedElementsAreArray(KeysOf(QueryAll(store(), kCollection, all))));
}

TEST_P(StoreConformanceTest, ReaderPagingBesideAConcurrentWriterMissesNothing) {
  constexpr int kBatches = 40, kPerBatch = 5;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<stix::Object> batch;
      for (int i = 0; i < kPerBatch; ++i)
        batch.push_back(V(b * kPerBatch + i, "2021-01-01T00:00:00.000Z"));
      auto r = store().Add(kCollection, batch);
      EXPECT_TRUE(r.ok()) << r.status();
    }
    done = true;
  });
  std::vector<std::string> seen;
  Filter f;
  f.limit = 7;
  std::optional<Timestamp> last_seen;
  // Bounded by time, not by polls: a slow disk makes the writer's 40 commits take longer than
  // any fixed number of polls of an idle reader.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    const bool finished = done.load();
    auto page = store().Query(kCollection, f);
    ASSERT_OK(page);
    for (const auto& r : page->records) seen.push_back(KeyOf(r));
    if (page->date_added_last) last_seen = page->date_added_last;
    if (page->more) {
      f.next = page->next;
      continue;
    }
    if (finished) break;
    // Caught up with the writer: continue from the last date_added, as a TAXII client polls.
    f.next.clear();
    f.added_after = last_seen;
  }
  writer.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kBatches * kPerBatch));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
}

TEST_P(StoreConformanceTest, TamperedCursorIsInvalidArgument) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 5; ++i) objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  ASSERT_OK(store().Add(kCollection, objects));
  Filter f;
  f.limit = 2;
  auto page = store().Query(kCollection, f);
  ASSERT_OK(page);
  const std::string next = page->next;
  std::vector<std::string> bad = {"x", "!!!!", next.substr(0, next.size() - 3), next + "A",
                                  std::string(5000, 'A')};
  for (size_t i = 0; i < next.size(); i += 3) {
    std::string t = next;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    bad.push_back(t);
  }
  for (const std::string& b : bad) {
    f.next = b;
    auto r = store().Query(kCollection, f);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << b;
    EXPECT_THAT(r.status().message(), HasSubstr("next")) << b;
  }
  f.next = next;
  EXPECT_OK(store().Query(kCollection, f));
}

TEST_P(StoreConformanceTest, BadFiltersAreInvalidArgument) {
  Filter f;
  f.limit = 0;
  EXPECT_EQ(store().Query(kCollection, f).status().code(), absl::StatusCode::kInvalidArgument);
  Filter g;
  g.ids.assign(kMaxFilterValues + 1, "indicator--x");
  EXPECT_EQ(store().QueryManifest(kCollection, g).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().Query("missing", {}).status().code(), absl::StatusCode::kNotFound);
}

// --- Manifest, object, versions endpoints ----------------------------------------------------

TEST_P(StoreConformanceTest, ManifestGetObjectAndVersions) {
  auto objects = VersionFixture::Objects();
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);
  auto manifest = store().QueryManifest(kCollection, {});
  ASSERT_OK(manifest);
  ASSERT_EQ(manifest->records.size(), 3u);
  const ObjectRecord& m = manifest->records[1];
  EXPECT_EQ(m.id, IdOf("indicator", 1));
  EXPECT_EQ(m.type, "indicator");
  EXPECT_EQ(m.version, T("2022-01-01T00:00:00.000Z"));
  EXPECT_EQ(m.date_added, added->outcomes[3].date_added);
  EXPECT_EQ(m.media_type, "application/stix+json;version=2.1");
  EXPECT_THAT(m.json, IsEmpty());

  auto object = store().GetObject(kCollection, IdOf("indicator", 1), {});
  ASSERT_OK(object);
  ASSERT_EQ(object->records.size(), 1u);
  EXPECT_EQ(object->records[0].json, objects[3].json);
  Filter all;
  all.versions = {VersionMatch::All()};
  all.ids = {IdOf("indicator", 2)};  // replaced by the object id
  EXPECT_EQ(store().GetObject(kCollection, IdOf("indicator", 1), all)->records.size(), 3u);
  Filter none;
  none.versions = {VersionMatch::At(T("1990-01-01T00:00:00Z"))};
  auto empty = store().GetObject(kCollection, IdOf("indicator", 1), none);
  ASSERT_OK(empty);
  EXPECT_THAT(empty->records, IsEmpty());
  EXPECT_EQ(store().GetObject(kCollection, IdOf("indicator", 42), {}).status().code(),
            absl::StatusCode::kNotFound);

  Filter two;
  two.limit = 2;
  auto v1 = store().QueryVersions(kCollection, IdOf("indicator", 1), two);
  ASSERT_OK(v1);
  EXPECT_EQ(v1->records.size(), 2u);
  EXPECT_TRUE(v1->more);
  two.next = v1->next;
  auto v2 = store().QueryVersions(kCollection, IdOf("indicator", 1), two);
  ASSERT_OK(v2);
  EXPECT_THAT(Keys(*v2), ElementsAre("1@2022-01-01T00:00:00.000Z"));
  EXPECT_EQ(store().QueryVersions(kCollection, IdOf("indicator", 42), {}).status().code(),
            absl::StatusCode::kNotFound);
}

// --- Delete -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, DeleteWithoutMatchVersionRemovesEveryVersion) {
  auto objects = VersionFixture::Objects();
  ASSERT_OK(store().Add(kCollection, objects));
  auto n = store().DeleteObject(kCollection, IdOf("indicator", 1), {});
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(store().GetObject(kCollection, IdOf("indicator", 1), {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteObject(kCollection, IdOf("indicator", 1), {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteObject("missing", IdOf("indicator", 2), {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, {})),
              ElementsAre("2@2020-01-01T00:00:00.000Z", "3@none"));
}

TEST_P(StoreConformanceTest, DeleteSelectedVersionsKeepsTheOthersQueryable) {
  auto objects = VersionFixture::Objects();
  ASSERT_OK(store().Add(kCollection, objects));
  DeleteFilter last;
  last.versions = {VersionMatch::Last()};
  ASSERT_EQ(*store().DeleteObject(kCollection, IdOf("indicator", 1), last), 1u);
  // The previous version is now the latest one.
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, {})),
              ElementsAre("1@2021-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z", "3@none"));
  DeleteFilter first;
  first.versions = {VersionMatch::First()};
  ASSERT_EQ(*store().DeleteObject(kCollection, IdOf("indicator", 1), first), 1u);
  Filter f;
  f.versions = {VersionMatch::First()};
  EXPECT_THAT(KeysOf(QueryAll(store(), kCollection, f)),
              ElementsAre("1@2021-01-01T00:00:00.000Z", "2@2020-01-01T00:00:00.000Z", "3@none"));
  DeleteFilter at;
  at.versions = {VersionMatch::At(T("1999-01-01T00:00:00Z"))};
  EXPECT_EQ(*store().DeleteObject(kCollection, IdOf("indicator", 1), at), 0u);
  DeleteFilter spec;
  spec.spec_versions = {"2.0"};
  EXPECT_EQ(*store().DeleteObject(kCollection, IdOf("indicator", 1), spec), 0u);
  spec.spec_versions = {"2.1"};
  EXPECT_EQ(*store().DeleteObject(kCollection, IdOf("indicator", 1), spec), 1u);

  // A deleted version can be added again, and gets a new date_added.
  std::vector<stix::Object> again = {V(1, "2022-01-01T00:00:00.000Z")};
  auto r = store().Add(kCollection, again);
  ASSERT_OK(r);
  EXPECT_EQ(r->added, 1u);
}

// --- Status resources -------------------------------------------------------------------------

TEST_P(StoreConformanceTest, StatusRoundTripsAndAddWritesItAtomically) {
  StatusResource s;
  s.id = "2d086da7-4bdc-4f91-900e-d77486753710";
  s.api_root = "api1";
  s.status = "pending";
  s.request_timestamp = T("2024-05-06T07:08:09.123456789Z");
  s.total_count = 4;
  s.success_count = 1;
  s.failure_count = 1;
  s.pending_count = 2;
  s.successes = {{"indicator--1", "2021-01-01T00:00:00.000Z", ""}};
  s.failures = {{"malware--2", "2021-01-01T00:00:00.000Z", "invalid \"pattern\"\n line 2"}};
  s.pendings = {{"tool--3", "2021-01-01T00:00:00.000Z", ""}, {"tool--4", "", "queued"}};
  ASSERT_OK(store().PutStatus(s));
  auto got = store().GetStatus(s.id);
  ASSERT_OK(got);
  EXPECT_EQ(*got, s);
  s.status = "complete";
  s.pendings.clear();
  ASSERT_OK(store().PutStatus(s));
  EXPECT_EQ(*store().GetStatus(s.id), s);
  EXPECT_EQ(store().GetStatus("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().PutStatus(StatusResource{}).code(), absl::StatusCode::kInvalidArgument);

  std::vector<stix::Object> first = {V(1, "2021-01-01T00:00:00.000Z")};
  ASSERT_OK(store().Add(kCollection, first));
  AddOptions options;
  options.status = StatusResource{
      .id = "s-2", .api_root = "api1", .request_timestamp = T("2024-01-01T00:00:00Z")};
  options.status->failures = {{"indicator--bad", "", "invalid pattern"}};
  std::vector<stix::Object> batch = {
      V(1, "2021-01-01T00:00:00.000Z"), V(2, "2021-01-01T00:00:00.123Z"),
      Make({.type = "indicator", .n = 3, .modified = "", .created = ""})};
  auto added = store().Add(kCollection, batch, options);
  ASSERT_OK(added);
  ASSERT_TRUE(added->status.has_value());
  auto stored = store().GetStatus("s-2");
  ASSERT_OK(stored);
  EXPECT_EQ(*stored, *added->status);
  EXPECT_EQ(stored->status, "complete");
  EXPECT_EQ(stored->total_count, 4);
  EXPECT_EQ(stored->success_count, 3);
  EXPECT_EQ(stored->failure_count, 1);
  EXPECT_EQ(stored->pending_count, 0);
  ASSERT_EQ(stored->successes.size(), 3u);
  EXPECT_EQ(stored->successes[0].message, "duplicate");
  EXPECT_EQ(stored->successes[1].message, "added");
  EXPECT_EQ(stored->successes[1].version, "2021-01-01T00:00:00.123Z");
  EXPECT_EQ(stored->successes[2].version, added->outcomes[2].date_added.ToString(6));

  // Every object new (SQLite builds this status before the write), then the same objects again
  // (every one a duplicate: built from the outcomes).
  std::vector<stix::Object> fresh = {V(4, "2021-02-01T00:00:00.000Z"),
                                     V(5, "2021-02-01T00:00:00.250Z")};
  for (const char* id : {"s-3", "s-4"}) {
    options.status->id = id;
    options.status->failures.clear();
    auto result = store().Add(kCollection, fresh, options);
    ASSERT_OK(result);
    ASSERT_TRUE(result->status.has_value());
    auto got = store().GetStatus(id);
    ASSERT_OK(got);
    EXPECT_EQ(*got, *result->status);
    EXPECT_EQ(got->status, "complete");
    EXPECT_EQ(got->total_count, 2);
    ASSERT_EQ(got->successes.size(), 2u);
    const std::string message = std::string_view(id) == "s-3" ? "added" : "duplicate";
    EXPECT_EQ(got->successes[0].message, message);
    EXPECT_EQ(got->successes[1].message, message);
    EXPECT_EQ(got->successes[0].id, fresh[0].id);
    EXPECT_EQ(got->successes[1].version, "2021-02-01T00:00:00.250Z");
  }
}

// --- Users, tokens, permissions ---------------------------------------------------------------

TEST_P(StoreConformanceTest, UsersTokensAndPermissions) {
  Store& s = store();
  User alice{"alice", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", false, {"cert-fr", "isac"}};
  User bob{"bob", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdB$aGFzaB", true, {}};
  ASSERT_OK(s.CreateUser(alice));
  ASSERT_OK(s.CreateUser(bob));
  EXPECT_EQ(s.CreateUser(alice).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.CreateUser(User{}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*s.GetUser("alice"), alice);
  alice.password_hash = "$argon2id$new";
  alice.groups = {"isac"};
  ASSERT_OK(s.UpdateUser(alice));
  EXPECT_EQ(*s.GetUser("alice"), alice);
  EXPECT_EQ(s.UpdateUser(User{"carol", "h", false, {}}).code(), absl::StatusCode::kNotFound);
  auto users = s.ListUsers();
  ASSERT_OK(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ(s.GetUser("carol").status().code(), absl::StatusCode::kNotFound);

  ApiToken t1{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "alice",
              "sync job", T("2024-01-01T00:00:00Z"), T("2025-01-01T00:00:00Z")};
  ApiToken t2{"60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", "alice", "cli",
              T("2024-02-01T00:00:00Z"), std::nullopt};
  ASSERT_OK(s.AddToken(t1));
  ASSERT_OK(s.AddToken(t2));
  EXPECT_EQ(s.AddToken(t1).code(), absl::StatusCode::kAlreadyExists);
  ApiToken orphan = t1;
  orphan.token_hash = "00";
  orphan.user = "carol";
  EXPECT_EQ(s.AddToken(orphan).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*s.FindToken(t2.token_hash), t2);
  EXPECT_EQ(s.FindToken("ffff").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(*s.ListTokens("alice"), ElementsAre(t1, t2));
  ASSERT_OK(s.DeleteToken(t1.token_hash));
  EXPECT_EQ(s.DeleteToken(t1.token_hash).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(*s.ListTokens("alice"), ElementsAre(t2));

  ASSERT_OK(s.SetPermission(kCollection, Principal::UserNamed("alice"), {true, false}));
  ASSERT_OK(s.SetPermission(kCollection, Principal::GroupNamed("isac"), {false, true}));
  ASSERT_OK(s.SetPermission(kCollection, Principal::UserNamed("bob"), {true, true}));
  EXPECT_EQ(s.SetPermission(kCollection, Principal::UserNamed("carol"), {true, false}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(s.SetPermission("missing", Principal::UserNamed("alice"), {true, false}).code(),
            absl::StatusCode::kNotFound);
  auto grants = s.ListPermissions(kCollection);
  ASSERT_OK(grants);
  ASSERT_EQ(grants->size(), 3u);
  EXPECT_EQ((*grants)[0].first, Principal::UserNamed("alice"));
  EXPECT_EQ((*grants)[2].first, Principal::GroupNamed("isac"));
  EXPECT_EQ(*s.EffectivePermission(kCollection, "alice"), (Permission{true, true}));
  ASSERT_OK(s.SetPermission(kCollection, Principal::GroupNamed("isac"), {false, false}));
  EXPECT_EQ(*s.EffectivePermission(kCollection, "alice"), (Permission{true, false}));
  EXPECT_EQ(s.EffectivePermission(kCollection, "carol").status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_OK(s.DeleteUser("alice"));
  EXPECT_EQ(s.DeleteUser("alice").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.FindToken(t2.token_hash).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.ListPermissions(kCollection)->size(), 1u);
  // A user created again under the same name inherits nothing.
  ASSERT_OK(s.CreateUser(User{"alice", "h", false, {}}));
  EXPECT_EQ(*s.EffectivePermission(kCollection, "alice"), (Permission{false, false}));
}

// --- Persistence --------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, EverythingSurvivesReopening) {
  auto objects = VersionFixture::Objects();
  auto added = store().Add(kCollection, objects);
  ASSERT_OK(added);
  ASSERT_OK(store().CreateUser(User{"alice", "h", true, {"g"}}));
  ASSERT_OK(store().AddToken(ApiToken{"abc", "alice", "", T("2024-01-01T00:00:00Z"), {}}));
  ASSERT_OK(store().SetPermission(kCollection, Principal::UserNamed("alice"), {true, true}));
  ASSERT_OK(store().PutStatus(StatusResource{.id = "st", .api_root = "r"}));
  // Delete the newest version: its date_added must never be handed out again.
  DeleteFilter last;
  last.versions = {VersionMatch::Last()};
  ASSERT_OK(store().DeleteObject(kCollection, IdOf("indicator", 3), last));
  Filter all;
  all.versions = {VersionMatch::All()};
  const auto before = KeysOf(QueryAll(store(), kCollection, all));

  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(KeysOf(QueryAll(store(), kCollection, all)), before);
  EXPECT_EQ(store().GetUser("alice")->groups, std::vector<std::string>{"g"});
  EXPECT_EQ(store().FindToken("abc")->user, "alice");
  EXPECT_EQ(*store().EffectivePermission(kCollection, "alice"), (Permission{true, true}));
  EXPECT_EQ(store().GetStatus("st")->api_root, "r");
  EXPECT_EQ(store().ListCollections()->size(), 1u);

  std::vector<stix::Object> next = {V(50, "2021-01-01T00:00:00.000Z")};
  auto r = store().Add(kCollection, next);
  ASSERT_OK(r);
  EXPECT_GT(r->outcomes[0].date_added, added->outcomes[4].date_added);
}

// --- Randomised comparison with a naive reference ---------------------------------------------

struct RefRecord {
  std::string id;
  std::string type;
  std::string spec_version;
  std::optional<Timestamp> version;
  Timestamp date_added;
  std::string key;
};

bool RefVersionLess(const RefRecord& a, const RefRecord& b) {
  if (!a.version) return b.version.has_value();
  if (!b.version) return false;
  return *a.version < *b.version;
}

// The semantics of filter.h, written out as plainly as possible.
std::vector<std::string> RefQuery(const std::vector<RefRecord>& stored, const Filter& f) {
  std::map<std::string, std::vector<const RefRecord*>> by_id;
  for (const RefRecord& r : stored) {
    if (f.added_after && !(r.date_added > *f.added_after)) continue;
    if (!f.ids.empty() && std::find(f.ids.begin(), f.ids.end(), r.id) == f.ids.end()) continue;
    if (!f.types.empty() && std::find(f.types.begin(), f.types.end(), r.type) == f.types.end()) {
      continue;
    }
    if (!f.spec_versions.empty() && std::find(f.spec_versions.begin(), f.spec_versions.end(),
                                              r.spec_version) == f.spec_versions.end()) {
      continue;
    }
    by_id[r.id].push_back(&r);
  }
  std::vector<VersionMatch> versions = f.versions;
  if (versions.empty()) versions = {VersionMatch::Last()};
  std::vector<const RefRecord*> out;
  for (auto& [id, records] : by_id) {
    const RefRecord* first = *std::min_element(
        records.begin(), records.end(),
        [](const RefRecord* a, const RefRecord* b) { return RefVersionLess(*a, *b); });
    const RefRecord* last = *std::max_element(
        records.begin(), records.end(),
        [](const RefRecord* a, const RefRecord* b) { return RefVersionLess(*a, *b); });
    std::vector<const RefRecord*> chosen;
    for (const RefRecord* r : records) {
      for (const VersionMatch& m : versions) {
        const bool hit = m.kind == VersionMatch::Kind::kAll ||
                         (m.kind == VersionMatch::Kind::kFirst && r == first) ||
                         (m.kind == VersionMatch::Kind::kLast && r == last) ||
                         (m.kind == VersionMatch::Kind::kAt &&
                          (r->version ? *r->version == m.at : r->date_added == m.at));
        if (hit) {
          chosen.push_back(r);
          break;
        }
      }
    }
    if (f.spec_versions.empty() && !chosen.empty()) {
      std::string best = chosen[0]->spec_version;
      for (const RefRecord* r : chosen) {
        if (CompareSpecVersions(r->spec_version, best) > 0) best = r->spec_version;
      }
      std::erase_if(chosen, [&](const RefRecord* r) { return r->spec_version != best; });
    }
    out.insert(out.end(), chosen.begin(), chosen.end());
  }
  std::sort(out.begin(), out.end(),
            [](const RefRecord* a, const RefRecord* b) { return a->date_added < b->date_added; });
  std::vector<std::string> keys;
  for (const RefRecord* r : out) keys.push_back(r->key);
  return keys;
}

TEST_P(StoreConformanceTest, RandomQueriesAgreeWithTheNaiveReference) {
  std::mt19937 rng(20240531);
  const std::vector<std::string> types = {"indicator", "malware", "tool"};
  const std::vector<std::string> stamps = {"2020-01-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z",
                                           "2021-01-01T00:00:00.500Z", "2021-01-01T00:00:01Z",
                                           "2022-03-04T05:06:07.000Z"};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<stix::Object> pool;
  for (int n = 0; n < 24; ++n) {
    const std::string type = types[pick(types.size())];
    if (n % 8 == 7) {  // unversioned
      pool.push_back(Make({.type = type, .n = n, .modified = "", .created = ""}));
      continue;
    }
    const size_t versions = 1 + pick(4);
    for (size_t v = 0; v < versions; ++v) {
      pool.push_back(Make({.type = type,
                           .n = n,
                           .modified = stamps[pick(stamps.size())],
                           .spec_version = pick(4) == 0 ? "2.0" : "2.1"}));
    }
  }
  std::shuffle(pool.begin(), pool.end(), rng);
  // Add in batches, with some repeats; record what the reference should hold.
  std::vector<RefRecord> stored;
  std::set<std::pair<std::string, std::string>> present;
  for (size_t at = 0; at < pool.size();) {
    const size_t n = std::min(pool.size() - at, 1 + pick(6));
    std::vector<stix::Object> batch(pool.begin() + at, pool.begin() + at + n);
    if (at > 0 && pick(3) == 0) batch.push_back(pool[pick(at)]);  // a duplicate
    at += n;
    clock_.AdvanceMicros(static_cast<int64_t>(pick(3)));
    auto r = store().Add(kCollection, batch);
    ASSERT_OK(r);
    for (size_t i = 0; i < batch.size(); ++i) {
      const stix::Object& o = batch[i];
      const std::string vkey = VersionKey(o.version());
      const bool fresh = present.insert({o.id, vkey}).second;
      EXPECT_EQ(r->outcomes[i].kind == AddOutcome::Kind::kAdded, fresh) << o.id;
      if (!fresh) continue;
      RefRecord rec{o.id, o.type, o.spec_version, o.version(), r->outcomes[i].date_added, ""};
      rec.key = absl::StrCat(o.id, "@", vkey);
      stored.push_back(rec);
    }
  }
  for (int q = 0; q < 300; ++q) {
    Filter f;
    if (pick(3) == 0) f.added_after = stored[pick(stored.size())].date_added;
    if (pick(4) == 0) {
      for (int k = 0; k < 3; ++k) f.ids.push_back(stored[pick(stored.size())].id);
    }
    if (pick(3) == 0) f.types.push_back(types[pick(types.size())]);
    if (pick(4) == 0) f.types.push_back(types[pick(types.size())]);
    const size_t nv = pick(3);
    for (size_t k = 0; k < nv; ++k) {
      switch (pick(4)) {
        case 0:
          f.versions.push_back(VersionMatch::First());
          break;
        case 1:
          f.versions.push_back(VersionMatch::Last());
          break;
        case 2:
          f.versions.push_back(VersionMatch::All());
          break;
        default: {
          const RefRecord& r = stored[pick(stored.size())];
          f.versions.push_back(VersionMatch::At(r.version ? *r.version : r.date_added));
        }
      }
    }
    if (pick(4) == 0) f.spec_versions.push_back(pick(2) == 0 ? "2.0" : "2.1");
    f.limit = 1 + pick(9);
    std::vector<std::string> got;
    for (const ObjectRecord& r : QueryAll(store(), kCollection, f)) {
      got.push_back(absl::StrCat(r.id, "@", VersionKey(r.version)));
    }
    ASSERT_EQ(got, RefQuery(stored, f)) << "query " << q;

    // QueryEach: the same texts in the same order, and the same paging, as Query; every other
    // query inside a PinReads scope (one snapshot for all its pages).
    std::unique_ptr<Store::ReadScope> scope;
    if (q % 2 == 0) scope = store().PinReads();
    std::vector<std::string> from_query, from_each;
    for (Filter paged = f;;) {
      auto page = store().Query(kCollection, paged);
      ASSERT_OK(page);
      auto each = store().QueryEach(kCollection, paged,
                                    [&](std::string_view json) { from_each.emplace_back(json); });
      ASSERT_OK(each);
      EXPECT_TRUE(each->records.empty());
      EXPECT_EQ(each->more, page->more) << "query " << q;
      EXPECT_EQ(each->next, page->next) << "query " << q;
      EXPECT_EQ(each->date_added_first, page->date_added_first) << "query " << q;
      EXPECT_EQ(each->date_added_last, page->date_added_last) << "query " << q;
      for (const ObjectRecord& r : page->records) from_query.push_back(r.json);
      if (!page->more) break;
      paged.next = page->next;
    }
    ASSERT_EQ(from_each, from_query) << "query " << q;
  }
}

// --- Real data ----------------------------------------------------------------------------------

// The objects of a STIX bundle with their original text. (simdjson directly: the test needs only
// the `objects` list, not the positions stix::SplitObjects computes for error messages.)
std::vector<stix::Object> ReadBundle(const std::filesystem::path& path) {
  const simdjson::padded_string text(liaison::testing::ReadFileOrDie(path));
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::array objects;
  std::vector<stix::Object> out;
  if (parser.iterate(text).get(doc) != simdjson::SUCCESS ||
      doc["objects"].get_array().get(objects) != simdjson::SUCCESS) {
    ADD_FAILURE() << path << ": not a bundle";
    return out;
  }
  for (auto element : objects) {
    simdjson::ondemand::object object;
    std::string_view raw;
    if (element.get_object().get(object) != simdjson::SUCCESS ||
        object.raw_json().get(raw) != simdjson::SUCCESS) {
      ADD_FAILURE() << path << ": an entry of objects is not an object";
      break;
    }
    auto o = stix::ParseObject(raw);
    EXPECT_TRUE(o.ok()) << o.status();
    if (o.ok()) out.push_back(std::move(*o));
  }
  return out;
}

TEST_P(StoreConformanceTest, MitreIcsReleasesKeepTwoVersionsOfChangedObjects) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data" / "stix" / "mitre-attack";
  const std::vector<stix::Object> v17 = ReadBundle(dir / "ics-attack-17.1.json");
  const std::vector<stix::Object> v18 = ReadBundle(dir / "ics-attack-18.1.json");
  ASSERT_EQ(v17.size(), 1651u);
  ASSERT_EQ(v18.size(), 1826u);
  size_t added = 0, duplicates = 0;
  for (const auto* release : {&v17, &v18}) {
    for (size_t at = 0; at < release->size(); at += 500) {
      const size_t n = std::min<size_t>(500, release->size() - at);
      auto r = store().Add(kCollection, std::span(*release).subspan(at, n));
      ASSERT_OK(r);
      added += r->added;
      duplicates += r->duplicates;
    }
  }
  EXPECT_EQ(added, 2141u);
  EXPECT_EQ(duplicates, 1826u - (2141u - 1651u));

  Filter all;
  all.versions = {VersionMatch::All()};
  const std::vector<ObjectRecord> every = QueryAll(store(), kCollection, all);
  EXPECT_EQ(every.size(), 2141u);
  std::map<std::string, int> versions_per_id;
  for (const ObjectRecord& r : every) ++versions_per_id[r.id];
  EXPECT_EQ(versions_per_id.size(), 2064u);
  const size_t two = std::count_if(versions_per_id.begin(), versions_per_id.end(),
                                   [](const auto& e) { return e.second == 2; });
  EXPECT_EQ(two, 77u);

  const std::vector<ObjectRecord> latest = QueryAll(store(), kCollection, {});
  EXPECT_EQ(latest.size(), 2064u);
  Filter first;
  first.versions = {VersionMatch::First()};
  EXPECT_EQ(QueryAll(store(), kCollection, first).size(), 2064u);

  // For a changed object, first is the 17.1 text and last the 18.1 text, byte for byte.
  const std::string changed =
      std::find_if(versions_per_id.begin(), versions_per_id.end(), [](const auto& e) {
        return e.second == 2;
      })->first;
  auto find_text = [&](const std::vector<stix::Object>& release) {
    return std::find_if(release.begin(), release.end(),
                        [&](const stix::Object& o) { return o.id == changed; })
        ->json;
  };
  auto got_first = store().GetObject(kCollection, changed, first);
  ASSERT_OK(got_first);
  ASSERT_EQ(got_first->records.size(), 1u);
  EXPECT_EQ(got_first->records[0].json, find_text(v17));
  auto got_last = store().GetObject(kCollection, changed, {});
  ASSERT_OK(got_last);
  ASSERT_EQ(got_last->records.size(), 1u);
  EXPECT_EQ(got_last->records[0].json, find_text(v18));

  Filter patterns;
  patterns.types = {"attack-pattern"};
  EXPECT_EQ(
      QueryAll(store(), kCollection, patterns).size(),
      static_cast<size_t>(
          std::count_if(v18.begin(), v18.end(),
                        [](const stix::Object& o) { return o.type == "attack-pattern"; })) +
          static_cast<size_t>(std::count_if(v17.begin(), v17.end(), [&](const stix::Object& o) {
            return o.type == "attack-pattern" &&
                   std::none_of(v18.begin(), v18.end(),
                                [&](const stix::Object& p) { return p.id == o.id; });
          })));
}

// --- Audit log and sync state (issues #6, #8) ---------------------------------------------------

// A stand-in for policy::ReleaseLog::ChainHash (the store must not care which function it is):
// FNV-1a over the previous hash and every field the store keeps.
std::string TestChain(const AuditRecord& r) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view part) {
    for (char ch : part) {
      h ^= static_cast<unsigned char>(ch);
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(r.prev_hash);
  mix(std::to_string(r.seq));
  mix(r.time.ToString(9));
  mix(r.kind);
  mix(r.partner);
  mix(r.policy_version);
  mix(r.details);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

AuditRecord Entry(std::string partner, std::string details, std::string_view time) {
  AuditRecord r;
  r.time = T(time);
  r.kind = "release";
  r.partner = std::move(partner);
  r.policy_version = "v1";
  r.details = std::move(details);
  return r;
}

// Reads the whole log and checks it is one unbroken chain 1..n; returns it.
std::vector<AuditRecord> ReadVerifiedChain(Store& store) {
  std::vector<AuditRecord> all;
  AuditQuery q;
  q.limit = 64;
  for (;;) {
    auto page = store.ReadAudit(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok() || page->empty()) break;
    q.after_seq = page->back().seq;
    for (AuditRecord& r : *page) all.push_back(std::move(r));
  }
  std::string prev;
  for (size_t i = 0; i < all.size(); ++i) {
    const AuditRecord& r = all[i];
    EXPECT_EQ(r.seq, static_cast<int64_t>(i + 1)) << "entries missing or reordered";
    EXPECT_EQ(r.prev_hash, prev) << "the chain forks at seq " << r.seq;
    EXPECT_EQ(r.hash, TestChain(r)) << "entry " << r.seq << " was not stored as chained";
    prev = r.hash;
  }
  return all;
}

TEST_P(StoreConformanceTest, AuditAppendChainsEntriesAndReadFilters) {
  auto empty = store().AppendAudit({}, TestChain);
  ASSERT_OK(empty);
  EXPECT_THAT(*empty, IsEmpty());
  auto none = store().ReadAudit({});
  ASSERT_OK(none);
  EXPECT_THAT(*none, IsEmpty());

  std::vector<AuditRecord> first = {
      Entry("cert-a", R"({"n":1})", "2024-01-01T00:00:01Z"),
      Entry("cert-b", R"({"n":2})", "2024-01-01T00:00:02.5Z"),
      Entry("", R"({"n":3,"text":"quote \" and \\ and é"})", "2024-01-01T00:00:03.123456789Z")};
  first[0].seq = 77;  // ignored: the store assigns seq, prev_hash and hash
  first[0].prev_hash = "forged";
  auto written = store().AppendAudit(first, TestChain);
  ASSERT_OK(written);
  ASSERT_EQ(written->size(), 3u);
  EXPECT_EQ((*written)[0].seq, 1);
  EXPECT_EQ((*written)[0].prev_hash, "");
  EXPECT_EQ((*written)[2].prev_hash, (*written)[1].hash);
  auto more = store().AppendAudit({Entry("cert-a", R"({"n":4})", "2024-01-02T00:00:00Z"),
                                   Entry("cert-b", R"({"n":5})", "2024-01-03T00:00:00Z")},
                                  TestChain);
  ASSERT_OK(more);
  EXPECT_EQ(more->front().seq, 4);
  EXPECT_EQ(more->front().prev_hash, written->back().hash);

  const std::vector<AuditRecord> all = ReadVerifiedChain(store());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[2], (*written)[2]);  // every field round-trips, time to the nanosecond
  EXPECT_EQ(all[4], more->back());

  AuditQuery by_partner;
  by_partner.partner = "cert-a";
  auto a = store().ReadAudit(by_partner);
  ASSERT_OK(a);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].seq, 1);
  EXPECT_EQ((*a)[1].seq, 4);
  AuditQuery since;
  since.since = T("2024-01-01T00:00:02.5Z");  // inclusive
  since.after_seq = 2;
  since.limit = 2;
  auto s = store().ReadAudit(since);
  ASSERT_OK(s);
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].seq, 3);
  EXPECT_EQ((*s)[1].seq, 4);
  since.after_seq = 0;
  since.partner = "cert-b";
  s = store().ReadAudit(since);
  ASSERT_OK(s);
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].seq, 2);
  EXPECT_EQ((*s)[1].seq, 5);

  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(ReadVerifiedChain(store()), all);
  auto after = store().AppendAudit({Entry("x", "{}", "2024-02-01T00:00:00Z")}, TestChain);
  ASSERT_OK(after);
  EXPECT_EQ(after->front().seq, 6);
  EXPECT_EQ(after->front().prev_hash, all.back().hash);
}

// Several writers on several openings of one store (for PostgreSQL: several nodes, each with its
// own connection pool) append at once. The log must stay one chain: every entry's prev_hash is
// its predecessor's hash, seq has no gap or duplicate, and nothing is lost. A backend that read
// the head without serialising appends would fork the chain or fail on a duplicate seq.
TEST_P(StoreConformanceTest, ConcurrentAuditAppendersFromSeveralOpeningsKeepOneChain) {
  auto second = GetParam().open(dir_, options_);
  ASSERT_OK(second);
  Store* nodes[2] = {&store(), second->get()};
  constexpr int kThreads = 4, kAppends = 12;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::vector<AuditRecord> batch;
        for (int k = 0; k <= i % 3; ++k) {
          batch.push_back(Entry(absl::StrCat("p", t),
                                absl::StrCat(R"({"t":)", t, R"(,"i":)", i, R"(,"k":)", k, "}"),
                                "2024-01-01T00:00:00Z"));
        }
        auto r = nodes[t % 2]->AppendAudit(std::move(batch), TestChain);
        if (!r.ok()) {
          ++failures;
          ADD_FAILURE() << r.status();
          continue;
        }
        // One call's entries are consecutive.
        for (size_t k = 1; k < r->size(); ++k) {
          if ((*r)[k].seq != (*r)[k - 1].seq + 1) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const std::vector<AuditRecord> all = ReadVerifiedChain(store());
  std::set<std::string> details;
  for (const AuditRecord& r : all) details.insert(r.details);
  EXPECT_EQ(details.size(), all.size()) << "an entry was stored twice";
  EXPECT_EQ(all.size(), size_t{kThreads * 4 * (1 + 2 + 3)});  // i % 3 + 1 entries, i = 0..11
  EXPECT_EQ(ReadVerifiedChain(**second), all);                // both openings see the same chain
}

// AdmitUse (shared rate limits, e.g. a partner's PSI runs on several nodes): at most max_uses
// within the window, none within the gap of the last, keys independent, uses that left the window
// forgotten, and everything kept across a reopening (a restart forgets no use).
TEST_P(StoreConformanceTest, AdmitUseCountsUsesWithinTheWindowAndKeepsTheGap) {
  using std::chrono::seconds;
  const Timestamp t0 = Timestamp::FromUnixNanos(1'800'000'000, 0);
  auto at = [&](int64_t s) { return FromUnixMicros(ToUnixMicros(t0) + s * 1'000'000); };
  auto use = [&](Store& st, std::string_view key, int64_t s) {
    return st.AdmitUse(key, at(s), seconds(100), 2, seconds(10));
  };
  auto first = use(store(), "psi:cert-x", 0);
  ASSERT_OK(first);
  EXPECT_TRUE(first->admitted);
  EXPECT_EQ(first->uses, 0);
  EXPECT_FALSE(first->latest.has_value());
  auto too_soon = use(store(), "psi:cert-x", 9);
  ASSERT_OK(too_soon);
  EXPECT_FALSE(too_soon->admitted);
  EXPECT_EQ(too_soon->uses, 1);
  EXPECT_EQ(too_soon->latest, at(0));
  auto other = use(store(), "psi:cert-y", 9);
  ASSERT_OK(other);
  EXPECT_TRUE(other->admitted) << "keys are counted apart";
  auto second = use(store(), "psi:cert-x", 10);
  ASSERT_OK(second);
  EXPECT_TRUE(second->admitted);
  auto full = use(store(), "psi:cert-x", 99);
  ASSERT_OK(full);
  EXPECT_FALSE(full->admitted);
  EXPECT_EQ(full->uses, 2);
  EXPECT_EQ(full->oldest, at(0));
  EXPECT_EQ(full->latest, at(10));
  // At 100 s the first use has left the window (now - t < window no longer holds).
  auto later = use(store(), "psi:cert-x", 100);
  ASSERT_OK(later);
  EXPECT_TRUE(later->admitted);
  EXPECT_EQ(later->uses, 1);
  EXPECT_EQ(later->oldest, at(10));
  ASSERT_NO_FATAL_FAILURE(Reopen());
  auto after_restart = use(store(), "psi:cert-x", 105);
  ASSERT_OK(after_restart);
  EXPECT_FALSE(after_restart->admitted) << "a reopened store forgot a use";
  EXPECT_EQ(after_restart->uses, 2);
  for (auto [window, max, gap] : {std::tuple{0, 1, 0}, {10, 0, 0}, {10, 1, -1}}) {
    EXPECT_EQ(store().AdmitUse("k", at(0), seconds(window), max, seconds(gap)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(store().AdmitUse("", at(0), seconds(1), 1, seconds(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Several openings (processes, or nodes on one database) racing for the same key admit exactly
// max_uses between them: a backend that counted and inserted without serialising would admit
// more.
TEST_P(StoreConformanceTest, AdmitUseAdmitsExactlyMaxUsesAcrossOpenings) {
  auto second = GetParam().open(dir_, options_);
  ASSERT_OK(second);
  Store* nodes[2] = {&store(), second->get()};
  constexpr int kThreads = 6, kTries = 10, kMax = 5;
  std::atomic<int> admitted{0}, failures{0};
  std::atomic<int64_t> tick{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTries; ++i) {
        const Timestamp now = FromUnixMicros(1'800'000'000'000'000 + tick++);
        auto r = nodes[t % 2]->AdmitUse("psi:cert-x", now, std::chrono::hours(1), kMax,
                                        std::chrono::microseconds(0));
        if (!r.ok()) {
          ++failures;
          ADD_FAILURE() << r.status();
        } else if (r->admitted) {
          ++admitted;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(admitted.load(), kMax);
}

// AddWithAudit (a POST and its receipt, issue #3): the entries join the one chain when the
// Add succeeds and only then, visible to the next read; interleaved with plain appends from
// several threads and two openings, the chain stays one chain with every entry once.
TEST_P(StoreConformanceTest, AddWithAuditLogsEntriesOnlyWithTheirObjects) {
  ASSERT_OK(store().AppendAudit({Entry("a", R"({"n":0})", "2024-01-01T00:00:00Z")}, TestChain));
  auto added = store().AddWithAudit(kCollection,
                                    std::vector<stix::Object>{V(1, "2021-01-01T00:00:00.000Z")}, {},
                                    {Entry("a", R"({"n":1})", "2024-01-01T00:00:01Z"),
                                     Entry("b", R"({"n":2})", "2024-01-01T00:00:02Z")},
                                    TestChain);
  ASSERT_OK(added);
  EXPECT_EQ(added->added, 1u);
  std::vector<AuditRecord> all = ReadVerifiedChain(store());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].details, R"({"n":1})");
  EXPECT_EQ(all[2].partner, "b");
  EXPECT_EQ(all[2].time, T("2024-01-01T00:00:02Z"));

  // A failed Add logs nothing: an unknown collection, an invalid object.
  EXPECT_EQ(store()
                .AddWithAudit("no-such-collection",
                              std::vector<stix::Object>{V(2, "2021-01-01T00:00:00.000Z")}, {},
                              {Entry("a", R"({"n":-1})", "2024-01-01T00:00:03Z")}, TestChain)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  stix::Object bad = V(3, "2021-01-01T00:00:00.000Z");
  bad.id.clear();
  EXPECT_EQ(store()
                .AddWithAudit(kCollection, std::vector<stix::Object>{bad}, {},
                              {Entry("a", R"({"n":-2})", "2024-01-01T00:00:04Z")}, TestChain)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadVerifiedChain(store()), all);

  auto second = GetParam().open(dir_, options_);
  ASSERT_OK(second);
  Store* nodes[2] = {&store(), second->get()};
  constexpr int kThreads = 4, kRounds = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string details = absl::StrCat(R"({"t":)", t, R"(,"i":)", i, "}");
        Store& node = *nodes[(t + i) % 2];
        Status s;
        if (i % 2 == 0) {
          const int n = 1000 + t * 100 + i;
          s = node.AddWithAudit(kCollection,
                                std::vector<stix::Object>{V(n, "2021-01-01T00:00:00.000Z")}, {},
                                {Entry("p", details, "2024-01-02T00:00:00Z")}, TestChain)
                  .status();
        } else {
          s = node.AppendAudit({Entry("p", details, "2024-01-02T00:00:00Z")}, TestChain).status();
        }
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << s;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  all = ReadVerifiedChain(store());
  std::set<std::string> details;
  for (const AuditRecord& r : all) details.insert(r.details);
  EXPECT_EQ(details.size(), all.size()) << "an entry was stored twice";
  EXPECT_EQ(all.size(), size_t{3 + kThreads * kRounds});
  EXPECT_EQ(ReadVerifiedChain(**second), all);
  second->reset();
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(ReadVerifiedChain(store()), all);
}

TEST_P(StoreConformanceTest, SyncStateAndReceivedRanges) {
  auto missing = store().GetSyncState("cursor/b");
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(store().PutSyncState("", "x").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(store().PutSyncState("cursor/b", "c1"));
  ASSERT_OK(store().PutSyncState("cursor/b", "c2"));  // replaces
  ASSERT_OK(store().PutSyncState("cursor/a", "x"));
  ASSERT_OK(store().PutSyncState("cursor%", "not under cursor/"));
  ASSERT_OK(store().PutSyncState("cursor/c\xc3\xa9", "unicode"));
  ASSERT_OK(store().PutSyncState("cursos", "after the prefix"));
  ASSERT_OK(store().PutSyncState("pushfail/b", ""));
  auto got = store().GetSyncState("cursor/b");
  ASSERT_OK(got);
  EXPECT_EQ(got->value_or(""), "c2");
  using KV = std::pair<std::string, std::string>;
  auto listed = store().ListSyncState("cursor/", 10);
  ASSERT_OK(listed);
  EXPECT_THAT(*listed, ElementsAre(KV{"cursor/a", "x"}, KV{"cursor/b", "c2"},
                                   KV{"cursor/c\xc3\xa9", "unicode"}));
  listed = store().ListSyncState("cursor/", 1);
  ASSERT_OK(listed);
  EXPECT_THAT(*listed, ElementsAre(KV{"cursor/a", "x"}));
  listed = store().ListSyncState("", 100);
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), 6u);
  listed = store().ListSyncState("zzz", 10);
  ASSERT_OK(listed);
  EXPECT_THAT(*listed, IsEmpty());

  // Received ranges: one per Add, never overlapping; a query returns those meeting [from, to].
  const Timestamp t0 = T("2024-01-01T00:00:00Z");
  auto at = [&](int64_t micros) { return FromUnixMicros(ToUnixMicros(t0) + micros); };
  ASSERT_OK(store().AddReceivedRange(kCollection, "b", at(10), at(20)));
  ASSERT_OK(store().AddReceivedRange(kCollection, "b", at(30), at(30)));
  ASSERT_OK(store().AddReceivedRange(kCollection, "c", at(21), at(29)));
  // Saved with a cursor in one commit.
  ASSERT_OK(
      store().PutSyncState("cursor/b", "c3", ReceivedRange{kCollection, "b", at(40), at(50)}));
  EXPECT_EQ(store().GetSyncState("cursor/b")->value_or(""), "c3");
  EXPECT_EQ(store().AddReceivedRange(kCollection, "b", at(5), at(4)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().AddReceivedRange("no-such-collection", "b", at(1), at(2)).code(),
            absl::StatusCode::kNotFound);
  // A failed range write leaves the state untouched (one transaction).
  EXPECT_EQ(
      store()
          .PutSyncState("cursor/b", "c4", ReceivedRange{"no-such-collection", "b", at(1), at(2)})
          .code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetSyncState("cursor/b")->value_or(""), "c3");

  using Range = std::pair<Timestamp, Timestamp>;
  auto ranges = store().ReceivedRanges(kCollection, "b", at(0), at(100));
  ASSERT_OK(ranges);
  EXPECT_THAT(*ranges,
              ElementsAre(Range{at(10), at(20)}, Range{at(30), at(30)}, Range{at(40), at(50)}));
  ranges = store().ReceivedRanges(kCollection, "b", at(15), at(35));  // starts inside the first
  ASSERT_OK(ranges);
  EXPECT_THAT(*ranges, ElementsAre(Range{at(10), at(20)}, Range{at(30), at(30)}));
  ranges = store().ReceivedRanges(kCollection, "b", at(21), at(29));  // a gap
  ASSERT_OK(ranges);
  EXPECT_THAT(*ranges, IsEmpty());
  ranges = store().ReceivedRanges(kCollection, "b", at(50), at(50));  // inclusive ends
  ASSERT_OK(ranges);
  EXPECT_THAT(*ranges, ElementsAre(Range{at(40), at(50)}));
  ranges = store().ReceivedRanges(kCollection, "c", at(0), at(100));
  ASSERT_OK(ranges);
  EXPECT_THAT(*ranges, ElementsAre(Range{at(21), at(29)}));
  EXPECT_EQ(store().ReceivedRanges("no-such-collection", "b", at(0), at(1)).status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(store().GetSyncState("cursor/b")->value_or(""), "c3");
  ranges = store().ReceivedRanges(kCollection, "b", at(0), at(100));
  ASSERT_OK(ranges);
  EXPECT_EQ(ranges->size(), 3u);
}

// QueryKept (the release policy's scan, docs/policy.md): dropped versions never come back, kept
// ones come back once each in date_added order, whatever the page and scan bounds, with short or
// empty pages allowed only while `more` is true.
TEST_P(StoreConformanceTest, QueryKeptDropsVersionsAndPagesOverTheRest) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 40; ++i) objects.push_back(V(i, "2021-01-01T00:00:00.000Z"));
  objects.push_back(V(3, "2022-01-01T00:00:00.000Z"));  // a second version of a dropped id
  ASSERT_OK(store().Add(kCollection, objects));
  // Keeps ids 0, 3 (its second version), 6, ... and any version of 20-29 (a run of kept ones).
  auto n_of = [](std::string_view id) { return std::stoi(std::string(id.substr(id.size() - 4))); };
  const Store::KeepFn keep = [&](const Store::RecordView& v) {
    const int n = n_of(v.id);
    EXPECT_EQ(v.type, "indicator");
    EXPECT_NE(v.json.find(v.id), std::string_view::npos);
    return n % 3 == 0 || (n >= 20 && n < 30);
  };
  std::vector<std::string> want;
  for (int i = 0; i < 40; ++i) {
    if (i % 3 == 0 || (i >= 20 && i < 30))
      want.push_back(absl::StrCat(i, "@2021-01-01T00:00:00.000Z"));
  }
  want.push_back("3@2022-01-01T00:00:00.000Z");
  for (size_t limit : {1, 4, 100}) {
    for (size_t max_scanned : {1, 5, 1000}) {
      SCOPED_TRACE(absl::StrCat("limit ", limit, ", max_scanned ", max_scanned));
      Filter f;
      f.limit = limit;
      f.versions = {VersionMatch::All()};
      std::vector<std::string> got;
      for (int round = 0; round < 200; ++round) {
        auto page = store().QueryKept(kCollection, f, keep, max_scanned);
        ASSERT_OK(page);
        EXPECT_LE(page->records.size(), limit);
        for (const ObjectRecord& r : page->records) {
          got.push_back(KeyOf(r));
          EXPECT_FALSE(r.json.empty());
        }
        if (!page->more) break;
        ASSERT_FALSE(page->next.empty());
        f.next = page->next;
      }
      EXPECT_EQ(got, want);
    }
  }
  // A filter that keeps nothing ends with an empty page and no `more`.
  Filter f;
  f.limit = 10;
  const Store::KeepFn none = [](const Store::RecordView&) { return false; };
  int rounds = 0;
  for (;; ++rounds) {
    auto page = store().QueryKept(kCollection, f, none, 7);
    ASSERT_OK(page);
    EXPECT_THAT(page->records, IsEmpty());
    if (!page->more) break;
    f.next = page->next;
    ASSERT_LT(rounds, 100);
  }
}

}  // namespace
}  // namespace liaison::store::testing
