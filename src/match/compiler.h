#pragma once

// The indicator compiler: turns the active indicators of STIX content or plain lists into an
// IndicatorSet, the read-only rule set the matcher runs.
//
// An indicator is active when it is an `indicator` object with pattern_type "stix", not
// revoked, and valid_from <= now < valid_until (STIX 2.1 section 4.7; a missing valid_until
// means no end). Its pattern reduces to the exact indexes (indicator_index.h) when it is one
// observation expression, or an OR of them, without qualifiers, whose comparisons are all
// `=` / `IN` on a property a log reader produces (fields.h), joined by OR, and whose address
// comparisons all have the same role (src_ref, dst_ref, or any address). Every other pattern
// goes to the pattern engine (pattern/pattern_set.h), which the matcher runs only for events
// carrying an object type the pattern names.
//
// Plain lists hold one indicator a line: `TYPE VALUE` (TYPE one of ipv4-addr, ipv6-addr, ip,
// cidr, domain-name, domain, url, md5, sha1, sha256, sha512, email-addr, email, or a STIX object
// path such as file:hashes.'SHA-256') or a bare VALUE whose type is inferred. `#` starts a
// comment line. List values have no STIX id of their own: each gets the deterministic id
// indicator--UUIDv5(kListNamespace, "<kind>:<value>"), so re-runs name them alike.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"
#include "match/fields.h"
#include "match/indicator_index.h"

namespace liaison::pattern {
class PatternSet;
}

namespace liaison::match {

// Namespace of list indicators' ids (a fixed v4 UUID chosen for liaison).
inline constexpr std::string_view kListNamespace = "6b1f3e4c-2f0a-4d8e-9a51-3c7e2b9d0f17";

struct CompileOptions {
  Timestamp now = Timestamp::Now();
  IndexOptions index;
  size_t max_errors_kept = 20;  // messages kept in CompileStats::errors
  // Patterns over several events (AND / FOLLOWEDBY between [ ... ], REPEATS n > 1) are
  // evaluated over a window of the last `stream_window_events` events that carry an SCO type
  // they name, no older than their largest WITHIN (or `stream_horizon_seconds` when they have
  // none) before the newest. Bounded state: the window's observed-data texts.
  size_t stream_window_events = 64;
  double stream_horizon_seconds = 3600;
};

struct CompileStats {
  uint64_t objects = 0;             // STIX objects read
  uint64_t indicators = 0;          // indicator objects read
  uint64_t inactive = 0;            // outside valid_from .. valid_until
  uint64_t revoked = 0;             //
  uint64_t not_stix = 0;            // pattern_type other than "stix"
  uint64_t invalid = 0;             // unparsable pattern, invalid value, malformed object or line
  uint64_t exact = 0;               // indicators in the exact indexes
  uint64_t engine = 0;              // indicators in the pattern engine
  uint64_t stream = 0;              // of those, patterns over several events (below)
  uint64_t unreachable = 0;         // exact indicators on properties no log reader produces
  uint64_t list_values = 0;         // plain-list values
  std::vector<std::string> errors;  // "source:line: message", the first max_errors_kept
};

// Whose address an indicator's address comparisons name.
enum class AddressRole : uint8_t { kAny, kSrc, kDst };

class IndicatorSet {
 public:
  explicit IndicatorSet(const CompileOptions& options = {});
  IndicatorSet(IndicatorSet&&) noexcept;
  IndicatorSet& operator=(IndicatorSet&&) noexcept;
  ~IndicatorSet();

  // Adds the active indicators of a bundle, a TAXII envelope, one object, an array of objects
  // or NDJSON. `source` names the input in error messages. Bad objects are counted and
  // skipped; only unreadable JSON as a whole is an error (InvalidArgument).
  Status AddStix(std::string_view text, std::string_view source);
  // Adds one STIX object's JSON text (e.g. a store record).
  void AddStixObject(std::string_view json, std::string_view source, size_t line);
  // Adds one plain-list line; blank and comment lines are ignored. Bad lines are counted.
  void AddListLine(std::string_view line, std::string_view source, size_t line_number);
  // Adds every line of `text`.
  void AddList(std::string_view text, std::string_view source);

  // Ends loading: call once before matching.
  void Finish();

  const IndicatorIndex& index() const;
  IndicatorIndex& mutable_index();
  const CompileStats& stats() const;
  const Timestamp& now() const;

  // Indicators with a STIX id, numbered from 0 in load order.
  size_t indicator_count() const;
  std::string_view indicator_id(uint32_t indicator) const;
  AddressRole role(uint32_t indicator) const;
  // The id of a hit: the STIX id, or the derived id of a list value.
  std::string IdOf(const IndexHit& hit) const;

  // The pattern engine's patterns, or nullptr when every indicator was exact.
  const pattern::PatternSet* engine() const;
  // The indicator a pattern-engine pattern number belongs to.
  uint32_t engine_indicator(size_t pattern_number) const;
  // True when some engine pattern names SCOs of `sco_type`.
  bool EngineWants(std::string_view sco_type) const;

  // Patterns that need several observations, matched over a window of events (Matcher); null
  // when there are none. One fires on the event that makes it hold over the window (it did not
  // hold over the window without that event).
  const pattern::PatternSet* stream_engine() const;
  uint32_t stream_indicator(size_t pattern_number) const;
  bool StreamWants(std::string_view sco_type) const;
  double stream_within_seconds() const;  // largest WITHIN among them, 0 when none has one
  const CompileOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::match
