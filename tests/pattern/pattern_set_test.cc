// Tests of pattern/pattern_set.h: the indexed evaluation of many patterns gives exactly the
// answers of evaluating each pattern on its own.

#include "pattern/pattern_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/json.h"
#include "testing/shared_data.h"

namespace liaison::pattern {
namespace {

void ExpectSame(const SetEvaluation& indexed, const SetEvaluation& naive) {
  ASSERT_EQ(indexed.matches.size(), naive.matches.size());
  for (size_t i = 0; i < naive.matches.size(); ++i) {
    EXPECT_EQ(indexed.matches[i].pattern, naive.matches[i].pattern);
    EXPECT_EQ(indexed.matches[i].bindings, naive.matches[i].bindings)
        << "pattern " << naive.matches[i].pattern;
  }
  ASSERT_EQ(indexed.failures.size(), naive.failures.size());
  for (size_t i = 0; i < naive.failures.size(); ++i) {
    EXPECT_EQ(indexed.failures[i].pattern, naive.failures[i].pattern);
    EXPECT_EQ(indexed.failures[i].status.code(), naive.failures[i].status.code());
  }
}

const char* kObservations = R"({"type":"bundle","id":"bundle--1","objects":[
  {"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z",
   "last_observed":"2020-01-01T00:00:00Z","number_observed":1,
   "object_refs":["network-traffic--1","ipv4-addr--1","ipv4-addr--2"]},
  {"type":"observed-data","id":"observed-data--2","first_observed":"2020-01-01T00:01:00Z",
   "last_observed":"2020-01-01T00:01:00Z","number_observed":2,
   "object_refs":["domain-name--1","file--1"]},
  {"type":"observed-data","id":"observed-data--3","first_observed":"2020-01-01T00:02:00Z",
   "last_observed":"2020-01-01T00:02:00Z","number_observed":1,
   "object_refs":["url--1","x-e--1"]},
  {"type":"network-traffic","id":"network-traffic--1","src_ref":"ipv4-addr--1",
   "dst_ref":"ipv4-addr--2","dst_port":443,"protocols":["ipv4","tcp"],"is_active":true},
  {"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.1.2.3"},
  {"type":"ipv4-addr","id":"ipv4-addr--2","value":"203.0.113.9"},
  {"type":"domain-name","id":"domain-name--1","value":"evil.example"},
  {"type":"file","id":"file--1","name":"a.exe","size":5.0,
   "hashes":{"MD5":"cead3f77f6cda6ec00f57d76c9a6879f"}},
  {"type":"url","id":"url--1","value":"https://evil.example/gate.php"},
  {"type":"x-e","id":"x-e--1","when":"not a time"}
]})";

const std::vector<std::string> kPatterns = {
    "[ipv4-addr:value = '10.1.2.3']",
    "[ipv4-addr:value = '10.1.2.4']",
    "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
    "[ipv4-addr:value ISSUBSET '192.168.0.0/16']",
    "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']",
    "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 443]",
    "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 80]",
    "[network-traffic:protocols[*] = 'tcp']",
    "[network-traffic:is_active = true]",
    "[file:size = 5]",
    "[file:size IN (4, 6)]",
    "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' OR file:name = 'b.exe']",
    "[domain-name:value LIKE '%.example']",
    "[url:value MATCHES '/(gate|beacon)\\\\.php$']",
    "[domain-name:value = 'evil.example'] FOLLOWEDBY [url:value LIKE 'https://evil%']",
    "[url:value LIKE 'https://evil%'] FOLLOWEDBY [domain-name:value = 'evil.example']",
    "[ipv4-addr:value = '10.1.2.3'] AND [domain-name:value = 'evil.example'] WITHIN 60 SECONDS",
    "[ipv4-addr:value = '10.1.2.3'] AND [domain-name:value = 'evil.example'] WITHIN 61 SECONDS",
    "([ipv4-addr:value = '10.1.2.3'] AND [domain-name:value = 'evil.example']) WITHIN 61 SECONDS",
    "[file:name = 'a.exe'] REPEATS 2 TIMES",
    "[file:name = 'a.exe'] REPEATS 3 TIMES",
    "[x-e:when > t'2020-01-01T00:00:00Z']",  // malformed data: a failure for this pattern
    "[ipv4-addr:value = '10.1.2.3']",        // a duplicate: evaluated once
};

PatternSet MakeSet(const std::vector<std::string>& patterns) {
  PatternSet set;
  for (size_t i = 0; i < patterns.size(); ++i) {
    auto n = set.Add(patterns[i]);
    EXPECT_TRUE(n.ok()) << patterns[i] << ": " << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, i);
    }
  }
  return set;
}

TEST(PatternSet, AgreesWithEachPatternOnItsOwn) {
  PatternSet set = MakeSet(kPatterns);
  auto observations = ObservationSet::FromJson(kObservations);
  ASSERT_TRUE(observations.ok()) << observations.status();
  const SetEvaluation indexed = set.Evaluate(*observations);
  const SetEvaluation naive = set.EvaluateEachNaively(*observations);
  ExpectSame(indexed, naive);
  std::vector<size_t> matched;
  for (const PatternMatch& m : indexed.matches) matched.push_back(m.pattern);
  EXPECT_THAT(matched,
              ::testing::ElementsAre(0, 2, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19, 22));
  ASSERT_EQ(indexed.failures.size(), 1u);
  EXPECT_EQ(indexed.failures[0].pattern, 21u);
}

TEST(PatternSet, IndexSparesObservationTests) {
  // 1000 equality patterns on distinct values: each SCO meets at most one of them.
  std::vector<std::string> patterns;
  for (int i = 0; i < 1000; ++i)
    patterns.push_back(absl::StrCat("[ipv4-addr:value = '10.0.", i / 256, ".", i % 256, "']"));
  PatternSet set = MakeSet(patterns);
  auto observations = ObservationSet::FromJson(kObservations);
  ASSERT_TRUE(observations.ok());
  const SetEvaluation indexed = set.Evaluate(*observations);
  EXPECT_LE(indexed.observation_tests, 2u);
  ExpectSame(indexed, set.EvaluateEachNaively(*observations));
}

TEST(PatternSet, NumbersIndexByValue) {
  PatternSet set = MakeSet(
      {"[file:size = 5.0]", "[file:size = 5]", "[file:size IN (5.5, 6)]", "[file:size > 4]"});
  auto observations = ObservationSet::FromJson(kObservations);
  ASSERT_TRUE(observations.ok());
  const SetEvaluation indexed = set.Evaluate(*observations);
  ASSERT_EQ(indexed.matches.size(), 3u);
  ExpectSame(indexed, set.EvaluateEachNaively(*observations));
}

// Found by fuzz/pattern/pattern_set_fuzz.cc: the index followed references inside the
// deprecated `objects` dictionary as if they were object_refs ids.
TEST(PatternSet, FollowsReferencesOfTheLegacyObjectsForm) {
  const char* legacy = R"([{"type":"observed-data","id":"observed-data--1",
      "first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z",
      "number_observed":1,"objects":{"0":{"type":"url","value":"https://a.example/x"},
                                     "1":{"type":"x-e","ref_ref":"0"}}}])";
  PatternSet set = MakeSet({"[x-e:ref_ref.value = 'https://a.example/x']"});
  auto observations = ObservationSet::FromJson(legacy);
  ASSERT_TRUE(observations.ok());
  const SetEvaluation indexed = set.Evaluate(*observations);
  EXPECT_EQ(indexed.matches.size(), 1u);
  ExpectSame(indexed, set.EvaluateEachNaively(*observations));
}

TEST(PatternSet, RejectsInvalidPatternsWithoutAddingThem) {
  PatternSet set;
  EXPECT_FALSE(set.Add("[a:b = ]").ok());
  EXPECT_FALSE(set.Add("[a:b IN (1, 'x')]").ok());
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(*set.Add("[a:b = 1]"), 0u);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(PatternSet, AgreesOnTheBenchmarkWorkload) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "bench" / "pattern-workload";
  PatternSet set = MakeSet(Lines(testing::ReadFileOrDie(dir / "patterns.txt")));
  auto bundle = ReadInput((dir / "bundle.json.gz").string());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto observations = ObservationSet::FromJson(bundle->view());
  ASSERT_TRUE(observations.ok()) << observations.status();
  EXPECT_EQ(observations->size(), 10000u);
  const SetEvaluation indexed = set.Evaluate(*observations);
  ExpectSame(indexed, set.EvaluateEachNaively(*observations));
  EXPECT_GT(indexed.matches.size(), 20u);
  EXPECT_TRUE(indexed.failures.empty());
}

TEST(PatternSet, AgreesOnEveryConformanceCase) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  int compared = 0;
  for (const auto& file :
       testing::FilesUnder(shared / "conformance" / "stix-patterns", {".json"})) {
    auto cases = json::Parse(testing::ReadFileOrDie(file));
    ASSERT_TRUE(cases.ok());
    for (const json::Value& c : cases->as_array()) {
      const json::Value* data = c.Find("observed_data");
      if (data == nullptr) continue;
      PatternSet set;
      if (!set.Add(c.Find("pattern")->as_string()).ok()) continue;
      auto observations = ObservationSet::FromJson(json::Serialize(*data));
      ASSERT_TRUE(observations.ok());
      SCOPED_TRACE(c.Find("id")->as_string());
      ExpectSame(set.Evaluate(*observations), set.EvaluateEachNaively(*observations));
      ++compared;
    }
  }
  EXPECT_GT(compared, 350);
}

}  // namespace
}  // namespace liaison::pattern
