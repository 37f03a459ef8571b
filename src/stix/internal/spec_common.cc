// Common properties (STIX 2.1 section 3.2), shared sub-types (external-reference, kill-chain-phase,
// granular-marking: sections 2.5-2.7), the hash-algorithm vocabulary and the helper checks that
// type tables use for co-constraints.

#include <algorithm>

#include "core/strings.h"
#include "simdjson.h"
#include "stix/internal/spec.h"

namespace liaison::stix::internal {
namespace {

constexpr std::string_view kMarkingDefinition[] = {"marking-definition"};
constexpr std::string_view kIdentity[] = {"identity"};

constexpr std::string_view kHashAlgorithms[] = {"MD5",      "SHA-1",    "SHA-256", "SHA-512",
                                                "SHA3-256", "SHA3-512", "SSDEEP",  "TLSH"};

// Section 2.5 "External Reference".
void CheckExternalReference(CheckContext& ctx) {
  CheckAtLeastOne(ctx, {"description", "url", "external_id"});
}

constexpr PropertySpec kExternalReferenceProperties[] = {
    {.name = "source_name", .kind = Kind::kString, .required = true},
    {.name = "description", .kind = Kind::kString},
    {.name = "url", .kind = Kind::kUrl},
    {.name = "hashes", .kind = Kind::kHashes},
    {.name = "external_id", .kind = Kind::kString},
};
constexpr TypeSpec kExternalReference = {.type = "external-reference",
                                         .properties = kExternalReferenceProperties,
                                         .check = CheckExternalReference,
                                         .has_common_properties = false};

// Section 2.8 "Kill Chain Phase": both names SHOULD be lower case, hyphenated.
void CheckKillChainPhase(CheckContext& ctx) {
  for (std::string_view property : {"kill_chain_name", "phase_name"}) {
    auto value = ctx.String(property);
    if (!value) continue;
    bool ok = std::all_of(value->begin(), value->end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!ok) {
      ctx.Warning(property, rule::kKillChain,
                  StrCat("\"", *value, "\" should be lower case with hyphens"));
    }
  }
}

constexpr PropertySpec kKillChainPhaseProperties[] = {
    {.name = "kill_chain_name", .kind = Kind::kString, .required = true},
    {.name = "phase_name", .kind = Kind::kString, .required = true},
};
constexpr TypeSpec kKillChainPhaseSpec = {.type = "kill-chain-phase",
                                          .properties = kKillChainPhaseProperties,
                                          .check = CheckKillChainPhase,
                                          .has_common_properties = false};

// Section 7.2.3 "Granular Markings": exactly one of marking_ref and lang. Selector resolution is
// done by the interpreter, which sees the whole object.
void CheckGranularMarking(CheckContext& ctx) {
  const bool has_ref = ctx.Has("marking_ref"), has_lang = ctx.Has("lang");
  if (has_ref == has_lang) {
    ctx.Error("", rule::kGranularMarking,
              "a granular marking needs exactly one of marking_ref and lang");
  }
}

constexpr PropertySpec kGranularMarkingProperties[] = {
    {.name = "selectors", .kind = Kind::kString, .required = true, .list = true},
    {.name = "marking_ref", .kind = Kind::kRef, .ref_types = kMarkingDefinition},
    {.name = "lang", .kind = Kind::kLanguageTag},
};
constexpr TypeSpec kGranularMarkingSpec = {.type = "granular-marking",
                                           .properties = kGranularMarkingProperties,
                                           .check = CheckGranularMarking,
                                           .has_common_properties = false};

// Section 3.2: the properties every SDO and SRO may carry.
constexpr PropertySpec kSdoCommon[] = {
    {.name = "type", .kind = Kind::kString, .required = true},
    {.name = "spec_version", .kind = Kind::kString, .required = true},
    {.name = "id", .kind = Kind::kIdentifier, .required = true},
    {.name = "created_by_ref", .kind = Kind::kRef, .ref_types = kIdentity},
    {.name = "created", .kind = Kind::kTimestamp, .required = true},
    {.name = "modified", .kind = Kind::kTimestamp, .required = true},
    {.name = "revoked", .kind = Kind::kBoolean},
    {.name = "labels", .kind = Kind::kString, .list = true},
    {.name = "confidence", .kind = Kind::kInteger, .min = 0, .max = 100},
    {.name = "lang", .kind = Kind::kLanguageTag},
    {.name = "external_references",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kExternalReference},
    {.name = "object_marking_refs",
     .kind = Kind::kRef,
     .list = true,
     .ref_types = kMarkingDefinition},
    {.name = "granular_markings",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kGranularMarkingSpec},
    {.name = "extensions", .kind = Kind::kExtensions},
};

// Section 3.2 / 6.1: SCO common properties. spec_version is optional and defaults to 2.1.
constexpr PropertySpec kScoCommon[] = {
    {.name = "type", .kind = Kind::kString, .required = true},
    {.name = "spec_version", .kind = Kind::kString},
    {.name = "id", .kind = Kind::kIdentifier, .required = true},
    {.name = "object_marking_refs",
     .kind = Kind::kRef,
     .list = true,
     .ref_types = kMarkingDefinition},
    {.name = "granular_markings",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kGranularMarkingSpec},
    {.name = "defanged", .kind = Kind::kBoolean},
    {.name = "extensions", .kind = Kind::kExtensions},
};

// Section 7: the properties common to every meta object (marking-definition's full set; the
// language-content and extension-definition tables add modified, revoked, labels, ...).
constexpr PropertySpec kMetaCommon[] = {
    {.name = "type", .kind = Kind::kString, .required = true},
    {.name = "spec_version", .kind = Kind::kString, .required = true},
    {.name = "id", .kind = Kind::kIdentifier, .required = true},
    {.name = "created_by_ref", .kind = Kind::kRef, .ref_types = kIdentity},
    {.name = "created", .kind = Kind::kTimestamp, .required = true},
    {.name = "external_references",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kExternalReference},
    {.name = "object_marking_refs",
     .kind = Kind::kRef,
     .list = true,
     .ref_types = kMarkingDefinition},
    {.name = "granular_markings",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kGranularMarkingSpec},
    {.name = "extensions", .kind = Kind::kExtensions},
};

}  // namespace

const Vocab kHashAlgorithmOv = {"hash-algorithm-ov", kHashAlgorithms};

// Exposed for tables that nest a kill chain phase list.
extern const TypeSpec kKillChainPhase;
const TypeSpec kKillChainPhase = kKillChainPhaseSpec;

bool Vocab::Contains(std::string_view v) const {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::span<const PropertySpec> CommonProperties(Category category) {
  switch (category) {
    case Category::kSdo:
    case Category::kSro:
      return kSdoCommon;
    case Category::kSco:
      return kScoCommon;
    case Category::kMeta:
      return kMetaCommon;
    case Category::kBundle:
      return {};
  }
  return {};
}

bool CheckContext::Has(std::string_view property) const {
  simdjson::dom::element e;
  return object().at_key(property).get(e) == simdjson::SUCCESS;
}

std::optional<std::string_view> CheckContext::String(std::string_view property) const {
  std::string_view s;
  if (object().at_key(property).get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

std::optional<int64_t> CheckContext::Integer(std::string_view property) const {
  int64_t i;
  if (object().at_key(property).get_int64().get(i) != simdjson::SUCCESS) return std::nullopt;
  return i;
}

std::optional<double> CheckContext::Number(std::string_view property) const {
  simdjson::dom::element e;
  if (object().at_key(property).get(e) != simdjson::SUCCESS || !e.is_number()) return std::nullopt;
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return std::nullopt;
}

std::optional<bool> CheckContext::Boolean(std::string_view property) const {
  bool b;
  if (object().at_key(property).get_bool().get(b) != simdjson::SUCCESS) return std::nullopt;
  return b;
}

std::optional<Timestamp> CheckContext::Time(std::string_view property) const {
  auto s = String(property);
  if (!s) return std::nullopt;
  auto t = Timestamp::Parse(*s);
  if (!t.ok()) return std::nullopt;
  return *t;
}

void CheckNotBefore(CheckContext& ctx, std::string_view earlier, std::string_view later,
                    bool strictly_after) {
  auto a = ctx.Time(earlier), b = ctx.Time(later);
  if (!a || !b) return;
  if (strictly_after ? *b <= *a : *b < *a) {
    ctx.Error(later, rule::kCoConstraint,
              StrCat(later, " must be ", strictly_after ? "later than" : "at or after ",
                     strictly_after ? " " : "", earlier));
  }
}

void CheckAtLeastOne(CheckContext& ctx, std::initializer_list<std::string_view> properties) {
  for (std::string_view p : properties) {
    if (ctx.Has(p)) return;
  }
  std::string names;
  for (std::string_view p : properties) StrAppend(&names, names.empty() ? "" : ", ", p);
  ctx.Error("", rule::kCoConstraint, StrCat("at least one of ", names, " is required"));
}

void CheckMutuallyExclusive(CheckContext& ctx, std::initializer_list<std::string_view> properties) {
  std::string_view first;
  for (std::string_view p : properties) {
    if (!ctx.Has(p)) continue;
    if (first.empty()) {
      first = p;
    } else {
      ctx.Error(p, rule::kCoConstraint, StrCat(p, " must not be present with ", first));
    }
  }
}

void CheckDependsOn(CheckContext& ctx, std::string_view property, std::string_view dependency) {
  if (ctx.Has(property) && !ctx.Has(dependency)) {
    ctx.Error(property, rule::kCoConstraint,
              StrCat(property, " requires ", dependency, " to be present"));
  }
}

}  // namespace liaison::stix::internal
