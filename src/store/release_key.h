#pragma once

// Release keys (issue #6, docs/policy.md "Decision key"): a 63-bit summary, computed at ingest
// and stored beside each object version, of the members that release rules 1-5 read (type,
// object_marking_refs, created_by_ref, labels, confidence). A backend that keeps it in its scan
// index can drop the versions a partner's policy certainly withholds without reading their rows.
//
// The key is policy-agnostic: names (types, creators, marking-definition ids, labels) are coded
// through a per-store dictionary that only ever grows (a name's code never changes), so the
// policy side asks the store for the codes of the names its rules mention and tests bits. Small
// code spaces keep the key in one integer; a name whose code does not fit sets the kind's
// overflow value, which tells the policy "look at the row". Key 0 means "unknown" (a version
// stored before keys existed, or text the reader below did not understand): never dropped by key.
//
// The members are read by ReadReleaseFacts, the same reader ReleasePolicy::MayRelease uses, so a
// key and the first look at the row always see the same values.

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace liaison::store {

// The members release rules 1-5 read, as views of the strings of a parsed document.
struct ReleaseFacts {
  std::string_view type;
  std::string_view id;
  std::string_view created_by_ref;                    // "" when absent
  absl::InlinedVector<std::string_view, 2> markings;  // object_marking_refs
  absl::InlinedVector<std::string_view, 4> labels;
  std::optional<int> confidence;  // as stix::ParseObject reads it (0-100, else absent)
};

// Reads the members from one object's JSON text, without allocating. nullopt when the text is
// not a JSON object, or a member has an unexpected JSON type, or type or id is missing: callers
// then leave the verdict to a full parse. The views point into a thread-local simdjson parser:
// valid until the next ReadReleaseFacts call on the same thread.
std::optional<ReleaseFacts> ReadReleaseFacts(std::string_view json);

// Dictionaries of the key. Values are stored; never renumber.
enum class KeyKind : int { kType = 0, kCreator = 1, kMarking = 2, kLabel = 3 };

// Layout (bit 0 is the lowest):
//   0       1 = the key is valid (0 for the whole key: unknown)
//   1-7     confidence 0-100, 127 when absent
//   8-13    type code, kTypeOverflow when the code does not fit
//   14-23   creator code + 1 (0: no created_by_ref), kCreatorOverflow when it does not fit
//   24-39   marking bitmap: bit (24 + code) for codes < 15; bit 39 for any larger code
//   40-61   label bitmap: bit (40 + code) for codes < 21; bit 61 for any larger code
inline constexpr int kKeyConfidenceShift = 1;
inline constexpr uint64_t kKeyConfidenceAbsent = 127;
inline constexpr int kKeyTypeShift = 8;
inline constexpr uint64_t kKeyTypeOverflow = 63;  // codes 0..62 fit
inline constexpr int kKeyCreatorShift = 14;
inline constexpr uint64_t kKeyCreatorOverflow = 1023;  // codes 0..1021 fit (stored + 1)
inline constexpr int kKeyMarkingShift = 24;
inline constexpr int kKeyMarkingBits = 15;  // then one overflow bit
inline constexpr int kKeyLabelShift = 40;
inline constexpr int kKeyLabelBits = 21;  // then one overflow bit

// The code assigned to a name of a kind; the dictionary is the caller's (the store's).
// Returns a code >= 0, or an error value < 0 that makes the whole key unknown.
using KeyCoder = int64_t (*)(void* context, KeyKind kind, std::string_view name);

// The key of `facts`, coding names through `coder`. Returns 0 when a coder call fails.
int64_t EncodeReleaseKey(const ReleaseFacts& facts, KeyCoder coder, void* context);

// The decoded fields, for the policy side.
struct DecodedReleaseKey {
  bool valid = false;
  std::optional<int> confidence;
  std::optional<int64_t> type_code;  // nullopt: overflow
  // nullopt: overflow; 0: no creator; else code + 1.
  std::optional<int64_t> creator;
  uint32_t markings = 0;  // bit i: marking code i present (i < kKeyMarkingBits)
  bool markings_overflow = false;
  uint32_t labels = 0;  // bit i: label code i present (i < kKeyLabelBits)
  bool labels_overflow = false;
};
DecodedReleaseKey DecodeReleaseKey(int64_t key);

}  // namespace liaison::store
