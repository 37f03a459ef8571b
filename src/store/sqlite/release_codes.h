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

#include "absl/container/flat_hash_map.h"
#include "core/result.h"
#include "store/release_key.h"
#include "store/sqlite/connection.h"

namespace liaison::store::sqlite_internal {

// Codes names for the keys of one write transaction. Its cache lives no longer than the
// transaction (a rolled-back code must not be reused), so make one per Add.
class ReleaseCoder {
 public:
  explicit ReleaseCoder(Connection& conn) : conn_(conn) {}

  // The key of one object's JSON text: 0 when the text cannot be read (ReadReleaseFacts), an
  // error when the dictionary cannot be read or written.
  Result<int64_t> KeyOf(std::string_view json);

 private:
  static int64_t Code(void* self, KeyKind kind, std::string_view name);
  Result<int64_t> CodeOf(KeyKind kind, std::string_view name);

  Connection& conn_;
  absl::flat_hash_map<std::pair<int, std::string>, int64_t> cache_;
  Status error_;
};

// The code of `name`, or nullopt when it has none (reads only).
Result<std::optional<int64_t>> LookupReleaseCode(Connection& conn, KeyKind kind,
                                                 std::string_view name);

// Fills objects.rkey for every row whose key is 0 (migration 4), inside the caller's write
// transaction.
Status BackfillReleaseKeys(Connection& conn);

}  // namespace liaison::store::sqlite_internal
