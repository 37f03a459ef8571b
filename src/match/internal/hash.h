#pragma once

// The keyed hash of the indicator tables. Indicators and log values come from partners and from
// the network, so an adversary can choose them: with a fixed hash function they could pick
// values that all fall in one probe run and turn every lookup into a scan. Each process draws
// a random 128-bit key at start-up (per table, see FlatKeySet), so colliding inputs crafted for
// one key tell nothing about another. The mixing is the multiply-fold construction of wyhash
// (a 64x64->128 multiply whose halves are xored), written here from its description.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace liaison::match::internal {

struct HashKey {
  uint64_t k0 = 0x243f6a8885a308d3ull;
  uint64_t k1 = 0x13198a2e03707344ull;
};

// A fresh random key from the operating system's CSPRNG.
HashKey RandomHashKey();

inline uint64_t Fold(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Load64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Hashes `n` bytes at `p` under `key`. Every input byte enters a multiplication with key
// material, and the length is mixed in, so prefixes and zero padding do not collide.
inline uint64_t HashBytes(const void* p, size_t n, const HashKey& key) {
  const auto* s = static_cast<const uint8_t*>(p);
  uint64_t h = key.k0 ^ Fold(n ^ key.k1, 0x9e3779b97f4a7c15ull);
  while (n >= 16) {
    h = Fold(Load64(s) ^ key.k1 ^ h, Load64(s + 8) ^ key.k0);
    s += 16;
    n -= 16;
  }
  uint64_t a = 0;
  uint64_t b = 0;
  if (n >= 8) {
    a = Load64(s);
    b = Load64(s + n - 8);
  } else if (n > 0) {
    // Up to 7 bytes: read them one by one (the caller's buffer may end right here).
    for (size_t i = 0; i < n; ++i) a |= static_cast<uint64_t>(s[i]) << (8 * i);
  }
  h = Fold(a ^ key.k1 ^ h, b ^ key.k0);
  return Fold(h ^ key.k0, key.k1 ^ 0xa0761d6478bd642full);
}

}  // namespace liaison::match::internal
