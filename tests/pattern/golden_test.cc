// Runs testdata/pattern/cases.json: evaluation cases written from the STIX 2.1 text for what the
// upstream corpus does not settle (see testdata/pattern/README.md).

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/json.h"
#include "pattern/evaluate.h"
#include "pattern/parse.h"
#include "testing/shared_data.h"

namespace liaison::pattern {
namespace {

TEST(PatternGolden, EveryCaseHolds) {
  const auto file = testing::SourceDir() / "testdata" / "pattern" / "cases.json";
  auto cases = json::Parse(testing::ReadFileOrDie(file));
  ASSERT_TRUE(cases.ok()) << cases.status();
  int run = 0;
  for (const json::Value& c : cases->as_array()) {
    const std::string id = c.Find("id")->as_string();
    const std::string text = c.Find("pattern")->as_string();
    SCOPED_TRACE(id + " (" + c.Find("clause")->as_string() + "): " + text);
    const json::Value& expect = *c.Find("expect");
    auto observations = ObservationSet::FromJson(json::Serialize(*c.Find("observed_data")));
    ASSERT_TRUE(observations.ok()) << observations.status();
    auto pattern = Parse(text);
    Result<EvaluationResult> result = pattern.ok() ? Evaluate(*pattern, *observations)
                                                   : Result<EvaluationResult>(pattern.status());
    ++run;
    if (expect.is_string()) {
      EXPECT_FALSE(result.ok());
      continue;
    }
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->matched, expect.as_bool());
    if (const json::Value* ids = c.Find("expect_matched_ids")) {
      std::vector<std::string> want;
      for (const json::Value& v : ids->as_array()) want.push_back(v.as_string());
      std::vector<std::string> got = result->ObservedDataIds();
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want);
    }
  }
  EXPECT_GE(run, 30);
}

}  // namespace
}  // namespace liaison::pattern
