#pragma once

// The observations a pattern is evaluated against: observed-data SDOs and the cyber-observable
// objects they carry (STIX 2.1 sections 4.14 and 9).
//
// Both forms of observed-data are read: STIX 2.1's `object_refs`, whose SCOs are separate
// objects of the same input (a bundle, an array, or several documents together), and the
// deprecated `objects` dictionary, whose SCOs are embedded and refer to each other by key. An
// observed-data with number_observed = N stands for N observations between first_observed and
// last_observed (section 9.1, "Observation").
//
// Only SCOs listed by an observed-data are observed: a reference from an SCO resolves only to
// an object in the same observed-data (section 9.7.4), and SDOs, SROs and meta objects never
// match a pattern. The set is immutable once built and may be shared by threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/result.h"
#include "core/timestamp.h"

namespace liaison::pattern {

class ObservationSet;
namespace internal {
struct ObservationData;
const ObservationData& Data(const ObservationSet& set);
}  // namespace internal

struct LoadOptions {
  size_t max_depth = 256;  // JSON nesting
};

class ObservationSet {
 public:
  // Reads one JSON document: a bundle, an observed-data object, or an array of STIX objects.
  // Errors (InvalidArgument): malformed JSON, or observed-data without valid first_observed,
  // last_observed (not before first_observed) and number_observed (a positive integer).
  static Result<ObservationSet> FromJson(std::string_view json, const LoadOptions& options = {});
  // Several documents read as one input: object_refs resolve across all of them.
  static Result<ObservationSet> FromJson(std::span<const std::string_view> documents,
                                         const LoadOptions& options = {});

  ObservationSet(ObservationSet&&) noexcept;
  ObservationSet& operator=(ObservationSet&&) noexcept;
  ~ObservationSet();

  // The observed-data, in input order.
  size_t size() const;
  std::string_view id(size_t observed_data) const;
  Timestamp first_observed(size_t observed_data) const;
  Timestamp last_observed(size_t observed_data) const;
  int64_t number_observed(size_t observed_data) const;
  // The SCOs an observed-data carries (object_refs found in the input, or its objects).
  size_t object_count(size_t observed_data) const;

 private:
  ObservationSet();
  friend const internal::ObservationData& internal::Data(const ObservationSet& set);

  std::unique_ptr<internal::ObservationData> data_;
};

}  // namespace liaison::pattern
