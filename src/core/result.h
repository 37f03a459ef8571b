#pragma once

// Status and Result<T>: the error currency of every liaison module (STYLE.md section 4).
// A function that can fail on input returns one of these; exceptions never cross a public header.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liaison {

using Status = absl::Status;
template <typename T>
using Result = absl::StatusOr<T>;

}  // namespace liaison
