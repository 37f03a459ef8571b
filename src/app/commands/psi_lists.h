#pragma once

// Watch-lists drawn from a collection's indicators (issue #7, docs/psi.md "Watch-lists from a
// collection"): the values that the active STIX indicators of a local collection name, of one
// kind, normalised as psi/normalize.h does for files.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/timestamp.h"
#include "psi/normalize.h"
#include "store/store.h"

namespace liaison::app {

struct IndicatorListOptions {
  // Which property's values to take, as "<object-type>:<property>" (e.g. "user-account:user_id").
  // Empty: the kind's default properties (email-addr:value; domain-name:value; ipv4-addr:value
  // and ipv6-addr:value; the hashes of file, artifact and x509-certificate). Phone numbers and
  // free identifiers have no default STIX property and need one.
  std::string property;
  psi::NormalizeOptions normalize;
  Timestamp now = Timestamp::Now();
  size_t max_items = size_t{1} << 24;
};

struct IndicatorListStats {
  size_t indicators = 0;  // indicator objects read (the latest version of each)
  size_t inactive = 0;    // revoked, outside valid_from .. valid_until, or not pattern_type stix
  size_t unusable = 0;    // pattern that does not parse
  size_t values = 0;      // values taken from `=` / `IN` comparisons on the property
  size_t invalid = 0;     // values that are not items of the kind (skipped)
};

// Reads every active indicator of `collection` (one page at a time, bounded memory apart from
// the list itself) and returns the values of `=` and `IN` comparisons (not negated) on the
// kind's properties. Other comparisons (LIKE, MATCHES, ranges, CIDR prefixes other than a
// single host) say nothing certain about one item and are ignored. NotFound for an unknown
// collection; InvalidArgument for a kind without default property and no `property`;
// ResourceExhausted beyond `max_items`.
Result<psi::WatchList> WatchListFromIndicators(store::Store& store, std::string_view collection,
                                               psi::ItemKind kind,
                                               const IndicatorListOptions& options,
                                               IndicatorListStats* stats = nullptr);

}  // namespace liaison::app
