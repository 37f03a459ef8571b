#pragma once

// NameTable: a map from short names (STIX property and type names) to values, built once and
// then only read. The validator looks up every member name of every object in one, so a lookup
// must cost a few dozen instructions and, above all, few mispredicted branches (the walk is
// branch-bound): a key is the name's length plus its first and last sixteen bytes, read with
// fixed-size loads and masked without branching on the length, and slots are probed linearly in
// a table kept at most a quarter full.
//
// The keys come from the specification tables, never from input, so the probe sequences are
// fixed when the table is built: hostile names in a document cost one probe sequence each and
// cannot make the table degrade.

#include <emmintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status_macros.h"

namespace liaison::stix::internal {

// The bytes of a name that a slot stores. For names of at most 16 bytes, head, tail and size
// together determine the name; longer names also compare their middle bytes.
struct NameKey {
  uint64_t head = 0;
  uint64_t tail = 0;

  [[gnu::always_inline]] static NameKey Of(std::string_view s) {
    const char* p = s.data();
    const size_t n = s.size();
    NameKey k;
    if (n >= 8) {
      std::memcpy(&k.head, p, 8);
      std::memcpy(&k.tail, p + n - 8, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      k.head = a;
      k.tail = b;
    } else if (n > 0) {
      k.head = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) |
               static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
               static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16;
    }
    return k;
  }
};

// Bytes [8, n - 8) of two names of the same length n > 16, compared eight at a time (the last
// load overlaps the one before it rather than reading past the name).
inline bool MiddleEqual(const char* a, const char* b, size_t n) {
  for (size_t i = 8; i < n - 8; i += 8) {
    const size_t at = std::min(i, n - 16);
    uint64_t x, y;
    std::memcpy(&x, a + at, 8);
    std::memcpy(&y, b + at, 8);
    if (x != y) return false;
  }
  return true;
}

// a == b for names, without a call for names of up to 16 bytes.
[[gnu::always_inline]] inline bool NamesEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  const NameKey x = NameKey::Of(a), y = NameKey::Of(b);
  return x.head == y.head && x.tail == y.tail &&
         (a.size() <= 16 || MiddleEqual(a.data(), b.data(), a.size()));
}

// A name as a lookup compares it: its first sixteen bytes and its last sixteen (the same bytes
// again for names of up to sixteen), zero past the end of the name.
struct WideKey {
  __m128i head;
  __m128i tail;

  // Reads the sixteen bytes at `p` and the sixteen ending at p + n, masking off what is not the
  // name, without a branch on the length (the lookup's branches are what a profile of the
  // validator pays for). The caller guarantees 16 readable bytes past the name.
  [[gnu::always_inline]] static WideKey OfPadded(const char* p, size_t n) {
    const __m128i lanes = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128i keep = _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(n < 16 ? n : 16)), lanes);
    const size_t tail_at = n > 16 ? n - 16 : 0;
    return {_mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), keep),
            _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + tail_at)), keep)};
  }
};

template <typename V>
class NameTable {
 public:
  struct Entry {
    std::string_view name;
    V value;
  };

  // Adds `name` or replaces its value. The name's bytes must outlive the table.
  void InsertOrAssign(std::string_view name, V value) {
    // An empty size marks an empty slot (no STIX name is empty); keys are built in a buffer of
    // kMaxNameSize + 16 bytes (the specification's names are far shorter).
    LIAISON_CHECK(!name.empty() && name.size() <= kMaxNameSize);
    if (V* existing = FindMutable(name)) {
      *existing = std::move(value);
      return;
    }
    entries_.push_back({name, std::move(value)});
    Rebuild();
  }

  // For a name inside a simdjson document (keys and string values): its string buffer is
  // allocated with SIMDJSON_PADDING bytes beyond its largest possible use, so the 16 bytes past
  // any string in it are readable.
  const V* FindInDocument(std::string_view name) const {
    if (name.empty() || name.size() > max_size_) return nullptr;
    return Probe(WideKey::OfPadded(name.data(), name.size()), name);
  }

  // For any other name: copied into a padded buffer first.
  const V* Find(std::string_view name) const {
    return const_cast<NameTable*>(this)->FindMutable(name);
  }
  V* FindMutable(std::string_view name) {
    if (name.empty() || name.size() > max_size_) return nullptr;
    char padded[kMaxNameSize + 16] = {};
    std::memcpy(padded, name.data(), name.size());
    return const_cast<V*>(Probe(WideKey::OfPadded(padded, name.size()), name));
  }

  // Entries in insertion order.
  std::vector<Entry>& entries() { return entries_; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  static constexpr size_t kMaxNameSize = 256;

  struct Slot {
    WideKey key;
    uint32_t size = 0;  // 0: empty (names are never empty)
    uint32_t index = 0;
  };

  [[gnu::always_inline]] const V* Probe(const WideKey& k, std::string_view name) const {
    const size_t n = name.size();
    for (size_t i = Home(k, n);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      const int same = _mm_movemask_epi8(
          _mm_and_si128(_mm_cmpeq_epi8(s.key.head, k.head), _mm_cmpeq_epi8(s.key.tail, k.tail)));
      if ((same == 0xffff) & (s.size == n)) {
        // Head and tail cover names of up to 32 bytes; longer ones compare the middle too.
        if (n <= 32 || MiddleEqual(entries_[s.index].name.data(), name.data(), n)) {
          return &entries_[s.index].value;
        }
      }
      if (s.size == 0) return nullptr;
    }
  }

  size_t Home(const WideKey& k, size_t n) const {
    const uint64_t a = static_cast<uint64_t>(_mm_cvtsi128_si64(k.head));
    const uint64_t b = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(k.head, k.head)));
    const uint64_t c = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(k.tail, k.tail)));
    const uint64_t h =
        (a ^ (b * 0x9E3779B97F4A7C15ull) ^ (c * 0xc2b2ae3d27d4eb4full) ^ n) * 0xff51afd7ed558ccdull;
    return static_cast<size_t>(h >> 32) & mask_;
  }

  void Rebuild() {
    // At most a quarter full: a name that is not in the table (a custom property) usually
    // finds an empty slot at once.
    size_t capacity = 16;
    while (capacity < entries_.size() * 4) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    max_size_ = 0;
    for (uint32_t e = 0; e < entries_.size(); ++e) {
      const std::string_view name = entries_[e].name;
      char padded[kMaxNameSize + 16] = {};
      std::memcpy(padded, name.data(), std::min(name.size(), kMaxNameSize));
      const WideKey k = WideKey::OfPadded(padded, name.size());
      size_t i = Home(k, name.size());
      while (slots_[i].size != 0) i = (i + 1) & mask_;
      slots_[i] = {k, static_cast<uint32_t>(name.size()), e};
      max_size_ = std::max(max_size_, name.size());
    }
  }

  std::vector<Entry> entries_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t max_size_ = 0;
};

}  // namespace liaison::stix::internal
