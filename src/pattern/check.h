#pragma once

// Static checks of a parsed pattern against the STIX 2.1 specification.
//
// Errors are what makes a pattern invalid, so that it can never match (section 9.4: "an invalid
// pattern resulting from parsing error or invalid constants MUST NOT match"): a constant that is
// not what it claims (a timestamp naming a day that does not exist, a hash value of the wrong
// form for its algorithm), a set of mixed types, WITHIN 0, REPEATS 0, the same qualifier twice on
// one [ ... ] (section 9.5.1), a regular expression liaison cannot run. Evaluation (evaluate.h)
// refuses the same patterns, except for the duplicate-qualifier rule, which is a rule about
// writing patterns rather than about their meaning.
//
// Warnings flag what is valid but suspicious: object types and properties that STIX 2.1 does
// not define (custom ones that break the naming rules of section 11 are called out), constants
// whose type differs from the property's, AND between different object types (which never
// matches), list properties used without an index, START not before STOP, and so on.
// docs/pattern.md lists every rule.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pattern/ast.h"

namespace liaison::pattern {

enum class Severity { kError, kWarning };

struct Finding {
  Severity severity = Severity::kError;
  size_t offset = 0;    // byte offset in the pattern text
  std::string message;  // lower case, no final period
  std::string rule;     // stable name, e.g. "hash-value" (docs/pattern.md)
};

struct CheckOptions {
  bool warnings = true;  // report warnings as well as errors
};

// Findings in the order of the pattern text.
std::vector<Finding> Check(const Pattern& pattern, const CheckOptions& options = {});

// Whether any finding is an error.
bool HasErrors(const std::vector<Finding>& findings);

// Parses and checks a pattern's text: "" when it is valid, else the first reason it is not (a
// syntax error, or an error finding, naming its byte offset). Warnings do not count. This is the
// checker passed as stix::ValidateOptions::check_pattern where both modules are linked (taxii
// server, app), so that STIX validation refuses indicators whose pattern can never match.
std::string CheckPatternText(std::string_view text);

}  // namespace liaison::pattern
