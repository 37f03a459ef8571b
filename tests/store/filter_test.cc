#include "store/filter.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace liaison::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Timestamp T(std::string_view text) { return *Timestamp::Parse(text); }

TEST(StoreCursor, RoundTrips) {
  const Cursor c{FromUnixMicros(1'700'000'000'123'456),
                 "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                 T("2021-01-02T03:04:05.123456789Z")};
  const std::string text = EncodeCursor(c);
  for (char ch : text)
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
  auto back = DecodeCursor(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);

  const Cursor unversioned{FromUnixMicros(5), "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
                           std::nullopt};
  EXPECT_EQ(*DecodeCursor(EncodeCursor(unversioned)), unversioned);
}

TEST(StoreCursor, RejectsAnythingElseWithInvalidArgument) {
  const std::string good = EncodeCursor({FromUnixMicros(42), "tool--1", std::nullopt});
  for (std::string bad : {std::string(), std::string("abc"), std::string("a+b/"), good.substr(1),
                          good + "AA", std::string(2000, 'A'), good + "="}) {
    auto r = DecodeCursor(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("next:"));
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string t = good;
    t[i] = t[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(DecodeCursor(t).ok()) << i;
  }
}

TEST(StoreVersionKey, SortsAsTimeAndRoundTrips) {
  const std::vector<Timestamp> ts = {
      T("0001-01-01T00:00:00Z"), T("1969-12-31T23:59:59.999Z"),
      T("2021-01-01T00:00:00Z"), T("2021-01-01T00:00:00.5Z"),
      T("2021-01-01T00:00:01Z"), T("9999-12-31T23:59:59.999999999Z")};
  std::string previous = VersionKey(std::nullopt);
  EXPECT_EQ(previous, "");
  for (const Timestamp& t : ts) {
    const std::string key = VersionKey(t);
    EXPECT_EQ(key.size(), 30u);
    EXPECT_LT(previous, key);
    EXPECT_EQ(**ParseVersionKey(key), t);
    previous = key;
  }
  EXPECT_FALSE(ParseVersionKey("2021-01-01T00:00:00Z").ok());
}

TEST(StoreSpecVersions, CompareNumerically) {
  EXPECT_LT(CompareSpecVersions("2.0", "2.1"), 0);
  EXPECT_LT(CompareSpecVersions("2.9", "2.10"), 0);
  EXPECT_EQ(CompareSpecVersions("2.1", "2.1"), 0);
  EXPECT_GT(CompareSpecVersions("3.0", "2.1"), 0);
  EXPECT_LT(CompareSpecVersions("2", "2.1"), 0);
}

TEST(StoreMicros, FloorsSubMicrosecondsAndHandlesNegativeTimes) {
  EXPECT_EQ(ToUnixMicros(Timestamp::FromUnixNanos(1, 999)), 1'000'000);
  EXPECT_EQ(ToUnixMicros(Timestamp::FromUnixNanos(-1, 500'000'000)), -500'000);
  EXPECT_EQ(FromUnixMicros(-500'000), Timestamp::FromUnixNanos(-1, 500'000'000));
}

std::vector<bool> Select(const std::vector<VersionRecord>& records, Filter f) {
  return SelectVersions(records, f);
}

TEST(StoreSelectVersions, AppliesBaseFiltersThenVersionsThenSpec) {
  const std::vector<VersionRecord> r = {
      {T("2020-01-01T00:00:00Z"), FromUnixMicros(10), "2.0"},
      {T("2021-01-01T00:00:00Z"), FromUnixMicros(30), "2.1"},
      {T("2022-01-01T00:00:00Z"), FromUnixMicros(20), "2.0"},
  };
  EXPECT_THAT(Select(r, {}), ElementsAre(false, false, true));
  Filter first;
  first.versions = {VersionMatch::First()};
  EXPECT_THAT(Select(r, first), ElementsAre(true, false, false));
  Filter all;
  all.versions = {VersionMatch::All()};
  EXPECT_THAT(Select(r, all), ElementsAre(false, true, false));  // latest spec among all
  all.spec_versions = {"2.0"};
  EXPECT_THAT(Select(r, all), ElementsAre(true, false, true));
  Filter after;
  after.added_after = FromUnixMicros(20);
  EXPECT_THAT(Select(r, after), ElementsAre(false, true, false));
  Filter spec;
  spec.spec_versions = {"2.1"};
  EXPECT_THAT(Select(r, spec), ElementsAre(false, true, false));
  Filter at;
  at.versions = {VersionMatch::At(T("2020-01-01T00:00:00.000Z")), VersionMatch::Last()};
  EXPECT_THAT(Select(r, at), ElementsAre(true, false, true));

  DeleteFilter everything;
  EXPECT_THAT(SelectVersionsForDelete(r, everything), ElementsAre(true, true, true));
  DeleteFilter last;
  last.versions = {VersionMatch::Last()};
  EXPECT_THAT(SelectVersionsForDelete(r, last), ElementsAre(false, false, true));
  DeleteFilter two_oh;
  two_oh.spec_versions = {"2.0"};
  EXPECT_THAT(SelectVersionsForDelete(r, two_oh), ElementsAre(true, false, true));
}

TEST(StoreSelectVersions, UnversionedObjectsMatchTheirDateAdded) {
  const std::vector<VersionRecord> r = {{std::nullopt, FromUnixMicros(77), "2.1"}};
  EXPECT_THAT(Select(r, {}), ElementsAre(true));
  Filter at;
  at.versions = {VersionMatch::At(FromUnixMicros(77))};
  EXPECT_THAT(Select(r, at), ElementsAre(true));
  at.versions = {VersionMatch::At(FromUnixMicros(78))};
  EXPECT_THAT(Select(r, at), ElementsAre(false));
}

TEST(StoreValidateFilter, RejectsZeroLimitAndHugeLists) {
  Filter f;
  EXPECT_TRUE(ValidateFilter(f).ok());
  f.limit = 0;
  EXPECT_THAT(ValidateFilter(f).message(), HasSubstr("limit"));
  Filter g;
  g.types.assign(kMaxFilterValues + 1, "indicator");
  EXPECT_THAT(ValidateFilter(g).message(), HasSubstr("match[type]"));
}

}  // namespace
}  // namespace liaison::store
