// Tests of pattern/parse.h: the STIX 2.1 grammar (STIXPattern.g4), error offsets, and limits.

#include "pattern/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "pattern/print.h"

namespace liaison::pattern {
namespace {

using ::testing::HasSubstr;

Pattern ParseOrDie(std::string_view text) {
  auto p = Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? *p : Pattern{};
}

// The offset and message of a syntax error.
std::pair<size_t, std::string> ErrorOf(std::string_view text) {
  auto p = Parse(text);
  EXPECT_FALSE(p.ok()) << text << " parsed as " << (p.ok() ? Print(*p) : "");
  if (p.ok()) return {0, ""};
  return {SyntaxErrorOffset(p.status()), std::string(p.status().message())};
}

TEST(PatternParse, SimpleComparison) {
  Pattern p = ParseOrDie("[file:size = 1280]");
  ASSERT_EQ(p.root.kind, ObservationExpression::Kind::kObservation);
  const Comparison& c = p.root.comparison.comparison;
  EXPECT_EQ(c.path.object_type, "file");
  ASSERT_EQ(c.path.steps.size(), 1u);
  EXPECT_EQ(c.path.steps[0].key, "size");
  EXPECT_EQ(c.op, ComparisonOperator::kEqual);
  ASSERT_EQ(c.constants.size(), 1u);
  EXPECT_EQ(c.constants[0].kind, Constant::Kind::kInteger);
  EXPECT_EQ(c.constants[0].integer, 1280);
}

TEST(PatternParse, EveryOperator) {
  for (const char* text : {"[a:b = 1]",
                           "[a:b == 1]",
                           "[a:b != 1]",
                           "[a:b <> 1]",
                           "[a:b < 1]",
                           "[a:b <= 1]",
                           "[a:b > 1]",
                           "[a:b >= 1]",
                           "[a:b IN (1, 2)]",
                           "[a:b IN ()]",
                           "[a:b LIKE 'x%']",
                           "[a:b MATCHES '^x$']",
                           "[a:b ISSUBSET '10.0.0.0/8']",
                           "[a:b ISSUPERSET '10.0.0.1']",
                           "[EXISTS a:b]",
                           "[NOT EXISTS a:b]",
                           "[a:b NOT = 1]",
                           "[a:b NOT IN ('x')]",
                           "[a:b NOT LIKE 'x']",
                           "[a:b NOT MATCHES 'x']",
                           "[a:b NOT ISSUBSET '::/0']"}) {
    ParseOrDie(text);
  }
}

TEST(PatternParse, EveryConstant) {
  Pattern p = ParseOrDie(
      "[a:b IN (1, -2, +3, 1.5, -.5, +0.25, 'its', true, false)] OR [a:c = h'00ff'] OR "
      "[a:d = b'AQIDBA=='] OR [a:e = t'2016-06-01T00:00:00.123456789Z']");
  ASSERT_EQ(p.root.kind, ObservationExpression::Kind::kOr);
  ASSERT_EQ(p.root.operands.size(), 4u);
  // Two quotes in a row are two strings, not an escape.
  ErrorOf("[a:b = 'it''s']");
  Pattern q = ParseOrDie(R"([a:b = 'it\'s \\ here'])");
  EXPECT_EQ(q.root.comparison.comparison.constants[0].text, "it's \\ here");
}

TEST(PatternParse, StringEscapesOnlyQuoteAndBackslash) {
  auto [offset, message] = ErrorOf(R"([a:b = 'a\d'])");
  EXPECT_EQ(offset, 9u);
  EXPECT_THAT(message, HasSubstr("only escapes"));
}

TEST(PatternParse, NumbersAsTheGrammarReadsThem) {
  EXPECT_EQ(ParseOrDie("[a:b = -0]").root.comparison.comparison.constants[0].integer, 0);
  EXPECT_EQ(ParseOrDie("[a:b = .5]").root.comparison.comparison.constants[0].floating, 0.5);
  EXPECT_EQ(
      ParseOrDie("[a:b = -9223372036854775808]").root.comparison.comparison.constants[0].integer,
      INT64_MIN);
  ErrorOf("[a:b = 9223372036854775808]");  // out of int64
  ErrorOf("[a:b = 01]");                   // no leading zeros
  ErrorOf("[a:b = 1.]");                   // a float needs digits after the point
  ErrorOf("[a:b = 1e5]");                  // no exponents
  ErrorOf("[a:b = - 1]");
}

TEST(PatternParse, ObjectPaths) {
  Pattern p = ParseOrDie(
      "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0 AND "
      "x-a:'has.dot'[0][-1].b_refs[*].c = 1]");
  const auto& and_node = p.root.comparison;
  ASSERT_EQ(and_node.kind, ComparisonExpression::Kind::kAnd);
  const ObjectPath& first = and_node.operands[0].comparison.path;
  ASSERT_EQ(first.steps.size(), 5u);
  EXPECT_EQ(first.steps[1].key, "windows-pebinary-ext");
  EXPECT_EQ(first.steps[3].kind, PathStep::Kind::kAnyIndex);
  const ObjectPath& second = and_node.operands[1].comparison.path;
  EXPECT_EQ(second.object_type, "x-a");
  EXPECT_EQ(second.steps[0].key, "has.dot");
  EXPECT_EQ(second.steps[2].index, -1);
}

TEST(PatternParse, HyphenatedPropertyNamesNeedQuotes) {
  auto [offset, message] = ErrorOf("[some-type:needs-quotes = 1]");
  EXPECT_EQ(offset, 11u);
  EXPECT_THAT(message, HasSubstr("quote"));
  ParseOrDie("[some-type:'needs-quotes' = 1]");
}

TEST(PatternParse, KeywordsAreReservedAndCaseSensitive) {
  ErrorOf("[a:AND = 1]");
  ErrorOf("[a:LAST = 1]");
  ParseOrDie("[a:ANDROID = 1]");
  ParseOrDie("[a:'AND' = 1]");
  ErrorOf("[a:b = 1] and [a:c = 2]");
  ErrorOf("[a:b = 1] within 2 seconds");
  ErrorOf("[a:b = TRUE]");
  ErrorOf("[a:bLIKE 'x']");
}

TEST(PatternParse, PrecedenceOfObservationOperators) {
  // AND binds tighter than OR, which binds tighter than FOLLOWEDBY (section 9.5.3).
  Pattern p = ParseOrDie("[a:b=1] OR [a:b=2] AND [a:b=3] FOLLOWEDBY [a:b=4]");
  ASSERT_EQ(p.root.kind, ObservationExpression::Kind::kFollowedBy);
  ASSERT_EQ(p.root.operands[0].kind, ObservationExpression::Kind::kOr);
  EXPECT_EQ(p.root.operands[0].operands[1].kind, ObservationExpression::Kind::kAnd);
}

TEST(PatternParse, PrecedenceOfComparisonOperators) {
  Pattern p = ParseOrDie("[a:b=1 OR a:b=2 AND a:b=3]");
  ASSERT_EQ(p.root.comparison.kind, ComparisonExpression::Kind::kOr);
  EXPECT_EQ(p.root.comparison.operands[1].kind, ComparisonExpression::Kind::kAnd);
}

TEST(PatternParse, QualifiersAttachToThePrecedingExpression) {
  // Section 9.5.2: qualifiers are not greedy.
  Pattern p = ParseOrDie("[a:b=1] FOLLOWEDBY [a:c=2] REPEATS 5 TIMES WITHIN 10.5 SECONDS");
  ASSERT_EQ(p.root.kind, ObservationExpression::Kind::kFollowedBy);
  EXPECT_TRUE(p.root.operands[0].qualifiers.empty());
  ASSERT_EQ(p.root.operands[1].qualifiers.size(), 2u);
  EXPECT_EQ(p.root.operands[1].qualifiers[0].times, 5);
  EXPECT_EQ(p.root.operands[1].qualifiers[1].seconds, 10.5);
  Pattern q = ParseOrDie(
      "([a:b=1] AND [a:c=2]) START t'2016-01-01T00:00:00Z' STOP t'2016-02-01T00:00:00Z'");
  ASSERT_EQ(q.root.kind, ObservationExpression::Kind::kGroup);
  ASSERT_EQ(q.root.qualifiers.size(), 1u);
  EXPECT_EQ(q.root.qualifiers[0].start, "2016-01-01T00:00:00Z");
}

TEST(PatternParse, WhitespaceAndComments) {
  // Section 9.4: any Unicode whitespace, in any amount; STIXPattern.g4 skips comments too.
  Pattern a = ParseOrDie("[file:name='x']");
  Pattern b =
      ParseOrDie("\xE2\x80\x83[ file\t:\nname /* c */ = // line\n 'x' ]\xE3\x80\x80\xC2\xA0");
  EXPECT_EQ(a, b);
}

TEST(PatternParse, ErrorsNameOffsetAndExpectation) {
  struct Case {
    const char* text;
    size_t offset;
    const char* expected;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"file:size = 1280", 0, "observation expression"},
           {"[file:size = ]", 13, "constant"},
           {"[file.size = 1280]", 5, "':'"},
           {"[file:name MATCHES /.*\\.dll/]", 19, "'string'"},
           {"[a:b = 1] WITHIN ]", 17, "seconds"},
           {"[a:b = 1] WITHIN 5 HOURS", 19, "SECONDS"},
           {"[a:b = 1] WITHIN -5 SECONDS", 17, "positive"},
           {"[a:b = 1] REPEATS 2", 19, "TIMES"},
           {"[a:b = 1] START t'2016-01-01T00:00:00Z'", 39, "STOP"},
           {"[a:b =? 'x']", 6, "constant"},
           {"[a:b = t'2016-13-01T00:00:00Z']", 7, "constant"},
           {"[a:b = b'====']", 7, "constant"},
           {"[a:b = 1] [a:c = 2]", 10, "end of the pattern"},
           {"[a:b = 1", 8, "']'"},
           {"[a:b IN (1, )]", 12, "constant"},
           {"[a:b = null]", 7, "constant"},
       }) {
    SCOPED_TRACE(c.text);
    auto [offset, message] = ErrorOf(c.text);
    EXPECT_EQ(offset, c.offset) << message;
    EXPECT_THAT(message, HasSubstr(c.expected));
  }
}

TEST(PatternParse, BinaryConstantsIgnoreLineFeeds) {
  // Section 9.2: "Line feeds in the base64 encoded data MUST be supported and ignored".
  Pattern p = ParseOrDie("[artifact:payload_bin = b'AQID\nBA==']");
  EXPECT_EQ(p.root.comparison.comparison.constants[0].text, "AQIDBA==");
  ErrorOf("[artifact:payload_bin = b'AQIDB']");
}

TEST(PatternParse, TimestampLiteralsFollowTheGrammar) {
  ParseOrDie("[a:b = t'2016-06-01T00:00:60Z']");  // a leap second
  ErrorOf("[a:b = t'2016-06-01T00:00:61Z']");
  ErrorOf("[a:b = t'2016-06-01t00:00:00Z']");
  ErrorOf("[a:b = t'2016-06-01T00:00:00z']");
  ErrorOf("[a:b = t'2016-06-01T00:00:00']");
  ErrorOf("[a:b = t'2016-06-01T00:00:00+01:00']");
}

TEST(PatternParse, RejectsDeepNesting) {
  std::string deep(100, '(');
  deep += "[a:b = 1]";
  deep += std::string(100, ')');
  auto [offset, message] = ErrorOf(deep);
  EXPECT_EQ(offset, 64u);
  EXPECT_THAT(message, HasSubstr("nesting"));
  // Brackets inside strings do not count.
  ParseOrDie("[a:b = '" + std::string(1000, '(') + "']");
}

TEST(PatternParse, RejectsOverlongInput) {
  std::string text = "[a:b = '" + std::string(2 << 20, 'x') + "']";
  auto [offset, message] = ErrorOf(text);
  EXPECT_THAT(message, HasSubstr("longer"));
}

TEST(PatternParse, LongChainsAreFlat) {
  std::string text = "[a:b = 0]";
  for (int i = 1; i < 20000; ++i) text += " OR [a:b = " + std::to_string(i) + "]";
  Pattern p = ParseOrDie(text);
  EXPECT_EQ(p.root.operands.size(), 20000u);
}

TEST(PatternParse, RejectsInvalidUtf8) {
  auto [offset, message] = ErrorOf("[a:b = '\xC0\x80']");
  EXPECT_EQ(offset, 8u);
  EXPECT_THAT(message, HasSubstr("UTF-8"));
}

TEST(PatternParse, KeepsParenthesesAndQualifierPlacement) {
  EXPECT_NE(ParseOrDie("[a:b=1] WITHIN 5 SECONDS"), ParseOrDie("([a:b=1]) WITHIN 5 SECONDS"));
  EXPECT_EQ(ParseOrDie("[a:b=1] WITHIN 5 SECONDS"), ParseOrDie("[a:b=1] WITHIN 5.0 SECONDS"));
  EXPECT_EQ(ParseOrDie("[a:b == +5]"), ParseOrDie("[a:'b' = 5]"));
}

}  // namespace
}  // namespace liaison::pattern
