#include "psi/internal/shuffle.h"

#include <sodium.h>

#include <cstring>
#include <utility>

namespace liaison::psi::internal {

void Shuffle(std::vector<uint32_t>& values) {
  if (values.size() < 2) return;
  unsigned char key[crypto_stream_chacha20_KEYBYTES];
  unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {};
  randombytes_buf(key, sizeof key);
  constexpr size_t kBatch = 1024;
  uint64_t random[kBatch];
  uint64_t counter = 0;
  size_t used = kBatch;
  for (size_t i = values.size() - 1; i > 0; --i) {
    if (used == kBatch) {
      std::memcpy(nonce, &counter, sizeof counter);
      ++counter;
      crypto_stream_chacha20(reinterpret_cast<unsigned char*>(random), sizeof random, nonce, key);
      used = 0;
    }
    const uint64_t r = random[used++];
    const size_t j = static_cast<size_t>((static_cast<unsigned __int128>(r) * (i + 1)) >> 64);
    std::swap(values[i], values[j]);
  }
  sodium_memzero(key, sizeof key);
  sodium_memzero(random, sizeof random);
}

}  // namespace liaison::psi::internal
