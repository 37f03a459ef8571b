#include "core/uuid.h"

#include <openssl/rand.h>
#include <openssl/evp.h>

#include "core/strings.h"
#include "core/status_macros.h"

namespace liaison {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) {
    return absl::InvalidArgumentError(
        StrCat("a UUID has 36 characters, not ", text.size()));
  }
  Uuid u;
  size_t byte = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return absl::InvalidArgumentError(StrCat("expected '-' at UUID offset ", i));
      }
      ++i;
      continue;
    }
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          StrCat("expected a hex digit at UUID offset ", hi < 0 ? i : i + 1));
    }
    u.bytes_[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

Uuid Uuid::V4() {
  Uuid u;
  LIAISON_CHECK(RAND_bytes(u.bytes_.data(), 16) == 1);
  u.bytes_[6] = (u.bytes_[6] & 0x0f) | 0x40;
  u.bytes_[8] = (u.bytes_[8] & 0x3f) | 0x80;
  return u;
}

Uuid Uuid::V5(const Uuid& namespace_id, std::string_view name) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  LIAISON_CHECK(ctx != nullptr);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  LIAISON_CHECK(EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
                EVP_DigestUpdate(ctx, namespace_id.bytes_.data(), 16) == 1 &&
                EVP_DigestUpdate(ctx, name.data(), name.size()) == 1 &&
                EVP_DigestFinal_ex(ctx, digest, &digest_size) == 1);
  EVP_MD_CTX_free(ctx);
  Uuid u;
  std::copy(digest, digest + 16, u.bytes_.begin());
  u.bytes_[6] = (u.bytes_[6] & 0x0f) | 0x50;
  u.bytes_[8] = (u.bytes_[8] & 0x3f) | 0x80;
  return u;
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes_[i] >> 4];
    out += kHex[bytes_[i] & 0xf];
  }
  return out;
}

}  // namespace liaison
