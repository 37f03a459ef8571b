#pragma once

// Propagation macros for Status and Result<T>; Debian's abseil 20220623 ships none.

#include <utility>

#include "core/result.h"

#define LIAISON_STATUS_CONCAT_INNER_(a, b) a##b
#define LIAISON_STATUS_CONCAT_(a, b) LIAISON_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define LIAISON_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::liaison::Status liaison_status_ = (expr);        \
    if (!liaison_status_.ok()) return liaison_status_; \
  } while (false)

// Evaluates `rexpr` (a Result<T>); on error returns its status, otherwise moves the value into
// `lhs`, which may be a declaration (`auto x`) or an existing variable.
#define LIAISON_ASSIGN_OR_RETURN(lhs, rexpr) \
  LIAISON_ASSIGN_OR_RETURN_IMPL_(LIAISON_STATUS_CONCAT_(liaison_result_, __LINE__), lhs, rexpr)

#define LIAISON_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                   \
  if (!result.ok()) return std::move(result).status();     \
  lhs = std::move(result).value()

// Aborts in every build when carrying on would corrupt stored data. Never for outside input.
#define LIAISON_CHECK(cond)                                                   \
  do {                                                                        \
    if (!(cond)) ::liaison::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

namespace liaison::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace liaison::internal
