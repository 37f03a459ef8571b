#pragma once

// A node-local, byte-bounded cache of stored JSON texts, keyed by date_added (issue #8,
// docs/store.md "Cache of JSON texts"). Internal to store/postgres.
//
// Why a text may be cached at all: the PostgreSQL store never rewrites the `json` of a stored
// row (only INSERT writes it; the UPDATEs touch the version flags), and date_added is unique in
// the whole database and never handed out twice (it comes from a high-water mark that only
// grows, under the object writers' lock). So the text read once for a date_added is the text of
// that date_added for as long as the row exists. Whether the row still exists, and its flags,
// are NOT cached: a page always learns them from the database (PostgresStore::QueryImpl).
//
// Each entry also records the row's id and version, and a lookup must name the same ones: should
// a date_added ever be reused after all (a failover to an asynchronous replica that lost commits
// the node had read), a different object under the old key is a miss, not a wrong text.
//
// Invariants, per shard: `bytes` is the sum of the costs of the entries in `index`, and never
// exceeds the shard's capacity after Insert returns; every slot in `index` is `used`. A text
// handed out by Find stays alive while its handle does, even if the entry is evicted meanwhile
// (so a page being written out may briefly keep evicted texts beyond the bound).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"

namespace liaison::store::postgres_internal {

class TextCache {
 public:
  // What one entry costs beyond its text: the slot, the index entry, the shared string's header
  // and control block, and the id and version kept with it. Counted so that the bound holds for
  // many small texts too.
  static constexpr size_t kEntryOverhead = 128;

  // A text found in the cache; valid while the handle lives.
  class Text {
   public:
    Text() = default;
    explicit operator bool() const { return blob_ != nullptr; }
    std::string_view view() const { return std::string_view(*blob_).substr(prefix_); }

   private:
    friend class TextCache;
    Text(std::shared_ptr<const std::string> blob, size_t prefix)
        : blob_(std::move(blob)), prefix_(prefix) {}
    std::shared_ptr<const std::string> blob_;
    size_t prefix_ = 0;
  };

  // `capacity_bytes` bounds the sum of the entries' costs (text + kEntryOverhead + id +
  // version). Zero disables the cache: Find always misses and Insert keeps nothing.
  explicit TextCache(size_t capacity_bytes);
  TextCache(const TextCache&) = delete;
  TextCache& operator=(const TextCache&) = delete;

  bool enabled() const { return capacity_ > 0; }
  size_t capacity() const { return capacity_; }

  // The text stored under `date_added` for the object version (id, version), or an empty handle.
  // Marks the entry as recently used. Thread safe (one lock per shard).
  Text Find(int64_t date_added, std::string_view id, std::string_view version);

  // Keeps `json` as the text of (date_added, id, version), evicting entries that have not been
  // used since the clock hand last passed them (CLOCK) until it fits. A text larger than a
  // shard's capacity is not kept. An entry already present is left as it is. Thread safe.
  void Insert(int64_t date_added, std::string_view id, std::string_view version,
              std::string_view json);

  // The sum of the entries' costs now (for tests and the docs' figures).
  size_t bytes() const;
  size_t entries() const;

 private:
  struct Slot {
    int64_t key = 0;
    std::shared_ptr<const std::string> blob;  // id '\0' version '\0' json
    size_t prefix = 0;                        // where json starts in blob
    size_t cost = 0;
    bool referenced = false;
    bool used = false;
  };
  struct Shard {
    // std::mutex, not absl::Mutex: a page takes ~100 of these locks, and Debian's abseil (built
    // without NDEBUG) runs its deadlock detector, a graph under one global lock, on every
    // absl::Mutex acquisition (GraphCycles in the node's profile of a page walk).
    mutable std::mutex mu;
    absl::flat_hash_map<int64_t, uint32_t> index ABSL_GUARDED_BY(mu);  // key -> slot
    std::vector<Slot> slots ABSL_GUARDED_BY(mu);
    std::vector<uint32_t> free_slots ABSL_GUARDED_BY(mu);
    size_t hand ABSL_GUARDED_BY(mu) = 0;
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
  };

  Shard& ShardFor(int64_t date_added);
  // Evicts one entry the hand finds unreferenced (clearing reference bits on the way).
  static void EvictOne(Shard& shard);  // shard.mu held

  const size_t capacity_;
  size_t shard_capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace liaison::store::postgres_internal
