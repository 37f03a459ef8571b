#pragma once

// A uniformly random permutation for the PSI shuffles (psi.h), with randomness from a ChaCha20
// keystream under a fresh random key: one getrandom call per shuffle instead of one per item.

#include <cstdint>
#include <vector>

namespace liaison::psi::internal {

// Fisher-Yates. The index for position i is (r * (i + 1)) >> 64 for a 64-bit random r, whose
// bias is below n / 2^64: negligible for n < 2^32.
void Shuffle(std::vector<uint32_t>& values);

}  // namespace liaison::psi::internal
