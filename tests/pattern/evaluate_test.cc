// Tests of pattern/evaluate.h: the semantics of STIX 2.1 section 9 on observed-data, including
// what the conformance corpus does not settle (IPv6, EXISTS, regular-expression flavour, LIKE
// over newlines, sub-microsecond timestamps, the deprecated `objects` form) and hostile input.

#include "pattern/evaluate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "pattern/parse.h"

namespace liaison::pattern {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An observed-data at `first`..`last` (seconds after 2020-01-01T00:00:00Z) observing `refs`.
std::string Od(const std::string& id, int first, int last, int64_t count,
               const std::vector<std::string>& refs) {
  auto time = [](int s) {
    return absl::StrCat("\"2020-01-01T", s / 3600 < 10 ? "0" : "", s / 3600, ":",
                        s / 60 % 60 < 10 ? "0" : "", s / 60 % 60, ":", s % 60 < 10 ? "0" : "",
                        s % 60, "Z\"");
  };
  std::string list;
  for (const std::string& r : refs) absl::StrAppend(&list, list.empty() ? "" : ",", "\"", r, "\"");
  return absl::StrCat(R"({"type":"observed-data","id":"observed-data--)", id,
                      R"(","first_observed":)", time(first), R"(,"last_observed":)", time(last),
                      R"(,"number_observed":)", count, R"(,"object_refs":[)", list, "]}");
}

std::string Bundle(const std::vector<std::string>& objects) {
  std::string out = R"({"type":"bundle","id":"bundle--1","objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) absl::StrAppend(&out, i ? "," : "", objects[i]);
  return out + "]}";
}

// One observed-data observing one SCO.
std::string One(const std::string& sco_json) {
  std::string id;
  const size_t at = sco_json.find("\"id\":\"");
  id = sco_json.substr(at + 6, sco_json.find('"', at + 6) - at - 6);
  return Bundle({Od("1", 0, 0, 1, {id}), sco_json});
}

Result<EvaluationResult> Eval(std::string_view pattern, const std::string& json,
                              const EvaluateOptions& options = {}) {
  auto p = Parse(pattern);
  if (!p.ok()) return p.status();
  auto set = ObservationSet::FromJson(json);
  if (!set.ok()) return set.status();
  return Evaluate(*p, *set, options);
}

bool Matches(std::string_view pattern, const std::string& json) {
  auto r = Eval(pattern, json);
  EXPECT_TRUE(r.ok()) << pattern << ": " << r.status();
  return r.ok() && r->matched;
}

const std::string kIpv6 = One(R"({"type":"ipv6-addr","id":"ipv6-addr--1","value":"2001:db8::1"})");
const std::string kIpv6Net = One(
    R"({"type":"ipv6-addr","id":"ipv6-addr--1","value":"2001:0db8:0001:0000:0000:0000:0000:0000/48"})");
const std::string kIpv4 = One(R"({"type":"ipv4-addr","id":"ipv4-addr--1","value":"198.51.100.7"})");

TEST(PatternEvaluate, IsSubsetAndIsSupersetOnIpv6) {
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUBSET '2001:db8::/32']", kIpv6));
  EXPECT_TRUE(
      Matches("[ipv6-addr:value ISSUBSET '2001:0db8:0000:0000:0000:0000:0000:0001']", kIpv6));
  EXPECT_FALSE(Matches("[ipv6-addr:value ISSUBSET '2001:db9::/32']", kIpv6));
  EXPECT_TRUE(Matches("[ipv6-addr:value NOT ISSUBSET '2001:db9::/32']", kIpv6));
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUBSET '2001:db8::/32']", kIpv6Net));
  EXPECT_FALSE(Matches("[ipv6-addr:value ISSUBSET '2001:db8:1:2::/64']", kIpv6Net));
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUPERSET '2001:db8:1:2::/64']", kIpv6Net));
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUPERSET '2001:db8:1::/48']", kIpv6Net));
  EXPECT_FALSE(Matches("[ipv6-addr:value ISSUPERSET '2001:db8::/32']", kIpv6Net));
  // Families do not mix.
  EXPECT_FALSE(Matches("[ipv6-addr:value ISSUBSET '0.0.0.0/0']", kIpv6));
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUBSET '::/0']", kIpv6));
  const std::string mapped =
      One(R"({"type":"ipv6-addr","id":"ipv6-addr--1","value":"::ffff:192.0.2.1"})");
  EXPECT_TRUE(Matches("[ipv6-addr:value ISSUBSET '::ffff:0:0/96']", mapped));
}

TEST(PatternEvaluate, IsSubsetAndIsSupersetOnIpv4) {
  // Section 9.6.1's examples, and identical blocks both ways.
  const std::string net =
      One(R"({"type":"ipv4-addr","id":"ipv4-addr--1","value":"198.51.100.0/27"})");
  EXPECT_TRUE(Matches("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", net));
  EXPECT_TRUE(Matches("[ipv4-addr:value ISSUPERSET '198.51.100.0/27']", net));
  EXPECT_TRUE(Matches("[ipv4-addr:value ISSUBSET '198.51.100.0/27']", net));
  EXPECT_TRUE(Matches("[ipv4-addr:value ISSUBSET '198.51.100.9/24']", kIpv4));  // host bits
  EXPECT_TRUE(Matches("[ipv4-addr:value ISSUPERSET '198.51.100.7']", kIpv4));
  EXPECT_FALSE(Matches("[ipv4-addr:value ISSUBSET 'not an address']", kIpv4));
  EXPECT_FALSE(Matches("[ipv4-addr:value NOT ISSUBSET 'not an address']", kIpv4));
}

TEST(PatternEvaluate, Exists) {
  const std::string file =
      One(R"({"type":"file","id":"file--1","name":"a","hashes":{"MD5":"x"},"size":null})");
  EXPECT_TRUE(Matches("[EXISTS file:name]", file));
  EXPECT_TRUE(Matches("[EXISTS file:hashes.MD5]", file));
  EXPECT_TRUE(Matches("[EXISTS file:size]", file));
  EXPECT_FALSE(Matches("[EXISTS file:hashes.SHA1]", file));
  EXPECT_TRUE(Matches("[NOT EXISTS file:hashes.SHA1]", file));
  EXPECT_FALSE(Matches("[NOT EXISTS file:name]", file));
  // A path that starts at another type of object holds for nothing, NOT or not.
  EXPECT_FALSE(Matches("[NOT EXISTS process:name]", file));
  EXPECT_TRUE(Matches("[EXISTS file:name AND file:name = 'a']", file));
}

TEST(PatternEvaluate, LikeIsSqlLike) {
  const std::string s = One(
      R"({"type":"x-t","id":"x-t--1","v":"line one\nline two","u":"caf\u00e9","p":"100%_\\ok"})");
  EXPECT_TRUE(Matches("[x-t:v LIKE 'line%two']", s));  // % crosses line feeds
  EXPECT_TRUE(Matches("[x-t:v LIKE 'line one_line two']", s));
  EXPECT_TRUE(Matches("[x-t:v LIKE '%']", s));
  EXPECT_FALSE(Matches("[x-t:v LIKE 'LINE%']", s));  // case matters
  EXPECT_FALSE(Matches("[x-t:v LIKE 'line']", s));   // the whole value, not a part
  EXPECT_TRUE(Matches("[x-t:u LIKE 'caf_']", s));    // _ is one code point, not one byte
  EXPECT_FALSE(Matches("[x-t:u LIKE 'caf__']", s));
  EXPECT_TRUE(Matches("[x-t:u LIKE 'cafe\u0301']", s));   // NFC on both sides (section 9.6.2)
  EXPECT_TRUE(Matches(R"([x-t:p LIKE '100%\\ok'])", s));  // no escape character in LIKE
  EXPECT_TRUE(Matches("[x-t:p LIKE '%_%']", s));
  EXPECT_TRUE(Matches("[x-t:v LIKE '%one%tw_']", s));
}

TEST(PatternEvaluate, MatchesIsPcreSearchWithDotall) {
  const std::string s =
      One(R"({"type":"x-t","id":"x-t--1","v":"first\nsecond\n","w":"C:\\Windows\\cmd.exe"})");
  EXPECT_TRUE(Matches("[x-t:v MATCHES 'st.se']", s));        // DOTALL, and search
  EXPECT_TRUE(Matches("[x-t:v MATCHES 'second$']", s));      // $ before a final newline
  EXPECT_TRUE(Matches("[x-t:v MATCHES 'second\\\\Z']", s));  // \Z likewise
  EXPECT_FALSE(Matches("[x-t:v MATCHES 'second\\\\z']", s));
  EXPECT_FALSE(Matches("[x-t:v MATCHES '^second']", s));  // ^ is the start of the subject
  EXPECT_TRUE(Matches("[x-t:v MATCHES '(?m)^second$']", s));
  EXPECT_TRUE(Matches("[x-t:w MATCHES '^C:\\\\\\\\Windows\\\\\\\\\\\\w+\\\\.exe$']", s));
  EXPECT_TRUE(Matches("[x-t:v MATCHES '\\\\Afirst\\\\R']", s));
  EXPECT_TRUE(Matches("[x-t:v MATCHES '(?<word>sec)ond']", s));
  EXPECT_TRUE(Matches("[x-t:v MATCHES 'f\\\\x{69}rst']", s));
  EXPECT_TRUE(Matches("[x-t:v NOT MATCHES 'third']", s));
}

TEST(PatternEvaluate, MatchesRefusesWhatRe2CannotRun) {
  for (const char* regex : {"(a)\\\\1", "a(?=b)", "(?<!a)b", "(?>a+)b", "a++", "(?R)", "(?(1)a|b)",
                            "\\\\G", "(*ACCEPT)", "(?x) a"}) {
    auto r = Eval(absl::StrCat("[x-t:v MATCHES '", regex, "']"), kIpv4);
    ASSERT_FALSE(r.ok()) << regex;
    EXPECT_THAT(r.status().message(), HasSubstr("regular expression")) << regex;
  }
}

TEST(PatternEvaluate, NanosecondTimestamps) {
  const std::string e = One(
      R"({"type":"x-e","id":"x-e--1","t":"2016-01-01T00:00:00.123456789Z","u":"2016-01-01T00:00:00.1Z"})");
  EXPECT_TRUE(Matches("[x-e:t = t'2016-01-01T00:00:00.123456789Z']", e));
  EXPECT_FALSE(Matches("[x-e:t = t'2016-01-01T00:00:00.123456788Z']", e));
  EXPECT_TRUE(Matches("[x-e:t > t'2016-01-01T00:00:00.123456788Z']", e));
  EXPECT_TRUE(Matches("[x-e:u = t'2016-01-01T00:00:00.100Z']", e));  // instants, not text
  EXPECT_TRUE(Matches("[x-e:u > t'2016-01-01T00:00:00Z']", e));
}

TEST(PatternEvaluate, LegacyObjectsForm) {
  // Section 9.5's example: each network-traffic references one address, so no single
  // network-traffic satisfies both comparisons.
  const std::string legacy = R"([{"type":"observed-data","id":"observed-data--0960319a",
      "first_observed":"2019-10-20T00:12:01.000000Z","last_observed":"2019-10-20T00:51:02.000000Z",
      "number_observed":1,"objects":{
        "0":{"type":"network-traffic","src_ref":"1"},
        "1":{"type":"ipv4-addr","value":"203.0.113.10"},
        "2":{"type":"network-traffic","dst_ref":"3"},
        "3":{"type":"ipv4-addr","value":"198.51.100.58"}}}])";
  EXPECT_FALSE(
      Matches("[network-traffic:src_ref.value = '203.0.113.10' AND "
              "network-traffic:dst_ref.value = '198.51.100.58']",
              legacy));
  EXPECT_TRUE(Matches("[network-traffic:src_ref.value = '203.0.113.10']", legacy));
  EXPECT_TRUE(Matches("[ipv4-addr:value = '198.51.100.58']", legacy));
  EXPECT_TRUE(Matches("[network-traffic:dst_ref.value = '198.51.100.58']", legacy));
}

TEST(PatternEvaluate, ReferencesResolveOnlyWithinTheObservedData) {
  // Section 9.7.4: an SCO not in object_refs is not there, even if the input holds it.
  const std::string json = Bundle({
      Od("1", 0, 0, 1, {"network-traffic--1"}),
      Od("2", 0, 0, 1, {"ipv4-addr--1"}),
      R"({"type":"network-traffic","id":"network-traffic--1","dst_ref":"ipv4-addr--1"})",
      R"({"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.0.0.1"})",
  });
  EXPECT_FALSE(Matches("[network-traffic:dst_ref.value = '10.0.0.1']", json));
  EXPECT_TRUE(Matches("[network-traffic:dst_ref = 'ipv4-addr--1']", json));
  EXPECT_TRUE(Matches("[ipv4-addr:value = '10.0.0.1']", json));
}

TEST(PatternEvaluate, ReferenceListsAndIndices) {
  const std::string json = Bundle({
      Od("1", 0, 0, 1, {"domain-name--1", "ipv4-addr--1", "ipv4-addr--2"}),
      R"({"type":"domain-name","id":"domain-name--1","value":"example.com",
          "resolves_to_refs":["ipv4-addr--1","ipv4-addr--2"]})",
      R"({"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.0.0.1"})",
      R"({"type":"ipv4-addr","id":"ipv4-addr--2","value":"10.0.0.2"})",
  });
  EXPECT_TRUE(Matches("[domain-name:resolves_to_refs[*].value = '10.0.0.2']", json));
  EXPECT_TRUE(Matches("[domain-name:resolves_to_refs[1].value = '10.0.0.2']", json));
  EXPECT_FALSE(Matches("[domain-name:resolves_to_refs[0].value = '10.0.0.2']", json));
  EXPECT_FALSE(Matches("[domain-name:resolves_to_refs[2].value = '10.0.0.2']", json));
  EXPECT_FALSE(Matches("[domain-name:resolves_to_refs[-1].value = '10.0.0.2']", json));
  // NOT negates the whole comparison over [*]: some element equal -> NOT false.
  EXPECT_FALSE(Matches("[domain-name:resolves_to_refs[*].value NOT = '10.0.0.2']", json));
  EXPECT_TRUE(Matches("[domain-name:resolves_to_refs[*].value != '10.0.0.2']", json));
  // A list compared without an index is not comparable: false, and != true.
  EXPECT_FALSE(Matches("[domain-name:resolves_to_refs = 'ipv4-addr--1']", json));
}

TEST(PatternEvaluate, MissingPropertiesAreFalseWhateverTheOperator) {
  const std::string file = One(R"({"type":"file","id":"file--1","name":"a","size":null})");
  EXPECT_FALSE(Matches("[file:mime_type != 'x']", file));
  EXPECT_FALSE(Matches("[file:mime_type NOT = 'x']", file));
  EXPECT_FALSE(Matches("[file:mime_type NOT LIKE 'x']", file));
  EXPECT_TRUE(Matches("[file:size != 1]", file));  // null is present, and comparable with nothing
  EXPECT_FALSE(Matches("[file:size = 1]", file));
}

TEST(PatternEvaluate, TypeRules) {
  const std::string x = One(
      R"({"type":"x-n","id":"x-n--1","i":9007199254740993,"f":1.5,"s":"o\u0300","b":true,"big":18446744073709551615})");
  EXPECT_TRUE(Matches("[x-n:i = 9007199254740993]", x));  // exact beyond 2^53
  EXPECT_FALSE(Matches("[x-n:i = 9007199254740992]", x));
  EXPECT_FALSE(Matches("[x-n:f = 1]", x));  // section 9.2: no truncation
  EXPECT_TRUE(Matches("[x-n:f > 1]", x));
  EXPECT_TRUE(Matches("[x-n:f = 1.5]", x));
  EXPECT_TRUE(Matches("[x-n:big > 9223372036854775807]", x));
  EXPECT_FALSE(Matches("[x-n:b = 'true']", x));
  EXPECT_TRUE(Matches("[x-n:b != 'true']", x));
  // Section 9.6.2: code point order, no normalisation: 'o' < 'oz' < 'o\u0300' < 'z' < '\u00f2'.
  EXPECT_TRUE(Matches("[x-n:s > 'oz']", x));
  EXPECT_TRUE(Matches("[x-n:s < 'z']", x));
  EXPECT_FALSE(Matches("[x-n:s = '\u00f2']", x));
  EXPECT_TRUE(Matches("[x-n:s < '\u00f2']", x));
}

TEST(PatternEvaluate, BinaryComparisons) {
  // Section 9.6.4's example.
  const std::string a =
      One(R"({"type":"artifact","id":"artifact--1","payload_bin":"dGhpcyBpcyBhIHRlc3Q="})");
  EXPECT_FALSE(Matches("[artifact:payload_bin = 'dGhpcyBpcyBhIHRlc3Q=']", a));
  EXPECT_TRUE(Matches("[artifact:payload_bin = 'this is a test']", a));
  EXPECT_TRUE(Matches("[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']", a));
  EXPECT_TRUE(Matches("[artifact:payload_bin = h'7468697320697320612074657374']", a));
  EXPECT_TRUE(Matches("[artifact:payload_bin != 'th\u0100s']", a));
  EXPECT_FALSE(Matches("[artifact:payload_bin = 'th\u0100s']", a));
  EXPECT_TRUE(Matches("[artifact:payload_bin MATCHES '^this\\\\x20is']", a));
}

TEST(PatternEvaluate, NumberObservedCountsObservations) {
  const std::string sco = R"({"type":"x-s","id":"x-s--1","v":1})";
  const std::string three = Bundle({Od("1", 0, 10, 3, {"x-s--1"}), sco});
  auto r = Eval("[x-s:v = 1] REPEATS 3 TIMES", three);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->matched);
  ASSERT_EQ(r->bindings.size(), 1u);
  EXPECT_EQ(r->bindings[0].count, 3);
  EXPECT_FALSE(Matches("[x-s:v = 1] REPEATS 4 TIMES", three));
  EXPECT_TRUE(Matches("[x-s:v = 1] AND [x-s:v = 1] AND [x-s:v = 1]", three));
  EXPECT_FALSE(Matches("[x-s:v = 1] AND [x-s:v = 1] AND [x-s:v = 1] AND [x-s:v = 1]", three));
  // Observations of one observed-data may sit anywhere in its interval: they can be within
  // any window.
  EXPECT_TRUE(Matches("[x-s:v = 1] REPEATS 3 TIMES WITHIN 0.5 SECONDS", three));
}

TEST(PatternEvaluate, WithinIsStrictlyShorterThanTheWindow) {
  // Section 9.5.1: the latest MUST NOT be equal to or later than the earliest plus the window.
  const std::string json = Bundle({
      Od("a", 0, 0, 1, {"x-s--a"}),
      Od("b", 5, 5, 1, {"x-s--b"}),
      R"({"type":"x-s","id":"x-s--a","v":"a"})",
      R"({"type":"x-s","id":"x-s--b","v":"b"})",
  });
  EXPECT_FALSE(Matches("([x-s:v = 'a'] AND [x-s:v = 'b']) WITHIN 5 SECONDS", json));
  EXPECT_TRUE(Matches("([x-s:v = 'a'] AND [x-s:v = 'b']) WITHIN 5.000000001 SECONDS", json));
  EXPECT_TRUE(Matches("([x-s:v = 'a'] AND [x-s:v = 'b']) WITHIN 6 SECONDS", json));
  // The qualifier applies to [b] only here (not greedy), and one observation is always within.
  EXPECT_TRUE(Matches("[x-s:v = 'a'] AND [x-s:v = 'b'] WITHIN 1 SECONDS", json));
}

TEST(PatternEvaluate, FollowedByOrdersByTime) {
  const std::string json = Bundle({
      Od("a", 10, 20, 1, {"x-s--a"}),
      Od("b", 0, 15, 1, {"x-s--b"}),
      Od("c", 0, 5, 1, {"x-s--c"}),
      R"({"type":"x-s","id":"x-s--a","v":"a"})",
      R"({"type":"x-s","id":"x-s--b","v":"b"})",
      R"({"type":"x-s","id":"x-s--c","v":"c"})",
  });
  // b may have happened at 15, after a at 10; c ended at 5, before a began.
  EXPECT_TRUE(Matches("[x-s:v = 'a'] FOLLOWEDBY [x-s:v = 'b']", json));
  EXPECT_FALSE(Matches("[x-s:v = 'a'] FOLLOWEDBY [x-s:v = 'c']", json));
  EXPECT_TRUE(Matches("[x-s:v = 'c'] FOLLOWEDBY [x-s:v = 'a']", json));
  EXPECT_FALSE(Matches("[x-s:v = 'a'] FOLLOWEDBY [x-s:v = 'b'] FOLLOWEDBY [x-s:v = 'c']", json));
  auto r = Eval("[x-s:v = 'c'] FOLLOWEDBY [x-s:v = 'a']", json);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->bindings.size(), 2u);
  EXPECT_EQ(r->bindings[0].observation, 0u);
  EXPECT_EQ(r->bindings[0].observed_data_id, "observed-data--c");
  EXPECT_EQ(r->bindings[1].observed_data_id, "observed-data--a");
}

TEST(PatternEvaluate, StartStopIsInclusiveExclusive) {
  const std::string json =
      Bundle({Od("a", 10, 10, 1, {"x-s--a"}), R"({"type":"x-s","id":"x-s--a","v":"a"})"});
  EXPECT_TRUE(
      Matches("[x-s:v = 'a'] START t'2020-01-01T00:00:10Z' STOP t'2020-01-01T00:00:11Z'", json));
  EXPECT_FALSE(
      Matches("[x-s:v = 'a'] START t'2020-01-01T00:00:09Z' STOP t'2020-01-01T00:00:10Z'", json));
  EXPECT_FALSE(
      Matches("[x-s:v = 'a'] START t'2020-01-01T00:00:11Z' STOP t'2020-01-01T00:00:10Z'", json));
}

TEST(PatternEvaluate, BindingsNameTheObservationExpressions) {
  const std::string json = Bundle({
      Od("a", 0, 0, 1, {"x-s--a"}),
      Od("b", 1, 1, 2, {"x-s--b"}),
      R"({"type":"x-s","id":"x-s--a","v":"a"})",
      R"({"type":"x-s","id":"x-s--b","v":"b"})",
  });
  auto r = Eval("[x-s:v = 'z'] OR ([x-s:v = 'a'] AND [x-s:v = 'b'] REPEATS 2 TIMES)", json);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->matched);
  ASSERT_EQ(r->bindings.size(), 2u);
  EXPECT_EQ(r->bindings[0].observation, 1u);
  EXPECT_EQ(r->bindings[1].observation, 2u);
  EXPECT_EQ(r->bindings[1].count, 2);
  EXPECT_THAT(r->ObservedDataIds(), ElementsAre("observed-data--a", "observed-data--b"));
}

TEST(PatternEvaluate, SdosAndUnreferencedScosNeverMatch) {
  const std::string json = Bundle({
      Od("1", 0, 0, 1, {"identity--1"}),
      R"({"type":"identity","id":"identity--1","name":"x","identity_class":"individual"})",
      R"({"type":"x-s","id":"x-s--1","v":1})",
  });
  EXPECT_FALSE(Matches("[identity:name = 'x']", json));
  EXPECT_FALSE(Matches("[x-s:v = 1]", json));
  EXPECT_FALSE(Matches("[observed-data:number_observed = 1]", json));
}

TEST(PatternEvaluate, ObservationsAcrossDocuments) {
  const std::string od = Od("1", 0, 0, 1, {"x-s--1"});
  const std::string sco = R"({"type":"x-s","id":"x-s--1","v":1})";
  std::vector<std::string_view> docs = {od, sco};
  auto set = ObservationSet::FromJson(docs);
  ASSERT_TRUE(set.ok()) << set.status();
  auto compiled = CompiledPattern::Compile("[x-s:v = 1]");
  ASSERT_TRUE(compiled.ok());
  auto r = compiled->Evaluate(*set);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->matched);
}

TEST(PatternEvaluate, RejectsMalformedObservedData) {
  for (const std::string& json :
       {std::string(R"({"type":"observed-data","id":"observed-data--1","number_observed":1,
               "first_observed":"2020-01-01T00:00:00","last_observed":"2020-01-01T00:00:00Z"})"),
        std::string(R"({"type":"observed-data","id":"observed-data--1","number_observed":0,
               "first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z"})"),
        std::string(R"({"type":"observed-data","id":"observed-data--1","number_observed":1,
               "first_observed":"2020-01-02T00:00:00Z","last_observed":"2020-01-01T00:00:00Z"})"),
        std::string(R"([{"type":)")}) {
    EXPECT_FALSE(ObservationSet::FromJson(json).ok()) << json;
  }
}

TEST(PatternEvaluate, MalformedTimestampsInDataAreErrors) {
  const std::string e = One(R"({"type":"x-e","id":"x-e--1","t":"yesterday"})");
  auto r = Eval("[x-e:t = t'2016-01-01T00:00:00Z']", e);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not a valid STIX timestamp"));
}

TEST(PatternEvaluate, InvalidPatternsAreRefused) {
  for (const char* text : {"[x-s:v IN (1, 'a')]", "[x-s:v = 1] WITHIN 0 SECONDS",
                           "[x-s:v = 1] REPEATS 0 TIMES", "[x-s:v = t'2023-02-29T00:00:00Z']"}) {
    auto p = Parse(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_FALSE(CompiledPattern::Compile(*p).ok()) << text;
  }
}

// ---- hostile patterns and input: bounded, never hanging ----

template <typename Fn>
double Seconds(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(PatternEvaluate, HugeRepeatsIsBounded) {
  const std::string sco = R"({"type":"x-s","id":"x-s--1","v":1})";
  const std::string many = Bundle({Od("1", 0, 10, 999999999, {"x-s--1"}), sco});
  EXPECT_LT(Seconds([&] {
              EXPECT_TRUE(Matches("[x-s:v = 1] REPEATS 999999999 TIMES", many));
              EXPECT_FALSE(Matches("[x-s:v = 1] REPEATS 9223372036854775807 TIMES", many));
              EXPECT_FALSE(Matches("([x-s:v = 1] AND [x-s:v = 1]) REPEATS 999999999 TIMES", many));
            }),
            5.0);
}

TEST(PatternEvaluate, SearchBudgetStopsRunawayBindings) {
  std::vector<std::string> objects;
  for (int i = 0; i < 40; ++i) {
    objects.push_back(Od(std::to_string(i), i, i, 1, {"x-s--" + std::to_string(i)}));
    objects.push_back(absl::StrCat(R"({"type":"x-s","id":"x-s--)", i, R"(","v":)", i % 2, "}"));
  }
  const std::string json = Bundle(objects);
  const char* pattern = "([x-s:v = 0] FOLLOWEDBY [x-s:v = 1]) REPEATS 20 TIMES";
  EXPECT_TRUE(Matches(pattern, json));
  // The same search on a tiny budget is cut off with an error rather than run on.
  EvaluateOptions options;
  options.max_search_steps = 10;
  auto r = Eval(pattern, json, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PatternEvaluate, CombinatorialPatternsStayFast) {
  std::vector<std::string> objects;
  for (int i = 0; i < 30; ++i) {
    objects.push_back(Od(std::to_string(i), i, i, 1, {"x-s--" + std::to_string(i)}));
    objects.push_back(absl::StrCat(R"({"type":"x-s","id":"x-s--)", i, R"(","age":)", i, "}"));
  }
  const std::string json = Bundle(objects);
  std::string thirty_one = "[x-s:age < 100]";
  for (int i = 1; i < 31; ++i) thirty_one += " AND [x-s:age < 100]";
  EXPECT_LT(
      Seconds([&] {
        EXPECT_FALSE(Matches(thirty_one, json));
        EXPECT_FALSE(Matches("[x-s:age < 100] REPEATS 10 TIMES WITHIN 8 SECONDS", json));
        EXPECT_TRUE(Matches("[x-s:age < 100] REPEATS 9 TIMES WITHIN 8.5 SECONDS", json));
        EXPECT_TRUE(Matches("([x-s:age < 20] FOLLOWEDBY [x-s:age > 5]) REPEATS 10 TIMES", json));
      }),
      5.0);
}

TEST(PatternEvaluate, PathologicalRegexRunsInLinearTime) {
  const std::string long_value =
      One(absl::StrCat(R"({"type":"x-t","id":"x-t--1","v":")", std::string(100000, 'a'), "!\"}"));
  EXPECT_LT(Seconds([&] { EXPECT_FALSE(Matches("[x-t:v MATCHES '^(a+)+$']", long_value)); }), 5.0);
  // A regular expression whose program is too large is refused, not run.
  auto r = Eval("[x-t:v MATCHES '((a{1000}){1000}){1000}']", long_value);
  EXPECT_FALSE(r.ok());
}

TEST(PatternEvaluate, ManyRegularExpressionsShareABudget) {
  // Thousands of large, distinct expressions: refused before they take gigabytes.
  std::string text = "[x-t:v MATCHES 'a{1000}b{1000}c{1000}0'";
  for (int i = 1; i < 2000; ++i) {
    absl::StrAppend(&text, " OR x-t:v MATCHES 'a{1000}b{1000}c{1000}", i, "'");
  }
  text += "]";
  auto p = Parse(text);
  ASSERT_TRUE(p.ok()) << p.status();
  EvaluateOptions options;
  options.max_regex_program_total = 100'000;  // the default is 4,000,000; keep the test short
  auto compiled = CompiledPattern::Compile(*p, options);
  ASSERT_FALSE(compiled.ok());
  EXPECT_THAT(compiled.status().message(), HasSubstr("budget"));
  // The same expression repeated is compiled once.
  std::string same = "[x-t:v MATCHES 'a{1000}b{1000}c{1000}'";
  for (int i = 1; i < 2000; ++i) same += " OR x-t:v MATCHES 'a{1000}b{1000}c{1000}'";
  same += "]";
  auto q = Parse(same);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(CompiledPattern::Compile(*q, options).ok());
}

TEST(PatternEvaluate, WideOrIsCheap) {
  std::string text = "[x-s:v = 0]";
  for (int i = 1; i < 5000; ++i) text += " OR [x-s:v = " + std::to_string(i) + "]";
  const std::string json = One(R"({"type":"x-s","id":"x-s--1","v":4999})");
  EXPECT_LT(Seconds([&] { EXPECT_TRUE(Matches(text, json)); }), 10.0);
}

}  // namespace
}  // namespace liaison::pattern
