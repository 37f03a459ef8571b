#pragma once

// The abstract syntax tree of a STIX pattern (STIX 2.1 section 9, "STIX Patterning").
//
// The tree keeps what the text says and nothing more: parentheses stay as kGroup nodes (they
// change what a qualifier applies to, section 9.5), chains of one operator are n-ary nodes (so a
// pattern of 10,000 ORs is one node with 10,000 operands, not a tree 10,000 deep), and
// qualifiers are a list on the expression they follow, innermost first.
//
// Equality compares meaning, not spelling: byte offsets, `==` versus `=`, `+5` versus `5`,
// quoted versus bare property names and `WITHIN 5 SECONDS` versus `WITHIN 5.0 SECONDS` are all
// equal. Print (print.h) and Parse (parse.h) round-trip: Parse(Print(p)) == p.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::pattern {

// A constant (section 9.2).
struct Constant {
  enum class Kind { kInteger, kFloat, kString, kBoolean, kBinary, kHex, kTimestamp };

  Kind kind = Kind::kString;
  int64_t integer = 0;   // kInteger
  double floating = 0;   // kFloat (always finite)
  bool boolean = false;  // kBoolean
  // kString: the value with escapes resolved (UTF-8). kBinary: the base64 text, line feeds
  // removed. kHex: the hex digits. kTimestamp: the text between the quotes.
  std::string text;
  size_t offset = 0;  // byte offset of the constant in the pattern text

  friend bool operator==(const Constant& a, const Constant& b);
};

// One step of an object path after the object type (section 9.7).
struct PathStep {
  enum class Kind { kKey, kIndex, kAnyIndex };  // .name or 'name', [n], [*]

  Kind kind = Kind::kKey;
  std::string key;    // kKey
  int64_t index = 0;  // kIndex; the grammar allows negative indices (they never resolve)

  friend bool operator==(const PathStep& a, const PathStep& b);
};

// <object-type>:<property_name>... ; steps[0] is always the first property name (a kKey).
struct ObjectPath {
  std::string object_type;
  std::vector<PathStep> steps;
  size_t offset = 0;

  friend bool operator==(const ObjectPath& a, const ObjectPath& b);
};

enum class ComparisonOperator {
  kEqual,           // =  (also spelled ==)
  kNotEqual,        // != (also spelled <>)
  kLess,            // <
  kLessOrEqual,     // <=
  kGreater,         // >
  kGreaterOrEqual,  // >=
  kIn,              // IN (set)
  kLike,            // LIKE
  kMatches,         // MATCHES
  kIsSubset,        // ISSUBSET
  kIsSuperset,      // ISSUPERSET
  kExists,          // EXISTS path
};

// The operator's keyword or symbol as Print writes it ("=", "IN", "EXISTS", ...).
std::string_view OperatorName(ComparisonOperator op);

// `path [NOT] op constant`, `path [NOT] IN (constants)` or `[NOT] EXISTS path`.
struct Comparison {
  ObjectPath path;
  ComparisonOperator op = ComparisonOperator::kEqual;
  bool negated = false;             // the NOT modifier (section 9.6.1)
  std::vector<Constant> constants;  // one; the set for kIn (maybe empty); none for kExists
  size_t offset = 0;

  friend bool operator==(const Comparison& a, const Comparison& b);
};

// What goes between [ and ]: comparisons joined by AND / OR, with parentheses.
struct ComparisonExpression {
  enum class Kind { kComparison, kAnd, kOr, kGroup };

  Kind kind = Kind::kComparison;
  Comparison comparison;                       // kComparison
  std::vector<ComparisonExpression> operands;  // kAnd, kOr: two or more; kGroup: one
  size_t offset = 0;

  friend bool operator==(const ComparisonExpression& a, const ComparisonExpression& b);
};

// WITHIN x SECONDS, REPEATS x TIMES, START t STOP t (section 9.5.1).
struct Qualifier {
  enum class Kind { kWithin, kRepeats, kStartStop };

  Kind kind = Kind::kWithin;
  double seconds = 0;  // kWithin: as written (the grammar allows 0; the spec wants > 0)
  int64_t times = 0;   // kRepeats: as written (the grammar allows 0; the spec wants > 0)
  std::string start;   // kStartStop: the timestamp texts between the quotes
  std::string stop;
  size_t offset = 0;

  friend bool operator==(const Qualifier& a, const Qualifier& b);
};

std::string_view QualifierName(Qualifier::Kind kind);  // "WITHIN", "REPEATS", "START/STOP"

// An observation expression: [ ... ], or several joined by AND / OR / FOLLOWEDBY, or one in
// parentheses; each may carry qualifiers.
struct ObservationExpression {
  enum class Kind { kObservation, kAnd, kOr, kFollowedBy, kGroup };

  Kind kind = Kind::kObservation;
  ComparisonExpression comparison;              // kObservation
  std::vector<ObservationExpression> operands;  // kAnd, kOr, kFollowedBy: two or more; kGroup: one
  std::vector<Qualifier> qualifiers;            // innermost first
  size_t offset = 0;

  friend bool operator==(const ObservationExpression& a, const ObservationExpression& b);
};

struct Pattern {
  ObservationExpression root;

  friend bool operator==(const Pattern& a, const Pattern& b) { return a.root == b.root; }
};

// The [ ... ] observation expressions of `pattern` in the order they appear in its text. Their
// positions in this list are the observation numbers that evaluation results refer to.
std::vector<const ObservationExpression*> Observations(const Pattern& pattern);

// Calls `fn` on every comparison of `expression`, left to right.
template <typename Fn>
void ForEachComparison(const ComparisonExpression& expression, Fn&& fn) {
  if (expression.kind == ComparisonExpression::Kind::kComparison) {
    fn(expression.comparison);
    return;
  }
  for (const ComparisonExpression& operand : expression.operands) ForEachComparison(operand, fn);
}

}  // namespace liaison::pattern
