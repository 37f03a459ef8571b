#pragma once

// Hits become STIX 2.1 sightings (section 5.7 "Sighting"): one object per indicator and time
// window, with count, first_seen and last_seen, not one per event.
//
// Memory is bounded by SightingOptions::max_groups: when that many (indicator, window) groups
// are open, all are written out and counting starts again, so a long run may give several
// sightings of one indicator in one window, whose counts add up to the hits. Each sighting's id
// is a UUIDv5 of (indicator id, window start, identity, flush number), so re-running over the
// same logs writes the same ids and importing the output twice adds no duplicates.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/timestamp.h"
#include "match/compiler.h"
#include "match/reader.h"

namespace liaison::match {

struct SightingOptions {
  std::string identity_id;        // where_sighted_refs; empty leaves the property out
  int64_t window_seconds = 3600;  // > 0
  size_t max_groups = size_t{1} << 20;
  Timestamp now = Timestamp::Now();  // created / modified, and the time of events without one
  // Also write, before each sighting, the observable that matched (an SCO with its
  // deterministic id, STIX 2.1 section 2.9) and an observed-data object over it, and name that
  // in the sighting's observed_data_refs (section 5.7). Only for hits through the exact indexes
  // on addresses, domains, URLs, hashes and e-mail addresses: a pattern-engine hit has no one
  // observable. The observables are the events' values (ObservedValueOf: the address inside the
  // indicator's CIDR block, the subdomain under its domain), up to kMaxObservedValues distinct
  // ones per sighting, the first seen; the indexed value when the caller gives none.
  bool observed_data = false;
};

// How many distinct observed values one sighting's observed-data names at most (bounded state:
// max_groups * kMaxObservedValues short strings, and only with observed_data).
inline constexpr size_t kMaxObservedValues = 4;

// The value of `event` that gave `hit` (an address inside the hit's block, a name under its
// domain, a URL or hash as the event wrote it); empty when no field of the event's gives it
// (a pattern-engine hit). Looks the event's fields of the hit's kind up again: for hits only,
// which are rare next to events.
std::string_view ObservedValueOf(const IndicatorSet& set, const Event& event, const IndexHit& hit);

class SightingAggregator {
 public:
  // `set` must outlive the aggregator. `sink` receives each sighting's JSON text.
  SightingAggregator(const IndicatorSet& set, const SightingOptions& options,
                     std::function<void(std::string_view json)> sink);

  // `observed`: the event's value that gave the hit (ObservedValueOf), kept with observed_data.
  void Add(const IndexHit& hit, const Timestamp& time, std::string_view observed = {});
  // Adds another aggregator's groups (per-thread aggregators meet here).
  void Merge(const SightingAggregator& other);
  // Writes every open group, in (indicator id, window) order, and empties the aggregator.
  void Flush();
  // After a reload (reload.h): writes the open groups, whose keys name values of the old set,
  // and counts the hits of `set` from then on. As with max_groups, an indicator seen on both
  // sides of the switch in one window gets two sightings whose counts add up to its hits.
  void Rebind(const IndicatorSet& set);

  uint64_t sightings_written() const { return written_; }
  size_t open_groups() const { return groups_.size(); }

 private:
  struct Key {
    uint32_t indicator;
    uint8_t kind;  // list values: which index, and which entry
    uint32_t entry;
    int64_t window;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.indicator, k.kind, k.entry, k.window);
    }
  };
  struct Group {
    int64_t count = 0;
    Timestamp first;
    Timestamp last;
    IndexHit value;                     // the first hit: which stored value matched (observed_data)
    std::vector<std::string> observed;  // distinct event values, first seen, at most
                                        // kMaxObservedValues (observed_data)
  };

  const IndicatorSet* set_;
  SightingOptions options_;
  std::function<void(std::string_view)> sink_;
  absl::flat_hash_map<Key, Group> groups_;
  uint64_t written_ = 0;
  uint64_t flushes_ = 0;
};

}  // namespace liaison::match
