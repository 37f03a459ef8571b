#pragma once

// The inside of an ObservationSet: parsed documents (simdjson DOM, kept alive here), the
// observed-data in input order with their time intervals, and the SCOs each one observes.
// Views (elements, string_views) point into `documents` and live as long as the set.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/timestamp.h"
#include "simdjson.h"

namespace liaison::pattern::internal {

// Instants in nanoseconds since the epoch; 128 bits so that any STIX timestamp (years 0000 to
// 9999) and any WITHIN fits without overflow.
using Nanos = __int128;

inline Nanos ToNanos(const Timestamp& t) {
  return static_cast<Nanos>(t.unix_seconds()) * 1'000'000'000 + t.nanos();
}

// An SCO an observed-data observes: where a pattern's object path starts (section 9.5).
struct Root {
  simdjson::dom::object object;
  std::string_view type;
  bool legacy = false;  // embedded in the deprecated `objects` dictionary
};

struct ObservedDataRecord {
  std::string_view id;
  Timestamp first_observed;
  Timestamp last_observed;
  Nanos first = 0;
  Nanos last = 0;
  int64_t number_observed = 1;
  std::vector<Root> roots;
  // Resolution of references (section 9.7.4): ids listed in object_refs, and the legacy
  // `objects` dictionary, whose keys stand in for ids.
  std::vector<std::string_view> refs;
  std::unique_ptr<absl::flat_hash_set<std::string_view>> ref_set;  // when `refs` is long
  std::optional<simdjson::dom::object> legacy_objects;
};

struct ObservationData {
  std::vector<std::unique_ptr<simdjson::dom::document>> documents;
  absl::flat_hash_map<std::string_view, simdjson::dom::object> objects_by_id;
  std::vector<ObservedDataRecord> observed;

  // The object that `ref` names, as seen from an object of `od` (embedded when `legacy`), or
  // nullopt when it is not one of the objects `od` observes.
  std::optional<simdjson::dom::object> Deref(const ObservedDataRecord& od, bool legacy,
                                             std::string_view ref) const;
};

}  // namespace liaison::pattern::internal
