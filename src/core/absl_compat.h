#pragma once

// Debian's abseil 20220623 defines its own absl::string_view; convert at the boundary.

#include <string_view>

#include "absl/strings/string_view.h"

namespace liaison {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace liaison
