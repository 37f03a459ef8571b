#include "core/uuid.h"

#include <chrono>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison {

namespace {

constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<int8_t>(c - 'A' + 10);
  return t;
}();
constexpr uint8_t kByteOffsets[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

}  // namespace

// Table-driven: validation walks every identifier of every object, so this is hot.
bool Uuid::TryParse(std::string_view text, Uuid& out) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return false;
  }
  int bad = 0;
  for (size_t i = 0; i < 16; ++i) {
    const size_t at = kByteOffsets[i];
    const int hi = kHexValue[static_cast<unsigned char>(text[at])];
    const int lo = kHexValue[static_cast<unsigned char>(text[at + 1])];
    bad |= hi | lo;
    out.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return bad >= 0;
}

bool Uuid::Scan(std::string_view text, int& version, bool& rfc4122_variant) {
  if (text.size() != 36) return false;
#if defined(__SSE2__)
  // Hex digits everywhere but at the dashes (offsets 8, 13 | 18, 23), 16 bytes at a time.
  auto hex_mask = [](__m128i v) {
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                        _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                        _mm_cmplt_epi8(lower, _mm_set1_epi8('f' + 1)));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, alpha)));
  };
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data()));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + 16));
  constexpr unsigned kDashesA = 1u << 8 | 1u << 13, kDashesB = 1u << 2 | 1u << 7;
  const __m128i dash = _mm_set1_epi8('-');
  const unsigned dashes_a = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, dash)));
  const unsigned dashes_b = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, dash)));
  if ((hex_mask(a) | kDashesA) != 0xffff || (dashes_a & kDashesA) != kDashesA ||
      (hex_mask(b) | kDashesB) != 0xffff || (dashes_b & kDashesB) != kDashesB) {
    return false;
  }
  int bad = 0;
  for (size_t i = 32; i < 36; ++i) bad |= kHexValue[static_cast<unsigned char>(text[i])];
  if (bad < 0) return false;
#else
  Uuid ignored;
  if (!TryParse(text, ignored)) return false;
#endif
  version = kHexValue[static_cast<unsigned char>(text[14])];
  rfc4122_variant = (kHexValue[static_cast<unsigned char>(text[19])] & 0xc) == 0x8;
  return true;
}

Result<Uuid> Uuid::Parse(std::string_view text) {
  Uuid u;
  if (TryParse(text, u)) return u;
  if (text.size() != 36) {
    return absl::InvalidArgumentError(StrCat("a UUID has 36 characters, not ", text.size()));
  }
  for (size_t dash : {8, 13, 18, 23}) {
    if (text[dash] != '-') {
      return absl::InvalidArgumentError(StrCat("expected '-' at UUID offset ", dash));
    }
  }
  for (size_t i = 0; i < 36; ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23 &&
        kHexValue[static_cast<unsigned char>(text[i])] < 0) {
      return absl::InvalidArgumentError(StrCat("expected a hex digit at UUID offset ", i));
    }
  }
  return absl::InternalError("unreachable UUID parse failure");
}

Uuid Uuid::V4() {
  Uuid u;
  LIAISON_CHECK(RAND_bytes(u.bytes_.data(), 16) == 1);
  u.bytes_[6] = (u.bytes_[6] & 0x0f) | 0x40;
  u.bytes_[8] = (u.bytes_[8] & 0x3f) | 0x80;
  return u;
}

Uuid Uuid::V7() {
  Uuid u;
  LIAISON_CHECK(RAND_bytes(u.bytes_.data(), 16) == 1);
  const uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  for (int i = 0; i < 6; ++i) u.bytes_[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  u.bytes_[6] = (u.bytes_[6] & 0x0f) | 0x70;
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
