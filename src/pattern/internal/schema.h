#pragma once

// What STIX 2.1 section 6 defines about cyber-observable objects, as far as patterns need it:
// each SCO type's properties and their types, the predefined extensions, where references
// point, and which types are not SCOs at all (SDOs, SROs, meta objects), which a pattern never
// matches (section 9.7: object paths address SCOs).

#include <span>
#include <string_view>

namespace liaison::pattern::internal {

enum class ValueKind {
  kString,
  kInteger,
  kFloat,
  kBoolean,
  kTimestamp,
  kBinary,      // base64 (*_bin)
  kHex,         // hex (*_hex)
  kHashes,      // hashes dictionary: keys are algorithm names, values strings
  kDictionary,  // arbitrary keys
  kObject,      // a nested object with known properties (`object`)
  kRef,         // an identifier of another SCO (*_ref, or elements of *_refs)
  kExtensions,  // the extensions dictionary
};

struct ObjectSchema;

struct PropertySchema {
  std::string_view name;
  ValueKind kind = ValueKind::kString;
  bool list = false;
  const ObjectSchema* object = nullptr;         // kObject
  std::span<const std::string_view> refs = {};  // kRef: target types; empty = any SCO
};

struct ObjectSchema {
  std::string_view name;  // the SCO type or the extension name
  std::span<const PropertySchema> properties;

  const PropertySchema* Find(std::string_view property) const;
};

// The schema of a STIX 2.1 SCO type, or null for any other type.
const ObjectSchema* FindScoType(std::string_view type);
// The predefined extension `name` when it applies to `type` (e.g. "archive-ext" on "file").
const ObjectSchema* FindExtension(std::string_view type, std::string_view name);
// Whether `name` is a predefined extension of some SCO type.
bool IsPredefinedExtension(std::string_view name);

// The STIX 2.1 SDO, SRO and meta object types (and "bundle"): objects a pattern never matches.
bool IsNonObservableType(std::string_view type);

// Custom names (section 11): types a-z 0-9 '-', no "--", 3 to 250 characters; property names
// a-z 0-9 '_', 3 to 250 characters.
bool IsValidCustomTypeName(std::string_view type);
bool IsValidCustomPropertyName(std::string_view name);

// For a hash algorithm of the hash-algorithm-ov (or a common spelling of one, compared without
// case and '-'), whether `value` has that algorithm's form; true for unknown algorithms.
bool IsValidHashValue(std::string_view algorithm, std::string_view value,
                      std::string_view* canonical_name);

}  // namespace liaison::pattern::internal
