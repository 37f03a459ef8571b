// Tests of the PCRE-to-RE2 adaptation behind MATCHES (pattern/internal/regex.h).

#include "pattern/internal/regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

namespace liaison::pattern::internal {
namespace {

std::string Translate(std::string_view pcre) {
  auto out = PcreToRe2(pcre);
  EXPECT_TRUE(out.ok()) << pcre << ": " << out.status();
  return out.ok() ? *out : "";
}

bool Search(std::string_view pcre, std::string_view text) {
  auto re = CompileRegex(pcre);
  EXPECT_TRUE(re.ok()) << pcre << ": " << re.status();
  return re.ok() && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), **re);
}

TEST(PatternRegex, KeepsWhatRe2Shares) {
  EXPECT_EQ(Translate("^a+b*?c{2,3}[^x-z]\\d\\w\\b.(?:x|y)(?i)z\\x41\\x{263A}\\p{L}"),
            "^a+b*?c{2,3}[^x-z]\\d\\w\\b.(?:x|y)(?i)z\\x{41}\\x{263A}\\p{L}");
}

TEST(PatternRegex, AdaptsPcreOnlySyntax) {
  EXPECT_EQ(Translate("a$"), "a(?:\\n?\\z)");
  EXPECT_EQ(Translate("a\\Z"), "a(?:\\n?\\z)");
  EXPECT_EQ(Translate("(?<name>a)(?'n2'b)(?P<n3>c)(?#note)"), "(?:a)(?:b)(?:c)");
  EXPECT_EQ(Translate("\\e\\cA\\0\\012\\o{101}"), "\\x{1B}\\x{1}\\x{0}\\x{A}\\x{41}");
  EXPECT_EQ(Translate("\\Qa.b$\\E$"), "a\\.b\\$(?:\\n?\\z)");
  EXPECT_EQ(Translate("[]a]"), "[\\]a]");
  EXPECT_EQ(Translate("a{"), "a\\{");
  EXPECT_EQ(Translate("(?|a|b)"), "(?:a|b)");
}

TEST(PatternRegex, PcreSemanticsHold) {
  EXPECT_TRUE(Search("end$", "the end\n"));
  EXPECT_FALSE(Search("end$", "the end\n\n"));
  EXPECT_TRUE(Search("a.b", "a\nb"));          // DOTALL
  EXPECT_TRUE(Search("\\s", "\x0B"));          // PCRE's \s includes VT
  EXPECT_TRUE(Search("\\h+x", "\xC2\xA0 x"));  // horizontal space
  EXPECT_TRUE(Search("a\\Rb", "a\r\nb"));
  EXPECT_TRUE(Search("[[:digit:]]+", "abc123"));
  EXPECT_TRUE(Search("(?m)^b$", "a\nb\nc"));
  EXPECT_FALSE(Search("^b", "a\nb"));
}

TEST(PatternRegex, RefusesWhatRe2CannotRun) {
  for (const char* pcre :
       {"(a)\\1",   "\\k<n>",    "\\g{1}",    "a(?=b)",    "a(?!b)", "(?<=a)b", "(?<!a)b",
        "(?>ab)",   "a*+",       "a++",       "a?+",       "a{2}+",  "(?R)",    "(?1)",
        "(?&name)", "(?P>name)", "(?P=name)", "(?(1)a|b)", "(?C1)",  "(*FAIL)", "\\G",
        "a\\K",     "\\X",       "(?x)a b",   "[\\V]"}) {
    auto out = PcreToRe2(pcre);
    EXPECT_FALSE(out.ok()) << pcre << " became " << (out.ok() ? *out : "");
  }
}

TEST(PatternRegex, RefusesOversizedPrograms) {
  EXPECT_FALSE(CompileRegex("((a{1000}){1000}){1000}").ok());
  EXPECT_FALSE(CompileRegex(std::string(40 << 10, 'a')).ok());
}

}  // namespace
}  // namespace liaison::pattern::internal
