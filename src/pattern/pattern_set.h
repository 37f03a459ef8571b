#pragma once

// Many patterns compiled once and evaluated together: the shape of detection, where thousands
// of partners' indicators meet each batch of observations.
//
// The set indexes the [ ... ] observation expressions of all its patterns by what an SCO must
// have for them to hold: `type:path = 'constant'` (and IN) become hash lookups on the value at
// that path, `ISSUBSET 'cidr'` becomes a block test on the address there, and everything else
// falls back to the SCO's type. Identical observation expressions are evaluated once for all
// the patterns that contain them. Each SCO therefore meets only the observation expressions
// that can hold for it; the operators and qualifiers of each pattern are then solved over the
// observed-data its observation expressions hold for.
//
// The results are exactly those of evaluating each pattern on its own (CompiledPattern):
// EvaluateEachNaively does that, and the fuzz target fuzz/pattern/pattern_set_fuzz.cc checks
// that the two agree.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pattern/ast.h"
#include "pattern/evaluate.h"
#include "pattern/observations.h"

namespace liaison::pattern {

struct PatternMatch {
  size_t pattern = 0;  // the number Add returned
  std::vector<Binding> bindings;
};

struct PatternFailure {
  size_t pattern = 0;
  Status status;  // as CompiledPattern::Evaluate would have returned it
};

struct SetEvaluation {
  std::vector<PatternMatch> matches;     // ascending pattern number
  std::vector<PatternFailure> failures;  // ascending pattern number
  // Work done: tests of one observation expression against one SCO.
  uint64_t observation_tests = 0;
};

class PatternSet {
 public:
  explicit PatternSet(const EvaluateOptions& options = {});
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;
  ~PatternSet();

  // Compiles `pattern` and adds it. Returns its number: 0 for the first, then 1, 2, ...
  // Errors are those of CompiledPattern::Compile; nothing is added then.
  Result<size_t> Add(std::string_view pattern);
  Result<size_t> Add(const Pattern& pattern);

  size_t size() const;
  const Pattern& pattern(size_t number) const;

  // Evaluates every pattern against `observations` through the index. Patterns whose
  // evaluation fails (malformed data they must compare, budgets) are listed in `failures`
  // and the others still evaluated. Safe to call from several threads at once.
  SetEvaluation Evaluate(const ObservationSet& observations) const;

  // The reference: every pattern evaluated on its own, without the index. Same answers.
  SetEvaluation EvaluateEachNaively(const ObservationSet& observations) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::pattern
