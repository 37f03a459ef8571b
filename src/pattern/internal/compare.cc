// Stage 1 of evaluation: one [ ... ] against one SCO (STIX 2.1 sections 9.6 and 9.7).
//
// Invariants:
//   - an object path yields zero or more values (a [*] step fans out); a comparison is true
//     when some value satisfies it, and NOT negates that, but a path that yields no value makes
//     the comparison false whatever the operator (section 9.6) -- except EXISTS, whose whole
//     point is presence;
//   - values are read in place from simdjson's DOM; nothing is copied unless a conversion
//     (NFC, octets) needs it, and then into the context's scratch buffers;
//   - every value visited costs one unit of ctx.visits_left, so [*] over huge lists of
//     references cannot run away.

#include <re2/re2.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "pattern/internal/compiled.h"
#include "pattern/internal/constants.h"
#include "pattern/internal/regex.h"
#include "pattern/internal/text.h"
#include "pattern/print.h"

namespace liaison::pattern::internal {
namespace {

namespace dom = simdjson::dom;

constexpr char32_t kPercent = 0xFFFFFFFF;
constexpr char32_t kUnderscore = 0xFFFFFFFE;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status InvalidConstant(const Constant& k, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("offset ", k.offset, ": ", ToAbsl(what)));
}

Result<PreparedConstant> Prepare(const Constant& k) {
  PreparedConstant p;
  p.kind = k.kind;
  switch (k.kind) {
    case Constant::Kind::kInteger:
      p.number = static_cast<long double>(k.integer);
      break;
    case Constant::Kind::kFloat:
      p.number = static_cast<long double>(k.floating);
      break;
    case Constant::Kind::kBoolean:
      p.boolean = k.boolean;
      break;
    case Constant::Kind::kString:
      p.text = k.text;
      p.octets = Utf8ToOctets(k.text);  // section 9.2: comparable with binary when < U+0100
      break;
    case Constant::Kind::kBinary:
      p.octets = DecodeBase64(k.text);
      if (!p.octets) return InvalidConstant(k, "invalid base64 in the binary constant");
      break;
    case Constant::Kind::kHex:
      p.octets = DecodeHex(k.text);
      if (!p.octets) return InvalidConstant(k, "invalid hex constant");
      break;
    case Constant::Kind::kTimestamp: {
      auto t = Timestamp::Parse(k.text);
      if (!t.ok()) {
        return InvalidConstant(
            k,
            absl::StrCat("t'", k.text, "' is not a valid STIX timestamp: ", t.status().message()));
      }
      p.timestamp = *t;
      break;
    }
  }
  return p;
}

Result<ComparisonPlan> PlanComparison(const Comparison& c, PlanContext& context) {
  const EvaluateOptions& options = context.options;
  ComparisonPlan plan;
  plan.object_type = c.path.object_type;
  plan.op = c.op;
  plan.negated = c.negated;
  std::string_view last_key;
  for (const PathStep& s : c.path.steps) {
    PathStepPlan step;
    step.kind = s.kind;
    step.key = s.key;
    step.index = s.index;
    if (s.kind == PathStep::Kind::kKey) {
      step.ref_kind = EndsWith(s.key, "_refs") ? 2 : EndsWith(s.key, "_ref") ? 1 : 0;
      last_key = s.key;
    }
    plan.steps.push_back(std::move(step));
  }
  // Section 9.6.4: properties ending in _bin and _hex hold octets, compared decoded.
  if (EndsWith(last_key, "_bin")) plan.binary = ComparisonPlan::Binary::kBase64;
  if (EndsWith(last_key, "_hex")) plan.binary = ComparisonPlan::Binary::kHex;

  if (c.op == ComparisonOperator::kIn && !IsHomogeneous(c.constants)) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", c.offset,
                     ": the constants of an IN set must all be of one data type (section 9.6.1)"));
  }
  for (const Constant& k : c.constants) {
    auto prepared = Prepare(k);
    if (!prepared.ok()) return prepared.status();
    plan.has_timestamps |= k.kind == Constant::Kind::kTimestamp;
    plan.constants.push_back(std::move(*prepared));
  }
  std::string storage;
  switch (c.op) {
    case ComparisonOperator::kLike:
      // Section 9.6.1: the constant MUST be NFC normalised before evaluation.
      plan.like = LikeMatcher(Nfc(c.constants[0].text, storage));
      break;
    case ComparisonOperator::kMatches: {
      const std::string nfc(Nfc(c.constants[0].text, storage));
      if (auto cached = context.regexes.find(nfc); cached != context.regexes.end()) {
        plan.regex = cached->second;
        break;
      }
      RegexLimits limits;
      limits.max_pattern_bytes = options.max_regex_bytes;
      limits.max_program_memory = options.max_regex_memory;
      auto re = CompileRegex(nfc, limits);
      if (!re.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("offset ", c.constants[0].offset, ": ", re.status().message()));
      }
      context.regex_program_left -= (*re)->ProgramSize();
      if (context.regex_program_left < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("offset ", c.constants[0].offset,
                         ": the pattern's regular expressions together exceed their size budget"));
      }
      plan.regex = std::move(*re);
      context.regexes.emplace(nfc, plan.regex);
      break;
    }
    case ComparisonOperator::kIsSubset:
    case ComparisonOperator::kIsSuperset:
      plan.network = ParseIpNetwork(c.constants[0].text);
      break;
    default:
      break;
  }
  return plan;
}

Result<ConditionPlan> PlanCondition(const ComparisonExpression& e, ObservationPlan& out,
                                    PlanContext& context) {
  ConditionPlan plan;
  switch (e.kind) {
    case ComparisonExpression::Kind::kComparison: {
      auto c = PlanComparison(e.comparison, context);
      if (!c.ok()) return c.status();
      plan.kind = ConditionPlan::Kind::kComparison;
      plan.comparison = static_cast<int>(out.comparisons.size());
      out.comparisons.push_back(std::move(*c));
      return plan;
    }
    case ComparisonExpression::Kind::kGroup:
      return PlanCondition(e.operands[0], out, context);
    case ComparisonExpression::Kind::kAnd:
    case ComparisonExpression::Kind::kOr:
      plan.kind = e.kind == ComparisonExpression::Kind::kAnd ? ConditionPlan::Kind::kAnd
                                                             : ConditionPlan::Kind::kOr;
      for (const ComparisonExpression& operand : e.operands) {
        auto child = PlanCondition(operand, out, context);
        if (!child.ok()) return child.status();
        plan.operands.push_back(std::move(*child));
      }
      return plan;
  }
  return plan;
}

// ---- reading values ----

enum class Order { kLess, kEqual, kGreater, kIncomparable };

template <typename T>
Order Compare3(const T& a, const T& b) {
  if (a < b) return Order::kLess;
  if (b < a) return Order::kGreater;
  return Order::kEqual;
}

// A JSON value as the comparisons see it.
struct ValueView {
  enum class Kind { kString, kOctets, kNumber, kBoolean, kOther };
  Kind kind = Kind::kOther;
  std::string_view text;  // kString (UTF-8) and kOctets
  long double number = 0;
  bool boolean = false;
};

ValueView View(dom::element v, const ComparisonPlan& plan, EvalContext& ctx) {
  ValueView out;
  switch (v.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      if (v.get(s)) return out;
      if (plan.binary == ComparisonPlan::Binary::kNone) {
        out.kind = ValueView::Kind::kString;
        out.text = s;
        return out;
      }
      auto octets = plan.binary == ComparisonPlan::Binary::kBase64 ? DecodeBase64(s) : DecodeHex(s);
      if (!octets) return out;  // not octets: incomparable
      ctx.scratch[1] = std::move(*octets);
      out.kind = ValueView::Kind::kOctets;
      out.text = ctx.scratch[1];
      return out;
    }
    case dom::element_type::INT64: {
      int64_t i = 0;
      if (v.get(i)) return out;
      out.kind = ValueView::Kind::kNumber;
      out.number = static_cast<long double>(i);
      return out;
    }
    case dom::element_type::UINT64: {
      uint64_t u = 0;
      if (v.get(u)) return out;
      out.kind = ValueView::Kind::kNumber;
      out.number = static_cast<long double>(u);
      return out;
    }
    case dom::element_type::DOUBLE: {
      double d = 0;
      if (v.get(d)) return out;
      out.kind = ValueView::Kind::kNumber;
      out.number = static_cast<long double>(d);
      return out;
    }
    case dom::element_type::BOOL: {
      if (v.get(out.boolean)) return out;
      out.kind = ValueView::Kind::kBoolean;
      return out;
    }
    default:
      return out;  // null, arrays, objects: comparable with nothing
  }
}

// Section 9.2's table of comparable types, and 9.6.2 - 9.6.4 for how.
Order CompareTo(const ValueView& v, const PreparedConstant& k, EvalContext& ctx) {
  using CK = Constant::Kind;
  switch (k.kind) {
    case CK::kInteger:
    case CK::kFloat:
      if (v.kind != ValueView::Kind::kNumber) return Order::kIncomparable;
      return Compare3(v.number, k.number);
    case CK::kBoolean:
      if (v.kind != ValueView::Kind::kBoolean) return Order::kIncomparable;
      return v.boolean == k.boolean ? Order::kEqual : Order::kIncomparable;
    case CK::kString:
      if (v.kind == ValueView::Kind::kString) return Compare3(v.text, std::string_view(k.text));
      if (v.kind == ValueView::Kind::kOctets) {
        if (!k.octets) return Order::kIncomparable;  // a code point >= U+0100
        return Compare3(v.text, std::string_view(*k.octets));
      }
      return Order::kIncomparable;
    case CK::kBinary:
    case CK::kHex:
      if (v.kind == ValueView::Kind::kOctets) return Compare3(v.text, std::string_view(*k.octets));
      if (v.kind == ValueView::Kind::kString) {
        auto octets = Utf8ToOctets(v.text);
        if (!octets) return Order::kIncomparable;
        return Compare3(std::string_view(*octets), std::string_view(*k.octets));
      }
      return Order::kIncomparable;
    case CK::kTimestamp: {
      if (v.kind != ValueView::Kind::kString) return Order::kIncomparable;
      auto t = Timestamp::Parse(v.text);
      if (!t.ok()) {
        // Compared with a timestamp, a string must be one: malformed data is an error, not a
        // silent mismatch (the reference matcher raises here too).
        if (ctx.error.ok()) {
          ctx.error =
              absl::InvalidArgumentError(absl::StrCat("observed-data ", ToAbsl(ctx.od->id),
                                                      ": a value compared with t'...' is not a "
                                                      "valid STIX timestamp: ",
                                                      t.status().message()));
        }
        return Order::kIncomparable;
      }
      return Compare3(*t, k.timestamp);
    }
  }
  return Order::kIncomparable;
}

// The text LIKE and MATCHES see: strings NFC-normalised (section 9.6.2), octets as the code
// points of the same values. nullopt for anything else.
std::optional<std::string_view> MatchText(const ValueView& v, EvalContext& ctx) {
  if (v.kind == ValueView::Kind::kString) return Nfc(v.text, ctx.scratch[0]);
  if (v.kind == ValueView::Kind::kOctets) {
    ctx.scratch[0] = OctetsToUtf8(v.text);
    return std::string_view(ctx.scratch[0]);
  }
  return std::nullopt;
}

// Whether one value satisfies the comparison (before NOT).
bool Satisfies(const ComparisonPlan& plan, dom::element value, EvalContext& ctx) {
  if (plan.op == ComparisonOperator::kExists) return true;
  const ValueView v = View(value, plan, ctx);
  switch (plan.op) {
    case ComparisonOperator::kEqual:
      return CompareTo(v, plan.constants[0], ctx) == Order::kEqual;
    case ComparisonOperator::kNotEqual:
      return CompareTo(v, plan.constants[0], ctx) != Order::kEqual;
    case ComparisonOperator::kLess:
      return CompareTo(v, plan.constants[0], ctx) == Order::kLess;
    case ComparisonOperator::kLessOrEqual: {
      const Order o = CompareTo(v, plan.constants[0], ctx);
      return o == Order::kLess || o == Order::kEqual;
    }
    case ComparisonOperator::kGreater:
      return CompareTo(v, plan.constants[0], ctx) == Order::kGreater;
    case ComparisonOperator::kGreaterOrEqual: {
      const Order o = CompareTo(v, plan.constants[0], ctx);
      return o == Order::kGreater || o == Order::kEqual;
    }
    case ComparisonOperator::kIn:
      for (const PreparedConstant& k : plan.constants) {
        if (CompareTo(v, k, ctx) == Order::kEqual) return true;
      }
      return false;
    case ComparisonOperator::kLike: {
      auto text = MatchText(v, ctx);
      return text && plan.like.Matches(*text);
    }
    case ComparisonOperator::kMatches: {
      auto text = MatchText(v, ctx);
      // Section 9.6.1: "The search function MUST be used."
      return text && RE2::PartialMatch(re2::StringPiece(text->data(), text->size()), *plan.regex);
    }
    case ComparisonOperator::kIsSubset:
    case ComparisonOperator::kIsSuperset: {
      if (v.kind != ValueView::Kind::kString || !plan.network) return false;
      auto net = ParseIpNetwork(v.text);
      if (!net) return false;
      return plan.op == ComparisonOperator::kIsSubset ? NetworkContains(*plan.network, *net)
                                                      : NetworkContains(*net, *plan.network);
    }
    case ComparisonOperator::kExists:
      return true;
  }
  return false;
}

bool ComparisonHolds(const ComparisonPlan& plan, const Root& root, EvalContext& ctx) {
  if (root.type != plan.object_type) return false;  // the path does not start here
  // ISSUBSET / ISSUPERSET with a constant that is no address: section 9.6.1 says b MUST be
  // one, and section 9.4 that an invalid constant matches nothing, so NOT does not help.
  if ((plan.op == ComparisonOperator::kIsSubset || plan.op == ComparisonOperator::kIsSuperset) &&
      !plan.network) {
    return false;
  }
  bool found = false;
  auto fn = [&](dom::element value) {
    found = true;
    return Satisfies(plan, value, ctx);
  };
  const bool any = ForEachValue(plan, root, ctx, fn);
  if (!ctx.error.ok()) return false;
  if (plan.op == ComparisonOperator::kExists) return plan.negated ? !found : found;
  if (!found) return false;
  return plan.negated ? !any : any;
}

bool ConditionHolds(const ObservationPlan& plan, const ConditionPlan& c, const Root& root,
                    EvalContext& ctx) {
  switch (c.kind) {
    case ConditionPlan::Kind::kComparison:
      return ComparisonHolds(plan.comparisons[c.comparison], root, ctx);
    case ConditionPlan::Kind::kAnd:
      for (const ConditionPlan& operand : c.operands) {
        if (!ConditionHolds(plan, operand, root, ctx)) return false;
      }
      return true;
    case ConditionPlan::Kind::kOr:
      for (const ConditionPlan& operand : c.operands) {
        if (ConditionHolds(plan, operand, root, ctx)) return true;
        if (!ctx.error.ok()) return false;
      }
      return false;
  }
  return false;
}

void CollectTypes(const ComparisonExpression& e, std::vector<std::string>& out) {
  ForEachComparison(e, [&](const Comparison& c) { out.push_back(c.path.object_type); });
}

}  // namespace

// ---- LIKE ----

LikeMatcher::LikeMatcher(std::string_view p) {
  const bool has_underscore = p.find('_') != std::string_view::npos;
  const size_t first_percent = p.find('%');
  if (!has_underscore) {
    if (first_percent == std::string_view::npos) {
      mode_ = Mode::kExact;
      literal_ = std::string(p);
      return;
    }
    const size_t last_percent = p.rfind('%');
    const std::string_view inner = p.substr(1, p.size() >= 2 ? p.size() - 2 : 0);
    if (first_percent == p.size() - 1) {  // 'lit%'
      mode_ = Mode::kPrefix;
      literal_ = std::string(p.substr(0, p.size() - 1));
      return;
    }
    if (last_percent == 0) {  // '%lit'
      mode_ = Mode::kSuffix;
      literal_ = std::string(p.substr(1));
      return;
    }
    if (first_percent == 0 && last_percent == p.size() - 1 &&
        inner.find('%') == std::string_view::npos) {  // '%lit%'
      mode_ = Mode::kContains;
      literal_ = std::string(inner);
      return;
    }
  }
  mode_ = Mode::kGeneral;
  size_t pos = 0;
  while (pos < p.size()) {
    char32_t cp = NextCodePoint(p, pos);
    if (cp == '%') {
      if (!pattern_.empty() && pattern_.back() == kPercent) continue;  // %% is %
      cp = kPercent;
    } else if (cp == '_') {
      cp = kUnderscore;
    }
    pattern_.push_back(cp);
  }
}

bool LikeMatcher::Matches(std::string_view value) const {
  switch (mode_) {
    case Mode::kExact:
      return value == literal_;
    case Mode::kPrefix:
      return value.substr(0, literal_.size()) == literal_;
    case Mode::kSuffix:
      return value.size() >= literal_.size() &&
             value.substr(value.size() - literal_.size()) == literal_;
    case Mode::kContains:
      return value.find(literal_) != std::string_view::npos;
    case Mode::kGeneral:
      break;
  }
  std::u32string v;
  v.reserve(value.size());
  for (size_t pos = 0; pos < value.size();) v.push_back(NextCodePoint(value, pos));
  // Greedy matching that falls back to the last '%': O(|value| * |pattern|) at worst.
  size_t i = 0, j = 0, star = std::u32string::npos, mark = 0;
  const size_t n = v.size(), m = pattern_.size();
  while (i < n) {
    if (j < m && pattern_[j] != kPercent && (pattern_[j] == kUnderscore || pattern_[j] == v[i])) {
      ++i;
      ++j;
    } else if (j < m && pattern_[j] == kPercent) {
      star = j++;
      mark = i;
    } else if (star != std::u32string::npos) {
      j = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (j < m && pattern_[j] == kPercent) ++j;
  return j == m;
}

// ---- plans ----

Result<ObservationPlan> PlanObservation(const ComparisonExpression& expression,
                                        PlanContext& context) {
  ObservationPlan plan;
  auto condition = PlanCondition(expression, plan, context);
  if (!condition.ok()) return condition.status();
  plan.condition = std::move(*condition);
  CollectTypes(expression, plan.types);
  std::sort(plan.types.begin(), plan.types.end());
  plan.types.erase(std::unique(plan.types.begin(), plan.types.end()), plan.types.end());
  plan.canonical = Print(expression);
  for (const ComparisonPlan& c : plan.comparisons) plan.may_fail |= c.has_timestamps;
  return plan;
}

bool HoldsFor(const ObservationPlan& plan, const Root& root, EvalContext& ctx) {
  ctx.legacy = root.legacy;
  return ConditionHolds(plan, plan.condition, root, ctx);
}

bool HoldsForObservedData(const ObservationPlan& plan, const ObservedDataRecord& od,
                          EvalContext& ctx) {
  ctx.od = &od;
  for (const Root& root : od.roots) {
    if (!std::binary_search(plan.types.begin(), plan.types.end(), root.type)) continue;
    if (HoldsFor(plan, root, ctx)) return true;
    if (!ctx.error.ok()) return false;
  }
  return false;
}

}  // namespace liaison::pattern::internal
