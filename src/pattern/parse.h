#pragma once

// Parsing STIX patterns (STIX 2.1 section 9) into the AST of ast.h.
//
// Patterns come from partners and are untrusted: the parser bounds the input's length and its
// nesting, so a hostile pattern costs at most linear time and bounded stack. Parsing checks
// the grammar only; check.h adds the static checks of the specification and evaluate.h the
// checks that evaluation needs.

#include <cstddef>
#include <string_view>

#include "core/result.h"
#include "pattern/ast.h"

namespace liaison::pattern {

struct ParseOptions {
  // Longest pattern accepted, in bytes.
  size_t max_length = 1 << 20;
  // Deepest nesting of '[' and '(' accepted.
  size_t max_nesting = 64;
  // Recognise the most common shape, one equality test on a string (`[type:prop = 'text']`,
  // ASCII, spaces only), with a hand-written scanner before running the full grammar: about a
  // tenth of the cost. It accepts only texts the grammar accepts and builds the very same tree,
  // offsets included (tests/pattern/parse_test.cc compares both over every pattern in the test
  // data); anything else goes to the grammar. Off only to test that claim.
  bool fast_path = true;
};

// Parses `text` (UTF-8). On failure returns InvalidArgument whose message reads
// "offset N: <what was expected or what is wrong>", N being the byte offset in `text`;
// SyntaxErrorOffset recovers N.
Result<Pattern> Parse(std::string_view text, const ParseOptions& options = {});

// The byte offset named by an error status from Parse, or 0 when it names none.
size_t SyntaxErrorOffset(const Status& status);

}  // namespace liaison::pattern
