// Validator behaviour that is not about one rule: input forms, positions, hostile input.

#include "stix/validate.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "simdjson.h"
#include "stix/internal/locate.h"
#include "stix/parse.h"

namespace liaison::stix {
namespace {

constexpr std::string_view kIndicator = R"({
  "type": "indicator",
  "spec_version": "2.1",
  "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created": "2016-04-06T20:03:48.000Z",
  "modified": "2016-04-06T20:03:48.000Z",
  "indicator_types": ["malicious-activity"],
  "name": "Poison Ivy Malware",
  "pattern": "[file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877']",
  "pattern_type": "stix",
  "valid_from": "2016-01-01T00:00:00Z"
})";

std::string Bundle(std::string_view object) {
  return std::string(
             R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[)") +
         std::string(object) + "]}";
}

bool HasFinding(const Report& r, std::string_view pointer, std::string_view rule) {
  for (const Finding& f : r.findings) {
    if (f.pointer == pointer && f.rule == rule) return true;
  }
  return false;
}

TEST(Validate, AcceptsAValidIndicatorInEveryForm) {
  Validator v;
  Report single = v.Validate(kIndicator);
  EXPECT_EQ(single.errors, 0u);
  EXPECT_EQ(single.form, InputForm::kObject);
  Report bundle = v.Validate(Bundle(kIndicator));
  EXPECT_EQ(bundle.errors, 0u);
  EXPECT_EQ(bundle.form, InputForm::kBundle);
  EXPECT_EQ(bundle.objects, 1u);
  Report envelope =
      v.Validate(std::string(R"({"more":false,"objects":[)") + std::string(kIndicator) + "]}");
  EXPECT_EQ(envelope.errors, 0u);
  EXPECT_EQ(envelope.form, InputForm::kEnvelope);
}

// The pattern checker is injected (stix does not link the pattern module); this fake refuses
// patterns containing "BAD" and records what it was asked about.
TEST(Validate, StixPatternsGoThroughTheInjectedChecker) {
  std::vector<std::string> asked;
  ValidateOptions options;
  options.check_pattern = [&asked](std::string_view pattern) -> std::string {
    asked.emplace_back(pattern);
    return pattern.find("BAD") != std::string_view::npos ? "offset 1: not a pattern" : "";
  };
  Validator v(options);
  EXPECT_EQ(v.Validate(kIndicator).errors, 0u);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].substr(0, 11), "[file:hashe");

  std::string bad(kIndicator);
  bad.replace(bad.find("[file"), 1, "[BAD");
  Report r = v.Validate(Bundle(bad));
  EXPECT_EQ(r.errors, 1u);
  EXPECT_TRUE(HasFinding(r, "/objects/0/pattern", "pattern"));
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].message, "invalid STIX pattern: offset 1: not a pattern");

  // Another pattern language is not checked.
  std::string snort = bad;
  snort.replace(snort.find("\"pattern_type\": \"stix\""), 22, "\"pattern_type\": \"snort\"");
  asked.clear();
  EXPECT_EQ(v.Validate(snort).errors, 0u);
  EXPECT_TRUE(asked.empty());

  // Without a checker, the bad pattern is just a string.
  EXPECT_EQ(Validator().Validate(bad).errors, 0u);
}

TEST(Validate, NdjsonReportsTheLineOfEachFinding) {
  std::string line1 =
      R"({"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"example.com"})";
  std::string line2 =
      R"({"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5"})";
  Validator v;
  Report r = v.Validate(line1 + "\n" + line2 + "\n");
  EXPECT_EQ(r.form, InputForm::kNdjson);
  EXPECT_EQ(r.objects, 2u);
  ASSERT_GE(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].line, 2u);
}

// Padded NDJSON goes through simdjson's parse_many; unpadded input line by line. Both must
// report the same findings at the same lines and columns, including for inputs that are not
// one object per line (which make the stream path fall back).
TEST(Validate, NdjsonStreamAndLinePathsAgree) {
  const std::string good =
      R"({"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"example.com"})";
  const std::string bad =
      R"({"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5"})";
  const std::vector<std::string> inputs = {
      good + "\n\n" + bad + "\r\n  " + bad + "\n" + good,    // blank line, CRLF, indentation
      good + "\n" + good + " " + bad + "\n" + good + "\n",   // two objects on one line
      good + "\n" + "{\"type\":\n\"x-a\"}\n" + good + "\n",  // an object over two lines
      good + "\n" + good + "\n" + "{\"type\": tru}\n" + bad + "\n",  // a malformed line
      good + "\n" + good + "\n" + "[1]\n",                           // not an object
  };
  Validator v;
  for (const std::string& input : inputs) {
    std::string padded = input;
    padded.append(kInputPadding, '\0');
    const Report stream = v.Validate(std::string_view(padded.data(), input.size()), true);
    const Report lines = v.Validate(input, false);
    SCOPED_TRACE(input);
    EXPECT_EQ(stream.form, lines.form);
    EXPECT_EQ(stream.objects, lines.objects);
    EXPECT_EQ(stream.errors, lines.errors);
    EXPECT_EQ(stream.warnings, lines.warnings);
    ASSERT_EQ(stream.findings.size(), lines.findings.size());
    EXPECT_GT(stream.findings.size(), 0u);
    for (size_t i = 0; i < stream.findings.size(); ++i) {
      EXPECT_EQ(stream.findings[i].pointer, lines.findings[i].pointer);
      EXPECT_EQ(stream.findings[i].message, lines.findings[i].message);
      EXPECT_EQ(stream.findings[i].line, lines.findings[i].line);
      EXPECT_EQ(stream.findings[i].column, lines.findings[i].column);
    }
  }
  // The first input's two bad objects are on lines 3 and 4.
  std::string padded = inputs[0];
  padded.append(kInputPadding, '\0');
  const Report r = v.Validate(std::string_view(padded.data(), inputs[0].size()), true);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].line, 3u);
  EXPECT_EQ(r.findings[1].line, 4u);
  EXPECT_EQ(r.findings[1].column, 3u);
}

// Locating over simdjson's structural index must find what the byte scanner finds, including
// escaped member names, "~1"/"~0" pointer tokens, empty containers and missing members.
TEST(Locate, StructuralIndexAgreesWithByteScanner) {
  const std::string text = R"( {"a": [1, {"b\tc": "x"}, [], {}],
    "k/e~y": {"n": null, "t": true, "s": "q\"uo}te]", "neg": -1.5e3},
    "z": [[0, [1, 2]], {"deep": {"er": [3]}}] } )";
  const std::vector<std::string> pointers = {
      "", "/a", "/a/0", "/a/1", "/a/1/b\tc", "/a/2", "/a/3", "/a/4", "/k~1e~0y", "/k~1e~0y/n",
      "/k~1e~0y/t", "/k~1e~0y/s", "/k~1e~0y/neg", "/z/0/1/1", "/z/1/deep/er/0", "/missing",
      "/a/1/missing", "/z/9",
      // Again, out of order: the array element lists are extended on demand between pointers.
      "/a/3", "/z/0/1/0", "/a/0"};
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS);
  const std::span<const uint32_t> structurals(parser.implementation->structural_indexes.get(),
                                              parser.implementation->n_structural_indexes);
  const std::vector<size_t> bytes = internal::LocatePointers(text, pointers);
  const std::vector<size_t> fast = internal::LocatePointers(text, pointers, structurals);
  ASSERT_EQ(bytes.size(), fast.size());
  for (size_t i = 0; i < pointers.size(); ++i) {
    EXPECT_EQ(fast[i], bytes[i]) << pointers[i];
  }
  EXPECT_EQ(text.substr(fast[4], 3), "\"x\"");
  EXPECT_EQ(text.substr(fast[14], 1), "3");
  EXPECT_EQ(internal::CountNewlines(text), 2u);
  const std::string many(1000, '\n');
  EXPECT_EQ(internal::CountNewlines(many + "x" + many), 2000u);
}

TEST(Validate, PositionsPointAtTheOffendingValue) {
  std::string text(kIndicator);
  text.replace(text.find("2016-01-01T00:00:00Z"), 20, "2016-01-01 00:00:00");
  Validator v;
  Report r = v.Validate(text);
  ASSERT_EQ(r.errors, 1u);
  EXPECT_EQ(r.findings[0].pointer, "/valid_from");
  EXPECT_EQ(r.findings[0].rule, "timestamp");
  EXPECT_EQ(r.findings[0].line, 11u);
  EXPECT_EQ(r.findings[0].column, 17u);
}

TEST(Validate, TruncatedJsonGetsPosition) {
  std::string text(kIndicator.substr(0, 120));
  Validator v;
  Report r = v.Validate(text);
  ASSERT_EQ(r.errors, 1u);
  EXPECT_EQ(r.findings[0].rule, "json");
  EXPECT_GT(r.findings[0].line, 1u);
}

TEST(Validate, DuplicateKeysAreErrors) {
  std::string text(kIndicator);
  text.insert(text.find("\"pattern_type\""), R"("name": "again", )");
  Validator v;
  Report r = v.Validate(text);
  EXPECT_TRUE(HasFinding(r, "/name", "json")) << r.findings.size();
}

TEST(Validate, DuplicateCustomPropertiesAreFoundAmongMany) {
  std::string text(kIndicator);
  std::string customs;
  for (int i = 0; i < 200; ++i) customs += "\"x_custom_" + std::to_string(i) + "\": 1, ";
  customs += "\"x_custom_7\": 2, ";
  text.insert(text.find("\"pattern_type\""), customs);
  Validator v;
  Report r = v.Validate(text);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_TRUE(HasFinding(r, "/x_custom_7", "json"));
}

TEST(Validate, InvalidUtf8IsAnErrorWithPosition) {
  std::string text(kIndicator);
  text.replace(text.find("Poison"), 1, "\xff");
  Validator v;
  Report r = v.Validate(text);
  ASSERT_EQ(r.errors, 1u);
  EXPECT_NE(r.findings[0].message.find("UTF-8"), std::string::npos) << r.findings[0].message;
  EXPECT_EQ(r.findings[0].line, 8u);
}

TEST(Validate, DeepNestingIsRejectedWithoutCrashing) {
  std::string deep =
      R"({"type":"x-deep","x_nest":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  Validator v;
  Report r = v.Validate(deep);
  ASSERT_GE(r.errors, 1u);
  EXPECT_EQ(r.findings[0].rule, "json");
  EXPECT_NE(r.findings[0].message.find("nesting"), std::string::npos) << r.findings[0].message;
}

TEST(Validate, OversizedStringsAreRejected) {
  ValidateOptions options;
  options.max_string_bytes = 1000;
  std::string text(kIndicator);
  text.replace(text.find("Poison Ivy Malware"), 18, std::string(5000, 'a'));
  Validator v(options);
  Report r = v.Validate(text);
  EXPECT_TRUE(HasFinding(r, "/name", "property-type"));
}

TEST(Validate, RecognisesStix20) {
  std::string text =
      R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[]})";
  Validator v;
  Report r = v.Validate(text);
  EXPECT_TRUE(r.stix20);
  ASSERT_EQ(r.errors, 1u);
  EXPECT_NE(r.findings[0].message.find("liaison upgrade"), std::string::npos);
}

TEST(Validate, EmptyAndNonObjectInputs) {
  Validator v;
  EXPECT_EQ(v.Validate("").errors, 1u);
  EXPECT_EQ(v.Validate("[1,2]").errors, 1u);
  EXPECT_EQ(v.Validate("42").errors, 1u);
  EXPECT_EQ(v.Validate("{\"type\": 5}").errors, 1u);
}

TEST(Split, KeepsEachObjectsOriginalText) {
  std::string bundle = Bundle(kIndicator);
  auto split = SplitObjects(bundle);
  ASSERT_TRUE(split.ok()) << split.status();
  ASSERT_EQ(split->objects.size(), 1u);
  EXPECT_EQ(split->objects[0].json, kIndicator);
  EXPECT_EQ(split->objects[0].pointer, "/objects/0");
  auto object = ParseObject(split->objects[0].json);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->type, "indicator");
  EXPECT_EQ(object->json, kIndicator);
  EXPECT_EQ(object->version()->ToString(), "2016-04-06T20:03:48.000Z");
}

// ValidateObject's extracted object (one parse) must be exactly what ParseObject gives, for
// well-formed objects, objects ParseObject refuses (wrong value types) and non-objects; and it
// stays empty for malformed JSON, where the caller falls back to ParseObject's parse error.
TEST(Validate, ExtractedObjectIsParseObjects) {
  const std::vector<std::string> inputs = {
      std::string(kIndicator),
      R"({"type":"marking-definition","spec_version":"2.1","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"green"}})",
      R"({"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","labels":["a","b"],"confidence":85,"revoked":true,"lang":"en","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],"granular_markings":[{"marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","selectors":["name"]}]})",
      R"({"type":"indicator","id":7})",
      R"({"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"yesterday"})",
      R"({"type":"indicator","labels":"not-a-list"})",
      R"({"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})",
      R"([1,2,3])",
      R"("text")",
  };
  Validator validator;
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    Report report;
    std::optional<Result<Object>> extracted;
    validator.ValidateObject(input, "/objects/0", report, &extracted);
    ASSERT_TRUE(extracted.has_value());
    const Result<Object> parsed = ParseObject(input);
    ASSERT_EQ(extracted->ok(), parsed.ok()) << extracted->status() << " / " << parsed.status();
    if (!parsed.ok()) {
      EXPECT_EQ(extracted->status(), parsed.status());
      continue;
    }
    const Object& a = **extracted;
    const Object& b = *parsed;
    EXPECT_EQ(a.json, b.json);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.spec_version, b.spec_version);
    EXPECT_EQ(a.created, b.created);
    EXPECT_EQ(a.modified, b.modified);
    EXPECT_EQ(a.created_by_ref, b.created_by_ref);
    EXPECT_EQ(a.revoked, b.revoked);
    EXPECT_EQ(a.confidence, b.confidence);
    EXPECT_EQ(a.lang, b.lang);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.object_marking_refs, b.object_marking_refs);
    ASSERT_EQ(a.granular_markings.size(), b.granular_markings.size());
  }
  // Malformed JSON: nothing extracted (ParseObject's own error applies), findings reported.
  for (const char* bad : {"{\"type\":", "{]", ""}) {
    Report report;
    std::optional<Result<Object>> extracted;
    validator.ValidateObject(bad, "/objects/0", report, &extracted);
    EXPECT_FALSE(extracted.has_value()) << bad;
    EXPECT_GT(report.errors, 0) << bad;
    EXPECT_FALSE(ParseObject(bad).ok()) << bad;
  }
}

// SplitObjects reuses per-thread buffers: a small body after a large one, and after a body it
// refused, must split exactly like the first time (no stale bytes from the earlier input).
TEST(Split, ReusedBuffersDoNotLeakEarlierInput) {
  std::string many = R"({"objects":[)";
  for (int i = 0; i < 200; ++i) {
    if (i > 0) many += ',';
    many += kIndicator;
  }
  many += "]}";
  const std::string one = R"({"objects":[{"a":1}]})";
  for (int round = 0; round < 3; ++round) {
    auto big = SplitObjects(many);
    ASSERT_TRUE(big.ok()) << big.status();
    EXPECT_EQ(big->objects.size(), 200u);
    EXPECT_FALSE(SplitObjects(R"({"objects":[{"a":1},]})").ok());
    auto small = SplitObjects(one);
    ASSERT_TRUE(small.ok()) << small.status();
    ASSERT_EQ(small->objects.size(), 1u);
    EXPECT_EQ(small->objects[0].json, R"({"a":1})");
    EXPECT_EQ(small->form, InputForm::kEnvelope);
  }
  // Over the per-thread size (256 KiB): its own buffers, same result.
  std::string huge = R"({"objects":[)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) huge += ',';
    huge += kIndicator;
  }
  huge += "]}";
  ASSERT_GT(huge.size(), 256u * 1024);
  auto split = SplitObjects(huge);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->objects.size(), 1000u);
  EXPECT_EQ(split->objects[999].json, kIndicator);
}

TEST(Split, ReportsMalformedInputWithPosition) {
  auto split = SplitObjects("{\"type\":\"bundle\",\n\"objects\":[{]}");
  ASSERT_FALSE(split.ok());
  EXPECT_NE(split.status().message().find("2:"), std::string::npos) << split.status();
}

}  // namespace
}  // namespace liaison::stix
