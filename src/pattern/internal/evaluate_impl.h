#pragma once

// A whole pattern planned for evaluation, and the two ways of running it: naively (every
// observation expression against every observed-data; CompiledPattern and the reference for
// PatternSet) and from candidate lists computed elsewhere (PatternSet's index).

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "pattern/ast.h"
#include "pattern/evaluate.h"
#include "pattern/internal/compiled.h"

namespace liaison::pattern::internal {

struct PatternPlan {
  Pattern pattern;
  EvaluateOptions options;
  std::vector<ObservationPlan> observations;  // by observation number
  ObservationNode tree;
  bool single = false;  // one observation expression and no qualifier
};

Result<std::unique_ptr<PatternPlan>> PlanPattern(const Pattern& pattern,
                                                 const EvaluateOptions& options);

// Stage 2 from candidate lists (ascending observed-data indices, one list per observation).
Result<EvaluationResult> Bind(const PatternPlan& plan,
                              std::span<const std::vector<uint32_t>> candidates,
                              const ObservationData& data);

// Stage 1 by brute force, then stage 2.
Result<EvaluationResult> EvaluateNaively(const PatternPlan& plan, const ObservationData& data);

}  // namespace liaison::pattern::internal
