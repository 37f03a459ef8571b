#pragma once

// The STIX 2.1 object model as data: one TypeSpec per object type, one PropertySpec per property,
// and the vocabularies. The validator (validate.cc) interprets these tables; the rules that a
// table cannot say (co-constraints such as "valid_until after valid_from") are the TypeSpec's
// `check` function, written against CheckContext.
//
// Tables are spread over spec_common.cc (common properties, shared sub-types), spec_sdo.cc (SDOs,
// SROs and meta objects), spec_sco.cc (SCOs and their predefined extensions) and vocab.cc.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/timestamp.h"

namespace simdjson::dom {
class object;
}  // namespace simdjson::dom

namespace liaison::stix::internal {

enum class Category { kSdo, kSro, kSco, kMeta, kBundle };

enum class Kind {
  kAny,  // any JSON value (checked by a type's `check` function, if at all)
  kString,
  kBoolean,
  kInteger,      // JSON number with an integral value; `min`/`max` bound it
  kFloat,        // any JSON number; `min`/`max` bound it (as integers, inclusive)
  kTimestamp,    // STIX timestamp string (RFC 3339, UTC)
  kIdentifier,   // "type--uuid" of this object itself (the `id` property)
  kRef,          // "type--uuid" whose type is in `ref_types` (empty: any type)
  kOpenVocab,    // string; a value outside `vocab` is a warning
  kEnum,         // string; a value outside `vocab` is an error
  kHashes,       // hashes dictionary: algorithm names checked against the hash-algorithm-ov
  kDictionary,   // JSON object with keys of at most 250 ASCII characters
  kBinary,       // base64 string (RFC 4648)
  kHex,          // hex string (even number of hex digits)
  kUrl,          // RFC 3986 URL (scheme required)
  kLanguageTag,  // RFC 5646 language tag
  kObject,       // JSON object validated against `nested`
  kExtensions,   // the extensions dictionary (section 7.3 of the spec)
};

struct Vocab;
struct TypeSpec;

struct PropertySpec {
  std::string_view name;
  Kind kind = Kind::kString;
  bool required = false;
  bool list = false;                                 // a non-empty JSON array of `kind`
  const Vocab* vocab = nullptr;                      // kOpenVocab, kEnum
  std::span<const std::string_view> ref_types = {};  // kRef: allowed target types
  const TypeSpec* nested = nullptr;                  // kObject
  int64_t min = INT64_MIN;                           // kInteger, kFloat
  int64_t max = INT64_MAX;
};

class CheckContext;

struct TypeSpec {
  std::string_view type;  // e.g. "indicator"; for nested sub-types a descriptive name
  Category category = Category::kSdo;
  std::span<const PropertySpec> properties;
  // Co-constraints the table cannot express; may be null.
  void (*check)(CheckContext& ctx) = nullptr;
  // SCOs: the ID-contributing properties of section 6 (empty: UUIDv4 ids).
  std::span<const std::string_view> id_contributing = {};
  // Whether common properties of `category` apply (false for nested sub-types).
  bool has_common_properties = true;
};

struct Vocab {
  std::string_view name;  // e.g. "indicator-type-ov"
  std::span<const std::string_view> values;
  bool Contains(std::string_view v) const;
};

// The rule names findings carry; stable, documented in docs/validation.md.
namespace rule {
inline constexpr std::string_view kJson = "json";
inline constexpr std::string_view kRequired = "required";
inline constexpr std::string_view kType = "property-type";
inline constexpr std::string_view kTimestamp = "timestamp";
inline constexpr std::string_view kIdentifier = "identifier";
inline constexpr std::string_view kUuidVersion = "uuid-version";
inline constexpr std::string_view kRefType = "ref-type";
inline constexpr std::string_view kVocab = "vocab";
inline constexpr std::string_view kEnum = "enum";
inline constexpr std::string_view kRange = "range";
inline constexpr std::string_view kHashAlgorithm = "hash-algorithm";
inline constexpr std::string_view kCustomProperty = "custom-property-name";
inline constexpr std::string_view kCustomObject = "custom-object-type";
inline constexpr std::string_view kCustomPrefix = "custom-prefix";
inline constexpr std::string_view kExtension = "extension";
inline constexpr std::string_view kGranularMarking = "granular-marking";
inline constexpr std::string_view kLanguage = "language-tag";
inline constexpr std::string_view kKillChain = "kill-chain-phase";
inline constexpr std::string_view kSpecVersion = "spec-version";
inline constexpr std::string_view kModified = "modified-after-created";
inline constexpr std::string_view kCoConstraint = "co-constraint";
inline constexpr std::string_view kScoId = "sco-id";
inline constexpr std::string_view kEmptyList = "empty-list";
inline constexpr std::string_view kReserved = "reserved-property";
inline constexpr std::string_view kMarking = "marking-definition";
inline constexpr std::string_view kPattern = "pattern";
}  // namespace rule

// What a `check` function sees: the object (or nested object) being validated and a way to
// report findings at a property of it. Pointers in findings are JSON pointers relative to the
// input document; Error/Warning take a property name (or a relative path such as "hashes/MD5").
class CheckContext {
 public:
  virtual ~CheckContext() = default;
  // The object under check; include "simdjson.h" in the .cc that walks it.
  virtual const simdjson::dom::object& object() const = 0;
  virtual void Error(std::string_view property, std::string_view rule, std::string message) = 0;
  virtual void Warning(std::string_view property, std::string_view rule, std::string message) = 0;

  // Convenience lookups on object(); absent or of another JSON type -> nullopt/false.
  bool Has(std::string_view property) const;
  std::optional<std::string_view> String(std::string_view property) const;
  std::optional<int64_t> Integer(std::string_view property) const;
  std::optional<double> Number(std::string_view property) const;
  std::optional<bool> Boolean(std::string_view property) const;
  // Parses a timestamp property; nullopt when absent or invalid (already reported by the table).
  // Virtual so the validator can answer from the timestamps its walk already parsed.
  virtual std::optional<Timestamp> Time(std::string_view property) const;
};

// Returns the spec of a standard type, or null for a custom/unknown type.
const TypeSpec* FindType(std::string_view type);
// The same for a `type` that lies in a parsed simdjson document (read in place, see
// NameTable::FindInDocument): the check functions' lookups of referenced types.
const TypeSpec* FindTypeInDocument(std::string_view type);
// The common properties that every object of `category` may carry (section 3.2 of the spec).
std::span<const PropertySpec> CommonProperties(Category category);

// Helpers for writing co-constraint checks.
// Reports an error unless `later` >= `earlier` when both are present.
void CheckNotBefore(CheckContext& ctx, std::string_view earlier, std::string_view later,
                    bool strictly_after = false);
// Reports an error unless at least one of `properties` is present.
void CheckAtLeastOne(CheckContext& ctx, std::initializer_list<std::string_view> properties);
// Reports an error if more than one of `properties` is present.
void CheckMutuallyExclusive(CheckContext& ctx, std::initializer_list<std::string_view> properties);
// Reports an error if `property` is present while `dependency` is absent.
void CheckDependsOn(CheckContext& ctx, std::string_view property, std::string_view dependency);

// The tables, one function per file that defines them.
std::span<const TypeSpec> SdoSroMetaTypes();  // spec_sdo.cc
std::span<const TypeSpec> ScoTypes();         // spec_sco.cc
// Predefined SCO extensions (section 6), keyed by extension name such as "archive-ext".
const TypeSpec* FindPredefinedExtension(std::string_view name);  // spec_sco.cc

// Shared pieces defined in spec_common.cc: the hash-algorithm vocabulary and the kill-chain-phase
// sub-type (use `.kind = Kind::kObject, .list = true, .nested = &kKillChainPhase`).
extern const Vocab kHashAlgorithmOv;
extern const TypeSpec kKillChainPhase;

}  // namespace liaison::stix::internal
