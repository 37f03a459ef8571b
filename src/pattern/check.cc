#include "pattern/check.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/absl_compat.h"
#include "core/timestamp.h"
#include "pattern/internal/constants.h"
#include "pattern/internal/ip.h"
#include "pattern/internal/regex.h"
#include "pattern/internal/schema.h"
#include "pattern/internal/text.h"
#include "pattern/parse.h"
#include "pattern/print.h"

namespace liaison::pattern {
namespace {

using internal::ObjectSchema;
using internal::PropertySchema;
using internal::ValueKind;

// Largest integer STIX requires implementations to handle (section 2.7, "integer").
constexpr int64_t kMaxStixInteger = (int64_t{1} << 53) - 1;

std::string_view KindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kString:
      return "a string";
    case ValueKind::kInteger:
      return "an integer";
    case ValueKind::kFloat:
      return "a float";
    case ValueKind::kBoolean:
      return "a boolean";
    case ValueKind::kTimestamp:
      return "a timestamp";
    case ValueKind::kBinary:
      return "binary";
    case ValueKind::kHex:
      return "hex";
    case ValueKind::kHashes:
      return "a hashes dictionary";
    case ValueKind::kDictionary:
      return "a dictionary";
    case ValueKind::kObject:
      return "an object";
    case ValueKind::kRef:
      return "a reference";
    case ValueKind::kExtensions:
      return "the extensions dictionary";
  }
  return "?";
}

std::string_view ConstantName(Constant::Kind kind) {
  switch (kind) {
    case Constant::Kind::kInteger:
      return "an integer";
    case Constant::Kind::kFloat:
      return "a float";
    case Constant::Kind::kString:
      return "a string";
    case Constant::Kind::kBoolean:
      return "a boolean";
    case Constant::Kind::kBinary:
      return "a binary";
    case Constant::Kind::kHex:
      return "a hex";
    case Constant::Kind::kTimestamp:
      return "a timestamp";
  }
  return "?";
}

std::string JoinOr(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out.append(" or ");
    out.append(n);
  }
  return out;
}

// Where an object path has got to, as far as the schema of section 6 tells.
struct Cursor {
  enum class Kind { kUnknown, kObject, kProperty, kElement };
  Kind kind = Kind::kUnknown;
  std::string_view sco_type;                 // the object whose property this is
  const ObjectSchema* object = nullptr;      // kObject
  const PropertySchema* property = nullptr;  // kProperty (maybe a list), kElement (one element)
};

class Checker {
 public:
  explicit Checker(const CheckOptions& options) : options_(options) {}

  std::vector<Finding> Run(const Pattern& pattern) {
    Observation(pattern.root);
    std::stable_sort(findings_.begin(), findings_.end(),
                     [](const Finding& a, const Finding& b) { return a.offset < b.offset; });
    return std::move(findings_);
  }

 private:
  void Error(size_t offset, std::string_view rule, std::string message) {
    findings_.push_back({Severity::kError, offset, std::move(message), std::string(rule)});
  }
  void Warn(size_t offset, std::string_view rule, std::string message) {
    if (!options_.warnings) return;
    findings_.push_back({Severity::kWarning, offset, std::move(message), std::string(rule)});
  }

  void Observation(const ObservationExpression& e) {
    Qualifiers(e);
    if (e.kind == ObservationExpression::Kind::kObservation) {
      Types(e.comparison);
      Comparisons(e.comparison);
      return;
    }
    for (const ObservationExpression& operand : e.operands) Observation(operand);
  }

  void Qualifiers(const ObservationExpression& e) {
    bool seen[3] = {false, false, false};
    for (const Qualifier& q : e.qualifiers) {
      const int k = static_cast<int>(q.kind);
      if (seen[k]) {
        // Section 9.5.1: "An Observation Expression MUST NOT have more than one Qualifier of a
        // particular type." Stacked directly on [ ... ] this is an error (as the reference
        // validator has it); on a parenthesised group the validator accepts it, so a warning.
        const std::string message =
            absl::StrCat("more than one ", ToAbsl(QualifierName(q.kind)),
                         " qualifier on one observation expression (section 9.5.1)");
        if (e.kind == ObservationExpression::Kind::kObservation) {
          Error(q.offset, "duplicate-qualifier", message);
        } else {
          Warn(q.offset, "duplicate-qualifier", message);
        }
      }
      seen[k] = true;
      switch (q.kind) {
        case Qualifier::Kind::kWithin:
          if (!(q.seconds > 0)) {
            Error(q.offset, "within", "WITHIN needs a positive number of seconds (section 9.5.1)");
          }
          break;
        case Qualifier::Kind::kRepeats:
          if (q.times < 1) {
            Error(q.offset, "repeats", "REPEATS needs a positive integer (section 9.5.1)");
          }
          break;
        case Qualifier::Kind::kStartStop: {
          auto start = Timestamp::Parse(q.start);
          auto stop = Timestamp::Parse(q.stop);
          if (!start.ok()) Error(q.offset, "timestamp", TimestampMessage(q.start, start.status()));
          if (!stop.ok()) Error(q.offset, "timestamp", TimestampMessage(q.stop, stop.status()));
          if (start.ok() && stop.ok() && !(*start < *stop)) {
            Warn(q.offset, "start-stop",
                 "START is not before STOP: no observation time is >= START and < STOP");
          }
          break;
        }
      }
    }
  }

  static std::string TimestampMessage(std::string_view text, const Status& status) {
    return absl::StrCat("t'", ToAbsl(text), "' is not a valid STIX timestamp (", status.message(),
                        ")");
  }

  // The object types a comparison expression can be true for (section 9.5: "All operands of
  // AND in an Observation Expression MUST be satisfiable with the same object").
  std::set<std::string> Types(const ComparisonExpression& e) {
    switch (e.kind) {
      case ComparisonExpression::Kind::kComparison:
        return {e.comparison.path.object_type};
      case ComparisonExpression::Kind::kGroup:
        return Types(e.operands[0]);
      case ComparisonExpression::Kind::kOr: {
        std::set<std::string> all;
        for (const auto& operand : e.operands) {
          std::set<std::string> t = Types(operand);
          all.insert(t.begin(), t.end());
        }
        return all;
      }
      case ComparisonExpression::Kind::kAnd: {
        std::set<std::string> common = Types(e.operands[0]);
        std::set<std::string> seen = common;
        for (size_t i = 1; i < e.operands.size(); ++i) {
          std::set<std::string> t = Types(e.operands[i]);
          seen.insert(t.begin(), t.end());
          std::set<std::string> both;
          std::set_intersection(common.begin(), common.end(), t.begin(), t.end(),
                                std::inserter(both, both.begin()));
          common = std::move(both);
        }
        if (common.empty() && !seen.empty()) {
          Warn(e.offset, "and-object-types",
               absl::StrCat("AND joins comparisons of different object types (",
                            absl::StrJoin(seen, ", "),
                            "): no single object satisfies them, so this never matches; use OR "
                            "or separate observation expressions (section 9.5)"));
        }
        return common;
      }
    }
    return {};
  }

  void Comparisons(const ComparisonExpression& e) {
    ForEachComparison(e, [this](const Comparison& c) { OneComparison(c); });
  }

  void ObjectType(const ObjectPath& path) {
    const std::string& type = path.object_type;
    if (internal::FindScoType(type) != nullptr) return;
    if (internal::IsNonObservableType(type)) {
      Warn(path.offset, "object-type",
           absl::StrCat("'", type,
                        "' is not a cyber-observable object type: patterns match only "
                        "SCOs in observed-data, so this never matches (section 9.7)"));
    } else if (!internal::IsValidCustomTypeName(type)) {
      Warn(path.offset, "custom-object-type",
           absl::StrCat("'", type,
                        "' is not a STIX 2.1 object type, and as a custom type it "
                        "breaks the naming rules (3-250 characters a-z, 0-9, '-'; section 11.2)"));
    } else {
      Warn(path.offset, "custom-object-type",
           absl::StrCat("'", type, "' is not a STIX 2.1 cyber-observable type (custom type)"));
    }
  }

  // Walks `path` through the schema, warning where it leaves it.
  Cursor WalkPath(const ObjectPath& path) {
    ObjectType(path);
    Cursor cur;
    if (const ObjectSchema* sco = internal::FindScoType(path.object_type)) {
      cur.kind = Cursor::Kind::kObject;
      cur.object = sco;
      cur.sco_type = path.object_type;
    } else if (!path.steps.empty() && path.steps[0].kind == PathStep::Kind::kKey &&
               !internal::IsValidCustomPropertyName(path.steps[0].key)) {
      Warn(path.offset, "custom-property",
           absl::StrCat("'", path.steps[0].key,
                        "' breaks the naming rules for properties of "
                        "custom objects (3-250 characters a-z, 0-9, '_'; section 11.2)"));
    }
    for (size_t i = 0; i < path.steps.size(); ++i) {
      const PathStep& step = path.steps[i];
      if (step.kind == PathStep::Kind::kIndex && step.index < 0) {
        Warn(path.offset, "list-index",
             absl::StrCat("list index ", step.index,
                          " is negative and never resolves (section "
                          "9.7.2)"));
      }
      cur = Step(path, cur, step);
    }
    return cur;
  }

  Cursor Step(const ObjectPath& path, const Cursor& cur, const PathStep& step) {
    Cursor next;
    next.sco_type = cur.sco_type;
    const bool key = step.kind == PathStep::Kind::kKey;
    switch (cur.kind) {
      case Cursor::Kind::kUnknown:
        return next;
      case Cursor::Kind::kObject: {
        if (!key) {
          Warn(path.offset, "list-index", "an index step follows something that is not a list");
          return next;
        }
        const PropertySchema* p = cur.object->Find(step.key);
        if (p == nullptr) {
          if (internal::IsValidCustomPropertyName(step.key)) {
            Warn(path.offset, "custom-property",
                 absl::StrCat("'", step.key, "' is not a property of ", ToAbsl(cur.object->name),
                              " in STIX 2.1 (custom property)"));
          } else {
            Warn(path.offset, "custom-property",
                 absl::StrCat("'", step.key, "' is not a property of ", ToAbsl(cur.object->name),
                              " in STIX 2.1, and as a custom property it breaks the naming rules "
                              "(3-250 characters a-z, 0-9, '_'; section 11.1)"));
          }
          return next;
        }
        next.kind = Cursor::Kind::kProperty;
        next.property = p;
        return next;
      }
      case Cursor::Kind::kProperty:
        if (cur.property->list) {
          if (key) {
            Warn(path.offset, "list-index",
                 absl::StrCat("'", ToAbsl(cur.property->name),
                              "' is a list: step into it with [n] or [*] (section 9.7.2)"));
            return next;
          }
          next.kind = Cursor::Kind::kElement;
          next.property = cur.property;
          return next;
        }
        [[fallthrough]];
      case Cursor::Kind::kElement: {
        const PropertySchema* p = cur.property;
        if (!key) {
          Warn(path.offset, "list-index",
               absl::StrCat("'", ToAbsl(p->name),
                            "' is not a list: an index step never "
                            "resolves (section 9.7.2)"));
          return next;
        }
        switch (p->kind) {
          case ValueKind::kObject:
            next.kind = Cursor::Kind::kObject;
            next.object = p->object;
            return Step(path, next, step);
          case ValueKind::kExtensions: {
            if (const ObjectSchema* ext = internal::FindExtension(cur.sco_type, step.key)) {
              next.kind = Cursor::Kind::kObject;
              next.object = ext;
            } else if (internal::IsPredefinedExtension(step.key)) {
              Warn(path.offset, "extension",
                   absl::StrCat("'", step.key, "' is not an extension of ", ToAbsl(cur.sco_type)));
            }
            return next;
          }
          case ValueKind::kRef: {
            if (p->refs.empty()) return next;
            const PropertySchema* found = nullptr;
            std::string_view found_type;
            int hits = 0;
            for (std::string_view target : p->refs) {
              const ObjectSchema* schema = internal::FindScoType(target);
              if (const PropertySchema* q = schema ? schema->Find(step.key) : nullptr) {
                found = q;
                found_type = target;
                ++hits;
              }
            }
            if (hits == 0) {
              Warn(path.offset, "custom-property",
                   absl::StrCat("'", ToAbsl(p->name), "' refers to ", JoinOr(p->refs),
                                ", which has no property '", step.key, "'"));
            } else if (hits == 1) {
              next.kind = Cursor::Kind::kProperty;
              next.property = found;
              next.sco_type = found_type;
            }
            return next;
          }
          case ValueKind::kHashes:
          case ValueKind::kDictionary:
            return next;
          default:
            Warn(path.offset, "custom-property",
                 absl::StrCat("'", ToAbsl(p->name), "' is ", ToAbsl(KindName(p->kind)),
                              ": it has no property '", step.key, "'"));
            return next;
        }
      }
    }
    return next;
  }

  void OneComparison(const Comparison& c) {
    const Cursor cur = WalkPath(c.path);
    for (const pattern::Constant& k : c.constants) CheckConstant(k);
    if (c.op == ComparisonOperator::kIn && !internal::IsHomogeneous(c.constants)) {
      Error(c.offset, "set-type",
            "the constants of an IN set must all be of one data type (section 9.6.1)");
    }
    if (c.op == ComparisonOperator::kMatches && !c.constants.empty()) {
      std::string storage;
      auto re = internal::CompileRegex(internal::Nfc(c.constants[0].text, storage));
      if (!re.ok()) Error(c.constants[0].offset, "regex", std::string(re.status().message()));
    }
    HashValues(c);
    if (c.op == ComparisonOperator::kIsSubset || c.op == ComparisonOperator::kIsSuperset) {
      IpComparison(c, cur);
    } else {
      TypeAgreement(c, cur);
    }
  }

  void CheckConstant(const pattern::Constant& k) {
    if (k.kind == pattern::Constant::Kind::kTimestamp) {
      auto t = Timestamp::Parse(k.text);
      if (!t.ok()) Error(k.offset, "timestamp", TimestampMessage(k.text, t.status()));
    }
    if (k.kind == pattern::Constant::Kind::kInteger &&
        (k.integer > kMaxStixInteger || k.integer < -kMaxStixInteger)) {
      Warn(k.offset, "integer-range",
           "integer outside the range STIX implementations must support, -(2^53)+1 to "
           "(2^53)-1 (section 2.7)");
    }
  }

  // Hash values of a known algorithm must have its form: hashes.'SHA-256' = 'f00' is invalid.
  void HashValues(const Comparison& c) {
    const auto& steps = c.path.steps;
    if (steps.size() < 2) return;
    const PathStep& dict = steps[steps.size() - 2];
    const PathStep& algo = steps.back();
    if (dict.kind != PathStep::Kind::kKey || algo.kind != PathStep::Kind::kKey) return;
    if (dict.key != "hashes" && dict.key != "file_header_hashes") return;
    if (c.op != ComparisonOperator::kEqual && c.op != ComparisonOperator::kNotEqual &&
        c.op != ComparisonOperator::kIn) {
      return;
    }
    for (const pattern::Constant& k : c.constants) {
      if (k.kind != pattern::Constant::Kind::kString) continue;
      std::string_view name;
      if (!internal::IsValidHashValue(algo.key, k.text, &name)) {
        Error(k.offset, "hash-value",
              absl::StrCat("'", k.text, "' is not a valid ", ToAbsl(name), " hash"));
      }
    }
  }

  void IpComparison(const Comparison& c, const Cursor& cur) {
    const bool ip_type = c.path.object_type == "ipv4-addr" || c.path.object_type == "ipv6-addr";
    const bool value_path = c.path.steps.size() == 1 && c.path.steps[0].key == "value";
    const bool via_ref = cur.kind == Cursor::Kind::kProperty && cur.property->name == "value" &&
                         (cur.sco_type == "ipv4-addr" || cur.sco_type == "ipv6-addr");
    if (!(ip_type && value_path) && !via_ref && cur.kind != Cursor::Kind::kUnknown) {
      Warn(c.offset, "ip-operator",
           absl::StrCat(ToAbsl(OperatorName(c.op)),
                        " applies to the value of ipv4-addr and ipv6-addr objects (section "
                        "9.6.1)"));
    }
    for (const pattern::Constant& k : c.constants) {
      auto net = internal::ParseIpNetwork(k.text);
      if (!net) {
        Warn(k.offset, "ip-constant",
             absl::StrCat("'", k.text, "' is not an IPv4 or IPv6 address or CIDR block, so ",
                          ToAbsl(OperatorName(c.op)), " is never true"));
      } else if (ip_type && net->v6 != (c.path.object_type == "ipv6-addr")) {
        Warn(k.offset, "ip-constant",
             absl::StrCat("'", k.text, "' is not of the address family of ", c.path.object_type));
      }
    }
  }

  // Section 9.6.1: the constant MUST be of the property's data type (the table of section 9.2
  // says which constants compare with which types). A mismatch is valid but never true (and
  // always true for !=), which is worth a warning.
  void TypeAgreement(const Comparison& c, const Cursor& cur) {
    const PropertySchema* p = cur.property;
    if (p == nullptr || c.op == ComparisonOperator::kExists) return;
    const std::string where = Print(c.path);
    if (cur.kind == Cursor::Kind::kProperty && p->list) {
      Warn(c.offset, "list-index",
           absl::StrCat(where,
                        " is a list: compare its elements with [n] or [*] (section "
                        "9.7.2)"));
      return;
    }
    const ValueKind kind = p->kind;
    if (kind == ValueKind::kObject || kind == ValueKind::kHashes ||
        kind == ValueKind::kDictionary || kind == ValueKind::kExtensions) {
      Warn(c.offset, "type-mismatch",
           absl::StrCat(where, " is ", ToAbsl(KindName(kind)),
                        ": compare one of its members instead"));
      return;
    }
    if (c.op == ComparisonOperator::kLike || c.op == ComparisonOperator::kMatches) {
      if (kind != ValueKind::kString && kind != ValueKind::kBinary && kind != ValueKind::kHex &&
          kind != ValueKind::kRef && kind != ValueKind::kTimestamp) {
        Warn(c.offset, "type-mismatch",
             absl::StrCat(ToAbsl(OperatorName(c.op)), " compares strings, but ", where, " is ",
                          ToAbsl(KindName(kind)), "; this is never true"));
      }
      return;
    }
    for (const pattern::Constant& k : c.constants) {
      if (!Comparable(kind, k.kind)) {
        Warn(k.offset, "type-mismatch",
             absl::StrCat(where, " is ", ToAbsl(KindName(kind)), " but the constant is ",
                          ToAbsl(ConstantName(k.kind)),
                          " (section 9.2): only != is ever true for it"));
      }
    }
  }

  // The "STIX Comparable Data Type(s)" column of section 9.2.
  static bool Comparable(ValueKind property, pattern::Constant::Kind constant) {
    using CK = pattern::Constant::Kind;
    switch (property) {
      case ValueKind::kString:
      case ValueKind::kRef:
        return constant == CK::kString || constant == CK::kBinary || constant == CK::kHex;
      case ValueKind::kBinary:
      case ValueKind::kHex:
        return constant == CK::kString || constant == CK::kBinary || constant == CK::kHex;
      case ValueKind::kInteger:
      case ValueKind::kFloat:
        return constant == CK::kInteger || constant == CK::kFloat;
      case ValueKind::kBoolean:
        return constant == CK::kBoolean;
      case ValueKind::kTimestamp:
        return constant == CK::kTimestamp;
      default:
        return true;
    }
  }

  CheckOptions options_;
  std::vector<Finding> findings_;
};

}  // namespace

std::vector<Finding> Check(const Pattern& pattern, const CheckOptions& options) {
  return Checker(options).Run(pattern);
}

bool HasErrors(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

std::string CheckPatternText(std::string_view text) {
  auto parsed = Parse(text);
  if (!parsed.ok()) return std::string(parsed.status().message());
  for (const Finding& f : Check(*parsed, CheckOptions{.warnings = false})) {
    if (f.severity != Severity::kError) continue;
    return absl::StrCat("offset ", f.offset, ": ", f.message, " (", f.rule, ")");
  }
  return std::string();
}

}  // namespace liaison::pattern
