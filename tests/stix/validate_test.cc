// Validator behaviour that is not about one rule: input forms, positions, hostile input.

#include "stix/validate.h"

#include <gtest/gtest.h>

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

TEST(Split, ReportsMalformedInputWithPosition) {
  auto split = SplitObjects("{\"type\":\"bundle\",\n\"objects\":[{]}");
  ASSERT_FALSE(split.ok());
  EXPECT_NE(split.status().message().find("2:"), std::string::npos) << split.status();
}

}  // namespace
}  // namespace liaison::stix
