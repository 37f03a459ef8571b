#pragma once

// A node-local, byte-bounded cache of the keys statements of full pages (issue #8, docs/store.md
// "Cache of page keys"). Internal to store/postgres.
//
// Why a full page's keys may be reused: the keys statement returns the first `limit + 1` rows of
// a collection (in date_added order, from a keyset start, with the page's filters) below the
// readers' horizon. Every version committed later gets a date_added above that horizon, so above
// all of those rows: when the statement returned all `limit + 1` rows it asked for, no later Add
// of new objects can change which rows it returns. Only a write that changes or removes stored
// rows can (new flags when an id gains a version, deletions); each of those bumps the database's
// change counter (meta 'object_changes') in its own transaction. An entry records the counter
// read in the same statement (one snapshot) as its rows, and a page may serve it only after
// reading the counter again, in a later statement, and finding it unchanged: the answer is then
// exactly what the keys statement would return in that later snapshot.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "store/postgres/connection.h"

namespace liaison::store::postgres_internal {

class PageKeysCache {
 public:
  struct Entry {
    std::shared_ptr<const QueryResult> keys;
    int64_t changes = 0;  // meta 'object_changes' in the snapshot that read `keys`
  };
  // What one entry costs beyond its key and its result's memory (libpq's PQresultMemorySize).
  static constexpr size_t kEntryOverhead = 128;

  // `capacity_bytes` bounds the sum of the entries' costs; zero disables the cache.
  explicit PageKeysCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  PageKeysCache(const PageKeysCache&) = delete;
  PageKeysCache& operator=(const PageKeysCache&) = delete;

  bool enabled() const { return capacity_ > 0; }

  std::optional<Entry> Find(const std::string& key) const;
  // Keeps (or replaces) the entry of `key`, evicting the oldest entries until it fits. An entry
  // larger than the whole capacity is not kept. Thread safe.
  void Insert(const std::string& key, Entry entry);

  size_t bytes() const;
  size_t entries() const;

 private:
  struct Slot {
    Entry entry;
    size_t cost = 0;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Slot> map_;  // guarded by mu_
  std::deque<std::string> order_;               // keys of map_, oldest first; guarded by mu_
  size_t bytes_ = 0;                            // guarded by mu_
};

}  // namespace liaison::store::postgres_internal
