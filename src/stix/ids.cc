#include "stix/ids.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/json.h"
#include "core/status_macros.h"
#include "core/uuid.h"
#include "stix/internal/spec.h"

namespace liaison::stix {
namespace {

const internal::TypeSpec* FindScoSpec(std::string_view type) {
  for (const internal::TypeSpec& spec : internal::ScoTypes()) {
    if (spec.type == type) return &spec;
  }
  return nullptr;
}

// Section 6 (artifact, file, x509-certificate): "If the hashes property is present, include only
// one hash. The selected hash SHOULD come from this ordered list (based on the following order of
// preference) [ MD5, SHA-1, SHA-256, SHA-512 ]." The spec says nothing for a dictionary with none
// of these; the first entry in document order is what the OASIS python library (stix2) uses, so
// ids agree with the ids most producers emit.
Result<json::Value> ChooseOneHash(const json::Value& hashes) {
  if (!hashes.is_object() || hashes.as_object().empty()) {
    return absl::InvalidArgumentError("hashes must be a non-empty object");
  }
  const json::Object& entries = hashes.as_object();
  const json::Member* chosen = &entries.front();
  for (std::string_view preferred : {"MD5", "SHA-1", "SHA-256", "SHA-512"}) {
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const json::Member& m) { return m.first == preferred; });
    if (it != entries.end()) {
      chosen = &*it;
      break;
    }
  }
  if (!chosen->second.is_string()) {
    return absl::InvalidArgumentError("a hash value must be a string");
  }
  return json::Value(json::Object{*chosen});
}

const Uuid& ScoNamespace() {
  static const Uuid kNamespace = *Uuid::Parse(kStixScoNamespace);
  return kNamespace;
}

Result<std::optional<std::string>> IdOf(const json::Value& sco) {
  if (!sco.is_object()) return absl::InvalidArgumentError("an SCO must be a JSON object");
  const json::Value* type = sco.Find("type");
  if (type == nullptr || !type->is_string()) {
    return absl::InvalidArgumentError("an SCO needs a string type property");
  }
  const internal::TypeSpec* spec = FindScoSpec(type->as_string());
  if (spec == nullptr) return std::nullopt;

  // Section 2.9: the name is the JSON object of the present ID-contributing properties (property
  // name and value pairs), serialised per RFC 8785. Canonicalize sorts the members.
  json::Object contributing;
  for (std::string_view property : spec->id_contributing) {
    const json::Value* value = sco.Find(property);
    if (value == nullptr) continue;
    if (property == "hashes") {
      LIAISON_ASSIGN_OR_RETURN(json::Value one, ChooseOneHash(*value));
      contributing.emplace_back(std::string(property), std::move(one));
    } else {
      contributing.emplace_back(std::string(property), *value);
    }
  }
  // "If the contributing properties are all optional, and none are present on the SCO, then a
  // UUIDv4 MUST be used."
  if (contributing.empty()) return std::nullopt;
  const std::string name = json::Canonicalize(json::Value(std::move(contributing)));
  return std::optional<std::string>(type->as_string() + "--" +
                                    Uuid::V5(ScoNamespace(), name).ToString());
}

}  // namespace

Result<std::optional<std::string>> DeterministicScoId(std::string_view sco_json) {
  LIAISON_ASSIGN_OR_RETURN(json::Value sco, json::Parse(sco_json));
  return IdOf(sco);
}

}  // namespace liaison::stix
