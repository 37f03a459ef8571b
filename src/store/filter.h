#pragma once

// TAXII 2.1 query filters as the store evaluates them, the opaque pagination cursor, and the
// version-selection rule that every backend must apply identically.
//
// Semantics (TAXII 2.1 section 3.4 "Filtering" and 3.6 "Pagination"; docs/store.md has the long
// form). A query is evaluated in four steps:
//   1. Base filters, ANDed: `added_after` (date_added strictly later), `ids`, `types`, and, when
//      given, `spec_versions`. Values inside one list are ORed.
//   2. Version selection per object id among the versions that passed step 1: the union of the
//      `versions` entries (`last` when empty). `first`/`last` are the earliest/latest version
//      among those survivors, not among all stored versions (as medallion, the OASIS reference
//      server, does it).
//   3. Without `spec_versions`, only the versions of the latest spec_version among the step-2
//      survivors of each id are kept ("the latest specification version that it can provide for
//      each object matching the remaining query parameters").
//   4. The result is ordered by (date_added, id, version) and cut into pages with `limit` and
//      `next`. The cursor is a position, not a filter: it never changes steps 1-3.
// Medallion applies an explicit match[spec_version] after version selection; liaison applies it
// in step 1, so `match[version]=last&match[spec_version]=2.0` is the latest 2.0 version rather
// than nothing when the latest version is 2.1.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"

namespace liaison::store {

// One entry of match[version].
struct VersionMatch {
  enum class Kind { kLast, kFirst, kAll, kAt };
  Kind kind = Kind::kLast;
  Timestamp at;  // kAt only: the `modified` (else `created`) of the wanted version

  static VersionMatch Last() { return {Kind::kLast, {}}; }
  static VersionMatch First() { return {Kind::kFirst, {}}; }
  static VersionMatch All() { return {Kind::kAll, {}}; }
  static VersionMatch At(Timestamp t) { return {Kind::kAt, t}; }
};

// The most values one list filter (ids, types, spec_versions, versions) may hold.
inline constexpr size_t kMaxFilterValues = 1000;

// A query over one collection. Default-constructed: the first page of the latest version of
// every object, of the latest spec version, up to the store's maximum page size.
struct Filter {
  std::optional<Timestamp> added_after;
  // Records per page; nullopt means the store's maximum, larger values are clamped to it.
  std::optional<size_t> limit;
  // The `next` of a previous page of the same query; empty for the first page.
  std::string next;
  std::vector<std::string> ids;
  std::vector<std::string> types;
  std::vector<VersionMatch> versions;      // empty: {Last()}
  std::vector<std::string> spec_versions;  // empty: the latest spec version of each object
};

// Which versions DeleteObject removes (TAXII 2.1 section 5.7 "Delete An Object"). Unlike a query,
// empty lists select everything: a DELETE without match[version] removes every version.
struct DeleteFilter {
  std::vector<VersionMatch> versions;      // empty: all versions
  std::vector<std::string> spec_versions;  // empty: all spec versions
};

// Checks list sizes and limit; returns InvalidArgument naming the TAXII parameter.
Status ValidateFilter(const Filter& filter);

// ---------------------------------------------------------------------------------------------
// Cursor: the position of the last record of a page. Encoded as unpadded base64url text with a
// format tag and a checksum, so that a truncated or edited `next` is rejected rather than
// silently restarting or skipping; it carries no server state and stays valid across restarts
// and across nodes sharing one database.

struct Cursor {
  Timestamp date_added;
  std::string id;
  std::optional<Timestamp> version;  // nullopt for an object without modified/created

  friend bool operator==(const Cursor&, const Cursor&) = default;
};

std::string EncodeCursor(const Cursor& cursor);
// Returns InvalidArgument ("next: ...") for anything EncodeCursor did not produce.
Result<Cursor> DecodeCursor(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Version selection (steps 1-3 above, without ids/types which are the same for every version of
// one id): the reference that backends use when their indexes cannot decide alone, and that
// tests compare against.

// One stored version of one object.
struct VersionRecord {
  std::optional<Timestamp> version;
  Timestamp date_added;
  std::string_view spec_version;
};

// Returns, for each record (all versions of ONE object id), whether a query with `filter`
// selects it. `filter.ids`, `types`, `limit` and `next` are ignored.
std::vector<bool> SelectVersions(std::span<const VersionRecord> records, const Filter& filter);
// The same for DeleteObject.
std::vector<bool> SelectVersionsForDelete(std::span<const VersionRecord> records,
                                          const DeleteFilter& filter);

// Orders spec versions numerically by dotted component ("2.0" < "2.1" < "2.10"); <0, 0, >0.
int CompareSpecVersions(std::string_view a, std::string_view b);

// The version key of a timestamp: fixed-width RFC 3339 with nine fractional digits, so that text
// order is time order (years 0000-9999, the range STIX allows). "" stands for "no version".
std::string VersionKey(const std::optional<Timestamp>& version);
// The inverse; InvalidArgument on anything VersionKey cannot produce.
Result<std::optional<Timestamp>> ParseVersionKey(std::string_view key);

// date_added is kept to the microsecond by every backend (PostgreSQL's timestamp precision).
int64_t ToUnixMicros(Timestamp t);  // floor
Timestamp FromUnixMicros(int64_t micros);

}  // namespace liaison::store
