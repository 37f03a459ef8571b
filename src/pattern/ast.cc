#include "pattern/ast.h"

namespace liaison::pattern {

// Offsets are where a node was written, not what it means: equality leaves them out.

bool operator==(const Constant& a, const Constant& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Constant::Kind::kInteger:
      return a.integer == b.integer;
    case Constant::Kind::kFloat:
      return a.floating == b.floating;
    case Constant::Kind::kBoolean:
      return a.boolean == b.boolean;
    case Constant::Kind::kString:
    case Constant::Kind::kBinary:
    case Constant::Kind::kHex:
    case Constant::Kind::kTimestamp:
      return a.text == b.text;
  }
  return false;
}

bool operator==(const PathStep& a, const PathStep& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case PathStep::Kind::kKey:
      return a.key == b.key;
    case PathStep::Kind::kIndex:
      return a.index == b.index;
    case PathStep::Kind::kAnyIndex:
      return true;
  }
  return false;
}

bool operator==(const ObjectPath& a, const ObjectPath& b) {
  return a.object_type == b.object_type && a.steps == b.steps;
}

bool operator==(const Comparison& a, const Comparison& b) {
  return a.op == b.op && a.negated == b.negated && a.path == b.path && a.constants == b.constants;
}

bool operator==(const ComparisonExpression& a, const ComparisonExpression& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == ComparisonExpression::Kind::kComparison) return a.comparison == b.comparison;
  return a.operands == b.operands;
}

bool operator==(const Qualifier& a, const Qualifier& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Qualifier::Kind::kWithin:
      return a.seconds == b.seconds;
    case Qualifier::Kind::kRepeats:
      return a.times == b.times;
    case Qualifier::Kind::kStartStop:
      return a.start == b.start && a.stop == b.stop;
  }
  return false;
}

bool operator==(const ObservationExpression& a, const ObservationExpression& b) {
  if (a.kind != b.kind || a.qualifiers != b.qualifiers) return false;
  if (a.kind == ObservationExpression::Kind::kObservation) return a.comparison == b.comparison;
  return a.operands == b.operands;
}

std::string_view OperatorName(ComparisonOperator op) {
  switch (op) {
    case ComparisonOperator::kEqual:
      return "=";
    case ComparisonOperator::kNotEqual:
      return "!=";
    case ComparisonOperator::kLess:
      return "<";
    case ComparisonOperator::kLessOrEqual:
      return "<=";
    case ComparisonOperator::kGreater:
      return ">";
    case ComparisonOperator::kGreaterOrEqual:
      return ">=";
    case ComparisonOperator::kIn:
      return "IN";
    case ComparisonOperator::kLike:
      return "LIKE";
    case ComparisonOperator::kMatches:
      return "MATCHES";
    case ComparisonOperator::kIsSubset:
      return "ISSUBSET";
    case ComparisonOperator::kIsSuperset:
      return "ISSUPERSET";
    case ComparisonOperator::kExists:
      return "EXISTS";
  }
  return "?";
}

std::string_view QualifierName(Qualifier::Kind kind) {
  switch (kind) {
    case Qualifier::Kind::kWithin:
      return "WITHIN";
    case Qualifier::Kind::kRepeats:
      return "REPEATS";
    case Qualifier::Kind::kStartStop:
      return "START/STOP";
  }
  return "?";
}

namespace {

void CollectObservations(const ObservationExpression& e,
                         std::vector<const ObservationExpression*>& out) {
  if (e.kind == ObservationExpression::Kind::kObservation) {
    out.push_back(&e);
    return;
  }
  for (const ObservationExpression& operand : e.operands) CollectObservations(operand, out);
}

}  // namespace

std::vector<const ObservationExpression*> Observations(const Pattern& pattern) {
  std::vector<const ObservationExpression*> out;
  CollectObservations(pattern.root, out);
  return out;
}

}  // namespace liaison::pattern
