#include "core/json.h"

#include <gtest/gtest.h>

namespace liaison::json {
namespace {

TEST(Json, ParseAndSerializeKeepMemberOrder) {
  auto v = Parse(R"({"b":1,"a":[true,null,"x"],"c":{"d":1.5}})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Serialize(*v), R"({"b":1,"a":[true,null,"x"],"c":{"d":1.5}})");
}

// Found by stix_validate_fuzz: "12.0" serialises as "12", which parses back as an integer.
TEST(Json, NumbersCompareByValueAcrossIntegerAndDouble) {
  auto a = Parse("[12.0]");
  auto b = Parse("[12]");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(Serialize(*a), "[12]");
  EXPECT_NE(*Parse("[12.5]"), *b);
}

TEST(Json, RejectsDuplicateMembersAndMalformedInput) {
  EXPECT_FALSE(Parse(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(Parse(R"({"a":1)").ok());
  EXPECT_FALSE(Parse("[1,]").ok());
}

TEST(Json, DepthIsLimited) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  ParseOptions options;
  options.max_depth = 100;
  EXPECT_FALSE(Parse(deep, options).ok());
}

// RFC 8785 section 3.2.2.3 examples of ECMAScript number serialisation.
TEST(Json, FormatsNumbersAsEcmaScript) {
  EXPECT_EQ(FormatNumber(0.0), "0");
  EXPECT_EQ(FormatNumber(-0.0), "0");
  EXPECT_EQ(FormatNumber(1.0), "1");
  EXPECT_EQ(FormatNumber(-1.5), "-1.5");
  EXPECT_EQ(FormatNumber(1e21), "1e+21");
  EXPECT_EQ(FormatNumber(1e20), "100000000000000000000");
  EXPECT_EQ(FormatNumber(1e-7), "1e-7");
  EXPECT_EQ(FormatNumber(0.000001), "0.000001");
  EXPECT_EQ(FormatNumber(333333333.3333333), "333333333.3333333");
  EXPECT_EQ(FormatNumber(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(FormatNumber(5e-324), "5e-324");
  EXPECT_EQ(FormatNumber(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(FormatNumber(295147905179352830000.0), "295147905179352830000");
}

// Every escape JSON requires, at the start, in the middle and at the end of runs of plain text;
// everything else (DEL, UTF-8) copied as it is; and the result parses back to the input.
TEST(Json, AppendQuotedEscapesExactlyWhatJsonRequires) {
  auto quoted = [](std::string_view s) {
    std::string out = "x";  // appends to what is there
    AppendQuoted(s, out);
    return out;
  };
  EXPECT_EQ(quoted(""), R"(x"")");
  EXPECT_EQ(quoted("indicator--8e2e2d2b"), R"(x"indicator--8e2e2d2b")");
  EXPECT_EQ(quoted("\"a\\b\""), R"(x"\"a\\b\"")");
  EXPECT_EQ(quoted("\b\f\n\r\t"), R"(x"\b\f\n\r\t")");
  EXPECT_EQ(quoted(std::string("a\0b\x1f", 4)), R"(x"a\u0000b\u001f")");
  EXPECT_EQ(quoted("\x7f caf\xc3\xa9"), "x\"\x7f caf\xc3\xa9\"");
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  all += "tail";
  std::string text;
  AppendQuoted("\xc3\xa9 ok " + all.substr(0, 127) + " end", text);
  auto back = Parse(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->as_string(), "\xc3\xa9 ok " + all.substr(0, 127) + " end");
}

TEST(Json, CanonicalizeSortsByUtf16AndEscapesMinimally) {
  auto v =
      Parse(R"({"b":"\u0001\n\"","a":{"z":1,"y":[3,2]},"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3})");
  ASSERT_TRUE(v.ok()) << v.status();
  // U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 although not in UTF-8.
  EXPECT_EQ(Canonicalize(*v),
            "{\"a\":{\"y\":[3,2],\"z\":1},\"b\":\"\\u0001\\n\\\"\",\"\xe2\x82\xac\":1,"
            "\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":3}");
}

}  // namespace
}  // namespace liaison::json
