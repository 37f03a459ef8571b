#include "psi/internal/crypto.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

namespace liaison::psi::internal {
namespace {

constexpr std::string_view kDomainTag = "liaison-psi/v1 hash-to-group";

struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) std::abort();  // no randomness, no protocol
  }
};

void EnsureSodium() { static SodiumInit init; }

}  // namespace

SecretScalar SecretScalar::Random() {
  EnsureSodium();
  SecretScalar s;
  // crypto_core_ristretto255_scalar_random never returns zero.
  crypto_core_ristretto255_scalar_random(s.bytes_);
  return s;
}

SecretScalar::SecretScalar(SecretScalar&& other) noexcept {
  std::memcpy(bytes_, other.bytes_, sizeof bytes_);
  sodium_memzero(other.bytes_, sizeof other.bytes_);
}

SecretScalar& SecretScalar::operator=(SecretScalar&& other) noexcept {
  if (this != &other) {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    sodium_memzero(other.bytes_, sizeof other.bytes_);
  }
  return *this;
}

SecretScalar::~SecretScalar() { sodium_memzero(bytes_, sizeof bytes_); }

Context DeriveContext(std::string_view session_id, std::string_view nonce, uint8_t mode,
                      uint8_t kind) {
  EnsureSodium();
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  auto add = [&](std::string_view s) {
    const uint8_t len = static_cast<uint8_t>(s.size());  // fields are short and fixed-size
    crypto_hash_sha512_update(&st, &len, 1);
    crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  add(kDomainTag);
  add(session_id);
  add(nonce);
  const unsigned char tail[2] = {mode, kind};
  crypto_hash_sha512_update(&st, tail, 2);
  unsigned char full[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_final(&st, full);
  Context c;
  std::memcpy(c.data(), full, c.size());
  return c;
}

void HashToGroup(const Context& context, std::string_view item, unsigned char out[kPointBytes]) {
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, context.data(), context.size());
  crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(item.data()), item.size());
  unsigned char h[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_final(&st, h);
  crypto_core_ristretto255_from_hash(out, h);
}

void HashAndBlind(const Context& context, std::string_view item, const SecretScalar& secret,
                  unsigned char out[kPointBytes]) {
  unsigned char point[kPointBytes];
  HashToGroup(context, item, point);
  // The hash of an item is never the identity except with negligible probability, and the
  // secret is non-zero, so the product cannot be the identity; a failure would be our bug.
  if (crypto_scalarmult_ristretto255(out, secret.data(), point) != 0) std::abort();
  sodium_memzero(point, sizeof point);
}

bool Blind(const unsigned char point[kPointBytes], const SecretScalar& secret,
           unsigned char out[kPointBytes]) {
  return crypto_scalarmult_ristretto255(out, secret.data(), point) == 0;
}

void Digest(const Context& context, const unsigned char point[kPointBytes], size_t length,
            unsigned char* out) {
  // BLAKE2b output is at least 16 bytes; shorter digests are its prefix.
  unsigned char full[crypto_generichash_BYTES_MAX];
  const size_t n = std::max<size_t>(length, crypto_generichash_BYTES_MIN);
  crypto_generichash(full, n, point, kPointBytes, context.data(), context.size());
  std::memcpy(out, full, length);
}

size_t DigestLength(uint64_t na, uint64_t nb) {
  auto log2ceil = [](uint64_t n) -> size_t {
    return n <= 1 ? 0 : static_cast<size_t>(64 - std::countl_zero(n - 1));
  };
  const size_t bits = 40 + log2ceil(na) + log2ceil(nb);
  return std::clamp<size_t>((bits + 7) / 8, 8, 32);
}

}  // namespace liaison::psi::internal
