#include "store/postgres/page_keys.h"

#include <libpq-fe.h>

#include <utility>

namespace liaison::store::postgres_internal {

std::optional<PageKeysCache::Entry> PageKeysCache::Find(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second.entry;
}

void PageKeysCache::Insert(const std::string& key, Entry entry) {
  if (!enabled() || !entry.keys) return;
  const size_t cost = kEntryOverhead + key.size() + PQresultMemorySize(entry.keys->get());
  if (cost > capacity_) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    // Replaced in place: it keeps its turn in order_.
    bytes_ -= it->second.cost;
    it->second = Slot{std::move(entry), cost};
    bytes_ += cost;
  } else {
    map_.emplace(key, Slot{std::move(entry), cost});
    order_.push_back(key);
    bytes_ += cost;
  }
  // Every key in order_ is in map_, once. Since cost <= capacity_, this stops at the latest
  // entry at the latest (unless a replaced entry was the oldest: then it goes too).
  while (bytes_ > capacity_ && !order_.empty()) {
    auto victim = map_.find(order_.front());
    order_.pop_front();
    bytes_ -= victim->second.cost;
    map_.erase(victim);
  }
}

size_t PageKeysCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t PageKeysCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

}  // namespace liaison::store::postgres_internal
