#pragma once

// The group operations of the PSI protocol over ristretto255 (libsodium). Internal to psi.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison::psi::internal {

inline constexpr size_t kPointBytes = 32;
inline constexpr size_t kContextBytes = 32;
using Context = std::array<unsigned char, kContextBytes>;

// A per-run secret scalar. Move-only; zeroed (sodium_memzero) on destruction and after a move.
class SecretScalar {
 public:
  // A uniformly random non-zero scalar.
  static SecretScalar Random();
  SecretScalar(SecretScalar&& other) noexcept;
  SecretScalar& operator=(SecretScalar&& other) noexcept;
  SecretScalar(const SecretScalar&) = delete;
  SecretScalar& operator=(const SecretScalar&) = delete;
  ~SecretScalar();

  const unsigned char* data() const { return bytes_; }

 private:
  SecretScalar() = default;
  unsigned char bytes_[32] = {};
};

// The hash-to-group context of one session: SHA-512 over a domain-separation tag, the session
// id, the requester's nonce, the mode and the item kind, truncated to 32 bytes. Both parties
// derive it from the Hello/Accept exchange, so a blinded value from one session is useless in
// another.
Context DeriveContext(std::string_view session_id, std::string_view nonce, uint8_t mode,
                      uint8_t kind);

// out = H(item)^secret where H is ristretto255 hash-to-group (RFC 9380 style via
// crypto_core_ristretto255_from_hash) of SHA-512(context || item). One hash-to-group and one
// scalar multiplication.
void HashAndBlind(const Context& context, std::string_view item, const SecretScalar& secret,
                  unsigned char out[kPointBytes]);

// out = point^secret. False when `point` is not a canonical ristretto255 encoding or the product
// is the identity (a malicious or corrupt peer).
bool Blind(const unsigned char point[kPointBytes], const SecretScalar& secret,
           unsigned char out[kPointBytes]);

// The t-byte digest of a double-blinded point compared by the parties: keyed BLAKE2b with the
// session context, so digests from different sessions never coincide.
void Digest(const Context& context, const unsigned char point[kPointBytes], size_t length,
            unsigned char* out);

// Only for the floor measurement of bench/psi: H(item) without blinding.
void HashToGroup(const Context& context, std::string_view item, unsigned char out[kPointBytes]);

// The digest length (bytes) that keeps the chance of any false match among na x nb pairs below
// 2^-40: ceil((40 + log2(na) + log2(nb)) / 8), at least 8.
size_t DigestLength(uint64_t na, uint64_t nb);

}  // namespace liaison::psi::internal
