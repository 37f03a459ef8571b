#pragma once

// An open-addressing hash set of byte strings for millions of indicator values, with a small
// per-entry payload (the indicators that carry the value).
//
// Layout (memory is the constraint: DESIGN.md wants 20M+ values in a laptop's RAM):
//   - keys live back to back in one arena, never in a std::string each; with kFixedLen > 0
//     (binary hashes) entry i is at i * kFixedLen and no offsets are stored;
//   - slots_ is a power-of-two array of uint64: 0 when empty, else (tag << 32) | (entry + 1)
//     where tag is the high half of the key's hash. A probe compares the tag first, so a miss
//     usually touches one cache line and never the arena;
//   - linear probing, load factor at most 3/4.
// The hash is keyed per table from the CSPRNG (internal/hash.h). Not thread safe for writes;
// concurrent reads are safe once building is over.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

#include "match/internal/hash.h"

namespace liaison::match::internal {

// Asks for the cache line at `p` without waiting for it. GCC 12 drops __builtin_prefetch of an
// address computed from our keyed hash (seen in the -O2 assembly of the matcher's prefetch), so
// x86-64 issues the instruction itself; a prefetch never faults, whatever the address.
inline void PrefetchLine(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// The slot array. Large ones are 2 MiB-aligned and marked for transparent huge pages before
// they are first touched: lookups are random over up to hundreds of MB, and with 4 KiB pages
// nearly every probe would also miss the TLB.
class SlotArray {
 public:
  void Assign(size_t n) {
    const size_t bytes = n * sizeof(uint64_t);
    constexpr size_t kHuge = size_t{2} << 20;
    void* p = nullptr;
    if (bytes >= kHuge) {
      p = std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
      if (p != nullptr) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
    } else {
      p = std::malloc(bytes);
    }
    if (p == nullptr) throw std::bad_alloc();  // STYLE.md: bad_alloc may end the process
    std::memset(p, 0, bytes);
    data_.reset(static_cast<uint64_t*>(p));
    size_ = n;
  }
  uint64_t& operator[](size_t i) { return data_[i]; }
  uint64_t operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }
  const uint64_t* data() const { return data_.get(); }
  uint64_t* begin() { return data_.get(); }
  uint64_t* end() { return data_.get() + size_; }
  void swap(SlotArray& other) {
    data_.swap(other.data_);
    std::swap(size_, other.size_);
  }

 private:
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint64_t[], Free> data_;
  size_t size_ = 0;
};

// Allocator of the tables' big arrays (key arena, offsets, payloads, load buffers): blocks of
// 2 MiB and more come 2 MiB-aligned with transparent huge pages asked for, so that loading 21 M
// values takes a few hundred page faults instead of a few hundred thousand (each fault was
// ~20 % of the load profile under the benchmark machine's shadow paging), and random reads of
// keys on a hit miss the TLB less.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocators convert implicitly

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    constexpr size_t kHuge = size_t{2} << 20;
    void* p = nullptr;
    if (bytes >= kHuge) {
      p = std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
      if (p != nullptr) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
    } else {
      p = std::malloc(bytes == 0 ? 1 : bytes);
    }
    if (p == nullptr) throw std::bad_alloc();  // STYLE.md: bad_alloc may end the process
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};
template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

// Buffers FlushPending sorts in, shared by the tables of one index so that fresh memory is
// faulted in once (first touches of memory were a third of the load profile).
struct LoadScratch {
  HugeVector<uint64_t> hashes;
  HugeVector<uint32_t> entries;
};

template <size_t kFixedLen>
class FlatKeySet {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;
  static constexpr size_t kMaxKeyLen = 0xffff;

  explicit FlatKeySet(HashKey key = RandomHashKey()) : key_(key) { Rehash(16); }

  // Distinct keys (entries appended but not yet flushed included; orphans not).
  size_t size() const { return count_ - orphans_; }

  // Makes room for `n` entries in all without rehashing.
  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap * 3 < n * 4) cap <<= 1;
    if (cap > slots_.size()) Rehash(cap);
    if constexpr (kFixedLen > 0) {
      arena_.reserve(n * kFixedLen);
    } else {
      offsets_.reserve(n);
    }
    payload_.reserve(n);
  }
  // Extra room for variable-length keys: `bytes` more arena bytes.
  void ReserveBytes(size_t bytes) { arena_.reserve(arena_.size() + bytes); }

  // Returns the entry of `key`, adding it (payload `initial`) when absent. `key` must be
  // kFixedLen bytes long, or at most kMaxKeyLen for variable keys. Appended keys are placed
  // first (keeping the first payload of equal keys; IndicatorIndex never mixes the two).
  uint32_t Insert(std::string_view key, uint32_t initial) {
    if (has_pending()) {
      LoadScratch scratch;
      FlushPending(scratch, [](uint32_t, uint32_t) {});
    }
    if ((count_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
    const uint64_t h = HashBytes(key.data(), key.size(), key_);
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) {
        const uint32_t entry = static_cast<uint32_t>(count_++);
        if constexpr (kFixedLen > 0) {
          arena_.insert(arena_.end(), key.begin(), key.end());
        } else {
          offsets_.push_back((static_cast<uint64_t>(arena_.size()) << 16) | key.size());
          arena_.insert(arena_.end(), key.begin(), key.end());
        }
        payload_.push_back(initial);
        placed_ = count_;
        slots_[i] = (tag << 32) | (entry + 1);
        return entry;
      }
      if ((slot >> 32) == tag && Key(static_cast<uint32_t>(slot) - 1) == key) {
        return static_cast<uint32_t>(slot) - 1;
      }
    }
  }

  // Bulk loading. Append stores `key` and its payload but leaves the slot for later:
  // FlushPending places every appended key, in an order that keeps the slot writes inside one
  // cache-sized region of the table at a time. Inserting 10 M keys one by one into a table
  // of 128 MB costs a DRAM miss (and, under shadow paging, a page walk) each; radix-partitioning
  // the pending keys by slot first costs sequential passes instead (docs/match.md).
  // Returns the provisional entry. Until FlushPending, Find does not see appended keys.
  uint32_t Append(std::string_view key, uint32_t initial) {
    const uint32_t entry = static_cast<uint32_t>(count_++);
    if constexpr (kFixedLen > 0) {
      arena_.insert(arena_.end(), key.begin(), key.end());
    } else {
      offsets_.push_back((static_cast<uint64_t>(arena_.size()) << 16) | key.size());
      arena_.insert(arena_.end(), key.begin(), key.end());
    }
    payload_.push_back(initial);
    return entry;
  }
  bool has_pending() const { return placed_ < count_; }

  // Places the appended keys. When a key is already in the table (or was appended twice), the
  // later entry becomes an orphan: `merge(kept, orphan)` moves its payload over, and the orphan
  // keeps its arena bytes but is never found again (size() does not count it).
  template <typename Merge>
  void FlushPending(LoadScratch& scratch, Merge&& merge) {
    const size_t first = placed_;
    const size_t n = count_ - first;
    if (n == 0) return;
    placed_ = count_;
    size_t cap = slots_.size();
    while (cap * 3 < count_ * 4) cap <<= 1;
    if (cap > slots_.size()) Rehash(cap);
    // Regions of 2^15 slots (256 KiB) stay in L2 while their keys go in.
    constexpr size_t kRegionBits = 15;
    size_t bits = 0;
    while ((size_t{1} << bits) < slots_.size()) ++bits;
    const size_t part_bits = bits > kRegionBits ? bits - kRegionBits : 0;
    if (part_bits == 0 || n < (size_t{1} << part_bits) * 4) {
      for (size_t e = first; e < count_; ++e) Place(HashOf(e), static_cast<uint32_t>(e), merge);
      return;
    }
    // A counting sort of (hash, entry) by region. The keys are read in arena order, twice
    // (hashing again is cheaper than a buffer of hashes); the sort is stable, so the first of
    // equal keys is placed first and stays.
    const size_t parts = size_t{1} << part_bits;
    const size_t shift = bits - part_bits;
    std::vector<size_t> start(parts + 1, 0);
    for (size_t e = first; e < count_; ++e) ++start[((HashOf(e) & mask_) >> shift) + 1];
    for (size_t p = 0; p < parts; ++p) start[p + 1] += start[p];
    if (scratch.hashes.size() < n) {
      scratch.hashes.resize(n);
      scratch.entries.resize(n);
    }
    for (size_t e = first; e < count_; ++e) {
      const uint64_t h = HashOf(e);
      const size_t at = start[(h & mask_) >> shift]++;
      scratch.hashes[at] = h;
      scratch.entries[at] = static_cast<uint32_t>(e);
    }
    for (size_t i = 0; i < n; ++i) Place(scratch.hashes[i], scratch.entries[i], merge);
  }

  uint32_t Find(std::string_view key) const { return FindHashed(key, Hash(key)); }

  // The table's hash of `key`, for FindHashed and SlotLine: a lookup that prefetches first
  // hashes once.
  uint64_t Hash(std::string_view key) const { return HashBytes(key.data(), key.size(), key_); }

  // Find, with `h` = Hash(key).
  uint32_t FindHashed(std::string_view key, uint64_t h) const {
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNotFound;
      if ((slot >> 32) == tag && Key(static_cast<uint32_t>(slot) - 1) == key) {
        return static_cast<uint32_t>(slot) - 1;
      }
    }
  }

  // The slot a Find of a key of hash `h` reads first, for the caller to prefetch. The matcher
  // prefetches these for a batch of events before it looks any of them up, so that their cache
  // misses overlap rather than follow one another (one DRAM miss is ~100 ns; a batch of events
  // has dozens of lookups). nullptr when the table is empty.
  const void* SlotLine(uint64_t h) const {
    if (count_ == 0) return nullptr;
    return slots_.data() + (h & mask_);
  }

  // The number of slots a lookup of `key` examines: the cost an adversary would try to raise.
  size_t ProbeLength(std::string_view key) const {
    const uint64_t h = HashBytes(key.data(), key.size(), key_);
    size_t n = 1;
    for (size_t i = h & mask_; slots_[i] != 0; i = (i + 1) & mask_, ++n) {
      const uint64_t slot = slots_[i];
      if ((slot >> 32) == (h >> 32) && Key(static_cast<uint32_t>(slot) - 1) == key) break;
    }
    return n;
  }

  std::string_view Key(uint32_t entry) const {
    if constexpr (kFixedLen > 0) {
      return {arena_.data() + static_cast<size_t>(entry) * kFixedLen, kFixedLen};
    } else {
      const uint64_t o = offsets_[entry];
      return {arena_.data() + (o >> 16), static_cast<size_t>(o & 0xffff)};
    }
  }
  uint32_t& payload(uint32_t entry) { return payload_[entry]; }
  uint32_t payload(uint32_t entry) const { return payload_[entry]; }

  size_t MemoryBytes() const {
    return slots_.size() * 8 + arena_.capacity() + offsets_.capacity() * 8 +
           payload_.capacity() * 4;
  }

 private:
  template <typename Merge>
  void Place(uint64_t h, uint32_t entry, Merge& merge) {
    const uint64_t tag = h >> 32;
    const std::string_view key = Key(entry);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) {
        slots_[i] = (tag << 32) | (static_cast<uint64_t>(entry) + 1);
        return;
      }
      if ((slot >> 32) == tag && Key(static_cast<uint32_t>(slot) - 1) == key) {
        merge(static_cast<uint32_t>(slot) - 1, entry);
        ++orphans_;
        return;
      }
    }
  }

  void Rehash(size_t cap) {
    SlotArray old;
    old.swap(slots_);
    slots_.Assign(cap);
    mask_ = cap - 1;
    for (uint64_t slot : old) {
      if (slot == 0) continue;
      const std::string_view k = Key(static_cast<uint32_t>(slot) - 1);
      const uint64_t h = HashBytes(k.data(), k.size(), key_);
      size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  uint64_t HashOf(size_t entry) const {
    const std::string_view k = Key(static_cast<uint32_t>(entry));
    return HashBytes(k.data(), k.size(), key_);
  }

  HashKey key_;
  SlotArray slots_;
  size_t mask_ = 0;
  size_t count_ = 0;    // entries, orphans included
  size_t orphans_ = 0;  // appended duplicates (FlushPending)
  size_t placed_ = 0;   // entries below this one have their slot (or are orphans)
  HugeVector<char> arena_;
  HugeVector<uint64_t> offsets_;  // variable keys: (arena offset << 16) | length
  HugeVector<uint32_t> payload_;
};

}  // namespace liaison::match::internal
