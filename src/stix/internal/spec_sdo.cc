// The STIX Domain Objects (STIX 2.1 section 4), the STIX Relationship Objects (section 5), the
// meta objects (section 7: language-content, marking-definition, extension-definition) and the
// vocabularies of section 10 that they use.
//
// Each table lists only the type-specific properties; the common properties of section 3.2 come
// from spec_common.cc by category. The meta objects differ in which common properties apply (the
// table after section 3.2), so the meta category's common set is the marking-definition one and
// the language-content and extension-definition tables add the versioning properties they have.
//
// Where the errata 01 text and the 2.1 OASIS Standard disagree on whether a property is required
// (grouping's name, malware's is_family), the Standard and the OASIS JSON schemas are followed:
// the errata changelog does not list those changes.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "core/strings.h"
#include "simdjson.h"
#include "stix/internal/spec.h"

namespace liaison::stix::internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Vocabularies (section 10). Open vocabularies (-ov) only warn on other values; enumerations
// (-enum) reject them. Values added by STIX 2.1 errata 01 are included: they can only turn a
// warning into silence.

constexpr std::string_view kAttackMotivationValues[] = {"accidental",    "coercion",
                                                        "dominance",     "ideology",
                                                        "notoriety",     "organizational-gain",
                                                        "personal-gain", "personal-satisfaction",
                                                        "revenge",       "unpredictable"};
constexpr Vocab kAttackMotivationOv = {"attack-motivation-ov", kAttackMotivationValues};

constexpr std::string_view kAttackResourceLevelValues[] = {
    "individual", "club", "contest", "team", "organization", "government"};
constexpr Vocab kAttackResourceLevelOv = {"attack-resource-level-ov", kAttackResourceLevelValues};

constexpr std::string_view kExtensionTypeValues[] = {
    "new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"};
constexpr Vocab kExtensionTypeEnum = {"extension-type-enum", kExtensionTypeValues};

constexpr std::string_view kGroupingContextValues[] = {"suspicious-activity", "malware-analysis",
                                                       "unspecified"};
constexpr Vocab kGroupingContextOv = {"grouping-context-ov", kGroupingContextValues};

constexpr std::string_view kIdentityClassValues[] = {"individual",   "group", "system",
                                                     "organization", "class", "unknown"};
constexpr Vocab kIdentityClassOv = {"identity-class-ov", kIdentityClassValues};

constexpr std::string_view kImplementationLanguageValues[] = {
    "applescript", "bash",         "c",      "c++",         "c#",    "go",
    "java",        "javascript",   "lua",    "objective-c", "perl",  "php",
    "powershell",  "python",       "ruby",   "rust",        "scala", "swift",
    "typescript",  "visual-basic", "x86-32", "x86-64"};
constexpr Vocab kImplementationLanguageOv = {"implementation-language-ov",
                                             kImplementationLanguageValues};

constexpr std::string_view kIndicatorTypeValues[] = {
    "anomalous-activity", "anonymization", "benign", "compromised",
    "malicious-activity", "attribution",   "unknown"};
constexpr Vocab kIndicatorTypeOv = {"indicator-type-ov", kIndicatorTypeValues};

constexpr std::string_view kIndustrySectorValues[] = {
    "agriculture",
    "aerospace",
    "automotive",
    "chemical",
    "commercial",
    "communications",
    "construction",
    "defense",
    "education",
    "energy",
    "engineering",  // in the OASIS JSON schema's list, not in the specification's
    "entertainment",
    "financial-services",
    "government",
    "emergency-services",
    "government-local",
    "government-national",
    "government-public-services",
    "government-regional",
    "healthcare",
    "hospitality-leisure",
    "infrastructure",
    "dams",
    "nuclear",
    "water",
    "insurance",
    "legal",
    "manufacturing",
    "mining",
    "non-profit",
    "pharmaceuticals",
    "retail",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
};
constexpr Vocab kIndustrySectorOv = {"industry-sector-ov", kIndustrySectorValues};

constexpr std::string_view kInfrastructureTypeValues[] = {"amplification",
                                                          "anonymization",
                                                          "botnet",
                                                          "command-and-control",
                                                          "control-system",
                                                          "exfiltration",
                                                          "firewall",
                                                          "hosting-malware",
                                                          "hosting-target-lists",
                                                          "phishing",
                                                          "reconnaissance",
                                                          "routers-switches",
                                                          "staging",
                                                          "workstation",
                                                          "unknown"};
constexpr Vocab kInfrastructureTypeOv = {"infrastructure-type-ov", kInfrastructureTypeValues};

constexpr std::string_view kMalwareCapabilitiesValues[] = {
    "accesses-remote-machines",
    "anti-debugging",
    "anti-disassembly",
    "anti-emulation",
    "anti-memory-forensics",
    "anti-sandbox",
    "anti-vm",
    "captures-input-peripherals",
    "captures-output-peripherals",
    "captures-system-state-data",
    "cleans-traces-of-infection",
    "commits-fraud",
    "communicates-with-c2",
    "compromises-data-availability",
    "compromises-data-integrity",
    "compromises-system-availability",
    "controls-local-machine",
    "degrades-security-software",
    "degrades-system-updates",
    "determines-c2-server",
    "emails-spam",
    "escalates-privileges",
    "evades-av",
    "exfiltrates-data",
    "fingerprints-host",
    "hides-artifacts",
    "hides-executing-code",
    "infects-files",
    "infects-remote-machines",
    "installs-other-components",
    "persists-after-system-reboot",
    "prevents-artifact-access",
    "prevents-artifact-deletion",
    "probes-network-environment",
    "self-modifies",
    "steals-authentication-credentials",
    "violates-system-operational-integrity",
};
constexpr Vocab kMalwareCapabilitiesOv = {"malware-capabilities-ov", kMalwareCapabilitiesValues};

// Section 10.14; the property that uses it (malware-analysis `result`) calls it malware-result-ov,
// the OASIS JSON schema malware-av-result-ov.
constexpr std::string_view kMalwareResultValues[] = {"malicious", "suspicious", "benign",
                                                     "unknown"};
constexpr Vocab kMalwareResultOv = {"malware-result-ov", kMalwareResultValues};

constexpr std::string_view kMalwareTypeValues[] = {"adware",
                                                   "backdoor",
                                                   "bot",
                                                   "bootkit",
                                                   "ddos",
                                                   "downloader",
                                                   "dropper",
                                                   "exploit-kit",
                                                   "keylogger",
                                                   "ransomware",
                                                   "remote-access-trojan",
                                                   "resource-exploitation",
                                                   "rogue-security-software",
                                                   "rootkit",
                                                   "screen-capture",
                                                   "spyware",
                                                   "trojan",
                                                   "unknown",
                                                   "virus",
                                                   "webshell",
                                                   "wiper",
                                                   "worm"};
constexpr Vocab kMalwareTypeOv = {"malware-type-ov", kMalwareTypeValues};

constexpr std::string_view kOpinionValues[] = {"strongly-disagree", "disagree", "neutral", "agree",
                                               "strongly-agree"};
constexpr Vocab kOpinionEnum = {"opinion-enum", kOpinionValues};

constexpr std::string_view kPatternTypeValues[] = {"stix",  "pcre",     "sigma",
                                                   "snort", "suricata", "yara"};
constexpr Vocab kPatternTypeOv = {"pattern-type-ov", kPatternTypeValues};

constexpr std::string_view kProcessorArchitectureValues[] = {"alpha",   "arm",   "ia-64", "mips",
                                                             "powerpc", "sparc", "x86",   "x86-64"};
constexpr Vocab kProcessorArchitectureOv = {"processor-architecture-ov",
                                            kProcessorArchitectureValues};

constexpr std::string_view kRegionValues[] = {"africa",
                                              "eastern-africa",
                                              "middle-africa",
                                              "northern-africa",
                                              "southern-africa",
                                              "western-africa",
                                              "americas",
                                              "caribbean",
                                              "central-america",
                                              "latin-america-caribbean",
                                              "northern-america",
                                              "south-america",
                                              "asia",
                                              "central-asia",
                                              "eastern-asia",
                                              "southern-asia",
                                              "south-eastern-asia",
                                              "western-asia",
                                              "europe",
                                              "eastern-europe",
                                              "northern-europe",
                                              "southern-europe",
                                              "western-europe",
                                              "oceania",
                                              "antarctica",
                                              "australia-new-zealand",
                                              "melanesia",
                                              "micronesia",
                                              "polynesia"};
constexpr Vocab kRegionOv = {"region-ov", kRegionValues};

constexpr std::string_view kReportTypeValues[] = {
    "attack-pattern", "campaign",      "identity", "incident",
    "indicator",      "intrusion-set", "malware",  "observed-data",
    "threat-actor",   "threat-report", "tool",     "vulnerability"};
constexpr Vocab kReportTypeOv = {"report-type-ov", kReportTypeValues};

constexpr std::string_view kThreatActorTypeValues[] = {"activist",
                                                       "competitor",
                                                       "crime-syndicate",
                                                       "criminal",
                                                       "hacker",
                                                       "insider-accidental",
                                                       "insider-disgruntled",
                                                       "nation-state",
                                                       "private-sector",
                                                       "sensationalist",
                                                       "spy",
                                                       "terrorist",
                                                       "unknown"};
constexpr Vocab kThreatActorTypeOv = {"threat-actor-type-ov", kThreatActorTypeValues};

constexpr std::string_view kThreatActorRoleValues[] = {"agent",
                                                       "director",
                                                       "independent",
                                                       "infrastructure-architect",
                                                       "infrastructure-operator",
                                                       "malware-author",
                                                       "sponsor"};
constexpr Vocab kThreatActorRoleOv = {"threat-actor-role-ov", kThreatActorRoleValues};

constexpr std::string_view kThreatActorSophisticationValues[] = {
    "none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic"};
constexpr Vocab kThreatActorSophisticationOv = {"threat-actor-sophistication-ov",
                                                kThreatActorSophisticationValues};

constexpr std::string_view kToolTypeValues[] = {
    "denial-of-service",       "exploitation",  "information-gathering",  "network-capture",
    "credential-exploitation", "remote-access", "vulnerability-scanning", "unknown"};
constexpr Vocab kToolTypeOv = {"tool-type-ov", kToolTypeValues};

// Section 7.2.1: definition_type SHOULD be one of the two types the specification defines.
constexpr std::string_view kMarkingDefinitionTypeValues[] = {"statement", "tlp"};
constexpr Vocab kMarkingDefinitionTypeOv = {"marking-definition-type-ov",
                                            kMarkingDefinitionTypeValues};

// ---------------------------------------------------------------------------------------------
// Reference targets named by the specification.

constexpr std::string_view kSoftware[] = {"software"};
constexpr std::string_view kFileOrArtifact[] = {"file", "artifact"};
constexpr std::string_view kMalwareAnalysisSample[] = {"file", "network-traffic", "artifact"};
constexpr std::string_view kObservedData[] = {"observed-data"};
constexpr std::string_view kIdentityOrLocation[] = {"identity", "location"};

// ---------------------------------------------------------------------------------------------
// Helpers for the checks.

// Escapes a member name for use in a JSON pointer (RFC 6901 section 3).
std::string PointerToken(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// The object type named by an identifier ("type--uuid"), or empty when it has none.
std::string_view RefType(std::string_view ref) {
  size_t sep = ref.find("--");
  return sep == std::string_view::npos ? std::string_view() : ref.substr(0, sep);
}

// The category of a referenced type (`ref` is a string of the document); nullopt for a custom or
// unknown type, which a reference may name without the validator being able to tell what it is
// (section 3.3: referenced objects need not travel with the reference).
std::optional<Category> CategoryOfRef(std::string_view ref) {
  std::string_view type = RefType(ref);
  if (type.empty()) return std::nullopt;
  if (type == "bundle") return Category::kBundle;
  const TypeSpec* spec = FindTypeInDocument(type);
  if (spec == nullptr) return std::nullopt;
  return spec->category;
}

std::string_view CategoryName(Category c) {
  switch (c) {
    case Category::kSdo:
      return "an SDO";
    case Category::kSro:
      return "an SRO";
    case Category::kSco:
      return "an SCO";
    case Category::kMeta:
      return "a meta object";
    case Category::kBundle:
      return "a bundle";
  }
  return "an object";
}

// Calls fn(pointer, value) for every string element of the array `property` (absent, not an
// array or non-string elements are the table's business).
template <typename Fn>
void ForEachStringElement(CheckContext& ctx, std::string_view property, Fn fn) {
  simdjson::dom::array array;
  if (ctx.object().at_key(property).get_array().get(array) != simdjson::SUCCESS) return;
  size_t index = 0;
  for (simdjson::dom::element element : array) {
    std::string_view value;
    if (element.get_string().get(value) == simdjson::SUCCESS) {
      fn(StrCat(property, "/", index), value);
    }
    ++index;
  }
}

// Reports a reference whose target is known to be of a category the property does not allow.
// `allowed(category)` says which categories are acceptable; unknown (custom) types pass.
template <typename Allowed>
void CheckRefCategory(CheckContext& ctx, std::string_view pointer, std::string_view ref,
                      std::string_view what, Allowed allowed) {
  std::optional<Category> category = CategoryOfRef(ref);
  if (!category || allowed(*category)) return;
  ctx.Error(pointer, rule::kRefType,
            StrCat(pointer, " must reference ", what, ", not ", CategoryName(*category), " (",
                   RefType(ref), ")"));
}

// RFC 5646 well-formedness, loosely: alphanumeric subtags of 1-8 characters separated by hyphens,
// the first alphabetic (a language, or "x"/"i" for private use and grandfathered tags).
bool LooksLikeLanguageTag(std::string_view tag) {
  if (tag.empty()) return false;
  size_t start = 0;
  bool first = true;
  while (start <= tag.size()) {
    size_t end = tag.find('-', start);
    if (end == std::string_view::npos) end = tag.size();
    std::string_view subtag = tag.substr(start, end - start);
    if (subtag.empty() || subtag.size() > 8) return false;
    for (char c : subtag) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      bool digit = c >= '0' && c <= '9';
      if (first ? !alpha : !(alpha || digit)) return false;
    }
    first = false;
    start = end + 1;
  }
  return true;
}

// Warns about common properties that the table after section 3.2 marks "N/A" for a meta object.
// They are specified names, so they are not custom properties; but they mean nothing here (a
// marking definition, for one, cannot be versioned, so `modified` would mislead).
void WarnNotApplicable(CheckContext& ctx, std::string_view type,
                       std::initializer_list<std::string_view> properties) {
  for (std::string_view property : properties) {
    if (ctx.Has(property)) {
      ctx.Warning(property, rule::kCoConstraint,
                  StrCat(property, " is not applicable to ", type, " objects"));
    }
  }
}

// first_seen <= last_seen, shared by campaign, infrastructure, intrusion-set, malware,
// threat-actor and sighting ("MUST be greater than or equal to the timestamp in first_seen").
void CheckSeenWindow(CheckContext& ctx) { CheckNotBefore(ctx, "first_seen", "last_seen"); }

// ---------------------------------------------------------------------------------------------
// 4.1 Attack Pattern. A CAPEC reference MUST use source_name "capec" and external_id "CAPEC-[id]".

void CheckAttackPattern(CheckContext& ctx) {
  simdjson::dom::array refs;
  if (ctx.object().at_key("external_references").get_array().get(refs) != simdjson::SUCCESS) {
    return;
  }
  size_t index = 0;
  for (simdjson::dom::element element : refs) {
    std::string_view source, id;
    if (element["source_name"].get_string().get(source) == simdjson::SUCCESS && source == "capec" &&
        element["external_id"].get_string().get(id) == simdjson::SUCCESS) {
      bool ok = id.size() > 6 && id.substr(0, 6) == "CAPEC-";
      for (size_t i = 6; ok && i < id.size(); ++i) ok = id[i] >= '0' && id[i] <= '9';
      if (!ok) {
        ctx.Error(StrCat("external_references/", index, "/external_id"), rule::kCoConstraint,
                  StrCat("a capec external_id must be formatted CAPEC-[id], not \"", id, "\""));
      }
    }
    ++index;
  }
}

constexpr PropertySpec kAttackPatternProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "kill_chain_phases", .kind = Kind::kObject, .list = true, .nested = &kKillChainPhase},
};

// 4.2 Campaign.
constexpr PropertySpec kCampaignProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
    {.name = "objective", .kind = Kind::kString},
};

// 4.3 Course of Action. Its `action` property is RESERVED (section 3.8) and so is not listed:
// the interpreter rejects reserved names everywhere.
constexpr PropertySpec kCourseOfActionProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
};

// 4.4 Grouping. object_refs may name any STIX object (SDOs, SCOs, SROs and SMOs).
constexpr PropertySpec kGroupingProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "description", .kind = Kind::kString},
    {.name = "context", .kind = Kind::kOpenVocab, .required = true, .vocab = &kGroupingContextOv},
    {.name = "object_refs", .kind = Kind::kRef, .required = true, .list = true},
};

// 4.5 Identity.
constexpr PropertySpec kIdentityProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "roles", .kind = Kind::kString, .list = true},
    {.name = "identity_class", .kind = Kind::kOpenVocab, .vocab = &kIdentityClassOv},
    {.name = "sectors", .kind = Kind::kOpenVocab, .list = true, .vocab = &kIndustrySectorOv},
    {.name = "contact_information", .kind = Kind::kString},
};

// 4.6 Incident (a stub in 2.1).
constexpr PropertySpec kIncidentProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
};

// 4.7 Indicator. valid_until "MUST be greater than the timestamp in the valid_from property".
void CheckIndicator(CheckContext& ctx) {
  CheckNotBefore(ctx, "valid_from", "valid_until", /*strictly_after=*/true);
}

constexpr PropertySpec kIndicatorProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "description", .kind = Kind::kString},
    {.name = "indicator_types", .kind = Kind::kOpenVocab, .list = true, .vocab = &kIndicatorTypeOv},
    {.name = "pattern", .kind = Kind::kString, .required = true},
    {.name = "pattern_type", .kind = Kind::kOpenVocab, .required = true, .vocab = &kPatternTypeOv},
    {.name = "pattern_version", .kind = Kind::kString},
    {.name = "valid_from", .kind = Kind::kTimestamp, .required = true},
    {.name = "valid_until", .kind = Kind::kTimestamp},
    {.name = "kill_chain_phases", .kind = Kind::kObject, .list = true, .nested = &kKillChainPhase},
};

// 4.8 Infrastructure.
constexpr PropertySpec kInfrastructureProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "infrastructure_types",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kInfrastructureTypeOv},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "kill_chain_phases", .kind = Kind::kObject, .list = true, .nested = &kKillChainPhase},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
};

// 4.9 Intrusion Set.
constexpr PropertySpec kIntrusionSetProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
    {.name = "goals", .kind = Kind::kString, .list = true},
    {.name = "resource_level", .kind = Kind::kOpenVocab, .vocab = &kAttackResourceLevelOv},
    {.name = "primary_motivation", .kind = Kind::kOpenVocab, .vocab = &kAttackMotivationOv},
    {.name = "secondary_motivations",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kAttackMotivationOv},
};

// 4.10 Location: at least one of region, country, or latitude with longitude; latitude and
// longitude go together; precision needs both.
void CheckLocation(CheckContext& ctx) {
  const bool has_latitude = ctx.Has("latitude"), has_longitude = ctx.Has("longitude");
  if (!ctx.Has("region") && !ctx.Has("country") && !(has_latitude && has_longitude)) {
    ctx.Error("", rule::kCoConstraint,
              "a location needs at least one of region, country, or latitude and longitude");
  }
  CheckDependsOn(ctx, "latitude", "longitude");
  CheckDependsOn(ctx, "longitude", "latitude");
  if (ctx.Has("precision") && !(has_latitude && has_longitude)) {
    ctx.Error("precision", rule::kCoConstraint,
              "precision requires latitude and longitude to be present");
  }
}

constexpr PropertySpec kLocationProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "description", .kind = Kind::kString},
    {.name = "latitude", .kind = Kind::kFloat, .min = -90, .max = 90},
    {.name = "longitude", .kind = Kind::kFloat, .min = -180, .max = 180},
    {.name = "precision", .kind = Kind::kFloat, .min = 0},
    {.name = "region", .kind = Kind::kOpenVocab, .vocab = &kRegionOv},
    {.name = "country", .kind = Kind::kString},
    {.name = "administrative_area", .kind = Kind::kString},
    {.name = "city", .kind = Kind::kString},
    {.name = "street_address", .kind = Kind::kString},
    {.name = "postal_code", .kind = Kind::kString},
};

// 4.11 Malware. "For a malware family the name MUST be defined."
void CheckMalware(CheckContext& ctx) {
  CheckSeenWindow(ctx);
  if (ctx.Boolean("is_family").value_or(false) && !ctx.Has("name")) {
    ctx.Error("name", rule::kCoConstraint, "a malware family (is_family true) must have a name");
  }
}

constexpr PropertySpec kMalwareProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "description", .kind = Kind::kString},
    {.name = "malware_types", .kind = Kind::kOpenVocab, .list = true, .vocab = &kMalwareTypeOv},
    {.name = "is_family", .kind = Kind::kBoolean, .required = true},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "kill_chain_phases", .kind = Kind::kObject, .list = true, .nested = &kKillChainPhase},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
    {.name = "operating_system_refs", .kind = Kind::kRef, .list = true, .ref_types = kSoftware},
    {.name = "architecture_execution_envs",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kProcessorArchitectureOv},
    {.name = "implementation_languages",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kImplementationLanguageOv},
    {.name = "capabilities",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kMalwareCapabilitiesOv},
    {.name = "sample_refs", .kind = Kind::kRef, .list = true, .ref_types = kFileOrArtifact},
};

// 4.12 Malware Analysis. "One of result or analysis_sco_refs properties MUST be provided";
// analysis_sco_refs names SCOs.
void CheckMalwareAnalysis(CheckContext& ctx) {
  CheckAtLeastOne(ctx, {"result", "analysis_sco_refs"});
  ForEachStringElement(ctx, "analysis_sco_refs",
                       [&](const std::string& pointer, std::string_view ref) {
                         CheckRefCategory(ctx, pointer, ref, "an SCO",
                                          [](Category c) { return c == Category::kSco; });
                       });
}

constexpr PropertySpec kMalwareAnalysisProperties[] = {
    {.name = "product", .kind = Kind::kString, .required = true},
    {.name = "version", .kind = Kind::kString},
    {.name = "host_vm_ref", .kind = Kind::kRef, .ref_types = kSoftware},
    {.name = "operating_system_ref", .kind = Kind::kRef, .ref_types = kSoftware},
    {.name = "installed_software_refs", .kind = Kind::kRef, .list = true, .ref_types = kSoftware},
    {.name = "configuration_version", .kind = Kind::kString},
    {.name = "modules", .kind = Kind::kString, .list = true},
    {.name = "analysis_engine_version", .kind = Kind::kString},
    {.name = "analysis_definition_version", .kind = Kind::kString},
    {.name = "submitted", .kind = Kind::kTimestamp},
    {.name = "analysis_started", .kind = Kind::kTimestamp},
    {.name = "analysis_ended", .kind = Kind::kTimestamp},
    {.name = "result_name", .kind = Kind::kString},
    {.name = "result", .kind = Kind::kOpenVocab, .vocab = &kMalwareResultOv},
    {.name = "analysis_sco_refs", .kind = Kind::kRef, .list = true},
    {.name = "sample_ref", .kind = Kind::kRef, .ref_types = kMalwareAnalysisSample},
};

// 4.13 Note. object_refs may name any STIX object.
constexpr PropertySpec kNoteProperties[] = {
    {.name = "abstract", .kind = Kind::kString},
    {.name = "content", .kind = Kind::kString, .required = true},
    {.name = "authors", .kind = Kind::kString, .list = true},
    {.name = "object_refs", .kind = Kind::kRef, .required = true, .list = true},
};

// 4.14 Observed Data: first_observed <= last_observed; exactly one of objects (deprecated, a
// non-empty dictionary of SCOs) and object_refs (SCOs and SROs, at least one SCO).
void CheckObservedData(CheckContext& ctx) {
  CheckNotBefore(ctx, "first_observed", "last_observed");
  const bool has_objects = ctx.Has("objects"), has_refs = ctx.Has("object_refs");
  if (!has_objects && !has_refs) {
    ctx.Error("", rule::kCoConstraint, "observed-data needs one of objects and object_refs");
  }
  CheckMutuallyExclusive(ctx, {"objects", "object_refs"});

  simdjson::dom::object objects;
  if (ctx.object().at_key("objects").get_object().get(objects) == simdjson::SUCCESS) {
    ctx.Warning("objects", rule::kCoConstraint,
                "objects is deprecated in STIX 2.1; use object_refs to top-level SCOs");
    if (objects.size() == 0) {
      ctx.Error("objects", rule::kEmptyList, "objects must contain at least one object");
    }
    for (auto [key, value] : objects) {
      std::string pointer = StrCat("objects/", PointerToken(key));
      simdjson::dom::object sco;
      std::string_view type;
      if (value.get_object().get(sco) != simdjson::SUCCESS) {
        ctx.Error(pointer, rule::kType, "each member of objects must be a cyber-observable object");
      } else if (sco["type"].get_string().get(type) != simdjson::SUCCESS) {
        ctx.Error(pointer, rule::kRequired, "an observable in objects must have a type");
      }
    }
  }

  bool any_sco = false, any_ref = false;
  ForEachStringElement(ctx, "object_refs", [&](const std::string& pointer, std::string_view ref) {
    any_ref = true;
    std::optional<Category> category = CategoryOfRef(ref);
    if (category != Category::kSro) any_sco = true;
    CheckRefCategory(ctx, pointer, ref, "an SCO or SRO",
                     [](Category c) { return c == Category::kSco || c == Category::kSro; });
  });
  if (any_ref && !any_sco) {
    ctx.Error("object_refs", rule::kCoConstraint,
              "object_refs must contain at least one SCO reference");
  }
}

constexpr PropertySpec kObservedDataProperties[] = {
    {.name = "first_observed", .kind = Kind::kTimestamp, .required = true},
    {.name = "last_observed", .kind = Kind::kTimestamp, .required = true},
    {.name = "number_observed",
     .kind = Kind::kInteger,
     .required = true,
     .min = 1,
     .max = 999'999'999},
    {.name = "objects", .kind = Kind::kDictionary},
    {.name = "object_refs", .kind = Kind::kRef, .list = true},
};

// 4.15 Opinion.
constexpr PropertySpec kOpinionProperties[] = {
    {.name = "explanation", .kind = Kind::kString},
    {.name = "authors", .kind = Kind::kString, .list = true},
    {.name = "opinion", .kind = Kind::kEnum, .required = true, .vocab = &kOpinionEnum},
    {.name = "object_refs", .kind = Kind::kRef, .required = true, .list = true},
};

// 4.16 Report.
constexpr PropertySpec kReportProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "report_types", .kind = Kind::kOpenVocab, .list = true, .vocab = &kReportTypeOv},
    {.name = "published", .kind = Kind::kTimestamp, .required = true},
    {.name = "object_refs", .kind = Kind::kRef, .required = true, .list = true},
};

// 4.17 Threat Actor.
constexpr PropertySpec kThreatActorProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "threat_actor_types",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kThreatActorTypeOv},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
    {.name = "roles", .kind = Kind::kOpenVocab, .list = true, .vocab = &kThreatActorRoleOv},
    {.name = "goals", .kind = Kind::kString, .list = true},
    {.name = "sophistication", .kind = Kind::kOpenVocab, .vocab = &kThreatActorSophisticationOv},
    {.name = "resource_level", .kind = Kind::kOpenVocab, .vocab = &kAttackResourceLevelOv},
    {.name = "primary_motivation", .kind = Kind::kOpenVocab, .vocab = &kAttackMotivationOv},
    {.name = "secondary_motivations",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kAttackMotivationOv},
    {.name = "personal_motivations",
     .kind = Kind::kOpenVocab,
     .list = true,
     .vocab = &kAttackMotivationOv},
};

// 4.18 Tool.
constexpr PropertySpec kToolProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "tool_types", .kind = Kind::kOpenVocab, .list = true, .vocab = &kToolTypeOv},
    {.name = "aliases", .kind = Kind::kString, .list = true},
    {.name = "kill_chain_phases", .kind = Kind::kObject, .list = true, .nested = &kKillChainPhase},
    {.name = "tool_version", .kind = Kind::kString},
};

// 4.19 Vulnerability. A CVE reference MUST use source_name "cve" and the exact CVE identifier.
void CheckVulnerability(CheckContext& ctx) {
  simdjson::dom::array refs;
  if (ctx.object().at_key("external_references").get_array().get(refs) != simdjson::SUCCESS) {
    return;
  }
  size_t index = 0;
  for (simdjson::dom::element element : refs) {
    std::string_view source, id;
    if (element["source_name"].get_string().get(source) == simdjson::SUCCESS && source == "cve" &&
        element["external_id"].get_string().get(id) == simdjson::SUCCESS) {
      // CVE-YYYY-NNNN with four or more sequence digits (the CVE ID syntax since 2014).
      bool ok = id.size() >= 13 && id.substr(0, 4) == "CVE-" && id[8] == '-';
      for (size_t i = 4; ok && i < id.size(); ++i) {
        ok = i == 8 || (id[i] >= '0' && id[i] <= '9');
      }
      if (!ok) {
        ctx.Error(StrCat("external_references/", index, "/external_id"), rule::kCoConstraint,
                  StrCat("a cve external_id must be a CVE identifier, not \"", id, "\""));
      }
    }
    ++index;
  }
}

constexpr PropertySpec kVulnerabilityProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
};

// ---------------------------------------------------------------------------------------------
// 5.1 Relationship. relationship_type is free (custom types allowed) but limited to a-z, 0-9 and
// hyphen; source_ref and target_ref name SDOs or SCOs, never an SRO, bundle, language content or
// marking definition; stop_time is later than start_time.

void CheckRelationship(CheckContext& ctx) {
  if (auto type = ctx.String("relationship_type")) {
    bool ok = !type->empty();
    for (char c : *type) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    }
    if (!ok) {
      ctx.Error("relationship_type", rule::kType,
                StrCat("relationship_type \"", *type, "\" must contain only a-z, 0-9 and hyphen"));
    }
  }
  for (std::string_view property : {"source_ref", "target_ref"}) {
    if (auto ref = ctx.String(property)) {
      CheckRefCategory(ctx, property, *ref, "an SDO or SCO",
                       [](Category c) { return c == Category::kSdo || c == Category::kSco; });
    }
  }
  CheckNotBefore(ctx, "start_time", "stop_time", /*strictly_after=*/true);
}

constexpr PropertySpec kRelationshipProperties[] = {
    {.name = "relationship_type", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "source_ref", .kind = Kind::kRef, .required = true},
    {.name = "target_ref", .kind = Kind::kRef, .required = true},
    {.name = "start_time", .kind = Kind::kTimestamp},
    {.name = "stop_time", .kind = Kind::kTimestamp},
};

// 5.2 Sighting. sighting_of_ref "MUST reference only an SDO"; the list references are typed by
// the table; last_seen >= first_seen.
void CheckSighting(CheckContext& ctx) {
  CheckSeenWindow(ctx);
  if (auto ref = ctx.String("sighting_of_ref")) {
    CheckRefCategory(ctx, "sighting_of_ref", *ref, "an SDO",
                     [](Category c) { return c == Category::kSdo; });
  }
}

constexpr PropertySpec kSightingProperties[] = {
    {.name = "description", .kind = Kind::kString},
    {.name = "first_seen", .kind = Kind::kTimestamp},
    {.name = "last_seen", .kind = Kind::kTimestamp},
    {.name = "count", .kind = Kind::kInteger, .min = 0, .max = 999'999'999},
    {.name = "sighting_of_ref", .kind = Kind::kRef, .required = true},
    {.name = "observed_data_refs", .kind = Kind::kRef, .list = true, .ref_types = kObservedData},
    {.name = "where_sighted_refs",
     .kind = Kind::kRef,
     .list = true,
     .ref_types = kIdentityOrLocation},
    {.name = "summary", .kind = Kind::kBoolean},
};

// ---------------------------------------------------------------------------------------------
// 7.1 Language Content. Besides the meta common set it has modified (required), revoked, labels
// and confidence, but not lang. object_ref names a STIX object (a bundle is not one); the keys of
// contents MUST be RFC 5646 language codes, each mapping to an object that mirrors the target.

void CheckLanguageContent(CheckContext& ctx) {
  WarnNotApplicable(ctx, "language-content", {"lang"});
  if (auto ref = ctx.String("object_ref")) {
    CheckRefCategory(ctx, "object_ref", *ref, "a STIX object",
                     [](Category c) { return c != Category::kBundle; });
  }
  simdjson::dom::object contents;
  if (ctx.object().at_key("contents").get_object().get(contents) != simdjson::SUCCESS) return;
  for (auto [key, value] : contents) {
    std::string pointer = StrCat("contents/", PointerToken(key));
    if (!LooksLikeLanguageTag(key)) {
      ctx.Error(pointer, rule::kLanguage,
                StrCat("contents key \"", key, "\" is not an RFC 5646 language code"));
    }
    if (!value.is_object()) {
      ctx.Error(pointer, rule::kType,
                "each contents value must be an object mirroring the target's properties");
    }
  }
}

constexpr PropertySpec kLanguageContentProperties[] = {
    {.name = "modified", .kind = Kind::kTimestamp, .required = true},
    {.name = "revoked", .kind = Kind::kBoolean},
    {.name = "labels", .kind = Kind::kString, .list = true},
    {.name = "confidence", .kind = Kind::kInteger, .min = 0, .max = 100},
    {.name = "object_ref", .kind = Kind::kRef, .required = true},
    {.name = "object_modified", .kind = Kind::kTimestamp},
    {.name = "contents", .kind = Kind::kDictionary, .required = true},
};

// 7.2.1 Marking Definition.
//
// definition_type and definition are deprecated in favour of extensions, but each "MUST be
// present" when extensions is absent; the definition is only meaningful with its type, so one
// without the other is an error either way. The TLP 1.0 markings are the four fixed objects of
// section 7.2.1.4 ("Other instances of tlp-marking MUST NOT be used or created"); TLP 2.0
// markings are extension-based, and the OASIS TLP 2.0 extension fixes five objects likewise.

struct FixedMarking {
  std::string_view level;
  std::string_view id;
  std::string_view name;
};

constexpr FixedMarking kTlp1Markings[] = {
    {"white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE"},
    {"green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN"},
    {"amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER"},
    {"red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED"},
};
constexpr std::string_view kTlp1Created = "2017-01-20T00:00:00.000Z";

// The OASIS TLP 2.0 marking extension (cti-stix-common-objects, tlp-2.0).
constexpr std::string_view kTlp2Extension =
    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
constexpr FixedMarking kTlp2Markings[] = {
    {"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR"},
    {"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN"},
    {"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER"},
    {"amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
     "TLP:AMBER+STRICT"},
    {"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED"},
};

template <size_t N>
const FixedMarking* FindLevel(const FixedMarking (&markings)[N], std::string_view level) {
  for (const FixedMarking& m : markings) {
    if (m.level == level) return &m;
  }
  return nullptr;
}

// Checks that a TLP marking of `level` is the fixed object for that level: the id must match
// (an error: no other instance may exist); a different name is only a warning.
template <size_t N>
void CheckFixedMarking(CheckContext& ctx, const FixedMarking (&markings)[N], std::string_view level,
                       std::string_view level_pointer, std::string_view version) {
  const FixedMarking* fixed = FindLevel(markings, level);
  if (fixed == nullptr) {
    std::string levels;
    for (const FixedMarking& m : markings) StrAppend(&levels, levels.empty() ? "" : ", ", m.level);
    ctx.Error(level_pointer, rule::kMarking,
              StrCat("\"", level, "\" is not a ", version, " level (", levels, ")"));
    return;
  }
  auto id = ctx.String("id");
  if (id && *id != fixed->id) {
    ctx.Error(
        "id", rule::kMarking,
        StrCat(version, " ", level, " must be the predefined marking definition ", fixed->id));
  }
  auto name = ctx.String("name");
  if (name && *name != fixed->name) {
    ctx.Warning("name", rule::kMarking,
                StrCat("the predefined ", version, " ", level, " marking is named ", fixed->name));
  }
}

void CheckMarkingDefinition(CheckContext& ctx) {
  WarnNotApplicable(ctx, "marking-definition",
                    {"modified", "revoked", "labels", "confidence", "lang"});
  const bool has_extensions = ctx.Has("extensions");
  const bool has_type = ctx.Has("definition_type"), has_definition = ctx.Has("definition");
  if (!has_extensions) {
    if (!has_type) {
      ctx.Error("definition_type", rule::kRequired,
                "definition_type is required when extensions is absent");
    }
    if (!has_definition) {
      ctx.Error("definition", rule::kRequired, "definition is required when extensions is absent");
    }
  } else if (has_type != has_definition) {
    std::string_view missing = has_type ? "definition" : "definition_type";
    ctx.Error(
        missing, rule::kCoConstraint,
        StrCat("definition_type and definition must be given together; ", missing, " is missing"));
  }

  simdjson::dom::object definition;
  const bool definition_is_object =
      ctx.object().at_key("definition").get_object().get(definition) == simdjson::SUCCESS;
  if (has_definition && !definition_is_object) {
    ctx.Error("definition", rule::kType, "definition must be a marking object");
  }
  auto type = ctx.String("definition_type");
  if (type && definition_is_object) {
    if (*type == "statement") {
      simdjson::dom::element statement;
      if (definition["statement"].get(statement) != simdjson::SUCCESS) {
        ctx.Error("definition/statement", rule::kMarking,
                  "a statement marking's definition must have a statement");
      } else if (!statement.is_string()) {
        ctx.Error("definition/statement", rule::kType, "statement must be a string");
      }
    } else if (*type == "tlp") {
      simdjson::dom::element tlp;
      std::string_view level;
      if (definition["tlp"].get(tlp) != simdjson::SUCCESS) {
        ctx.Error("definition/tlp", rule::kMarking, "a tlp marking's definition must have tlp");
      } else if (tlp.get_string().get(level) != simdjson::SUCCESS) {
        ctx.Error("definition/tlp", rule::kType, "tlp must be a string");
      } else {
        CheckFixedMarking(ctx, kTlp1Markings, level, "definition/tlp", "TLP 1.0");
        auto created = ctx.Time("created");
        auto fixed_created = Timestamp::Parse(kTlp1Created);
        if (created && fixed_created.ok() && *created != *fixed_created) {
          ctx.Warning("created", rule::kMarking,
                      StrCat("the predefined TLP 1.0 markings were created ", kTlp1Created));
        }
      }
    }
  }

  simdjson::dom::object tlp2;
  if (ctx.object().at_key("extensions").at_key(kTlp2Extension).get_object().get(tlp2) ==
      simdjson::SUCCESS) {
    std::string pointer = StrCat("extensions/", kTlp2Extension, "/tlp_2_0");
    std::string_view level;
    if (tlp2["tlp_2_0"].get_string().get(level) != simdjson::SUCCESS) {
      ctx.Error(pointer, rule::kMarking, "a TLP 2.0 marking must have a tlp_2_0 string");
    } else {
      CheckFixedMarking(ctx, kTlp2Markings, level, pointer, "TLP 2.0");
    }
  }
}

constexpr PropertySpec kMarkingDefinitionProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "definition_type", .kind = Kind::kOpenVocab, .vocab = &kMarkingDefinitionTypeOv},
    {.name = "definition", .kind = Kind::kDictionary},
};

// 7.3 Extension Definition. created_by_ref is required here (the meta common set has it
// optional); extension_properties "MUST only be used when extension_types includes
// toplevel-property-extension", which in turn SHOULD name its properties there.
void CheckExtensionDefinition(CheckContext& ctx) {
  WarnNotApplicable(ctx, "extension-definition", {"confidence", "lang", "extensions"});
  if (!ctx.Has("created_by_ref")) {
    ctx.Error("created_by_ref", rule::kRequired,
              "an extension definition must have created_by_ref");
  }
  bool toplevel = false;
  ForEachStringElement(ctx, "extension_types", [&](const std::string&, std::string_view type) {
    if (type == "toplevel-property-extension") toplevel = true;
  });
  if (ctx.Has("extension_properties") && !toplevel) {
    ctx.Error("extension_properties", rule::kCoConstraint,
              "extension_properties is only allowed with a toplevel-property-extension type");
  }
  if (toplevel && !ctx.Has("extension_properties")) {
    ctx.Warning("extension_types", rule::kCoConstraint,
                "a toplevel-property-extension should list its extension_properties");
  }
}

constexpr PropertySpec kExtensionDefinitionProperties[] = {
    {.name = "modified", .kind = Kind::kTimestamp, .required = true},
    {.name = "revoked", .kind = Kind::kBoolean},
    {.name = "labels", .kind = Kind::kString, .list = true},
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "schema", .kind = Kind::kString, .required = true},
    {.name = "version", .kind = Kind::kString, .required = true},
    {.name = "extension_types",
     .kind = Kind::kEnum,
     .required = true,
     .list = true,
     .vocab = &kExtensionTypeEnum},
    {.name = "extension_properties", .kind = Kind::kString, .list = true},
};

// ---------------------------------------------------------------------------------------------

constexpr TypeSpec kTypes[] = {
    {.type = "attack-pattern", .properties = kAttackPatternProperties, .check = CheckAttackPattern},
    {.type = "campaign", .properties = kCampaignProperties, .check = CheckSeenWindow},
    {.type = "course-of-action", .properties = kCourseOfActionProperties},
    {.type = "grouping", .properties = kGroupingProperties},
    {.type = "identity", .properties = kIdentityProperties},
    {.type = "incident", .properties = kIncidentProperties},
    {.type = "indicator", .properties = kIndicatorProperties, .check = CheckIndicator},
    {.type = "infrastructure", .properties = kInfrastructureProperties, .check = CheckSeenWindow},
    {.type = "intrusion-set", .properties = kIntrusionSetProperties, .check = CheckSeenWindow},
    {.type = "location", .properties = kLocationProperties, .check = CheckLocation},
    {.type = "malware", .properties = kMalwareProperties, .check = CheckMalware},
    {.type = "malware-analysis",
     .properties = kMalwareAnalysisProperties,
     .check = CheckMalwareAnalysis},
    {.type = "note", .properties = kNoteProperties},
    {.type = "observed-data", .properties = kObservedDataProperties, .check = CheckObservedData},
    {.type = "opinion", .properties = kOpinionProperties},
    {.type = "report", .properties = kReportProperties},
    {.type = "threat-actor", .properties = kThreatActorProperties, .check = CheckSeenWindow},
    {.type = "tool", .properties = kToolProperties},
    {.type = "vulnerability", .properties = kVulnerabilityProperties, .check = CheckVulnerability},
    {.type = "relationship",
     .category = Category::kSro,
     .properties = kRelationshipProperties,
     .check = CheckRelationship},
    {.type = "sighting",
     .category = Category::kSro,
     .properties = kSightingProperties,
     .check = CheckSighting},
    {.type = "language-content",
     .category = Category::kMeta,
     .properties = kLanguageContentProperties,
     .check = CheckLanguageContent},
    {.type = "marking-definition",
     .category = Category::kMeta,
     .properties = kMarkingDefinitionProperties,
     .check = CheckMarkingDefinition},
    {.type = "extension-definition",
     .category = Category::kMeta,
     .properties = kExtensionDefinitionProperties,
     .check = CheckExtensionDefinition},
};

}  // namespace

std::span<const TypeSpec> SdoSroMetaTypes() { return kTypes; }

}  // namespace liaison::stix::internal
