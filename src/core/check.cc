#include <cstdio>
#include <cstdlib>

#include "core/status_macros.h"

namespace liaison::internal {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "liaison: check failed at %s:%d: %s\n", file, line, condition);
  std::abort();
}

}  // namespace liaison::internal
