// Tests of pattern/print.h: canonical text, and Parse(Print(p)) == p.

#include "pattern/print.h"

#include <gtest/gtest.h>

#include <string>

#include "pattern/parse.h"

namespace liaison::pattern {
namespace {

std::string Canonical(std::string_view text) {
  auto p = Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  if (!p.ok()) return "";
  const std::string printed = Print(*p);
  auto again = Parse(printed);
  EXPECT_TRUE(again.ok()) << printed << ": " << again.status();
  if (again.ok()) {
    EXPECT_EQ(*again, *p) << text << " printed as " << printed;
  }
  return printed;
}

TEST(PatternPrint, CanonicalSpacingAndOperators) {
  EXPECT_EQ(Canonical("[file:size==1280]"), "[file:size = 1280]");
  EXPECT_EQ(Canonical("[a:b<>1]"), "[a:b != 1]");
  EXPECT_EQ(Canonical("[a:b NOT   IN(1,2)]"), "[a:b NOT IN (1, 2)]");
  EXPECT_EQ(Canonical("[NOT EXISTS a:b]"), "[NOT EXISTS a:b]");
  EXPECT_EQ(Canonical("( [a:b=1] AND [a:c=2] )WITHIN 300 SECONDS"),
            "([a:b = 1] AND [a:c = 2]) WITHIN 300 SECONDS");
  EXPECT_EQ(Canonical("[a:b=1]REPEATS +5 TIMES START t'2016-01-01T00:00:00Z' STOP "
                      "t'2017-01-01T00:00:00.5Z'"),
            "[a:b = 1] REPEATS 5 TIMES START t'2016-01-01T00:00:00Z' STOP "
            "t'2017-01-01T00:00:00.5Z'");
}

TEST(PatternPrint, NumbersStayTheirType) {
  EXPECT_EQ(Canonical("[a:b = 5.0]"), "[a:b = 5.0]");
  EXPECT_EQ(Canonical("[a:b = -.5]"), "[a:b = -0.5]");
  EXPECT_EQ(Canonical("[a:b = 0.0000001]"), "[a:b = 0.0000001]");
  EXPECT_EQ(Canonical("[a:b = 123456789012345678901234567890.0]"),
            "[a:b = 123456789012345677877719597056.0]");
  EXPECT_EQ(Canonical("[a:b = +7]"), "[a:b = 7]");
  EXPECT_EQ(Canonical("[a:b = 1] WITHIN .0001 SECONDS"), "[a:b = 1] WITHIN 0.0001 SECONDS");
}

TEST(PatternPrint, QuotesNamesOnlyWhenNeeded) {
  EXPECT_EQ(Canonical("[file:'name' = 'x']"), "[file:name = 'x']");
  EXPECT_EQ(Canonical("[file:hashes.'SHA-256' = 'x']"), "[file:hashes.'SHA-256' = 'x']");
  EXPECT_EQ(Canonical("[x:'AND'.'it\\'s' = 1]"), "[x:'AND'.'it\\'s' = 1]");
  EXPECT_EQ(Canonical("[x:a[*][0][-1].''= 1]"), "[x:a[*][0][-1].'' = 1]");
}

TEST(PatternPrint, EscapesStrings) {
  EXPECT_EQ(Canonical(R"([a:b = 'C:\\Windows\\it\'s'])"), R"([a:b = 'C:\\Windows\\it\'s'])");
  EXPECT_EQ(Canonical("[a:b = 'line\nbreak']"), "[a:b = 'line\nbreak']");
}

TEST(PatternPrint, DropsCommentsAndKeepsConstantsVerbatim) {
  EXPECT_EQ(Canonical("[a:b /* x */ = h'00FF'] // trailing"), "[a:b = h'00FF']");
  EXPECT_EQ(Canonical("[a:b = b'AQID\nBA==']"), "[a:b = b'AQIDBA==']");
}

TEST(PatternPrint, ParenthesesSurvive) {
  EXPECT_EQ(Canonical("[(a:b = 1 OR a:b = 2) AND a:c = 3]"), "[(a:b = 1 OR a:b = 2) AND a:c = 3]");
  EXPECT_EQ(Canonical("(([a:b = 1]))"), "(([a:b = 1]))");
  EXPECT_EQ(Canonical("[a:b=1] FOLLOWEDBY ([a:b=2] FOLLOWEDBY [a:b=3])"),
            "[a:b = 1] FOLLOWEDBY ([a:b = 2] FOLLOWEDBY [a:b = 3])");
}

}  // namespace
}  // namespace liaison::pattern
