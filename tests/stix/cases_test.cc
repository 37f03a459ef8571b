// Runs every golden case under testdata/stix/cases (format: testdata/stix/cases/README.md).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "core/json.h"
#include "stix/validate.h"
#include "testing/shared_data.h"

namespace liaison::stix {
namespace {

using Expectation = std::pair<std::string, std::string>;  // pointer, rule

std::set<Expectation> ReadExpectations(const json::Value& c, std::string_view key) {
  std::set<Expectation> out;
  const json::Value* list = c.Find(key);
  if (list == nullptr || !list->is_array()) return out;
  for (const json::Value& e : list->as_array()) {
    const json::Value* pointer = e.Find("pointer");
    const json::Value* rule = e.Find("rule");
    out.insert({pointer ? pointer->as_string() : "", rule ? rule->as_string() : ""});
  }
  return out;
}

std::string Describe(const std::set<Expectation>& s) {
  std::string out;
  for (const auto& [p, r] : s) out += "  " + p + " [" + r + "]\n";
  return out.empty() ? "  (none)\n" : out;
}

class CasesTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(CasesTest, ReportsExactlyTheExpectedFindings) {
  const std::string text = testing::ReadFileOrDie(GetParam());
  auto parsed = json::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const json::Value* input = parsed->Find("input");
  ASSERT_NE(input, nullptr) << "case without input";
  const std::string input_text = json::Serialize(*input);

  Validator validator;
  Report report = validator.Validate(input_text);

  std::set<Expectation> errors, warnings;
  std::string all;
  for (const Finding& f : report.findings) {
    (f.severity == Severity::kError ? errors : warnings).insert({f.pointer, f.rule});
    all += "  " + std::string(f.severity == Severity::kError ? "error " : "warning ") + f.pointer +
           " [" + f.rule + "] " + f.message + "\n";
  }
  const std::set<Expectation> want_errors = ReadExpectations(*parsed, "errors");
  const std::set<Expectation> want_warnings = ReadExpectations(*parsed, "warnings");
  EXPECT_EQ(errors, want_errors) << "expected errors:\n"
                                 << Describe(want_errors) << "reported:\n"
                                 << all;
  for (const Expectation& w : want_warnings) {
    EXPECT_TRUE(warnings.contains(w))
        << "missing warning " << w.first << " [" << w.second << "]; reported:\n"
        << all;
  }
}

std::vector<std::filesystem::path> AllCases() {
  return testing::FilesUnder(testing::SourceDir() / "testdata/stix/cases", {".json"});
}

std::string CaseName(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  std::string name =
      info.param.parent_path().filename().string() + "_" + info.param.stem().string();
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Golden, CasesTest, ::testing::ValuesIn(AllCases()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CasesTest);

TEST(Cases, AtLeastOneCaseExists) { EXPECT_FALSE(AllCases().empty()); }

}  // namespace
}  // namespace liaison::stix
