// Tests of pattern/check.h: the static rules of STIX 2.1 section 9 and the naming rules of
// section 11.

#include "pattern/check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pattern/parse.h"

namespace liaison::pattern {
namespace {

using ::testing::IsEmpty;

std::vector<Finding> CheckText(std::string_view text) {
  auto p = Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? Check(*p) : std::vector<Finding>{};
}

std::vector<std::string> Rules(const std::vector<Finding>& findings, Severity severity) {
  std::vector<std::string> out;
  for (const Finding& f : findings) {
    if (f.severity == severity) out.push_back(f.rule);
  }
  return out;
}

std::vector<std::string> Errors(std::string_view text) {
  return Rules(CheckText(text), Severity::kError);
}
std::vector<std::string> Warnings(std::string_view text) {
  return Rules(CheckText(text), Severity::kWarning);
}

TEST(PatternCheck, CleanPatternsHaveNoFindings) {
  for (const char* text : {
           "[file:hashes.'SHA-256' = "
           "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
           "[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8' AND network-traffic:dst_port = "
           "443]",
           "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND "
           "email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
           "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
           "[domain-name:resolves_to_refs[*].value = '198.51.100.1']",
           "[ipv6-addr:value ISSUPERSET '2001:db8::/64']",
           "([file:name = 'a'] FOLLOWEDBY [process:command_line LIKE '%x%']) WITHIN 60 SECONDS",
           "[file:ctime = t'2014-01-13T07:03:17Z'] START t'2014-01-01T00:00:00Z' STOP "
           "t'2015-01-01T00:00:00Z'",
       }) {
    EXPECT_THAT(CheckText(text), IsEmpty()) << text;
  }
}

TEST(PatternCheck, HashValuesMustHaveTheAlgorithmsForm) {
  EXPECT_THAT(Errors("[file:hashes.'SHA-256' = 'f00']"), ::testing::ElementsAre("hash-value"));
  EXPECT_THAT(Errors("[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f', 'xyz')]"),
              ::testing::ElementsAre("hash-value"));
  EXPECT_THAT(Errors("[file:hashes.sha1 = 'cead3f77f6cda6ec00f57d76c9a6879f']"),
              ::testing::ElementsAre("hash-value"));
  EXPECT_THAT(Errors("[file:hashes.MD5 LIKE 'cead%']"), IsEmpty());
  EXPECT_THAT(Errors("[file:hashes.'x-custom' = 'anything']"), IsEmpty());
}

TEST(PatternCheck, DuplicateQualifiers) {
  // Section 9.5.1: no two qualifiers of one type on one observation expression.
  EXPECT_THAT(Errors("[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS"),
              ::testing::ElementsAre("duplicate-qualifier"));
  EXPECT_THAT(Errors("[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES"),
              ::testing::ElementsAre("duplicate-qualifier"));
  // On a parenthesised group the reference validator accepts it: a warning here.
  EXPECT_THAT(Errors("([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS"), IsEmpty());
  EXPECT_THAT(Warnings("([a:xyz = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS"),
              ::testing::Contains("duplicate-qualifier"));
  EXPECT_THAT(Errors("([a:b = 1] REPEATS 2 TIMES) REPEATS 2 TIMES"), IsEmpty());
}

TEST(PatternCheck, QualifierValues) {
  EXPECT_THAT(Errors("[a:b = 1] WITHIN 0 SECONDS"), ::testing::ElementsAre("within"));
  EXPECT_THAT(Errors("[a:b = 1] REPEATS 0 TIMES"), ::testing::ElementsAre("repeats"));
  EXPECT_THAT(Warnings("[file:name = 'x'] START t'2016-01-02T00:00:00Z' STOP "
                       "t'2016-01-01T00:00:00Z'"),
              ::testing::ElementsAre("start-stop"));
  EXPECT_THAT(Errors("[file:name = 'x'] START t'2016-02-30T00:00:00Z' STOP "
                     "t'2016-03-01T00:00:00Z'"),
              ::testing::ElementsAre("timestamp"));
}

TEST(PatternCheck, TimestampsMustExist) {
  EXPECT_THAT(Errors("[file:ctime = t'2023-02-29T00:00:00Z']"),
              ::testing::ElementsAre("timestamp"));
  EXPECT_THAT(Errors("[file:ctime = t'2024-02-29T00:00:00Z']"), IsEmpty());
}

TEST(PatternCheck, SetsMustBeHomogeneous) {
  EXPECT_THAT(Errors("[file:size IN (1, 'x')]"), ::testing::ElementsAre("set-type"));
  EXPECT_THAT(Errors("[file:size IN (1, 2.5)]"), IsEmpty());
  EXPECT_THAT(Errors("[file:magic_number_hex IN (h'00', b'AAAA')]"), IsEmpty());
}

TEST(PatternCheck, RegularExpressionsMustRunOnRe2) {
  EXPECT_THAT(Errors("[file:name MATCHES '(a)\\\\1']"), ::testing::ElementsAre("regex"));
  EXPECT_THAT(Errors("[file:name MATCHES '(?=x)']"), ::testing::ElementsAre("regex"));
  EXPECT_THAT(Errors("[file:name MATCHES '[a-']"), ::testing::ElementsAre("regex"));
  EXPECT_THAT(Errors("[file:name MATCHES '^\\\\w+\\\\.exe\\\\Z']"), IsEmpty());
}

TEST(PatternCheck, ObjectTypesAndProperties) {
  EXPECT_THAT(Warnings("[x-acme-widget:size = 1]"), ::testing::ElementsAre("custom-object-type"));
  EXPECT_THAT(Warnings("[Bad_Type:name = 'x']"), ::testing::ElementsAre("custom-object-type"));
  EXPECT_THAT(Warnings("[indicator:name = 'x']"), ::testing::ElementsAre("object-type"));
  EXPECT_THAT(Warnings("[file:x_acme_score = 1]"), ::testing::ElementsAre("custom-property"));
  EXPECT_THAT(Warnings("[file:Score = 1]"), ::testing::ElementsAre("custom-property"));
  EXPECT_THAT(Warnings("[network-traffic:dst_ref.nope = 1]"),
              ::testing::ElementsAre("custom-property"));
  EXPECT_THAT(Warnings("[file:extensions.'tcp-ext'.src_flags_hex = h'00']"),
              ::testing::ElementsAre("extension"));
}

TEST(PatternCheck, ConstantTypesAgainstProperties) {
  EXPECT_THAT(Warnings("[file:size = '1280']"), ::testing::ElementsAre("type-mismatch"));
  EXPECT_THAT(Warnings("[file:name = 5]"), ::testing::ElementsAre("type-mismatch"));
  EXPECT_THAT(Warnings("[file:ctime = '2016-01-01T00:00:00Z']"),
              ::testing::ElementsAre("type-mismatch"));
  EXPECT_THAT(Warnings("[file:size LIKE '1%']"), ::testing::ElementsAre("type-mismatch"));
  EXPECT_THAT(Warnings("[file:name = h'414243']"), IsEmpty());  // section 9.2: hex ~ string
  EXPECT_THAT(Warnings("[network-traffic:protocols = 'tcp']"),
              ::testing::ElementsAre("list-index"));
  EXPECT_THAT(Warnings("[network-traffic:protocols[*] = 'tcp']"), IsEmpty());
  EXPECT_THAT(Warnings("[file:hashes = 'x']"), ::testing::ElementsAre("type-mismatch"));
}

TEST(PatternCheck, AndAcrossObjectTypesNeverMatches) {
  // Section 9.5: "All operands of AND in an Observation Expression MUST be satisfiable with the
  // same object".
  EXPECT_THAT(Warnings("[file:name = 'a' AND process:command_line = 'b']"),
              ::testing::ElementsAre("and-object-types"));
  EXPECT_THAT(Warnings("[(file:name = 'a' OR process:command_line = 'b') AND file:size = 1]"),
              IsEmpty());
}

TEST(PatternCheck, IpOperators) {
  EXPECT_THAT(Warnings("[ipv4-addr:value ISSUBSET '1234']"), ::testing::ElementsAre("ip-constant"));
  EXPECT_THAT(Warnings("[ipv4-addr:value ISSUBSET '2001:db8::/32']"),
              ::testing::ElementsAre("ip-constant"));
  EXPECT_THAT(Warnings("[file:name ISSUBSET '10.0.0.0/8']"), ::testing::ElementsAre("ip-operator"));
}

TEST(PatternCheck, OffsetsPointAtTheProblem) {
  std::vector<Finding> f = CheckText("[file:size = 1] AND [file:hashes.MD5 = 'bad']");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].offset, 39u);
  EXPECT_EQ(f[0].message, "'bad' is not a valid MD5 hash");
}

TEST(PatternCheck, WarningsCanBeTurnedOff) {
  auto p = Parse("[x:y = 1]");
  ASSERT_TRUE(p.ok());
  CheckOptions options;
  options.warnings = false;
  EXPECT_THAT(Check(*p, options), IsEmpty());
}

// The checker passed to stix::ValidateOptions::check_pattern: "" for a valid pattern, the first
// syntax error or error finding otherwise; warnings do not refuse.
TEST(PatternCheck, CheckPatternTextForTheValidator) {
  EXPECT_EQ(CheckPatternText("[ipv4-addr:value = '203.0.113.1']"), "");
  EXPECT_EQ(CheckPatternText("[x-custom:value = 'a']"), "");  // a warning only
  EXPECT_THAT(CheckPatternText("[ipv4-addr:value = "), ::testing::StartsWith("offset "));
  EXPECT_THAT(
      CheckPatternText("[file:hashes.MD5 = 'not-a-hash']"),
      ::testing::AllOf(::testing::StartsWith("offset "), ::testing::EndsWith("(hash-value)")));
}

}  // namespace
}  // namespace liaison::pattern
