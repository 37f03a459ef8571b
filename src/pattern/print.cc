#include "pattern/print.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace liaison::pattern {
namespace {

// Words the grammar reserves: a property spelled like one must be quoted to parse back.
constexpr std::string_view kKeywords[] = {"AND",     "OR",         "NOT",      "FOLLOWEDBY", "LIKE",
                                          "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS",     "LAST",
                                          "IN",      "START",      "STOP",     "SECONDS",    "true",
                                          "false",   "WITHIN",     "REPEATS",  "TIMES"};

bool IsBareName(std::string_view key) {
  if (key.empty()) return false;
  const char first = key[0];
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_')) {
    return false;
  }
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  for (std::string_view k : kKeywords) {
    if (key == k) return false;
  }
  return true;
}

void AppendQuoted(std::string_view text, std::string& out) {
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
}

// Plain decimal (the grammar has no exponents), shortest digits that read back to the same
// double, and always a '.' so that the constant stays a float.
void AppendFloat(double value, std::string& out) {
  char buf[400];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  std::string_view digits(buf, ec == std::errc() ? ptr - buf : 0);
  out.append(digits);
  if (digits.find('.') == std::string_view::npos) out.append(".0");
}

void AppendSeconds(double seconds, std::string& out) {
  if (seconds == std::floor(seconds) && std::fabs(seconds) < 9e15) {
    absl::StrAppend(&out, static_cast<int64_t>(seconds));
  } else {
    AppendFloat(seconds, out);
  }
}

void AppendConstant(const Constant& k, std::string& out) {
  switch (k.kind) {
    case Constant::Kind::kInteger:
      absl::StrAppend(&out, k.integer);
      return;
    case Constant::Kind::kFloat:
      AppendFloat(k.floating, out);
      return;
    case Constant::Kind::kBoolean:
      out.append(k.boolean ? "true" : "false");
      return;
    case Constant::Kind::kString:
      AppendQuoted(k.text, out);
      return;
    case Constant::Kind::kBinary:
      absl::StrAppend(&out, "b'", k.text, "'");
      return;
    case Constant::Kind::kHex:
      absl::StrAppend(&out, "h'", k.text, "'");
      return;
    case Constant::Kind::kTimestamp:
      absl::StrAppend(&out, "t'", k.text, "'");
      return;
  }
}

void AppendPath(const ObjectPath& path, std::string& out) {
  out.append(path.object_type);
  out.push_back(':');
  for (size_t i = 0; i < path.steps.size(); ++i) {
    const PathStep& step = path.steps[i];
    switch (step.kind) {
      case PathStep::Kind::kKey:
        if (i > 0) out.push_back('.');
        if (IsBareName(step.key)) {
          out.append(step.key);
        } else {
          AppendQuoted(step.key, out);
        }
        break;
      case PathStep::Kind::kIndex:
        absl::StrAppend(&out, "[", step.index, "]");
        break;
      case PathStep::Kind::kAnyIndex:
        out.append("[*]");
        break;
    }
  }
}

void AppendComparison(const Comparison& c, std::string& out) {
  if (c.op == ComparisonOperator::kExists) {
    out.append(c.negated ? "NOT EXISTS " : "EXISTS ");
    AppendPath(c.path, out);
    return;
  }
  AppendPath(c.path, out);
  out.append(c.negated ? " NOT " : " ");
  const std::string_view op = OperatorName(c.op);
  out.append(op.data(), op.size());
  out.push_back(' ');
  if (c.op == ComparisonOperator::kIn) {
    out.push_back('(');
    for (size_t i = 0; i < c.constants.size(); ++i) {
      if (i > 0) out.append(", ");
      AppendConstant(c.constants[i], out);
    }
    out.push_back(')');
  } else if (!c.constants.empty()) {
    AppendConstant(c.constants[0], out);
  }
}

void AppendComparisonExpression(const ComparisonExpression& e, std::string& out) {
  switch (e.kind) {
    case ComparisonExpression::Kind::kComparison:
      AppendComparison(e.comparison, out);
      return;
    case ComparisonExpression::Kind::kGroup:
      out.push_back('(');
      AppendComparisonExpression(e.operands[0], out);
      out.push_back(')');
      return;
    case ComparisonExpression::Kind::kAnd:
    case ComparisonExpression::Kind::kOr: {
      const char* sep = e.kind == ComparisonExpression::Kind::kAnd ? " AND " : " OR ";
      for (size_t i = 0; i < e.operands.size(); ++i) {
        if (i > 0) out.append(sep);
        AppendComparisonExpression(e.operands[i], out);
      }
      return;
    }
  }
}

void AppendQualifier(const Qualifier& q, std::string& out) {
  switch (q.kind) {
    case Qualifier::Kind::kWithin:
      out.append("WITHIN ");
      AppendSeconds(q.seconds, out);
      out.append(" SECONDS");
      return;
    case Qualifier::Kind::kRepeats:
      absl::StrAppend(&out, "REPEATS ", q.times, " TIMES");
      return;
    case Qualifier::Kind::kStartStop:
      absl::StrAppend(&out, "START t'", q.start, "' STOP t'", q.stop, "'");
      return;
  }
}

void AppendObservation(const ObservationExpression& e, std::string& out) {
  switch (e.kind) {
    case ObservationExpression::Kind::kObservation:
      out.push_back('[');
      AppendComparisonExpression(e.comparison, out);
      out.push_back(']');
      break;
    case ObservationExpression::Kind::kGroup:
      out.push_back('(');
      AppendObservation(e.operands[0], out);
      out.push_back(')');
      break;
    case ObservationExpression::Kind::kAnd:
    case ObservationExpression::Kind::kOr:
    case ObservationExpression::Kind::kFollowedBy: {
      const char* sep = e.kind == ObservationExpression::Kind::kAnd  ? " AND "
                        : e.kind == ObservationExpression::Kind::kOr ? " OR "
                                                                     : " FOLLOWEDBY ";
      for (size_t i = 0; i < e.operands.size(); ++i) {
        if (i > 0) out.append(sep);
        AppendObservation(e.operands[i], out);
      }
      break;
    }
  }
  // Qualifiers follow a bracket or a parenthesis; the parser puts none on chains.
  for (const Qualifier& q : e.qualifiers) {
    out.push_back(' ');
    AppendQualifier(q, out);
  }
}

}  // namespace

std::string Print(const Pattern& pattern) { return Print(pattern.root); }

std::string Print(const ObservationExpression& expression) {
  std::string out;
  AppendObservation(expression, out);
  return out;
}

std::string Print(const ComparisonExpression& expression) {
  std::string out;
  AppendComparisonExpression(expression, out);
  return out;
}

std::string Print(const Comparison& comparison) {
  std::string out;
  AppendComparison(comparison, out);
  return out;
}

std::string Print(const ObjectPath& path) {
  std::string out;
  AppendPath(path, out);
  return out;
}

std::string Print(const Constant& constant) {
  std::string out;
  AppendConstant(constant, out);
  return out;
}

std::string Print(const Qualifier& qualifier) {
  std::string out;
  AppendQualifier(qualifier, out);
  return out;
}

}  // namespace liaison::pattern
