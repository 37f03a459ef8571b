#pragma once

// MATCHES (STIX 2.1 section 9.6.1) names PCRE syntax with the DOTALL option and search
// semantics. Patterns are untrusted, so liaison runs them on RE2, whose matching time is linear
// in the input whatever the expression. This file adapts PCRE syntax to RE2 where the meaning can
// be kept (\Z, $ before a final newline, \h, \v, \R, \e, \cX, octal escapes, named groups,
// comments) and refuses, with a reason, what RE2 cannot run (back-references, look-around,
// atomic groups, possessive quantifiers, recursion, conditionals, callouts, verbs).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace liaison::pattern::internal {

struct RegexLimits {
  size_t max_pattern_bytes = 32 << 10;
  int64_t max_program_memory = 8 << 20;  // RE2's budget for the compiled program
};

// Rewrites a PCRE expression as an RE2 expression with the same matches, or returns
// InvalidArgument naming the construct RE2 cannot run.
Result<std::string> PcreToRe2(std::string_view pcre);

// Translates and compiles with DOTALL, UTF-8, no captures. Errors are InvalidArgument.
Result<std::unique_ptr<re2::RE2>> CompileRegex(std::string_view pcre,
                                               const RegexLimits& limits = {});

}  // namespace liaison::pattern::internal
