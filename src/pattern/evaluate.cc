#include "pattern/evaluate.h"

#include <algorithm>
#include <utility>

#include "pattern/internal/compiled.h"
#include "pattern/internal/evaluate_impl.h"
#include "pattern/parse.h"

namespace liaison::pattern {

std::vector<std::string> EvaluationResult::ObservedDataIds() const {
  std::vector<std::pair<size_t, std::string>> seen;
  for (const Binding& b : bindings) {
    if (std::none_of(seen.begin(), seen.end(),
                     [&](const auto& s) { return s.first == b.observed_data; })) {
      seen.emplace_back(b.observed_data, b.observed_data_id);
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> out;
  for (auto& s : seen) out.push_back(std::move(s.second));
  return out;
}

namespace internal {

Result<std::unique_ptr<PatternPlan>> PlanPattern(const Pattern& pattern,
                                                 const EvaluateOptions& options) {
  auto plan = std::make_unique<PatternPlan>();
  plan->pattern = pattern;
  plan->options = options;
  PlanContext context(plan->options);
  for (const ObservationExpression* o : Observations(plan->pattern)) {
    auto leaf = PlanObservation(o->comparison, context);
    if (!leaf.ok()) return leaf.status();
    plan->observations.push_back(std::move(*leaf));
  }
  auto tree = PlanObservationTree(plan->pattern.root);
  if (!tree.ok()) return tree.status();
  plan->tree = std::move(*tree);
  plan->single = plan->tree.kind == ObservationNode::Kind::kLeaf && plan->tree.qualifiers.empty();
  return plan;
}

Result<EvaluationResult> Bind(const PatternPlan& plan,
                              std::span<const std::vector<uint32_t>> candidates,
                              const ObservationData& data) {
  EvaluationResult result;
  if (plan.single) {
    // One observation expression, no qualifier: the first observed-data that holds.
    if (candidates[0].empty()) return result;
    const uint32_t od = candidates[0].front();
    result.matched = true;
    result.bindings.push_back({0, od, std::string(data.observed[od].id), 1});
    return result;
  }
  SolverLimits limits;
  limits.max_steps = plan.options.max_search_steps;
  limits.max_cells = plan.options.max_search_memory / 64;
  auto solved = Solve(plan.tree, candidates, data, limits);
  if (!solved.ok()) return solved.status();
  if (solved->has_value()) {
    result.matched = true;
    result.bindings = std::move(**solved);
  }
  return result;
}

Result<EvaluationResult> EvaluateNaively(const PatternPlan& plan, const ObservationData& data) {
  EvalContext ctx(data, plan.options.max_value_visits);
  std::vector<std::vector<uint32_t>> candidates(plan.observations.size());
  for (size_t leaf = 0; leaf < plan.observations.size(); ++leaf) {
    for (size_t i = 0; i < data.observed.size(); ++i) {
      if (HoldsForObservedData(plan.observations[leaf], data.observed[i], ctx)) {
        candidates[leaf].push_back(static_cast<uint32_t>(i));
      }
      if (!ctx.error.ok()) return ctx.error;
    }
  }
  return Bind(plan, candidates, data);
}

}  // namespace internal

struct CompiledPattern::Impl {
  std::unique_ptr<internal::PatternPlan> plan;
};

CompiledPattern::CompiledPattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledPattern::CompiledPattern(CompiledPattern&&) noexcept = default;
CompiledPattern& CompiledPattern::operator=(CompiledPattern&&) noexcept = default;
CompiledPattern::~CompiledPattern() = default;

Result<CompiledPattern> CompiledPattern::Compile(const Pattern& pattern,
                                                 const EvaluateOptions& options) {
  auto plan = internal::PlanPattern(pattern, options);
  if (!plan.ok()) return plan.status();
  auto impl = std::make_unique<Impl>();
  impl->plan = std::move(*plan);
  return CompiledPattern(std::move(impl));
}

Result<CompiledPattern> CompiledPattern::Compile(std::string_view text,
                                                 const EvaluateOptions& options) {
  auto pattern = Parse(text);
  if (!pattern.ok()) return pattern.status();
  return Compile(*pattern, options);
}

Result<EvaluationResult> CompiledPattern::Evaluate(const ObservationSet& observations) const {
  return internal::EvaluateNaively(*impl_->plan, internal::Data(observations));
}

const Pattern& CompiledPattern::pattern() const { return impl_->plan->pattern; }

Result<EvaluationResult> Evaluate(const Pattern& pattern, const ObservationSet& observations,
                                  const EvaluateOptions& options) {
  auto compiled = CompiledPattern::Compile(pattern, options);
  if (!compiled.ok()) return compiled.status();
  return compiled->Evaluate(observations);
}

}  // namespace liaison::pattern
