#pragma once

// objects.idh (schema version 5): a 64-bit hash of the object id, which objects_by_id indexes
// instead of the id text and version (about 20 bytes an entry instead of about 95, integer
// compares instead of text ones on every insert and lookup). The hash only narrows a lookup:
// every reader still compares the id text of the rows it finds, so a collision costs a row read,
// never a wrong answer.
//
// The hash is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012)
// under a random 128-bit key made once per store (meta 'id_hash_key', 32 hex digits). A keyed
// PRF: ids come from untrusted partners, and with a public hash a partner could post many ids of
// one hash to turn each version lookup into a walk over all of them. Internal to store/sqlite.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace liaison::store::sqlite_internal {

struct IdHashKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

// The key from its stored text: 32 hex digits, the 16 key bytes in order (SipHash reads k0 and
// k1 as little-endian words). nullopt for anything else.
inline std::optional<IdHashKey> ParseIdHashKey(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  uint8_t bytes[16];
  for (size_t i = 0; i < 16; ++i) {
    int v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = hex[2 * i + j];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return std::nullopt;
      }
      v = v * 16 + d;
    }
    bytes[i] = static_cast<uint8_t>(v);
  }
  IdHashKey key;
  for (int i = 7; i >= 0; --i) key.k0 = (key.k0 << 8) | bytes[i];
  for (int i = 15; i >= 8; --i) key.k1 = (key.k1 << 8) | bytes[i];
  return key;
}

namespace id_hash_detail {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void SipRound(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1;
  v1 = Rotl(v1, 13);
  v1 ^= v0;
  v0 = Rotl(v0, 32);
  v2 += v3;
  v3 = Rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = Rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = Rotl(v1, 17);
  v1 ^= v2;
  v2 = Rotl(v2, 32);
}

inline uint64_t Load64(const unsigned char* p) {  // little-endian, whatever the host order
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace id_hash_detail

// SipHash-2-4 of `id` as a signed integer (SQLite's INTEGER). Stored: never change it.
inline int64_t IdHash(const IdHashKey& key, std::string_view id) {
  using id_hash_detail::Load64;
  using id_hash_detail::SipRound;
  uint64_t v0 = key.k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = key.k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = key.k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = key.k1 ^ 0x7465646279746573ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(id.data());
  const size_t n = id.size();
  const size_t whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = Load64(p + i);
    v3 ^= m;
    SipRound(v0, v1, v2, v3);
    SipRound(v0, v1, v2, v3);
    v0 ^= m;
  }
  // The last word: the remaining bytes, and the length's low byte in the top byte.
  uint64_t b = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t i = n % 8; i > 0; --i) b |= static_cast<uint64_t>(p[whole + i - 1]) << (8 * (i - 1));
  v3 ^= b;
  SipRound(v0, v1, v2, v3);
  SipRound(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) SipRound(v0, v1, v2, v3);
  const uint64_t h = v0 ^ v1 ^ v2 ^ v3;
  int64_t out;
  std::memcpy(&out, &h, sizeof out);
  return out;
}

}  // namespace liaison::store::sqlite_internal
