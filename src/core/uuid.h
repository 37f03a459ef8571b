#pragma once

// UUIDs as STIX identifiers use them (RFC 4122): parsing, version checks, v4 and v5 generation.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison {

class Uuid {
 public:
  // Parses the canonical lower- or upper-case 8-4-4-4-12 hex form.
  static Result<Uuid> Parse(std::string_view text);
  // Like Parse without building an error: false when `text` is not a UUID. For hot paths.
  static bool TryParse(std::string_view text, Uuid& out);
  // Checks the text form without building the value (the validator's hot path): true for 36
  // characters of 8-4-4-4-12 hex digits, with the version nibble and whether the variant is
  // RFC 4122's (10xx).
  static bool Scan(std::string_view text, int& version, bool& rfc4122_variant);
  // A random (version 4) UUID from the operating system's CSPRNG.
  static Uuid V4();
  // A time-ordered (version 7, RFC 9562 section 5.7) UUID: the Unix time in milliseconds, then
  // 74 random bits. Ids made later sort after earlier ones (to the millisecond), so a B-tree
  // keyed by them grows at its end instead of at a random leaf.
  static Uuid V7();
  // A name-based SHA-1 (version 5) UUID of `name` in `namespace_id` (RFC 4122 section 4.3).
  static Uuid V5(const Uuid& namespace_id, std::string_view name);

  // The RFC 4122 version nibble (1-8), or 0 for the nil UUID.
  int version() const { return bytes_[6] >> 4; }
  // True when the variant bits say RFC 4122 (10xx).
  bool IsRfc4122Variant() const { return (bytes_[8] & 0xc0) == 0x80; }

  // Lower-case canonical form.
  std::string ToString() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }

  friend bool operator==(const Uuid&, const Uuid&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

// The namespace STIX 2.1 uses for deterministic SCO identifiers (section 2.9).
inline constexpr std::string_view kStixScoNamespace = "00abedb4-aa42-466c-9c01-fed23315a9b7";

}  // namespace liaison
