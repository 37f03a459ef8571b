#include "pattern/pattern_set.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "pattern/internal/compiled.h"
#include "pattern/internal/evaluate_impl.h"
#include "pattern/parse.h"

namespace liaison::pattern {
namespace {

namespace dom = simdjson::dom;
using internal::ComparisonPlan;
using internal::ConditionPlan;
using internal::IpNetwork;
using internal::ObservationPlan;

using Units = std::vector<uint32_t>;

// Numbers are keyed so that values that compare equal (section 9.2: integers and floats are
// compared by value) share a key: integral values that fit 64 bits by that integer, others by
// the bits of the double they round to (a collision only costs one extra test).
struct NumberKey {
  bool integral = false;
  int64_t integer = 0;
  uint64_t bits = 0;
};

NumberKey KeyOf(long double v) {
  NumberKey k;
  if (v == std::floor(v) && v >= -9223372036854775808.0L && v < 9223372036854775808.0L) {
    k.integral = true;
    k.integer = static_cast<int64_t>(v);
  } else {
    const double d = static_cast<double>(v);
    std::memcpy(&k.bits, &d, sizeof d);
  }
  return k;
}

// What an SCO must have for an observation expression to hold (a necessary condition).
struct Key {
  enum class Kind { kString, kNumber, kBoolean, kSubset };
  Kind kind = Kind::kString;
  const ComparisonPlan* path = nullptr;
  std::string text;
  NumberKey number;
  bool boolean = false;
  IpNetwork network;
};

// Keys such that the comparison holds only if one of them does; nullopt when there are none
// better than the object type. An empty list means the comparison never holds.
std::optional<std::vector<Key>> KeysOf(const ComparisonPlan& c) {
  if (c.negated || c.binary != ComparisonPlan::Binary::kNone) return std::nullopt;
  std::vector<Key> keys;
  if (c.op == ComparisonOperator::kEqual || c.op == ComparisonOperator::kIn) {
    for (const internal::PreparedConstant& k : c.constants) {
      Key key;
      key.path = &c;
      switch (k.kind) {
        case Constant::Kind::kString:
          key.kind = Key::Kind::kString;
          key.text = k.text;
          break;
        case Constant::Kind::kInteger:
        case Constant::Kind::kFloat:
          key.kind = Key::Kind::kNumber;
          key.number = KeyOf(k.number);
          break;
        case Constant::Kind::kBoolean:
          key.kind = Key::Kind::kBoolean;
          key.boolean = k.boolean;
          break;
        default:
          return std::nullopt;  // octets and timestamps: by type
      }
      keys.push_back(std::move(key));
    }
    return keys;
  }
  if (c.op == ComparisonOperator::kIsSubset) {
    if (!c.network) return keys;  // never true
    Key key;
    key.kind = Key::Kind::kSubset;
    key.path = &c;
    key.network = *c.network;
    keys.push_back(std::move(key));
    return keys;
  }
  return std::nullopt;
}

std::optional<std::vector<Key>> KeysOf(const ObservationPlan& plan, const ConditionPlan& c) {
  switch (c.kind) {
    case ConditionPlan::Kind::kComparison:
      return KeysOf(plan.comparisons[c.comparison]);
    case ConditionPlan::Kind::kAnd: {
      // Any operand's keys will do: take the smallest set.
      std::optional<std::vector<Key>> best;
      for (const ConditionPlan& operand : c.operands) {
        auto keys = KeysOf(plan, operand);
        if (keys && (!best || keys->size() < best->size())) best = std::move(keys);
      }
      return best;
    }
    case ConditionPlan::Kind::kOr: {
      std::vector<Key> all;
      for (const ConditionPlan& operand : c.operands) {
        auto keys = KeysOf(plan, operand);
        if (!keys) return std::nullopt;
        for (Key& k : *keys) all.push_back(std::move(k));
      }
      return all;
    }
  }
  return std::nullopt;
}

// A path's identity: the object type and the steps, unambiguously spelled.
std::string PathText(const ComparisonPlan& c) {
  std::string out = c.object_type;
  for (const internal::PathStepPlan& s : c.steps) {
    switch (s.kind) {
      case PathStep::Kind::kKey:
        absl::StrAppend(&out, "\x01", s.key.size(), ":", s.key);
        break;
      case PathStep::Kind::kIndex:
        absl::StrAppend(&out, "[", s.index, "]");
        break;
      case PathStep::Kind::kAnyIndex:
        out.append("[*]");
        break;
    }
  }
  return out;
}

struct PathIndex {
  ComparisonPlan walker;  // the object type and steps to follow from an SCO
  absl::flat_hash_map<std::string, Units> strings;
  absl::flat_hash_map<int64_t, Units> integers;
  absl::flat_hash_map<uint64_t, Units> doubles;
  Units booleans[2];
  std::vector<std::pair<IpNetwork, uint32_t>> subset_of;  // holds when the value is inside
};

struct TypeIndex {
  Units units;  // tested on every SCO of the type
  std::vector<PathIndex> paths;
  absl::flat_hash_map<std::string, size_t> path_numbers;
};

}  // namespace

struct PatternSet::Impl {
  EvaluateOptions options;
  std::vector<std::unique_ptr<internal::PatternPlan>> patterns;
  std::vector<std::vector<uint32_t>> pattern_units;         // by pattern, the unit of each leaf
  std::vector<const ObservationPlan*> units;                // owned by `patterns`
  absl::flat_hash_map<std::string, uint32_t> unit_numbers;  // by canonical text
  absl::flat_hash_map<std::string, TypeIndex> types;

  void Index(uint32_t unit) {
    const ObservationPlan& plan = *units[unit];
    std::optional<std::vector<Key>> keys;
    // Observation expressions that may fail on malformed data are tested on every SCO of
    // their types, exactly as the naive evaluation would, so both report the same failures.
    if (!plan.may_fail) keys = KeysOf(plan, plan.condition);
    if (!keys) {
      for (const std::string& type : plan.types) types[type].units.push_back(unit);
      return;
    }
    for (const Key& key : *keys) {
      TypeIndex& t = types[key.path->object_type];
      const std::string text = PathText(*key.path);
      auto [it, added] = t.path_numbers.try_emplace(text, t.paths.size());
      if (added) {
        PathIndex p;
        p.walker.object_type = key.path->object_type;
        p.walker.steps = key.path->steps;
        t.paths.push_back(std::move(p));
      }
      PathIndex& p = t.paths[it->second];
      switch (key.kind) {
        case Key::Kind::kString:
          p.strings[key.text].push_back(unit);
          break;
        case Key::Kind::kNumber:
          if (key.number.integral) {
            p.integers[key.number.integer].push_back(unit);
          } else {
            p.doubles[key.number.bits].push_back(unit);
          }
          break;
        case Key::Kind::kBoolean:
          p.booleans[key.boolean ? 1 : 0].push_back(unit);
          break;
        case Key::Kind::kSubset:
          p.subset_of.emplace_back(key.network, unit);
          break;
      }
    }
  }

  Result<size_t> Add(const Pattern& pattern) {
    auto plan = internal::PlanPattern(pattern, options);
    if (!plan.ok()) return plan.status();
    const size_t number = patterns.size();
    std::vector<uint32_t> leaf_units;
    for (const ObservationPlan& leaf : (*plan)->observations) {
      auto [it, added] =
          unit_numbers.try_emplace(leaf.canonical, static_cast<uint32_t>(units.size()));
      if (added) {
        units.push_back(&leaf);
        Index(it->second);
      }
      leaf_units.push_back(it->second);
    }
    patterns.push_back(std::move(*plan));
    pattern_units.push_back(std::move(leaf_units));
    return number;
  }
};

PatternSet::PatternSet(const EvaluateOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;
PatternSet::~PatternSet() = default;

Result<size_t> PatternSet::Add(std::string_view text) {
  auto pattern = Parse(text);
  if (!pattern.ok()) return pattern.status();
  return impl_->Add(*pattern);
}

Result<size_t> PatternSet::Add(const Pattern& pattern) { return impl_->Add(pattern); }

size_t PatternSet::size() const { return impl_->patterns.size(); }

const Pattern& PatternSet::pattern(size_t number) const { return impl_->patterns[number]->pattern; }

SetEvaluation PatternSet::Evaluate(const ObservationSet& observations) const {
  const Impl& s = *impl_;
  const internal::ObservationData& data = internal::Data(observations);
  const size_t unit_count = s.units.size();
  std::vector<Units> candidates(unit_count);
  std::vector<int64_t> last_od(unit_count, -1);  // the observed-data a unit last held for
  std::vector<uint64_t> tested(unit_count, 0);   // the SCO a unit was last tested on
  std::vector<Status> failed(unit_count);
  // Each observation expression has the value-visit budget one evaluation has.
  std::vector<int64_t> budget(unit_count, s.options.max_value_visits);
  SetEvaluation out;
  internal::EvalContext ctx(data, s.options.max_value_visits);
  uint64_t sco = 0;

  for (size_t i = 0; i < data.observed.size(); ++i) {
    const internal::ObservedDataRecord& od = data.observed[i];
    ctx.od = &od;
    for (const internal::Root& root : od.roots) {
      auto type = s.types.find(ToAbsl(root.type));
      if (type == s.types.end()) continue;
      ++sco;
      auto test = [&](uint32_t unit) {
        if (last_od[unit] == static_cast<int64_t>(i) || tested[unit] == sco || !failed[unit].ok()) {
          return;
        }
        tested[unit] = sco;
        ++out.observation_tests;
        ctx.visits_left = budget[unit];
        const bool holds = internal::HoldsFor(*s.units[unit], root, ctx);
        budget[unit] = ctx.visits_left;
        if (!ctx.error.ok()) {
          failed[unit] = std::move(ctx.error);
          ctx.error = absl::OkStatus();
          return;
        }
        if (holds) {
          candidates[unit].push_back(static_cast<uint32_t>(i));
          last_od[unit] = static_cast<int64_t>(i);
        }
      };
      const TypeIndex& t = type->second;
      for (uint32_t unit : t.units) test(unit);
      for (const PathIndex& p : t.paths) {
        auto lookup = [&](dom::element value) {
          switch (value.type()) {
            case dom::element_type::STRING: {
              std::string_view text;
              if (value.get(text)) break;
              if (auto it = p.strings.find(ToAbsl(text)); it != p.strings.end()) {
                for (uint32_t unit : it->second) test(unit);
              }
              if (!p.subset_of.empty()) {
                if (auto net = internal::ParseIpNetwork(text)) {
                  for (const auto& [block, unit] : p.subset_of) {
                    if (internal::NetworkContains(block, *net)) test(unit);
                  }
                }
              }
              break;
            }
            case dom::element_type::INT64:
            case dom::element_type::UINT64:
            case dom::element_type::DOUBLE: {
              long double v = 0;
              int64_t i64;
              uint64_t u64;
              double d;
              if (value.get(i64) == simdjson::SUCCESS) {
                v = static_cast<long double>(i64);
              } else if (value.get(u64) == simdjson::SUCCESS) {
                v = static_cast<long double>(u64);
              } else if (value.get(d) == simdjson::SUCCESS) {
                v = static_cast<long double>(d);
              }
              const NumberKey key = KeyOf(v);
              if (key.integral) {
                if (auto it = p.integers.find(key.integer); it != p.integers.end()) {
                  for (uint32_t unit : it->second) test(unit);
                }
              } else if (auto it = p.doubles.find(key.bits); it != p.doubles.end()) {
                for (uint32_t unit : it->second) test(unit);
              }
              break;
            }
            case dom::element_type::BOOL: {
              bool b = false;
              if (value.get(b)) break;
              for (uint32_t unit : p.booleans[b ? 1 : 0]) test(unit);
              break;
            }
            default:
              break;
          }
          return false;  // visit every value the path reaches
        };
        ctx.visits_left = s.options.max_value_visits;
        internal::ForEachValue(p.walker, root, ctx, lookup);
        if (!ctx.error.ok()) {
          // The path fans out past the budget: the units behind it cannot be decided.
          const Status error = std::move(ctx.error);
          ctx.error = absl::OkStatus();
          auto fail = [&](const Units& units) {
            for (uint32_t unit : units) {
              if (failed[unit].ok()) failed[unit] = error;
            }
          };
          for (const auto& [k, units] : p.strings) fail(units);
          for (const auto& [k, units] : p.integers) fail(units);
          for (const auto& [k, units] : p.doubles) fail(units);
          fail(p.booleans[0]);
          fail(p.booleans[1]);
          for (const auto& [block, unit] : p.subset_of) fail({unit});
        }
      }
    }
  }

  for (size_t p = 0; p < s.patterns.size(); ++p) {
    const std::vector<uint32_t>& leaf_units = s.pattern_units[p];
    Status failure;
    for (uint32_t unit : leaf_units) {
      if (!failed[unit].ok()) {
        failure = failed[unit];
        break;
      }
    }
    if (!failure.ok()) {
      out.failures.push_back({p, std::move(failure)});
      continue;
    }
    Result<EvaluationResult> result = absl::InternalError("unreached");
    if (leaf_units.size() == 1) {
      result = internal::Bind(*s.patterns[p], std::span(&candidates[leaf_units[0]], 1), data);
    } else {
      std::vector<Units> lists;
      lists.reserve(leaf_units.size());
      for (uint32_t unit : leaf_units) lists.push_back(candidates[unit]);
      result = internal::Bind(*s.patterns[p], lists, data);
    }
    if (!result.ok()) {
      out.failures.push_back({p, result.status()});
    } else if (result->matched) {
      out.matches.push_back({p, std::move(result->bindings)});
    }
  }
  return out;
}

SetEvaluation PatternSet::EvaluateEachNaively(const ObservationSet& observations) const {
  const internal::ObservationData& data = internal::Data(observations);
  SetEvaluation out;
  for (size_t p = 0; p < impl_->patterns.size(); ++p) {
    auto result = internal::EvaluateNaively(*impl_->patterns[p], data);
    if (!result.ok()) {
      out.failures.push_back({p, result.status()});
    } else if (result->matched) {
      out.matches.push_back({p, std::move(result->bindings)});
    }
  }
  return out;
}

}  // namespace liaison::pattern
