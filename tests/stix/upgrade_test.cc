#include "stix/upgrade.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/file.h"
#include "core/json.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stix/parse.h"
#include "stix/validate.h"
#include "testing/shared_data.h"

namespace liaison::stix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

json::Value ParseOrDie(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status() << "\n" << text;
  return v.ok() ? *std::move(v) : json::Value();
}

// Upgrades one object and returns the last (main) object of the result.
json::Value Upgrade(std::string_view text, const UpgradeOptions& options = {},
                    UpgradeReport* report = nullptr) {
  auto r = UpgradeObject(ParseOrDie(text), options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok() || r->objects.empty()) return json::Value();
  if (report != nullptr) *report = r->report;
  return r->objects.back();
}

std::vector<std::string> Keys(const json::Value& v) {
  std::vector<std::string> keys;
  for (const auto& [k, unused] : v.as_object()) keys.push_back(k);
  return keys;
}

const std::string& Str(const json::Value& v, std::string_view key) {
  static const std::string kMissing = "<missing>";
  const json::Value* m = v.Find(key);
  return m != nullptr && m->is_string() ? m->as_string() : kMissing;
}

// --- Common rules ------------------------------------------------------------------------------

TEST(Upgrade, AddsSpecVersionAfterType) {
  json::Value out = Upgrade(
      R"({"type":"attack-pattern","id":"attack-pattern--0a3ead4e-6d47-4ccb-854c-a6a4f9d96b22",
      "created":"2017-05-31T21:30:19.735Z","modified":"2017-05-31T21:30:19.735Z","name":"x"})");
  EXPECT_THAT(Keys(out), ElementsAre("type", "spec_version", "id", "created", "modified", "name"));
  EXPECT_EQ(Str(out, "spec_version"), "2.1");
}

TEST(Upgrade, ReplacesSpecVersion20) {
  UpgradeReport report;
  json::Value out = Upgrade(
      R"({"type":"campaign","spec_version":"2.0","id":"campaign--1","name":"c"})", {}, &report);
  EXPECT_EQ(Str(out, "spec_version"), "2.1");
  EXPECT_EQ(report.changes["spec_version: \"2.0\" -> \"2.1\""], 1u);
}

TEST(Upgrade, Stix21ObjectPassesThroughUnchanged) {
  const std::string text = R"({"type":"indicator","spec_version":"2.1",
      "id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","labels":["malicious-activity"],
      "pattern":"[file:created = t'2016-01-01T00:00:00Z']","pattern_type":"stix",
      "valid_from":"2016-01-01T00:00:00Z","created":"2016-04-06T20:03:48.000Z",
      "modified":"2016-04-06T20:03:48.000Z"})";
  auto r = UpgradeObject(ParseOrDie(text));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->objects.size(), 1u);
  EXPECT_EQ(r->objects[0], ParseOrDie(text));
  EXPECT_EQ(r->report.unchanged, 1u);
  EXPECT_EQ(r->report.upgraded, 0u);
  EXPECT_THAT(r->report.changes, IsEmpty());
}

TEST(Upgrade, Stix21TextIsCopiedByteForByte) {
  // Odd spacing survives: the text is copied, not re-serialised.
  const std::string a =
      R"({ "type" : "identity", "spec_version":"2.1", "id":"identity--1", "name":"a" })";
  const std::string b =
      R"({"type":"ipv4-addr","id":"ipv4-addr--2","value":"1.2.3.4"})";  // SCO: 2.1
  auto out = UpgradeInput(a + "\n" + b + "\n");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, a + "\n" + b + "\n");
}

TEST(Upgrade, CustomObjectsAndPropertiesAreKept) {
  json::Value out = Upgrade(
      R"({"type":"x-mitre-tactic","id":"x-mitre-tactic--1","created":"2018-10-17T00:14:20.652Z",
      "modified":"2018-10-17T00:14:20.652Z","x_mitre_shortname":"execution","name":"Execution"})");
  EXPECT_EQ(Str(out, "spec_version"), "2.1");
  EXPECT_EQ(Str(out, "x_mitre_shortname"), "execution");
  out = Upgrade(
      R"({"type":"course-of-action","id":"course-of-action--1","name":"c","x_panw_coa_bp_status":"published"})");
  EXPECT_EQ(Str(out, "x_panw_coa_bp_status"), "published");
}

TEST(Upgrade, PadsCreatedAndModifiedToMilliseconds) {
  UpgradeReport report;
  json::Value out = Upgrade(
      R"({"type":"marking-definition","id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168",
      "created":"2017-06-01T00:00:00Z","definition_type":"statement","definition":{"statement":"Copyright 2017"}})",
      {}, &report);
  EXPECT_EQ(Str(out, "created"), "2017-06-01T00:00:00.000Z");
  out = Upgrade(R"({"type":"campaign","id":"campaign--1","created":"2017-06-01T00:00:00.5Z",
      "modified":"2017-06-01T00:00:01.123456Z","first_seen":"2017-06-01T00:00:00Z","name":"c"})");
  EXPECT_EQ(Str(out, "created"), "2017-06-01T00:00:00.500Z");
  EXPECT_EQ(Str(out, "modified"), "2017-06-01T00:00:01.123456Z");
  EXPECT_EQ(Str(out, "first_seen"), "2017-06-01T00:00:00Z");  // no precision rule in 2.1
}

TEST(Upgrade, IdentityRelationshipSightingOnlyGainSpecVersion) {
  constexpr std::string_view kTexts[] = {
      R"({"type":"identity","id":"identity--1","created":"2017-06-01T00:00:00.000Z",
          "modified":"2017-06-01T00:00:00.000Z","name":"The MITRE Corporation",
          "identity_class":"organization","created_by_ref":"identity--2","labels":["x"]})",
      R"({"type":"relationship","id":"relationship--1","created":"2017-06-01T00:00:00.000Z",
          "modified":"2017-06-01T00:00:00.000Z","relationship_type":"uses",
          "source_ref":"malware--1","target_ref":"attack-pattern--1"})",
      R"({"type":"sighting","id":"sighting--1","created":"2017-06-01T00:00:00.000Z",
          "modified":"2017-06-01T00:00:00.000Z","sighting_of_ref":"indicator--1","count":3,
          "where_sighted_refs":["identity--1"]})"};
  for (std::string_view text : kTexts) {
    json::Value in = ParseOrDie(text);
    json::Value out = Upgrade(text);
    EXPECT_TRUE(out.Erase("spec_version"));
    EXPECT_EQ(out, in) << text;
  }
}

// --- Labels -> *_types, is_family -----------------------------------------------------------

TEST(Upgrade, IndicatorGainsPatternTypeAndIndicatorTypes) {
  json::Value out =
      Upgrade(R"({"type":"indicator","id":"indicator--1","created":"2019-05-06T18:42:36.176Z",
      "modified":"2019-11-06T19:49:12.520Z","pattern":"[file:hashes.'SHA-256' = 'd2a0']",
      "valid_from":"2019-05-06T18:42:36.176Z","labels":["malicious-activity"]})");
  EXPECT_THAT(Keys(out), ElementsAre("type", "spec_version", "id", "created", "modified", "pattern",
                                     "pattern_type", "valid_from", "indicator_types"));
  EXPECT_EQ(Str(out, "pattern_type"), "stix");
  EXPECT_EQ(Str(out, "pattern"), "[file:hashes.'SHA-256' = 'd2a0']");
  EXPECT_EQ(*out.Find("indicator_types"), json::Value(json::Array{"malicious-activity"}));
}

TEST(Upgrade, LabelsOutsideTheVocabularyStillBecomeTypes) {
  // 2.0 labels on these objects were the classification, from an open vocabulary; 2.1 keeps that
  // meaning in *_types (a value outside the 2.1 vocabulary is a warning there, as it was in 2.0).
  json::Value out = Upgrade(
      R"({"type":"malware","id":"malware--1","name":"m","labels":["backdoor","version two"]})");
  EXPECT_EQ(*out.Find("malware_types"), json::Value(json::Array{"backdoor", "version two"}));
  EXPECT_EQ(out.Find("labels"), nullptr);
}

TEST(Upgrade, MalwareLabelMalwareBecomesIsFamilyLikeAttack) {
  UpgradeReport report;
  json::Value out = Upgrade(
      R"({"type":"malware","id":"malware--1","name":"m","labels":["malware"]})", {}, &report);
  EXPECT_EQ(out.Find("labels"), nullptr);
  EXPECT_EQ(out.Find("malware_types"), nullptr);
  ASSERT_NE(out.Find("is_family"), nullptr);
  EXPECT_EQ(*out.Find("is_family"), json::Value(true));
  EXPECT_EQ(report.changes["malware: label \"malware\" dropped (repeats the type)"], 1u);
  EXPECT_EQ(report.changes["malware: is_family true added"], 1u);
}

TEST(Upgrade, MalwareIsFamilyFollowsTheOption) {
  UpgradeOptions options;
  options.malware_is_family = false;
  json::Value out =
      Upgrade(R"({"type":"malware","id":"malware--1","name":"m","labels":["worm"]})", options);
  EXPECT_EQ(*out.Find("is_family"), json::Value(false));
  // An is_family already there is the producer's.
  out = Upgrade(R"({"type":"malware","id":"malware--1","name":"m","is_family":false})");
  EXPECT_EQ(*out.Find("is_family"), json::Value(false));
}

TEST(Upgrade, ToolThreatActorReportLabels) {
  json::Value tool = Upgrade(R"({"type":"tool","id":"tool--1","name":"t","labels":["tool"]})");
  EXPECT_EQ(tool.Find("labels"), nullptr);
  EXPECT_EQ(tool.Find("tool_types"), nullptr);
  tool = Upgrade(R"({"type":"tool","id":"tool--1","name":"t","labels":["remote-access","tool"]})");
  EXPECT_EQ(*tool.Find("tool_types"), json::Value(json::Array{"remote-access"}));
  json::Value actor = Upgrade(
      R"({"type":"threat-actor","id":"threat-actor--1","name":"a","labels":["nation-state"]})");
  EXPECT_EQ(*actor.Find("threat_actor_types"), json::Value(json::Array{"nation-state"}));
  json::Value report = Upgrade(
      R"({"type":"report","id":"report--1","name":"r","published":"2020-07-30T16:55:32.826Z",
      "object_refs":["intrusion-set--1"],"labels":["intrusion-set"]})");
  EXPECT_EQ(*report.Find("report_types"), json::Value(json::Array{"intrusion-set"}));
}

TEST(Upgrade, LabelsOfOtherObjectsStayLabels) {
  json::Value out =
      Upgrade(R"({"type":"campaign","id":"campaign--1","name":"c","labels":["tag"]})");
  EXPECT_EQ(*out.Find("labels"), json::Value(json::Array{"tag"}));
}

// --- Marking definitions -----------------------------------------------------------------------

TEST(Upgrade, TlpDefinitionBecomesIts21FormWithTheSameId) {
  json::Value out = Upgrade(
      R"({"type":"marking-definition","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
      "created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"green"}})");
  EXPECT_EQ(out, ParseOrDie(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z",
      "definition_type":"tlp","name":"TLP:GREEN","definition":{"tlp":"green"}})"));
}

TEST(Upgrade, TlpIdWithAnotherColourIsKeptAndWarned) {
  UpgradeReport report;
  json::Value out = Upgrade(
      R"({"type":"marking-definition","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
      "created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}})",
      {}, &report);
  EXPECT_EQ(out.Find("name"), nullptr);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("/definition"));
}

// --- Observed data ------------------------------------------------------------------------------

constexpr char kObservedData[] = R"({
  "type": "observed-data", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
  "created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z",
  "first_observed": "2015-12-21T19:00:00Z", "last_observed": "2015-12-21T19:00:00Z",
  "number_observed": 1,
  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
  "objects": {
    "0": {"type": "ipv4-addr", "value": "198.51.100.3"},
    "1": {"type": "network-traffic", "src_ref": "0", "dst_port": 80, "protocols": ["tcp"]},
    "2": {"type": "file", "name": "a.exe", "created": "2015-12-21T19:00:00Z", "is_encrypted": false,
          "hashes": {"SHA-256": "0f4b3e3a5a1ed1a1d7c5e1b0b84a5d09ac8e9d2d6dffb53ba0b5f1e3c2f8a7d1",
                     "MD5": "1717b7fff97d37a1e1a0029d83492de1"}},
    "3": {"type": "process", "pid": 1221, "binary_ref": "2", "name": "a.exe", "x_custom": "kept"},
    "4": {"type": "domain-name", "value": "example.com", "resolves_to_refs": ["0", "9"]}
  }
})";

constexpr char kIpv4Id[] = "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4";
constexpr char kTrafficId[] = "network-traffic--793969cb-232e-5798-8987-2c75c6383278";
constexpr char kFileId[] = "file--1bc5bd0f-5f84-552c-b7a2-95d3b28f6285";
constexpr char kDomainId[] = "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7";

TEST(UpgradeObservedData, ContainerBecomesScosWithDeterministicIds) {
  auto r = UpgradeObject(ParseOrDie(kObservedData));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->objects.size(), 6u);
  const std::vector<json::Value>& o = r->objects;
  // The ids were computed independently (Python's uuid.uuid5 over hand-written RFC 8785 text).
  EXPECT_EQ(Str(o[0], "id"), kIpv4Id);
  EXPECT_EQ(Str(o[1], "id"), kTrafficId);
  EXPECT_EQ(Str(o[1], "src_ref"), kIpv4Id);
  EXPECT_EQ(Str(o[2], "id"), kFileId);
  EXPECT_EQ(Str(o[4], "id"), kDomainId);
  // process has no ID contributing properties: a random (v4) id.
  const std::string& process_id = Str(o[3], "id");
  ASSERT_EQ(process_id.substr(0, 9), "process--");
  auto uuid = Uuid::Parse(std::string_view(process_id).substr(9));
  ASSERT_TRUE(uuid.ok());
  EXPECT_EQ(uuid->version(), 4);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_THAT(Keys(o[i]), ::testing::IsSupersetOf({"type", "spec_version", "id"}));
    EXPECT_EQ(Keys(o[i])[1], "spec_version");
    EXPECT_EQ(*o[i].Find("object_marking_refs"),
              json::Value(json::Array{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}));
  }
  const json::Value& od = o[5];
  EXPECT_EQ(od.Find("objects"), nullptr);
  EXPECT_EQ(*od.Find("object_refs"),
            json::Value(json::Array{kIpv4Id, kTrafficId, kFileId, process_id, kDomainId}));
  EXPECT_EQ(r->report.scos_created, 5u);
}

TEST(UpgradeObservedData, RenamesAndDropsObservableProperties) {
  auto r = UpgradeObject(ParseOrDie(kObservedData));
  ASSERT_TRUE(r.ok()) << r.status();
  const json::Value& file = r->objects[2];
  EXPECT_EQ(Str(file, "ctime"), "2015-12-21T19:00:00Z");
  EXPECT_EQ(file.Find("created"), nullptr);
  EXPECT_EQ(file.Find("is_encrypted"), nullptr);
  const json::Value& process = r->objects[3];
  EXPECT_EQ(Str(process, "image_ref"), kFileId);
  EXPECT_EQ(process.Find("name"), nullptr);
  EXPECT_EQ(Str(process, "x_custom"), "kept");
  const json::Value& domain = r->objects[4];
  // "9" names nothing in the container: left as is, and warned about.
  EXPECT_EQ(*domain.Find("resolves_to_refs"), json::Value(json::Array{kIpv4Id, "9"}));
  std::string warnings;
  for (const std::string& w : r->report.warnings) warnings += w + "\n";
  EXPECT_THAT(warnings, HasSubstr("/objects/2/is_encrypted: dropped"));
  EXPECT_THAT(warnings, HasSubstr("/objects/3/name: dropped"));
  EXPECT_THAT(warnings, HasSubstr("/objects/4: reference \"9\""));
  EXPECT_EQ(r->report.changes["file: created -> ctime"], 1u);
  EXPECT_EQ(r->report.changes["process: binary_ref -> image_ref"], 1u);
}

TEST(UpgradeObservedData, AllRenamesOfSection6) {
  auto r = UpgradeObject(ParseOrDie(R"({"type":"observed-data","id":"observed-data--1",
      "first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,
      "objects":{
        "0":{"type":"directory","path":"/tmp","created":"2015-01-01T00:00:00Z","modified":"2015-01-01T00:00:01Z","accessed":"2015-01-01T00:00:02Z"},
        "1":{"type":"user-account","user_id":"1001","password_last_changed":"2015-01-01T00:00:00Z"},
        "2":{"type":"windows-registry-key","key":"HKEY_LOCAL_MACHINE\\Foo","modified":"2015-01-01T00:00:00Z"},
        "3":{"type":"process","pid":1,"created":"2015-01-01T00:00:00Z","arguments":["-x"]},
        "4":{"type":"network-traffic","protocols":["tcp"],"extensions":{"socket-ext":{"address_family":"AF_INET","protocol_family":"PF_INET"}}},
        "5":{"type":"file","name":"a.zip","hashes":{"ssdeep":"3:a:b"},"extensions":{"archive-ext":{"contains_refs":["0"],"version":"5"}}}}})"));
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& o = r->objects;
  EXPECT_THAT(Keys(o[0]),
              ElementsAre("type", "spec_version", "id", "path", "ctime", "mtime", "atime"));
  EXPECT_EQ(Str(o[1], "credential_last_changed"), "2015-01-01T00:00:00Z");
  EXPECT_EQ(Str(o[2], "modified_time"), "2015-01-01T00:00:00Z");
  EXPECT_EQ(Str(o[3], "created_time"), "2015-01-01T00:00:00Z");
  EXPECT_EQ(o[3].Find("arguments"), nullptr);
  EXPECT_EQ(*o[4].Find("extensions"), ParseOrDie(R"({"socket-ext":{"address_family":"AF_INET"}})"));
  EXPECT_EQ(*o[5].Find("hashes"), ParseOrDie(R"({"SSDEEP":"3:a:b"})"));
  // References inside extensions are rewritten too.
  EXPECT_EQ(*o[5].Find("extensions"),
            json::Value(json::Object{
                {"archive-ext", json::Object{{"contains_refs", json::Array{Str(o[0], "id")}}}}}));
}

TEST(UpgradeObservedData, GranularMarkingsMoveToTheScoTheySelect) {
  auto r = UpgradeObject(ParseOrDie(R"({"type":"observed-data","id":"observed-data--1",
      "first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,
      "granular_markings":[
        {"marking_ref":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed","selectors":["objects.0.value","number_observed"]},
        {"marking_ref":"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82","selectors":["objects.1"]}],
      "objects":{"0":{"type":"url","value":"http://example.com/"},"1":{"type":"mutex","name":"m"}}})"));
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& o = r->objects;
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(
      *o[0].Find("granular_markings"),
      ParseOrDie(
          R"([{"marking_ref":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed","selectors":["value"]}])"));
  EXPECT_EQ(*o[1].Find("object_marking_refs"),
            json::Value(json::Array{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"}));
  // Only the selector that still resolves on the observed-data stays there.
  EXPECT_EQ(
      *o[2].Find("granular_markings"),
      ParseOrDie(
          R"([{"marking_ref":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed","selectors":["number_observed"]}])"));
}

TEST(UpgradeObservedData, SameObservableTwiceIsOneSco) {
  const std::string bundle =
      R"({"type":"bundle","id":"bundle--5255859a-24c0-443d-9fe3-7104116c1921","spec_version":"2.0","objects":[
    {"type":"observed-data","id":"observed-data--1","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z",
     "first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,
     "objects":{"0":{"type":"domain-name","value":"example.com"},"1":{"type":"domain-name","value":"example.com"}}},
    {"type":"observed-data","id":"observed-data--2","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z",
     "first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,
     "objects":{"a":{"type":"domain-name","value":"example.com"}}}]})";
  UpgradeReport report;
  auto out = UpgradeInput(bundle, {}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  json::Value b = ParseOrDie(*out);
  EXPECT_EQ(Str(b, "id"), "bundle--5255859a-24c0-443d-9fe3-7104116c1921");
  EXPECT_EQ(b.Find("spec_version"), nullptr);
  const json::Array& objects = b.Find("objects")->as_array();
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(Str(objects[0], "id"), kDomainId);
  EXPECT_EQ(*objects[1].Find("object_refs"), json::Value(json::Array{kDomainId}));
  EXPECT_EQ(*objects[2].Find("object_refs"), json::Value(json::Array{kDomainId}));
  EXPECT_EQ(report.scos_created, 1u);
  EXPECT_EQ(report.changes["bundle: spec_version removed"], 1u);
}

TEST(UpgradeObservedData, ResultValidatesAsStix21) {
  // kObservedData without its deliberately dangling reference.
  std::string observed_data = kObservedData;
  const std::string dangling = R"(["0", "9"])";
  observed_data.replace(observed_data.find(dangling), dangling.size(), R"(["0"])");
  const std::string bundle = StrCat(
      R"({"type":"bundle","id":"bundle--5255859a-24c0-443d-9fe3-7104116c1921","spec_version":"2.0","objects":[)",
      observed_data, "]}");
  auto out = UpgradeInput(bundle);
  ASSERT_TRUE(out.ok()) << out.status();
  ValidateOptions options;
  options.check_sco_ids = true;
  Validator validator(options);
  Report report = validator.Validate(*out);
  EXPECT_FALSE(report.stix20);
  for (const Finding& f : report.findings) {
    ADD_FAILURE() << (f.severity == Severity::kError ? "error: " : "warning: ") << f.pointer << ": "
                  << f.message << " [" << f.rule << "]";
  }
}

TEST(UpgradeObservedData, SingleObjectInputBecomesABundle) {
  auto out = UpgradeInput(kObservedData);
  ASSERT_TRUE(out.ok()) << out.status();
  json::Value b = ParseOrDie(*out);
  EXPECT_EQ(Str(b, "type"), "bundle");
  EXPECT_EQ(b.Find("objects")->as_array().size(), 6u);
}

TEST(UpgradeObservedData, MalformedContainerIsAnErrorWithItsPointer) {
  auto out = UpgradeInput(R"({"type":"bundle","id":"bundle--1","objects":[
      {"type":"identity","id":"identity--1","name":"a","identity_class":"individual"},
      {"type":"observed-data","id":"observed-data--1","objects":["not","a","dictionary"]}]})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("/objects/1/objects:"));
}

// --- Patterns -----------------------------------------------------------------------------------

TEST(UpgradePattern, RenamesPathsOutsideStringsOnly) {
  std::string p =
      "[file:created > t'2016-01-01T00:00:00Z' AND process:command_line = 'file:created'] "
      "FOLLOWEDBY [process:binary_ref.name = 'x' OR process:name = 'y']";
  std::vector<std::string> removed;
  EXPECT_EQ(UpgradePatternPaths(p, &removed), 2);
  EXPECT_EQ(p,
            "[file:ctime > t'2016-01-01T00:00:00Z' AND process:command_line = 'file:created'] "
            "FOLLOWEDBY [process:image_ref.name = 'x' OR process:name = 'y']");
  EXPECT_THAT(removed, ElementsAre("process:name"));
}

TEST(UpgradePattern, SsdeepBecomesUpperCase) {
  std::string p =
      "[file:hashes.ssdeep = 'a' OR file:hashes.'ssdeep' = 'b' OR file:hashes.'SHA-256' = 'c']";
  EXPECT_EQ(UpgradePatternPaths(p), 2);
  EXPECT_EQ(
      p, "[file:hashes.SSDEEP = 'a' OR file:hashes.'SSDEEP' = 'b' OR file:hashes.'SHA-256' = 'c']");
}

TEST(UpgradePattern, EscapedQuotesDoNotEndTheString) {
  std::string p =
      R"([process:command_line = 'a \' file:created \\' AND file:created = t'2016-01-01T00:00:00Z'])";
  EXPECT_EQ(UpgradePatternPaths(p), 1);
  EXPECT_EQ(
      p,
      R"([process:command_line = 'a \' file:created \\' AND file:ctime = t'2016-01-01T00:00:00Z'])");
}

TEST(UpgradePattern, IndicatorWarnsAboutRemovedPaths) {
  UpgradeReport report;
  json::Value out =
      Upgrade(R"({"type":"indicator","id":"indicator--1","pattern":"[process:name = 'x']",
      "valid_from":"2019-05-06T18:42:36.176Z","labels":["malicious-activity"]})",
              {}, &report);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("/pattern: uses process:name"));
}

// --- Input forms and errors ---------------------------------------------------------------------

TEST(UpgradeInput, NdjsonStaysNdjson) {
  auto out = UpgradeInput(
      "{\"type\":\"tool\",\"id\":\"tool--1\",\"name\":\"t\",\"labels\":[\"tool\"]}\n\n"
      "{\"type\":\"campaign\",\"id\":\"campaign--1\",\"name\":\"c\"}\n");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(
      *out,
      "{\"type\":\"tool\",\"spec_version\":\"2.1\",\"id\":\"tool--1\",\"name\":\"t\"}\n"
      "{\"type\":\"campaign\",\"spec_version\":\"2.1\",\"id\":\"campaign--1\",\"name\":\"c\"}\n");
}

TEST(UpgradeInput, NdjsonErrorsNameTheLine) {
  auto out = UpgradeInput(
      "{\"type\":\"campaign\",\"id\":\"campaign--1\",\"name\":\"c\"}\n"
      "{\"id\":\"campaign--2\",\"name\":\"c\"}\n");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("line 2: /type"));
}

TEST(UpgradeInput, EnvelopeStaysAnEnvelope) {
  auto out = UpgradeInput(
      R"({"more":true,"next":"abc","objects":[{"type":"campaign","id":"campaign--1","name":"c"}]})");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(ParseOrDie(*out), ParseOrDie(R"({"more":true,"next":"abc","objects":[
      {"type":"campaign","spec_version":"2.1","id":"campaign--1","name":"c"}]})"));
}

TEST(UpgradeInput, RejectsWhatItCannotUpgrade) {
  for (std::string_view bad : {"", "[1,2]", "{\"type\":", R"({"type":"bundle","objects":[1]})",
                               R"({"type":"campaign","spec_version":"2.2","id":"campaign--1"})",
                               R"({"type":"campaign","spec_version":2.1,"id":"campaign--1"})"}) {
    auto out = UpgradeInput(bad);
    EXPECT_FALSE(out.ok()) << bad;
    if (!out.ok()) {
      EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(UpgradeInput, ObjectWithoutSpecVersionIsTreatedAs20EvenInA21Bundle) {
  // STIX 2.1 "Common Properties": absent spec_version means 2.0 for all but SCOs.
  auto out = UpgradeInput(R"({"type":"bundle","id":"bundle--1","objects":[
      {"type":"indicator","id":"indicator--1","pattern":"[url:value = 'x']","valid_from":"2019-05-06T18:42:36.176Z","labels":["benign"]},
      {"type":"url","id":"url--1","value":"x"}]})");
  ASSERT_TRUE(out.ok()) << out.status();
  json::Value b = ParseOrDie(*out);
  const json::Array& objects = b.Find("objects")->as_array();
  EXPECT_EQ(Str(objects[0], "pattern_type"), "stix");
  EXPECT_EQ(objects[1], ParseOrDie(R"({"type":"url","id":"url--1","value":"x"})"));
}

// --- Real data ----------------------------------------------------------------------------------

struct RealFile {
  std::filesystem::path path;
  std::string text;
};

std::vector<std::filesystem::path> Stix20Files(const std::filesystem::path& shared) {
  const std::filesystem::path stix = shared / "data" / "stix";
  std::vector<std::filesystem::path> files =
      testing::FilesUnder(stix / "unit42-playbooks", {".json"});
  for (const auto& f : testing::FilesUnder(stix / "cti-python-stix2" / "v20", {".json"})) {
    files.push_back(f);
  }
  files.push_back(stix / "mitre-attack" / "enterprise-attack-18.1.stix20-objects.ndjson.gz");
  return files;
}

std::string ReadOrFail(const std::filesystem::path& path) {
  auto buffer = ReadInput(path.string());
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? std::string(buffer->view()) : std::string();
}

// Errors the validator finds in upgraded real data that are problems of the data itself (they are
// errors in STIX 2.0 as well, or 2.1 rules the producer breaks), not of the upgrade. Each must
// still occur, so that the list stays honest.
struct KnownDataError {
  std::string_view file;     // file name
  std::string_view pointer;  // of the finding
  std::string_view rule;
  std::string_view reason;
};
constexpr KnownDataError kKnownDataErrors[] = {
    // Unit 42 wrote identity_class as a list; it is a single identity-class-ov string in 2.0
    // (Part 2, Identity) as in 2.1 (Identity).
    {"emotet.json", "/objects/55/identity_class", "property-type",
     "identity_class is [\"unknown\"]"},
    {"emotet.json", "/objects/56/identity_class", "property-type",
     "identity_class is [\"unknown\"]"},
    {"emotet.json", "/objects/57/identity_class", "property-type",
     "identity_class is [\"unknown\"]"},
    {"emotet.json", "/objects/58/identity_class", "property-type",
     "identity_class is [\"unknown\"]"},
    {"emotet.json", "/objects/59/identity_class", "property-type",
     "identity_class is [\"unknown\"]"},
};

// Every STIX 2.0 file under ../shared/data/stix upgrades, and the result validates as STIX 2.1
// with zero errors apart from kKnownDataErrors.
TEST(UpgradeRealData, EveryStix20FileUpgradesAndValidates) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  Validator validator;
  size_t files = 0, objects = 0;
  std::vector<int> known_seen(std::size(kKnownDataErrors), 0);
  for (const std::filesystem::path& path : Stix20Files(shared)) {
    SCOPED_TRACE(path.string());
    const std::string text = ReadOrFail(path);
    UpgradeReport report;
    auto out = UpgradeInput(text, {}, &report);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(report.unchanged, 0u);
    EXPECT_EQ(report.upgraded, report.objects);
    Report validation = validator.Validate(*out);
    EXPECT_FALSE(validation.stix20);
    EXPECT_EQ(validation.findings.size(), validation.errors + validation.warnings);
    for (const Finding& f : validation.findings) {
      if (f.severity != Severity::kError) continue;
      bool known = false;
      for (size_t i = 0; i < std::size(kKnownDataErrors); ++i) {
        const KnownDataError& k = kKnownDataErrors[i];
        if (path.filename() == k.file && f.pointer == k.pointer && f.rule == k.rule) {
          known = true;
          ++known_seen[i];
        }
      }
      if (!known) {
        ADD_FAILURE() << f.line << ":" << f.column << ": " << f.pointer << ": " << f.message << " ["
                      << f.rule << "]";
      }
    }
    ++files;
    objects += validation.objects;
  }
  for (size_t i = 0; i < std::size(kKnownDataErrors); ++i) {
    EXPECT_GT(known_seen[i], 0) << "known data error no longer seen: " << kKnownDataErrors[i].file
                                << " " << kKnownDataErrors[i].pointer << " ("
                                << kKnownDataErrors[i].reason << ")";
  }
  EXPECT_GE(files, 39u);
  EXPECT_GE(objects, 24771u + 2129u);
}

// Upgrading is idempotent: 2.1 output upgrades to itself, byte for byte.
TEST(UpgradeRealData, UpgradedOutputUpgradesToItself) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::string text = ReadOrFail(shared / "data/stix/unit42-playbooks/boggyserpens.json");
  auto once = UpgradeInput(text);
  ASSERT_TRUE(once.ok()) << once.status();
  UpgradeReport report;
  auto twice = UpgradeInput(*once, {}, &report);
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(*twice, *once);
  EXPECT_EQ(report.upgraded, 0u);
}

// SOURCES.md 2.2: mitre/cti's STIX 2.0 objects and attack-stix-data's 2.1 release of the same
// objects differ only by spec_version and malware labels ["malware"] -> is_family true. The
// Enterprise 2.0 objects that also appear, at the same version, in the ICS 2.1 bundle must
// upgrade to exactly what MITRE published.
TEST(UpgradeRealData, AttackEnterpriseUpgradesToMitres21Objects) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::string enterprise =
      ReadOrFail(shared / "data/stix/mitre-attack/enterprise-attack-18.1.stix20-objects.ndjson.gz");
  auto upgraded = UpgradeInput(enterprise);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  absl::flat_hash_map<std::string, json::Value> ours;
  auto split = SplitObjects(*upgraded);
  ASSERT_TRUE(split.ok()) << split.status();
  for (const ObjectText& t : split->objects) {
    json::Value v = ParseOrDie(t.json);
    ours.emplace(Str(v, "id"), std::move(v));
  }
  json::Value ics = ParseOrDie(ReadOrFail(shared / "data/stix/mitre-attack/ics-attack-18.1.json"));
  size_t compared = 0, malware = 0;
  for (const json::Value& theirs : ics.Find("objects")->as_array()) {
    auto it = ours.find(Str(theirs, "id"));
    if (it == ours.end() || Str(it->second, "modified") != Str(theirs, "modified")) continue;
    // Each release lists its own domain in x_mitre_domains of objects several domains share
    // (one revoked intrusion-set here); that is MITRE's packaging, not a 2.0/2.1 difference.
    json::Value a = it->second, b = theirs;
    a.Erase("x_mitre_domains");
    b.Erase("x_mitre_domains");
    EXPECT_EQ(json::Canonicalize(a), json::Canonicalize(b));
    ++compared;
    malware += Str(theirs, "type") == "malware";
  }
  EXPECT_GE(compared, 100u);
  EXPECT_GE(malware, 10u);
}

// cti-python-stix2 keeps the same objects as STIX 2.0 and 2.1 files. They agree with the upgrade
// except where docs/upgrade.md documents a different choice: the library's fixtures keep
// placeholder labels as types (tool_types ["tool"]) and set malware is_family false, and one
// fixture keeps a second-precision `created` that 2.1 forbids (compared as an instant).
TEST(UpgradeRealData, CtiPythonStix2FixturesAgreeWithTheUpgrade) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::filesystem::path v20 = shared / "data/stix/cti-python-stix2/v20";
  const std::filesystem::path v21 = shared / "data/stix/cti-python-stix2/v21";
  size_t compared = 0, half_converted = 0;
  for (const std::filesystem::path& path : testing::FilesUnder(v20, {".json"})) {
    const std::filesystem::path twin = v21 / std::filesystem::relative(path, v20);
    if (!std::filesystem::exists(twin)) continue;
    SCOPED_TRACE(path.string());
    auto out = UpgradeInput(ReadOrFail(path));
    ASSERT_TRUE(out.ok()) << out.status();
    json::Value ours = ParseOrDie(*out);
    json::Value theirs = ParseOrDie(ReadOrFail(twin));
    if (Str(ours, "type") == "bundle") {
      ASSERT_EQ(Str(ours, "id"), Str(theirs, "id"));
      ours = ours.Find("objects")->as_array().at(0);
      theirs = theirs.Find("objects")->as_array().at(0);
    }
    if (theirs.Find("spec_version") == nullptr) {
      // One v21 fixture (malware--b42378e0, 20170531213215263882) is half-converted: it gained
      // is_family but kept its 2.0 bundle spec_version and no object spec_version.
      ++half_converted;
      ours.Erase("spec_version");
    }
    for (std::string_view key : {"labels", "malware_types", "tool_types", "is_family"}) {
      ours.Erase(key);
      theirs.Erase(key);
    }
    for (std::string_view key : {"created", "modified"}) {
      if (ours.Find(key) == nullptr || theirs.Find(key) == nullptr) continue;
      auto a = Timestamp::Parse(Str(ours, key));
      auto b = Timestamp::Parse(Str(theirs, key));
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ(*a, *b);
      ours.Erase(key);
      theirs.Erase(key);
    }
    EXPECT_EQ(json::Canonicalize(ours), json::Canonicalize(theirs));
    ++compared;
  }
  EXPECT_GE(compared, 25u);
  EXPECT_EQ(half_converted, 1u);
}

}  // namespace
}  // namespace liaison::stix
