#include "match/compiler.h"

#include <string>

#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pattern/pattern_set.h"

namespace liaison::match {
namespace {

std::string Indicator(std::string_view id, std::string_view pattern, std::string_view extra = "",
                      std::string_view valid_from = "2024-01-01T00:00:00Z") {
  return StrCat(R"({"type":"indicator","spec_version":"2.1","id":"indicator--)", id,
                R"(","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",)",
                R"("pattern_type":"stix","valid_from":")", valid_from, R"(","pattern":")", pattern,
                "\"", extra, "}");
}

constexpr std::string_view kId1 = "00000000-0000-4000-8000-000000000001";
constexpr std::string_view kId2 = "00000000-0000-4000-8000-000000000002";
constexpr std::string_view kId3 = "00000000-0000-4000-8000-000000000003";
constexpr std::string_view kId4 = "00000000-0000-4000-8000-000000000004";
constexpr std::string_view kId5 = "00000000-0000-4000-8000-000000000005";

CompileOptions At2025() {
  CompileOptions o;
  o.now = *Timestamp::Parse("2025-06-01T00:00:00Z");
  return o;
}

TEST(IndicatorSet, KeepsOnlyActiveStixIndicators) {
  IndicatorSet set(At2025());
  const std::string ndjson = StrCat(
      Indicator(kId1, "[ipv4-addr:value = '198.51.100.1']"), "\n",
      Indicator(kId2, "[ipv4-addr:value = '198.51.100.2']", R"(,"revoked":true)"), "\n",
      Indicator(kId3, "[ipv4-addr:value = '198.51.100.3']",
                R"(,"valid_until":"2025-01-01T00:00:00Z")"),
      "\n",
      StrCat(R"({"type":"indicator","spec_version":"2.1","id":"indicator--)", kId4,
             R"(","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",)",
             R"("pattern_type":"sigma","valid_from":"2024-01-01T00:00:00Z","pattern":"x"})"),
      "\n", Indicator(kId5, "[ipv4-addr:value = '198.51.100.5']", "", "2030-01-01T00:00:00Z"), "\n",
      R"({"type":"malware","spec_version":"2.1","id":"malware--)", kId1,
      R"(","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","name":"x","is_family":true})",
      "\n");
  ASSERT_TRUE(set.AddStix(ndjson, "test.ndjson").ok());
  set.Finish();
  const CompileStats& s = set.stats();
  EXPECT_EQ(s.objects, 6u);
  EXPECT_EQ(s.indicators, 5u);
  EXPECT_EQ(s.revoked, 1u);
  EXPECT_EQ(s.inactive, 2u);  // expired, and not yet valid
  EXPECT_EQ(s.not_stix, 1u);
  EXPECT_EQ(s.exact, 1u);
  ASSERT_EQ(set.indicator_count(), 1u);
  EXPECT_EQ(set.indicator_id(0), StrCat("indicator--", kId1));
}

TEST(IndicatorSet, ExactPatternsGoToIndexesOthersToTheEngine) {
  IndicatorSet set(At2025());
  std::string bundle = StrCat(
      R"({"type":"bundle","id":"bundle--00000000-0000-4000-8000-0000000000ff","objects":[)",
      Indicator(kId1,
                "[domain-name:value = 'evil.example'] OR [url:value IN ('http://a.example/x', "
                "'http://b.example/y')]"),
      ",", Indicator(kId2, "[file:hashes.'SHA-256' = '" + std::string(64, 'b') + "']"), ",",
      Indicator(kId3, "[network-traffic:dst_port = 4444 AND network-traffic:protocols[*] = 'tcp']"),
      ",", Indicator(kId4, "[network-traffic:dst_ref.value = '203.0.113.0/24']"), ",",
      Indicator(kId5, "[ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES"), "]}");
  ASSERT_TRUE(set.AddStix(bundle, "bundle.json").ok());
  set.Finish();
  EXPECT_EQ(set.stats().exact, 3u);
  EXPECT_EQ(set.stats().engine, 2u);
  EXPECT_EQ(set.stats().invalid, 0u) << (set.stats().errors.empty() ? "" : set.stats().errors[0]);
  ASSERT_NE(set.engine(), nullptr);
  EXPECT_EQ(set.engine()->size(), 1u);
  // REPEATS 2 TIMES needs two events: the window's engine (Matcher::RunStream).
  EXPECT_EQ(set.stats().stream, 1u);
  ASSERT_NE(set.stream_engine(), nullptr);
  EXPECT_EQ(set.stream_engine()->size(), 1u);
  EXPECT_TRUE(set.StreamWants("ipv4-addr"));
  EXPECT_FALSE(set.EngineWants("ipv4-addr"));
  EXPECT_TRUE(set.EngineWants("network-traffic"));
  EXPECT_FALSE(set.EngineWants("file"));
  EXPECT_EQ(set.index().size(ValueKind::kUrl), 2u);
  EXPECT_EQ(set.role(3), AddressRole::kDst);
  EXPECT_EQ(set.role(0), AddressRole::kAny);
}

TEST(IndicatorSet, InvalidPatternsAreCountedWithTheirPosition) {
  IndicatorSet set(At2025());
  set.AddStixObject(Indicator(kId1, "[file:hashes.MD5 = 'zz']"), "in.json", 3);
  set.AddStixObject(Indicator(kId2, "[ipv4-addr:value = "), "in.json", 4);
  EXPECT_EQ(set.stats().invalid, 2u);
  ASSERT_EQ(set.stats().errors.size(), 2u);
  EXPECT_THAT(set.stats().errors[0], ::testing::StartsWith("in.json:3: indicator--"));
  EXPECT_THAT(set.stats().errors[1], ::testing::HasSubstr("offset"));
}

TEST(IndicatorSet, PlainListsWithTypesOrInferred) {
  IndicatorSet set(At2025());
  set.AddList(
      "# a comment\n"
      "domain-name evil.example\n"
      "ipv4-addr 203.0.113.0/24\n"
      "sha256 " +
          std::string(64, 'c') +
          "\n"
          "198.51.100.7\n"
          "evil.example/path/x.exe\n" +
          std::string(32, 'd') +
          "\n"
          "file:hashes.'SHA-1' " +
          std::string(40, 'e') +
          "\n"
          "bogus-type value\n"
          "ipv4-addr 999.1.1.1\n",
      "list.txt");
  set.Finish();
  EXPECT_EQ(set.index().size(ValueKind::kDomain), 1u);
  EXPECT_EQ(set.index().size(ValueKind::kIpv4), 2u);
  EXPECT_EQ(set.index().size(ValueKind::kSha256), 1u);
  EXPECT_EQ(set.index().size(ValueKind::kUrl), 1u);
  EXPECT_EQ(set.index().size(ValueKind::kMd5), 1u);
  EXPECT_EQ(set.index().size(ValueKind::kSha1), 1u);
  EXPECT_EQ(set.stats().invalid, 2u);
  EXPECT_THAT(set.stats().errors[0], ::testing::StartsWith("list.txt:9: unknown indicator type"));

  // List values get stable ids derived from the value.
  std::vector<IndexHit> hits;
  set.index().Lookup(ValueKind::kDomain, "www.evil.example", hits);
  ASSERT_EQ(hits.size(), 1u);
  const std::string id = set.IdOf(hits[0]);
  EXPECT_THAT(id, ::testing::StartsWith("indicator--"));
  IndicatorSet again(At2025());
  again.AddList("evil.example\n", "other.txt");
  again.Finish();
  std::vector<IndexHit> hits2;
  again.index().Lookup(ValueKind::kDomain, "evil.example", hits2);
  ASSERT_EQ(hits2.size(), 1u);
  EXPECT_EQ(again.IdOf(hits2[0]), id);
}

}  // namespace
}  // namespace liaison::match
