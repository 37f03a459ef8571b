// Tests of src/policy/release.h and partner.h: each rule on its own, granular sanitisation with
// list indices and nested paths, and the partner configuration.

#include "policy/release.h"

#include <string>
#include <vector>

#include "core/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/markings.h"
#include "policy/partner.h"
#include "stix/object.h"
#include "stix/validate.h"

namespace liaison::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kStatement = "marking-definition--11111111-1111-4111-8111-111111111111";
constexpr std::string_view kCustom = "marking-definition--22222222-2222-4222-8222-222222222222";
constexpr std::string_view kCreatorA = "identity--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
constexpr std::string_view kCreatorB = "identity--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

// An indicator with the given extra members (JSON text without braces, may be empty).
std::string Indicator(std::string_view extra) {
  std::string s =
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--0a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",)"
      R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z",)"
      R"("pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",)"
      R"("valid_from":"2024-01-01T00:00:00Z")";
  if (!extra.empty()) s += "," + std::string(extra);
  return s + "}";
}

Partner MakePartner(ReleaseRules rules) {
  Partner p;
  p.name = "p";
  p.rules = std::move(rules);
  p.policy_version = ComputePolicyVersion(p.rules);
  return p;
}

Decision DecideText(const std::string& json, const Partner& partner,
                    const EndsCheck* ends = nullptr) {
  auto object = stix::ParseObject(json);
  EXPECT_TRUE(object.ok()) << object.status() << json;
  auto d = ReleasePolicy().Decide(*object, json, partner, ends);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Decision{};
}

std::string Marked(std::string_view marking) {
  return "\"object_marking_refs\":[\"" + std::string(marking) + "\"]";
}

TEST(TlpMarkings, KnowsBothVersionsByIdOnly) {
  EXPECT_EQ(TlpOfMarking(kTlp2Clear), Tlp::kClear);
  EXPECT_EQ(TlpOfMarking(kTlp1White), Tlp::kClear);
  EXPECT_EQ(TlpOfMarking(kTlp2AmberStrict), Tlp::kAmberStrict);
  EXPECT_EQ(TlpOfMarking(kTlp1Red), Tlp::kRed);
  EXPECT_EQ(TlpOfMarking(kStatement), std::nullopt);
  EXPECT_EQ(ParseTlp("AMBER+STRICT"), Tlp::kAmberStrict);
  EXPECT_EQ(ParseTlp("white"), Tlp::kClear);
  EXPECT_EQ(ParseTlp("purple"), std::nullopt);
}

TEST(ReleasePolicy, ReleasesAllowedTlpAsIs) {
  Partner p = MakePartner({.tlp = {Tlp::kClear, Tlp::kGreen}});
  Decision d = DecideText(Indicator(Marked(kTlp2Green)), p);
  EXPECT_EQ(d.kind, Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(Marked(kTlp1Green)), p).kind, Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(Marked(kTlp2Amber)), p).kind, Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, AmberStrictAndRedNeverLeave) {
  // Even a (hand-built) policy listing them does not release them.
  Partner p =
      MakePartner({.tlp = {Tlp::kClear, Tlp::kGreen, Tlp::kAmber, Tlp::kAmberStrict, Tlp::kRed}});
  Decision strict = DecideText(Indicator(Marked(kTlp2AmberStrict)), p);
  EXPECT_EQ(strict.kind, Decision::Kind::kWithhold);
  EXPECT_THAT(strict.reason, HasSubstr("never leaves"));
  EXPECT_EQ(DecideText(Indicator(Marked(kTlp2Red)), p).kind, Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(Marked(kTlp1Red)), p).kind, Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, MostRestrictiveTlpWins) {
  Partner p = MakePartner({.tlp = {Tlp::kClear, Tlp::kGreen}});
  std::string both = "\"object_marking_refs\":[\"" + std::string(kTlp2Clear) + "\",\"" +
                     std::string(kTlp2Amber) + "\"]";
  EXPECT_EQ(DecideText(Indicator(both), p).kind, Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, UnmarkedObjectsFollowTheUnmarkedSetting) {
  EXPECT_EQ(DecideText(Indicator(""), MakePartner({})).kind, Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(""), MakePartner({.unmarked = Tlp::kClear})).kind,
            Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(""), MakePartner({.unmarked = Tlp::kAmber})).kind,
            Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, OtherMarkingsNeedToBeAllowed) {
  ReleaseRules r{.unmarked = Tlp::kClear};
  std::string statement = Marked(kStatement);
  EXPECT_EQ(DecideText(Indicator(statement), MakePartner(r)).kind, Decision::Kind::kWithhold);
  r.markings.allow = {std::string(kStatement)};
  EXPECT_EQ(DecideText(Indicator(statement), MakePartner(r)).kind, Decision::Kind::kRelease);
  r.markings.deny = {std::string(kStatement)};
  EXPECT_EQ(DecideText(Indicator(statement), MakePartner(r)).kind, Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, TypesLabelsConfidenceAndCreators) {
  ReleaseRules r{.unmarked = Tlp::kClear};
  r.types.deny = {"indicator"};
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kWithhold);
  r.types = {.allow = {"indicator"}};
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kRelease);

  r.labels = {.allow = {"terrorism", "cybercrime"}, .deny = {"military"}};
  EXPECT_EQ(DecideText(Indicator(R"("labels":["cybercrime"])"), MakePartner(r)).kind,
            Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(R"("labels":["cybercrime","military"])"), MakePartner(r)).kind,
            Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(R"("labels":["politics"])"), MakePartner(r)).kind,
            Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kWithhold);
  r.labels = {};

  r.min_confidence = 50;
  EXPECT_EQ(DecideText(Indicator(R"("confidence":49)"), MakePartner(r)).kind,
            Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(R"("confidence":50)"), MakePartner(r)).kind,
            Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kRelease);
  r.require_confidence = true;
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kWithhold);
  r.require_confidence = false;

  r.creators.allow = {std::string(kCreatorA)};
  const std::string by_a = "\"created_by_ref\":\"" + std::string(kCreatorA) + "\"";
  const std::string by_b = "\"created_by_ref\":\"" + std::string(kCreatorB) + "\"";
  EXPECT_EQ(DecideText(Indicator(by_a), MakePartner(r)).kind, Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(by_b), MakePartner(r)).kind, Decision::Kind::kWithhold);
  EXPECT_EQ(DecideText(Indicator(""), MakePartner(r)).kind, Decision::Kind::kWithhold);
  r.creators = {.deny = {std::string(kCreatorB)}};
  EXPECT_EQ(DecideText(Indicator(by_a), MakePartner(r)).kind, Decision::Kind::kRelease);
  EXPECT_EQ(DecideText(Indicator(by_b), MakePartner(r)).kind, Decision::Kind::kWithhold);
}

std::string Granular(std::string_view marking, std::vector<std::string> selectors) {
  std::string s = "{\"marking_ref\":\"" + std::string(marking) + "\",\"selectors\":[";
  for (size_t i = 0; i < selectors.size(); ++i) {
    s += (i ? ",\"" : "\"") + selectors[i] + "\"";
  }
  return s + "]}";
}

TEST(ReleasePolicy, MayReleaseAgreesWithDecideOnRulesOneToFive) {
  // The scan's first look (MayRelease) must never withhold what Decide releases, and should
  // withhold what rules 1-5 withhold. Each case: the object's extra members, and whether rules
  // 1-5 withhold it for the partner below.
  ReleaseRules r;
  r.tlp = {Tlp::kClear, Tlp::kGreen};
  r.unmarked = Tlp::kClear;
  r.types.deny = {"malware"};
  r.labels.deny = {"military"};
  r.creators.deny = {std::string(kCreatorB)};
  r.markings.allow = {std::string(kStatement)};
  r.min_confidence = 30;
  r.require_visible_ends = false;
  const Partner p = MakePartner(r);
  const std::string amber(kTlp2Amber), green(kTlp2Green);
  struct Case {
    std::string extra;
    bool withheld;
  };
  const std::vector<Case> cases = {
      {"", false},
      {Marked(green), false},
      {Marked(amber), true},
      {R"("object_marking_refs":[")" + green + R"(",")" + amber + R"("])", true},
      {Marked(kStatement), false},
      {Marked(kCustom), true},
      {R"("labels":["cybercrime"])", false},
      {R"("labels":["cybercrime","military"])", true},
      {R"("created_by_ref":")" + std::string(kCreatorA) + R"(")", false},
      {R"("created_by_ref":")" + std::string(kCreatorB) + R"(")", true},
      {R"("confidence":30)", false},
      {R"("confidence":29)", true},
      {R"("confidence":0)", true},
      // Out of range: stix::ParseObject reads no confidence, so neither rule 5 nor the first
      // look withholds for it.
      {R"("confidence":101)", false},
      {R"("confidence":-1)", false},
  };
  for (const Case& c : cases) {
    const std::string json = Indicator(c.extra);
    SCOPED_TRACE(json);
    const Decision d = DecideText(json, p);
    EXPECT_EQ(d.released(), !c.withheld) << d.reason;
    EXPECT_EQ(ReleasePolicy().MayRelease(json, p), !c.withheld);
  }
  // Type rule, on another type.
  const std::string malware =
      R"({"type":"malware","spec_version":"2.1","id":"malware--0a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",)"
      R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
      R"("name":"x","is_family":false})";
  EXPECT_FALSE(DecideText(malware, p).released());
  EXPECT_FALSE(ReleasePolicy().MayRelease(malware, p));
  // What it cannot read it leaves to Decide (which withholds it as unreadable or decides it).
  for (std::string_view odd :
       {std::string_view("not json"), std::string_view("[1,2]"), std::string_view("{}"),
        std::string_view(R"({"type":"indicator","id":"indicator--x","labels":"military"})"),
        std::string_view(R"({"type":"indicator","id":"indicator--x","labels":[1]})"),
        std::string_view(R"({"type":"indicator","id":"indicator--x","created_by_ref":7})")}) {
    EXPECT_TRUE(ReleasePolicy().MayRelease(odd, p)) << odd;
  }
}

TEST(ReleasePolicy, GranularMarkingsRemoveListItemsAndRemapTheRest) {
  Partner p = MakePartner({.tlp = {Tlp::kClear, Tlp::kGreen}, .unmarked = Tlp::kClear});
  // labels.[0] and labels.[2] are RED; labels.[3] stays GREEN and must become labels.[1].
  std::string json = Indicator(
      R"("labels":["r0","g1","r2","g3"],"description":"d",)"
      R"("external_references":[{"source_name":"a","url":"https://a.example/"},)"
      R"({"source_name":"b","external_id":"B-1","url":"https://b.example/SECRET"}],)"
      R"("granular_markings":[)" +
      Granular(kTlp2Red, {"labels.[0]", "labels.[2]", "external_references.[1].url"}) + "," +
      Granular(kTlp2Green, {"labels.[3]", "description", "external_references.[1].source_name"}) +
      "]");
  ASSERT_EQ(stix::ValidateObjectText(json).errors, 0u);
  Decision d = DecideText(json, p);
  ASSERT_EQ(d.kind, Decision::Kind::kSanitised) << d.reason;
  EXPECT_THAT(d.removed, ElementsAre("labels.[0]", "labels.[2]", "external_references.[1].url"));
  auto out = json::Parse(d.json);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(json::Serialize(*out->Find("labels")), R"(["g1","g3"])");
  EXPECT_EQ(
      json::Serialize(*out->Find("external_references")),
      R"([{"source_name":"a","url":"https://a.example/"},{"source_name":"b","external_id":"B-1"}])");
  EXPECT_EQ(json::Serialize(*out->Find("granular_markings")),
            "[{\"marking_ref\":\"" + std::string(kTlp2Green) +
                "\",\"selectors\":[\"labels.[1]\",\"description\","
                "\"external_references.[1].source_name\"]}]");
  EXPECT_EQ(d.json.find("SECRET"), std::string::npos);
  EXPECT_EQ(stix::ValidateObjectText(d.json).errors, 0u) << d.json;
}

TEST(ReleasePolicy, GranularMarkingOnARequiredPropertyWithholds) {
  Partner p = MakePartner({.unmarked = Tlp::kClear});
  Decision d =
      DecideText(Indicator("\"granular_markings\":[" + Granular(kTlp2Amber, {"pattern"}) + "]"), p);
  EXPECT_EQ(d.kind, Decision::Kind::kWithhold);
  EXPECT_THAT(d.reason, HasSubstr("invalid object"));
  Decision common =
      DecideText(Indicator("\"granular_markings\":[" + Granular(kTlp2Red, {"modified"}) + "]"), p);
  EXPECT_EQ(common.kind, Decision::Kind::kWithhold);
}

TEST(ReleasePolicy, AListEmptiedBySanitisingGoesAsAWhole) {
  Partner p = MakePartner({.unmarked = Tlp::kClear});
  Decision d = DecideText(Indicator(R"("labels":["a"],"granular_markings":[)" +
                                    Granular(kCustom, {"labels.[0]"}) + "]"),
                          p);
  ASSERT_EQ(d.kind, Decision::Kind::kSanitised) << d.reason;
  EXPECT_EQ(d.json.find("labels"), std::string::npos);
  EXPECT_EQ(d.json.find("granular_markings"), std::string::npos);
}

TEST(ReleasePolicy, AllowedGranularMarkingsAreKept) {
  Partner p = MakePartner({.tlp = {Tlp::kClear, Tlp::kGreen}, .unmarked = Tlp::kClear});
  std::string json = Indicator(R"("description":"d","granular_markings":[)" +
                               Granular(kTlp2Green, {"description"}) + "]");
  EXPECT_EQ(DecideText(json, p).kind, Decision::Kind::kRelease);
}

std::string Relationship() {
  return R"({"type":"relationship","spec_version":"2.1",)"
         R"("id":"relationship--1a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",)"
         R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
         R"("relationship_type":"indicates",)"
         R"("source_ref":"indicator--0a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",)"
         R"("target_ref":"malware--2a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e"})";
}

TEST(ReleasePolicy, RelationshipsNeedVisibleEnds) {
  Partner p = MakePartner({.unmarked = Tlp::kClear});
  EXPECT_EQ(DecideText(Relationship(), p).kind, Decision::Kind::kWithhold);
  EndsCheck all = [](std::string_view) -> Result<bool> { return true; };
  EXPECT_EQ(DecideText(Relationship(), p, &all).kind, Decision::Kind::kRelease);
  EndsCheck no_malware = [](std::string_view id) -> Result<bool> {
    return id.rfind("malware--", 0) != 0;
  };
  Decision d = DecideText(Relationship(), p, &no_malware);
  EXPECT_EQ(d.kind, Decision::Kind::kWithhold);
  EXPECT_THAT(d.reason, HasSubstr("malware--"));
  // Withheld by the ends alone: sync push re-offers it when the end becomes visible.
  EXPECT_TRUE(d.ends_invisible);
  // Withheld by another rule: not waiting on an end.
  Partner typed = MakePartner({.unmarked = Tlp::kClear});
  typed.rules.types.deny = {"relationship"};
  Decision by_type = DecideText(Relationship(), typed, &no_malware);
  EXPECT_EQ(by_type.kind, Decision::Kind::kWithhold);
  EXPECT_FALSE(by_type.ends_invisible);
  p.rules.require_visible_ends = false;
  EXPECT_EQ(DecideText(Relationship(), p).kind, Decision::Kind::kRelease);
}

// A report names what it is about in object_refs: the ends rule applies to it as to an SRO, or
// a report would reveal the ids of objects the partner may not see.
TEST(ReleasePolicy, ReportsNeedVisibleObjectRefs) {
  const std::string report =
      R"({"type":"report","spec_version":"2.1","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3",)"
      R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
      R"("name":"r","published":"2024-01-01T00:00:00Z","object_refs":[)"
      R"("indicator--0a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",)"
      R"("malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})";
  Partner p = MakePartner({.unmarked = Tlp::kClear});
  EXPECT_EQ(DecideText(report, p).kind, Decision::Kind::kWithhold);
  EndsCheck all = [](std::string_view) -> Result<bool> { return true; };
  EXPECT_EQ(DecideText(report, p, &all).kind, Decision::Kind::kRelease);
  EndsCheck no_malware = [](std::string_view id) -> Result<bool> {
    return id.rfind("malware--", 0) != 0;
  };
  Decision d = DecideText(report, p, &no_malware);
  EXPECT_EQ(d.kind, Decision::Kind::kWithhold);
  EXPECT_THAT(d.reason, HasSubstr("malware--31b940d4"));
  auto object = stix::ParseObject(report);
  ASSERT_TRUE(object.ok());
  EXPECT_THAT(RelationshipEnds(*object, report),
              ElementsAre("indicator--0a3e4d6f-1d3a-4b5c-8d9e-0f1a2b3c4d5e",
                          "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"));
  p.rules.require_visible_ends = false;
  EXPECT_EQ(DecideText(report, p).kind, Decision::Kind::kRelease);
}

TEST(Partners, ParsesTomlAndVersionsThePolicy) {
  auto set = ParsePartners(R"(
[[partner]]
name = "cert-x"
identity = "identity--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
groups = ["cert-x"]
tlp = ["clear", "green", "amber"]
unmarked = "green"
allow_labels = ["terrorism", "cybercrime"]
deny_labels = ["military"]
min_confidence = 40

[[partner]]
name = "isac"
users = ["bob"]
)",
                           "test.toml");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->partners().size(), 2u);
  const Partner* x = set->Find("cert-x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->rules.tlp.size(), 3u);
  EXPECT_EQ(x->rules.unmarked, Tlp::kGreen);
  EXPECT_EQ(x->rules.min_confidence, 40);
  EXPECT_THAT(x->policy_version, HasSubstr("sha256:"));
  EXPECT_EQ(set->ForUser({"carol", "", false, {"cert-x"}}), x);
  EXPECT_EQ(set->ForUser({"bob", "", false, {}}), set->Find("isac"));
  EXPECT_EQ(set->ForUser({"root", "", true, {"cert-x"}}), nullptr);  // admins see everything
  EXPECT_EQ(set->ForUser({"dave", "", false, {"other"}}), nullptr);
  // Acting for two partners: a policy that releases nothing, never the wider of the two.
  const Partner* both = set->ForUser({"bob", "", false, {"cert-x"}});
  ASSERT_NE(both, nullptr);
  EXPECT_NE(both, x);
  EXPECT_TRUE(both->rules.tlp.empty());

  // The version depends on the rules only, not on list order.
  ReleaseRules a = x->rules, b = x->rules;
  std::swap(b.labels.allow[0], b.labels.allow[1]);
  EXPECT_EQ(ComputePolicyVersion(a), ComputePolicyVersion(b));
  b.min_confidence = 41;
  EXPECT_NE(ComputePolicyVersion(a), ComputePolicyVersion(b));
}

TEST(Partners, RefusesWhatWouldWidenOrConfuseAPolicy) {
  EXPECT_THAT(ParsePartners("[[partner]]\nname=\"a\"\ntlp=[\"red\"]\n", "t").status().message(),
              HasSubstr("never released"));
  EXPECT_THAT(
      ParsePartners("[[partner]]\nname=\"a\"\ntlp=[\"amber+strict\"]\n", "t").status().message(),
      HasSubstr("never released"));
  EXPECT_THAT(
      ParsePartners("[[partner]]\nname=\"a\"\nallow_type=[\"x\"]\n", "t").status().message(),
      HasSubstr("unknown key"));
  EXPECT_THAT(ParsePartners("[[partner]]\nname=\"a\"\ngroups=[\"g\"]\n[[partner]]\nname=\"b\"\n"
                            "groups=[\"g\"]\n",
                            "t")
                  .status()
                  .message(),
              HasSubstr("already acts for"));
  EXPECT_FALSE(ParsePartners("[[partner]]\nname=\"a\"\n[[partner]]\nname=\"a\"\n", "t").ok());
  EXPECT_FALSE(ParsePartners("[[partner]]\nname=\"a\"\nmin_confidence=101\n", "t").ok());
  EXPECT_FALSE(ParsePartners("[[partner]\n", "t").ok());
}

TEST(Partners, ClientCertificatesMapToOnePartnersUser) {
  const std::string hex(64, 'a');
  const std::string colons = "sha256:" + [] {
    std::string s;
    for (int i = 0; i < 32; ++i) s += i == 0 ? "AA" : ":AA";
    return s;
  }();
  auto set = ParsePartners(
      "[[partner]]\nname=\"a\"\nusers=[\"a-sync\"]\nclient_cert_user=\"a-sync\"\n"
      "client_certs=[\"" +
          colons + "\"]\n[[partner]]\nname=\"b\"\n",
      "t");
  ASSERT_TRUE(set.ok()) << set.status();
  const Partner* a = set->ForCertificate(hex);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "a");
  EXPECT_EQ(a->client_cert_user, "a-sync");
  EXPECT_EQ(set->ForCertificate(std::string(64, 'b')), nullptr);
  EXPECT_EQ(set->ForCertificate(""), nullptr);

  // Refused: a malformed fingerprint, a certificate user that is not one of the partner's
  // users, and one certificate declared by two partners.
  EXPECT_THAT(ParsePartners("[[partner]]\nname=\"a\"\nusers=[\"u\"]\nclient_cert_user=\"u\"\n"
                            "client_certs=[\"sha256:abc\"]\n",
                            "t")
                  .status()
                  .message(),
              HasSubstr("not a SHA-256 fingerprint"));
  EXPECT_THAT(
      ParsePartners(
          "[[partner]]\nname=\"a\"\nusers=[\"u\"]\nclient_certs=[\"sha256:" + hex + "\"]\n", "t")
          .status()
          .message(),
      HasSubstr("client_cert_user"));
  EXPECT_THAT(ParsePartners("[[partner]]\nname=\"a\"\nusers=[\"u\"]\nclient_cert_user=\"u\"\n"
                            "client_certs=[\"sha256:" +
                                hex +
                                "\"]\n[[partner]]\nname=\"b\"\nusers=[\"v\"]\n"
                                "client_cert_user=\"v\"\nclient_certs=[\"SHA256:" +
                                std::string(64, 'A') + "\"]\n",
                            "t")
                  .status()
                  .message(),
              HasSubstr("already acts for"));
}

}  // namespace
}  // namespace liaison::policy
