#pragma once

// SHA-256 for policy versions and the release log chain (OpenSSL stays in the .cc).

#include <string>
#include <string_view>

namespace liaison::policy::internal {

// Lower-case hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);

}  // namespace liaison::policy::internal
