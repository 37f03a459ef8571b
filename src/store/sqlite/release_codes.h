#pragma once

// The SQLite store's release-key dictionary (store/release_key.h): table release_codes maps
// (kind, name) to a code, assigned in order of first use inside the writer's transaction and
// never changed. Once a kind's codes no longer fit in the key, further names are not recorded:
// they all encode as the kind's overflow value, which tells the reader to look at the row.
// Internal to store/sqlite.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/result.h"
#include "store/release_key.h"
#include "store/sqlite/connection.h"

namespace liaison::store::sqlite_internal {

// The ReleaseFacts of the objects of one Add, read from their JSON before the Add queues for the
// writer: the read (a simdjson parse, ~5k instructions per object) then runs on the caller's
// thread, in parallel with other requests, instead of inside the writer's serial section, where
// it was a tenth of the work per object. The names are copied into one buffer per batch.
class ReleaseFactsBatch {
 public:
  // Reads `json` and appends its facts (or "unreadable", which keys as 0) as the next entry.
  void Append(std::string_view json);
  size_t size() const { return entries_.size(); }
  // The facts of entry `i` (views into this batch: valid while it lives and is not appended to).
  std::optional<ReleaseFacts> Get(size_t i) const;

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  struct Entry {
    bool readable = false;
    Span type, id, created_by_ref;
    uint32_t first_name = 0;  // markings then labels, in names_
    uint32_t markings = 0;
    uint32_t labels = 0;
    std::optional<int> confidence;
  };
  Span Keep(std::string_view text);
  std::string_view View(Span s) const { return std::string_view(text_).substr(s.offset, s.size); }

  std::string text_;
  std::vector<Span> names_;
  std::vector<Entry> entries_;
};

// Codes names for the keys of one write transaction. Its cache lives no longer than the
// transaction (a rolled-back code must not be reused), so make one per Add.
class ReleaseCoder {
 public:
  explicit ReleaseCoder(Connection& conn) : conn_(conn) {}

  // The key of one object's JSON text: 0 when the text cannot be read (ReadReleaseFacts), an
  // error when the dictionary cannot be read or written.
  Result<int64_t> KeyOf(std::string_view json);
  // The key of facts read beforehand (ReleaseFactsBatch); nullopt keys as 0, like unreadable
  // text above.
  Result<int64_t> KeyOf(const std::optional<ReleaseFacts>& facts);

 private:
  static int64_t Code(void* self, KeyKind kind, std::string_view name);
  Result<int64_t> CodeOf(KeyKind kind, std::string_view name);

  Connection& conn_;
  absl::flat_hash_map<std::string, int64_t> cache_[4];  // by KeyKind
  Status error_;
};

// The code of `name`, or nullopt when it has none (reads only).
Result<std::optional<int64_t>> LookupReleaseCode(Connection& conn, KeyKind kind,
                                                 std::string_view name);

// Fills objects.rkey for every row whose key is 0 (migration 4), inside the caller's write
// transaction.
Status BackfillReleaseKeys(Connection& conn);

}  // namespace liaison::store::sqlite_internal
