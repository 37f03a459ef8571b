#pragma once

// StrCat and StrAppend that accept std::string_view. Debian's abseil 20220623 is built with its
// own absl::string_view, so absl::StrCat rejects std::string_view arguments; these forward to
// abseil after converting them. Use them unqualified inside namespace liaison.

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"

namespace liaison {
namespace strings_internal {

template <typename T>
decltype(auto) Adapt(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    return ToAbsl(std::string_view(v));
  } else {
    return (v);
  }
}

}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::Adapt(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::Adapt(args)...);
}

}  // namespace liaison
