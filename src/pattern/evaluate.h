#pragma once

// Evaluating STIX patterns against observed-data (STIX 2.1 section 9).
//
// Semantics, in brief (docs/pattern.md has the details and the clauses):
//   - a [ ... ] observation expression holds for an observed-data when one SCO it observes
//     satisfies the comparison expression, every object path starting from that SCO;
//   - an observed-data with number_observed = N gives N observations; AND, FOLLOWEDBY and
//     REPEATS need distinct observations, FOLLOWEDBY orders them by time, WITHIN bounds the span
//     of their times (strictly shorter than the window) and START/STOP bounds each time;
//     an observation's time is some instant in [first_observed, last_observed];
//   - comparisons of incompatible types are false (and != true); a missing property makes a
//     comparison false whatever the operator; LIKE and MATCHES compare NFC-normalised text;
//     MATCHES runs on RE2 (linear time); ISSUBSET / ISSUPERSET take IPv4 and IPv6 CIDRs.
//
// Everything is bounded: the binding search and the traversal of properties have budgets, and
// a pattern that outgrows them fails with ResourceExhausted rather than running on.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pattern/ast.h"
#include "pattern/observations.h"

namespace liaison::pattern {

struct EvaluateOptions {
  // Steps of the search for a binding (observation operators and qualifiers), and the memory
  // the search may hold (bytes, approximate).
  int64_t max_search_steps = 1'000'000;
  int64_t max_search_memory = 256 << 20;
  // Values visited while resolving object paths, per evaluation.
  int64_t max_value_visits = 50'000'000;
  // MATCHES: longest expression, and RE2's memory budget for one compiled expression.
  size_t max_regex_bytes = 32 << 10;
  int64_t max_regex_memory = 8 << 20;
  // RE2 program instructions of all of one pattern's (distinct) MATCHES expressions together.
  int64_t max_regex_program_total = 4'000'000;
};

// One observed-data bound to one observation expression.
struct Binding {
  size_t observation = 0;    // the [ ... ]: its position in Observations(pattern)
  size_t observed_data = 0;  // its position in the ObservationSet
  std::string observed_data_id;
  int64_t count = 1;  // observations of it bound there (REPEATS may bind several)

  friend bool operator==(const Binding&, const Binding&) = default;
};

struct EvaluationResult {
  bool matched = false;
  // When matched: which observed-data each observation expression bound, by observation
  // expression, then in the order they were bound. Observation expressions on an OR branch
  // that was not needed have none.
  std::vector<Binding> bindings;

  // The distinct observed-data ids of `bindings`, in input order.
  std::vector<std::string> ObservedDataIds() const;
};

// A pattern made ready for evaluation: constants decoded, regular expressions compiled,
// operators planned. Thread safe for concurrent Evaluate calls.
class CompiledPattern {
 public:
  // Errors (InvalidArgument) for patterns that can never match (section 9.4): constants that
  // are not valid (timestamps naming days that do not exist, IN sets of mixed types), WITHIN
  // <= 0, REPEATS < 1, regular expressions RE2 cannot run. Check (check.h) reports these too.
  static Result<CompiledPattern> Compile(const Pattern& pattern,
                                         const EvaluateOptions& options = {});
  // Parses, then compiles. Syntax errors read "offset N: ...".
  static Result<CompiledPattern> Compile(std::string_view text,
                                         const EvaluateOptions& options = {});

  CompiledPattern(CompiledPattern&&) noexcept;
  CompiledPattern& operator=(CompiledPattern&&) noexcept;
  ~CompiledPattern();

  // Errors: InvalidArgument when the data holds a value the pattern must compare but cannot
  // (a malformed timestamp compared with a t'' constant); ResourceExhausted past a budget.
  Result<EvaluationResult> Evaluate(const ObservationSet& observations) const;

  const Pattern& pattern() const;

 private:
  friend class PatternSet;
  struct Impl;
  explicit CompiledPattern(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Compiles and evaluates in one go.
Result<EvaluationResult> Evaluate(const Pattern& pattern, const ObservationSet& observations,
                                  const EvaluateOptions& options = {});

}  // namespace liaison::pattern
