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
// address computed from our keyed hash (seen in the -O2 assembly of Prefetch below), so x86-64
// issues the instruction itself; a prefetch never faults, whatever the address.
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

template <size_t kFixedLen>
class FlatKeySet {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;
  static constexpr size_t kMaxKeyLen = 0xffff;

  explicit FlatKeySet(HashKey key = RandomHashKey()) : key_(key) { Rehash(16); }

  size_t size() const { return count_; }

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
  // kFixedLen bytes long, or at most kMaxKeyLen for variable keys.
  uint32_t Insert(std::string_view key, uint32_t initial) {
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
        slots_[i] = (tag << 32) | (entry + 1);
        return entry;
      }
      if ((slot >> 32) == tag && Key(static_cast<uint32_t>(slot) - 1) == key) {
        return static_cast<uint32_t>(slot) - 1;
      }
    }
  }

  uint32_t Find(std::string_view key) const {
    const uint64_t h = HashBytes(key.data(), key.size(), key_);
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNotFound;
      if ((slot >> 32) == tag && Key(static_cast<uint32_t>(slot) - 1) == key) {
        return static_cast<uint32_t>(slot) - 1;
      }
    }
  }

  // Starts loading the slot a Find of `key` reads first. The matcher issues these for a block
  // of events before it looks any of them up, so that their cache misses overlap rather than
  // follow one another (one DRAM miss is ~100 ns; a block of events has dozens of lookups).
  void Prefetch(std::string_view key) const {
    if (count_ == 0) return;
    const uint64_t h = HashBytes(key.data(), key.size(), key_);
    PrefetchLine(slots_.data() + (h & mask_));
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

  HashKey key_;
  SlotArray slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  std::vector<char> arena_;
  std::vector<uint64_t> offsets_;  // variable keys: (arena offset << 16) | length
  std::vector<uint32_t> payload_;
};

}  // namespace liaison::match::internal
