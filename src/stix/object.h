#pragma once

// stix::Object: one STIX object as liaison carries it between modules. It keeps the object's
// original JSON text byte for byte, so the store and the server hand out exactly what they were
// given without re-serialising, and gives typed access to the common properties (STIX 2.1
// section 3.2) that routing, versioning and release decisions need.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"

namespace liaison::stix {

enum class ObjectCategory { kSdo, kSro, kSco, kMeta, kUnknown };

// The category of a type name: standard SDO/SRO/SCO/meta types by the spec, custom types by
// their `extensions` (new-sdo/new-sco/new-sro) when the caller knows them, else kUnknown.
ObjectCategory CategoryOfType(std::string_view type);

struct GranularMarking {
  std::string marking_ref;  // or empty when `lang` is used
  std::string lang;
  std::vector<std::string> selectors;
};

struct Object {
  // The object's JSON text exactly as received (one JSON object, no trailing newline).
  std::string json;

  std::string type;
  std::string id;
  std::string spec_version;  // "2.1", "2.0", or empty when absent (SCOs may omit it)
  std::optional<Timestamp> created;
  std::optional<Timestamp> modified;
  std::string created_by_ref;
  bool revoked = false;
  std::optional<int> confidence;
  std::string lang;
  std::vector<std::string> labels;
  std::vector<std::string> object_marking_refs;
  std::vector<GranularMarking> granular_markings;

  // The version of this object: `modified`, else `created`, else nullopt (SCOs and other
  // objects without either have a single version).
  std::optional<Timestamp> version() const { return modified ? modified : created; }
};

// Extracts the common properties of one JSON object. Does not validate beyond what extraction
// needs: call Validate for that. Errors: malformed JSON or a value of the wrong JSON type.
Result<Object> ParseObject(std::string_view json);

}  // namespace liaison::stix
