// ParseOptions::fast_path: the hand-written scanner for `[type:prop = 'text']` must accept only
// what the grammar accepts and build the very same tree, byte offsets included (check.h's
// messages name them), so that CheckPatternText refuses exactly what it refused before. Every
// pattern of the shared test data and of the conformance corpus, plus edge cases written here,
// is parsed both ways and compared.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"
#include "pattern/check.h"
#include "pattern/parse.h"
#include "testing/shared_data.h"

namespace liaison::pattern {
namespace {

// Equality of the trees ignores offsets (ast.h); these compare them as well.
void ExpectSameOffsets(const ComparisonExpression& a, const ComparisonExpression& b,
                       const std::string& text) {
  EXPECT_EQ(a.offset, b.offset) << text;
  if (a.kind == ComparisonExpression::Kind::kComparison) {
    EXPECT_EQ(a.comparison.offset, b.comparison.offset) << text;
    EXPECT_EQ(a.comparison.path.offset, b.comparison.path.offset) << text;
    ASSERT_EQ(a.comparison.constants.size(), b.comparison.constants.size()) << text;
    for (size_t i = 0; i < a.comparison.constants.size(); ++i) {
      EXPECT_EQ(a.comparison.constants[i].offset, b.comparison.constants[i].offset) << text;
    }
  }
  ASSERT_EQ(a.operands.size(), b.operands.size()) << text;
  for (size_t i = 0; i < a.operands.size(); ++i) {
    ExpectSameOffsets(a.operands[i], b.operands[i], text);
  }
}

void ExpectSameOffsets(const ObservationExpression& a, const ObservationExpression& b,
                       const std::string& text) {
  EXPECT_EQ(a.offset, b.offset) << text;
  ASSERT_EQ(a.qualifiers.size(), b.qualifiers.size()) << text;
  for (size_t i = 0; i < a.qualifiers.size(); ++i) {
    EXPECT_EQ(a.qualifiers[i].offset, b.qualifiers[i].offset) << text;
  }
  if (a.kind == ObservationExpression::Kind::kObservation) {
    ExpectSameOffsets(a.comparison, b.comparison, text);
  }
  ASSERT_EQ(a.operands.size(), b.operands.size()) << text;
  for (size_t i = 0; i < a.operands.size(); ++i) {
    ExpectSameOffsets(a.operands[i], b.operands[i], text);
  }
}

std::string FindingsText(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    out += std::to_string(f.offset) + " " + f.rule + " " + f.message + "\n";
  }
  return out;
}

// Parses `text` with and without the fast path and expects the same outcome.
void ExpectSameParse(const std::string& text) {
  auto fast = Parse(text);
  ParseOptions grammar_only;
  grammar_only.fast_path = false;
  auto full = Parse(text, grammar_only);
  ASSERT_EQ(fast.ok(), full.ok()) << text << "\nfast: " << fast.status()
                                  << "\nfull: " << full.status();
  if (!full.ok()) {
    EXPECT_EQ(fast.status().message(), full.status().message()) << text;
    return;
  }
  EXPECT_TRUE(*fast == *full) << text;
  ExpectSameOffsets(fast->root, full->root, text);
  EXPECT_EQ(FindingsText(Check(*fast)), FindingsText(Check(*full))) << text;
}

// Every string value of a "pattern" member anywhere in `value`.
void CollectPatterns(const json::Value& value, std::vector<std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.as_object()) {
      if (key == "pattern" && member.is_string()) out.push_back(member.as_string());
      CollectPatterns(member, out);
    }
  } else if (value.is_array()) {
    for (const json::Value& item : value.as_array()) CollectPatterns(item, out);
  }
}

TEST(FastPath, EdgeCasesParseAsTheGrammarDoes) {
  const char* const cases[] = {
      "[ipv4-addr:value = '10.0.0.1']",
      "[ipv4-addr:value='10.0.0.1']",
      "  [  ipv4-addr  :  value  ==  '10.0.0.1'  ]  ",
      "[file:hashes.'SHA-256' = "
      "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
      "[file:hashes.MD5 != 'd41d8cd98f00b204e9800998ecf8427e']",
      "[file:hashes . MD5 <> 'x']",
      "[file:hashes. MD5 = 'x']",
      "[file:hashes .MD5 = 'x']",
      "[file:'name' = 'x']",
      "[file:name = 'it\\'s \\\\ here']",
      "[file:name = 'bad \\n escape']",
      "[file:name = 'unterminated]",
      "[file:name = '']",
      "[file:name = 'x'",
      "[file:name = 'x']]",
      "[file:name = 'x'] AND [file:name = 'y']",
      "[file:name = 'x'] WITHIN 5 SECONDS",
      "[file:name = 'x' OR file:name = 'y']",
      "[file:name = 'x'] // comment",
      "[file:name /* c */ = 'x']",
      "[file:name\t= 'x']",
      "[file:name = 'caf\xc3\xa9']",
      "[file:name = 'x\xff']",
      "[file:name = 5]",
      "[file:name = true]",
      "[file:name < 'x']",
      "[file:name <= 'x']",
      "[file:name = = 'x']",
      "[file:name === 'x']",
      "[file:name != = 'x']",
      "[file:name NOT = 'x']",
      "[file:name LIKE 'x%']",
      "[file:name MATCHES '^x']",
      "[file:names[0] = 'x']",
      "[file:names[*] = 'x']",
      "[file:needs-quotes = 'x']",
      "[file:name- = 'x']",
      "[x-custom-type:value = 'x']",
      "[x-:value = 'x']",
      "[AND:value = 'x']",
      "[ANDROID:value = 'x']",
      "[file:AND = 'x']",
      "[file:ANDx = 'x']",
      "[file:true = 'x']",
      "[file:name.IN = 'x']",
      "[file:_name = 'x']",
      "[file:9name = 'x']",
      "[9file:name = 'x']",
      "[_file:name = 'x']",
      "[file: = 'x']",
      "[:name = 'x']",
      "[file:name = 'x'] x",
      "[file:name = 'x'",
      "[]",
      "",
      "   ",
      "[file:name]",
      "[file:name =]",
      "[file:name 'x']",
      "[ipv4-addr:value = '999.1.1.1']",
      "[ipv4-addr:value = '10.0.0.0/33']",
      "[ipv6-addr:value = 'not an address']",
      "[file:hashes.'SHA-256' = 'short']",
      "[file:hashes.MD5 = 'zz']",
      "[domain-name:value = 'example.com']",
      "[url:value = 'http://example.com/a?b=c']",
      "[email-addr:value = 'a@example.com']",
      "[file:created = '2020-13-45T00:00:00Z']",
      "[file:size = '12']",
      "[unknown-type:unknown_property = 'x']",
      "[x509-certificate:hashes.'SHA-1' = 'x']",
      "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\System']",
  };
  for (const char* text : cases) ExpectSameParse(text);
}

TEST(FastPath, EveryPatternInTheSharedDataParsesAsTheGrammarDoes) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  std::vector<std::string> patterns;
  for (const char* dir : {"data", "conformance"}) {
    for (const auto& file : testing::FilesUnder(shared / dir, {".json"})) {
      if (std::filesystem::file_size(file) > (8 << 20)) continue;
      auto value = json::Parse(testing::ReadFileOrDie(file));
      if (value.ok()) CollectPatterns(*value, patterns);
    }
  }
  // The data holds some 3,000 indicator patterns and the corpus 528 cases.
  EXPECT_GT(patterns.size(), 2000u);
  for (const std::string& text : patterns) ExpectSameParse(text);
}

}  // namespace
}  // namespace liaison::pattern
