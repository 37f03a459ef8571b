#include "store/postgres/text_cache.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"

namespace liaison::store::postgres_internal {
namespace {

// Shards let the serving threads look up a page's texts without queueing on one lock; each
// shard keeps at least 1 MiB so that a large STIX object (a report with many refs) still fits.
constexpr size_t kMaxShards = 16;
constexpr size_t kMinShardBytes = size_t{1} << 20;

}  // namespace

TextCache::TextCache(size_t capacity_bytes) : capacity_(capacity_bytes) {
  if (capacity_ == 0) return;
  const size_t shards = std::clamp<size_t>(capacity_ / kMinShardBytes, 1, kMaxShards);
  shard_capacity_ = capacity_ / shards;
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

TextCache::Shard& TextCache::ShardFor(int64_t date_added) {
  // date_added values of a bulk load are consecutive microseconds: mix before taking the shard.
  return *shards_[absl::Hash<int64_t>()(date_added) % shards_.size()];
}

TextCache::Text TextCache::Find(int64_t date_added, std::string_view id, std::string_view version) {
  if (!enabled()) return Text();
  Shard& shard = ShardFor(date_added);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(date_added);
  if (it == shard.index.end()) return Text();
  Slot& slot = shard.slots[it->second];
  // The blob starts with id '\0' version '\0'; a different object under this key is a miss.
  const std::string_view blob(*slot.blob);
  if (slot.prefix != id.size() + version.size() + 2 || blob.substr(0, id.size()) != id ||
      blob[id.size()] != '\0' || blob.substr(id.size() + 1, version.size()) != version) {
    return Text();
  }
  slot.referenced = true;
  return Text(slot.blob, slot.prefix);
}

void TextCache::Insert(int64_t date_added, std::string_view id, std::string_view version,
                       std::string_view json) {
  if (!enabled()) return;
  const size_t prefix = id.size() + version.size() + 2;
  const size_t cost = prefix + json.size() + kEntryOverhead;
  if (cost > shard_capacity_) return;
  // Built outside the lock: the copy of the text is the expensive part.
  std::string blob;
  blob.reserve(prefix + json.size());
  blob.append(id).push_back('\0');
  blob.append(version).push_back('\0');
  blob.append(json);
  auto shared = std::make_shared<const std::string>(std::move(blob));

  Shard& shard = ShardFor(date_added);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.index.contains(date_added)) return;
  while (shard.bytes + cost > shard_capacity_) EvictOne(shard);
  uint32_t at;
  if (!shard.free_slots.empty()) {
    at = shard.free_slots.back();
    shard.free_slots.pop_back();
  } else {
    at = static_cast<uint32_t>(shard.slots.size());
    shard.slots.emplace_back();
  }
  Slot& slot = shard.slots[at];
  slot.key = date_added;
  slot.blob = std::move(shared);
  slot.prefix = prefix;
  slot.cost = cost;
  // A new entry starts unreferenced: a poller walking old pages once (each text read once)
  // evicts its own texts before the ones that are read again and again.
  slot.referenced = false;
  slot.used = true;
  shard.index.emplace(date_added, at);
  shard.bytes += cost;
}

void TextCache::EvictOne(Shard& shard) {
  // Called only while bytes > 0, so some slot is used: within two turns of the hand one is
  // found unreferenced (the first turn clears every bit it passes).
  for (;;) {
    if (shard.hand >= shard.slots.size()) shard.hand = 0;
    Slot& slot = shard.slots[shard.hand++];
    if (!slot.used) continue;
    if (slot.referenced) {
      slot.referenced = false;
      continue;
    }
    shard.bytes -= slot.cost;
    shard.index.erase(slot.key);
    slot.blob.reset();
    slot.used = false;
    shard.free_slots.push_back(static_cast<uint32_t>(&slot - shard.slots.data()));
    return;
  }
}

size_t TextCache::bytes() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->bytes;
  }
  return total;
}

size_t TextCache::entries() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->index.size();
  }
  return total;
}

}  // namespace liaison::store::postgres_internal
