#pragma once

// Patterns prepared for evaluation, shared by CompiledPattern (evaluate.cc), the reference
// path, and PatternSet (pattern_set.cc).
//
// Evaluation has two stages (STIX 2.1 section 9.5):
//   1. each [ ... ] observation expression is tested against each observed-data: it holds when
//      one SCO the observed-data observes satisfies the whole comparison expression, object
//      paths starting from that SCO (compare.cc);
//   2. the observation operators and qualifiers are solved over those per-observation-
//      expression candidate lists: a binding gives every [ ... ] (REPEATS counted) distinct
//      observations satisfying AND / OR / FOLLOWEDBY and WITHIN / START-STOP (solver.cc).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/result.h"
#include "core/timestamp.h"
#include "pattern/ast.h"
#include "pattern/evaluate.h"
#include "pattern/internal/ip.h"
#include "pattern/internal/observation_data.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace liaison::pattern::internal {

// ---- stage 1: comparisons ----

struct PreparedConstant {
  Constant::Kind kind = Constant::Kind::kString;
  long double number = 0;             // kInteger, kFloat: exact for every int64 and double
  bool boolean = false;               // kBoolean
  std::string text;                   // kString: the value (UTF-8)
  std::optional<std::string> octets;  // kString when every code point < U+0100; kBinary, kHex
  Timestamp timestamp;                // kTimestamp
};

// SQL LIKE (section 9.6.1): '%' any run of code points, '_' exactly one; no escape character.
class LikeMatcher {
 public:
  explicit LikeMatcher(std::string_view nfc_pattern = {});
  bool Matches(std::string_view value) const;  // `value` valid UTF-8, already NFC

 private:
  enum class Mode { kExact, kPrefix, kSuffix, kContains, kGeneral };
  Mode mode_ = Mode::kExact;
  std::string literal_;     // the fast modes
  std::u32string pattern_;  // kGeneral; U+FFFFFFFF stands for '%' and U+FFFFFFFE for '_'
};

struct PathStepPlan {
  PathStep::Kind kind = PathStep::Kind::kKey;
  std::string key;
  int64_t index = 0;
  uint8_t ref_kind = 0;  // kKey: 1 when the key ends with _ref, 2 with _refs
};

struct ComparisonPlan {
  std::string object_type;
  std::vector<PathStepPlan> steps;
  enum class Binary { kNone, kBase64, kHex } binary = Binary::kNone;  // by the last key
  ComparisonOperator op = ComparisonOperator::kEqual;
  bool negated = false;
  std::vector<PreparedConstant> constants;
  std::shared_ptr<const re2::RE2> regex;  // kMatches
  LikeMatcher like;                       // kLike
  std::optional<IpNetwork> network;       // kIsSubset, kIsSuperset (nullopt: never true)
  bool has_timestamps = false;            // a t'' constant: may fail on malformed data
};

// The comparison expression of one [ ... ].
struct ConditionPlan {
  enum class Kind { kComparison, kAnd, kOr };
  Kind kind = Kind::kComparison;
  int comparison = -1;  // kComparison: index into ObservationPlan::comparisons
  std::vector<ConditionPlan> operands;
};

struct ObservationPlan {
  ConditionPlan condition;
  std::vector<ComparisonPlan> comparisons;
  std::vector<std::string> types;  // the object types it can hold for, sorted
  std::string canonical;           // Print() of the comparison expression
  bool may_fail = false;           // some comparison has a t'' constant
};

struct EvalContext {
  EvalContext(const ObservationData& d, int64_t visits) : data(d), visits_left(visits) {}

  const ObservationData& data;
  const ObservedDataRecord* od = nullptr;
  bool legacy = false;
  int64_t visits_left;
  Status error;            // set once; evaluation stops
  std::string scratch[2];  // NFC and octet conversions
};

// Walks plan.steps from `v` (ref_kind: 1 = v is a reference, 2 = v is a list of references),
// calling `fn` on each value reached until it returns true.
template <typename Fn>
bool WalkPath(const ComparisonPlan& plan, size_t i, simdjson::dom::element v, uint8_t ref_kind,
              EvalContext& ctx, Fn& fn) {
  if (--ctx.visits_left < 0) {
    if (ctx.error.ok()) {
      ctx.error = absl::ResourceExhaustedError(
          "evaluation visited more property values than its budget allows");
    }
    return false;
  }
  if (i == plan.steps.size()) return fn(v);
  const PathStepPlan& step = plan.steps[i];
  if (step.kind == PathStep::Kind::kKey) {
    simdjson::dom::object object;
    if (ref_kind == 1) {
      // Section 9.7.4: a reference is followed to the object it names, whose properties then
      // act as nested ones.
      std::string_view id;
      if (v.get(id) != simdjson::SUCCESS) return false;
      auto target = ctx.data.Deref(*ctx.od, ctx.legacy, id);
      if (!target) return false;
      object = *target;
    } else if (v.get(object) != simdjson::SUCCESS) {
      return false;
    }
    simdjson::dom::element child;
    if (object[step.key].get(child) != simdjson::SUCCESS) return false;
    return WalkPath(plan, i + 1, child, step.ref_kind, ctx, fn);
  }
  simdjson::dom::array array;
  if (v.get(array) != simdjson::SUCCESS) return false;
  const uint8_t element_kind = ref_kind == 2 ? 1 : 0;
  if (step.kind == PathStep::Kind::kIndex) {
    if (step.index < 0) return false;  // section 9.7.2: out of range, false
    simdjson::dom::element e;
    if (array.at(static_cast<size_t>(step.index)).get(e) != simdjson::SUCCESS) return false;
    return WalkPath(plan, i + 1, e, element_kind, ctx, fn);
  }
  for (simdjson::dom::element e : array) {
    if (WalkPath(plan, i + 1, e, element_kind, ctx, fn)) return true;
    if (!ctx.error.ok()) return false;
  }
  return false;
}

// Calls `fn` on each value that `plan`'s object path reaches from `root` (of ctx.od), until it
// returns true; returns whether it did. The caller checks the type of `root` first.
template <typename Fn>
bool ForEachValue(const ComparisonPlan& plan, const Root& root, EvalContext& ctx, Fn& fn) {
  ctx.legacy = root.legacy;  // references resolve as the root's observed-data holds it
  // The first step is always a key, looked up on the root object itself.
  simdjson::dom::element first;
  if (plan.steps.empty() || root.object[plan.steps[0].key].get(first) != simdjson::SUCCESS) {
    return false;
  }
  return WalkPath(plan, 1, first, plan.steps[0].ref_kind, ctx, fn);
}

// What the plans of one pattern share: compiled regular expressions (one per distinct
// expression) and the budget for all of them, so that a pattern of thousands of MATCHES cannot
// take unbounded memory.
struct PlanContext {
  explicit PlanContext(const EvaluateOptions& o)
      : options(o), regex_program_left(o.max_regex_program_total) {}

  const EvaluateOptions& options;
  int64_t regex_program_left;  // RE2 program instructions still allowed
  absl::flat_hash_map<std::string, std::shared_ptr<const re2::RE2>> regexes;
};

// Builds the plan of one [ ... ]. Errors: a constant evaluation cannot use (a timestamp naming
// a day that does not exist, a mixed-type IN set, a regular expression RE2 cannot run).
Result<ObservationPlan> PlanObservation(const ComparisonExpression& expression,
                                        PlanContext& context);

// Whether `plan` holds for `root`, an SCO of ctx.od. On a data error sets ctx.error and
// returns false.
bool HoldsFor(const ObservationPlan& plan, const Root& root, EvalContext& ctx);
// Whether it holds for some SCO that `od` observes.
bool HoldsForObservedData(const ObservationPlan& plan, const ObservedDataRecord& od,
                          EvalContext& ctx);

// ---- stage 2: observation operators and qualifiers ----

struct QualifierPlan {
  Qualifier::Kind kind = Qualifier::Kind::kWithin;
  Nanos window = 0;  // kWithin, in nanoseconds, rounded up
  int64_t times = 0;
  Nanos start = 0;  // kStartStop: observation time >= start and < stop
  Nanos stop = 0;
};

struct ObservationNode {
  enum class Kind { kLeaf, kAnd, kOr, kFollowedBy };
  Kind kind = Kind::kLeaf;
  int leaf = -1;  // kLeaf: the observation expression's number
  std::vector<ObservationNode> children;
  std::vector<QualifierPlan> qualifiers;  // innermost first
  std::vector<bool> same_as_previous;     // kAnd: child i is written exactly as child i-1
  std::string canonical;                  // printed form, for the comparison above
  int64_t min_observations = 1;           // fewest observations any binding uses
  int64_t base_observations = 1;          // the same, without this node's own qualifiers
};

// Builds the operator tree. Errors: WITHIN <= 0, REPEATS < 1, START/STOP timestamps that
// do not exist.
Result<ObservationNode> PlanObservationTree(const ObservationExpression& root);

struct SolverLimits {
  int64_t max_steps = 1'000'000;
  int64_t max_cells = 4'000'000;  // goal and frame cells held at once
};

// Finds a binding, given for each observation expression the observed-data (ascending indices
// into data.observed) it holds for. Returns nullopt when there is none; ResourceExhausted when
// the search outgrows its budget.
Result<std::optional<std::vector<Binding>>> Solve(const ObservationNode& root,
                                                  std::span<const std::vector<uint32_t>> candidates,
                                                  const ObservationData& data,
                                                  const SolverLimits& limits);

}  // namespace liaison::pattern::internal
