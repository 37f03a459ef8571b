#include "pattern/parse.h"

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <tao/pegtl.hpp>
#include <tao/pegtl/contrib/parse_tree.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"
#include "pattern/internal/grammar.h"
#include "pattern/internal/text.h"

namespace liaison::pattern {
namespace {

namespace pegtl = tao::pegtl;
namespace g = internal::grammar;
using Node = pegtl::parse_tree::node;

Status SyntaxError(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("offset ", offset, ": ", ToAbsl(what)));
}

// How deep '[' and '(' nest outside string constants and comments. Scanning first keeps the
// recursive-descent parser and every recursive walk of the tree within a known stack depth,
// whatever the input. Strings and comments are skipped by the same rules the grammar uses, so
// the count is exactly the nesting the parser will see.
Status CheckNesting(std::string_view text, size_t max_nesting) {
  size_t depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'') {
      for (++i; i < text.size() && text[i] != '\''; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return absl::OkStatus();  // the parser reports it
      i = end + 1;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n' && text[i] != '\r') ++i;
    } else if (c == '[' || c == '(') {
      if (++depth > max_nesting) {
        return SyntaxError(i, absl::StrCat("nesting deeper than ", max_nesting, " levels"));
      }
    } else if ((c == ']' || c == ')') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

size_t Offset(const Node& n) { return n.begin().byte; }

// The tree built by the grammar's selector has a fixed shape; these walk it into the AST.
class Builder {
 public:
  Result<ObservationExpression> ObservationExpressions(const Node& n) {
    // observation_expressions: observation_or (FOLLOWEDBY observation_or)*; likewise for OR
    // and AND below. A chain of one operator becomes one n-ary node.
    return Chain(n, ObservationExpression::Kind::kFollowedBy, [this](const Node& c) {
      return Chain(c, ObservationExpression::Kind::kOr, [this](const Node& d) {
        return Chain(d, ObservationExpression::Kind::kAnd,
                     [this](const Node& e) { return QualifiedObservation(e); });
      });
    });
  }

 private:
  template <typename Fn>
  Result<ObservationExpression> Chain(const Node& n, ObservationExpression::Kind kind, Fn&& fn) {
    if (n.children.size() == 1) return fn(*n.children[0]);
    ObservationExpression out;
    out.kind = kind;
    out.offset = Offset(n);
    for (const auto& child : n.children) {
      LIAISON_ASSIGN_OR_RETURN(ObservationExpression operand, fn(*child));
      out.operands.push_back(std::move(operand));
    }
    return out;
  }

  Result<ObservationExpression> QualifiedObservation(const Node& n) {
    const Node& primary = *n.children[0];
    ObservationExpression out;
    if (primary.is_type<g::observation_expression_simple>()) {
      out.kind = ObservationExpression::Kind::kObservation;
      LIAISON_ASSIGN_OR_RETURN(out.comparison, ComparisonOr(*primary.children[0]));
    } else {
      out.kind = ObservationExpression::Kind::kGroup;
      LIAISON_ASSIGN_OR_RETURN(ObservationExpression inner,
                               ObservationExpressions(*primary.children[0]));
      out.operands.push_back(std::move(inner));
    }
    out.offset = Offset(primary);
    for (size_t i = 1; i < n.children.size(); ++i) {
      LIAISON_ASSIGN_OR_RETURN(Qualifier q, MakeQualifier(*n.children[i]));
      out.qualifiers.push_back(std::move(q));
    }
    return out;
  }

  Result<Qualifier> MakeQualifier(const Node& n) {
    Qualifier q;
    q.offset = Offset(n);
    if (n.is_type<g::within_qualifier>()) {
      q.kind = Qualifier::Kind::kWithin;
      const Node& number = *n.children[0];
      LIAISON_ASSIGN_OR_RETURN(q.seconds, ParseDouble(number.string_view(), Offset(number)));
    } else if (n.is_type<g::repeated_qualifier>()) {
      q.kind = Qualifier::Kind::kRepeats;
      const Node& count = *n.children[0];
      LIAISON_ASSIGN_OR_RETURN(q.times, ParseInteger(count.string_view(), Offset(count)));
    } else {
      q.kind = Qualifier::Kind::kStartStop;
      q.start = TimestampText(*n.children[0]);
      q.stop = TimestampText(*n.children[1]);
    }
    return q;
  }

  Result<ComparisonExpression> ComparisonOr(const Node& n) {
    return ComparisonChain(n, ComparisonExpression::Kind::kOr, [this](const Node& c) {
      return ComparisonChain(c, ComparisonExpression::Kind::kAnd,
                             [this](const Node& d) { return PropTest(d); });
    });
  }

  template <typename Fn>
  Result<ComparisonExpression> ComparisonChain(const Node& n, ComparisonExpression::Kind kind,
                                               Fn&& fn) {
    if (n.children.size() == 1) return fn(*n.children[0]);
    ComparisonExpression out;
    out.kind = kind;
    out.offset = Offset(n);
    for (const auto& child : n.children) {
      LIAISON_ASSIGN_OR_RETURN(ComparisonExpression operand, fn(*child));
      out.operands.push_back(std::move(operand));
    }
    return out;
  }

  Result<ComparisonExpression> PropTest(const Node& n) {
    ComparisonExpression out;
    out.offset = Offset(n);
    if (n.is_type<g::prop_test_paren>()) {
      out.kind = ComparisonExpression::Kind::kGroup;
      LIAISON_ASSIGN_OR_RETURN(ComparisonExpression inner, ComparisonOr(*n.children[0]));
      out.operands.push_back(std::move(inner));
      return out;
    }
    out.kind = ComparisonExpression::Kind::kComparison;
    Comparison& c = out.comparison;
    c.offset = Offset(n);
    size_t i = 0;
    if (n.is_type<g::prop_test_exists>()) {
      c.op = ComparisonOperator::kExists;
      if (n.children[i]->is_type<g::not_modifier>()) {
        c.negated = true;
        ++i;
      }
      LIAISON_ASSIGN_OR_RETURN(c.path, MakePath(*n.children[i]));
      return out;
    }
    // prop_test_compare: object_path [not_modifier] operator constant(s)
    LIAISON_ASSIGN_OR_RETURN(c.path, MakePath(*n.children[i++]));
    if (n.children[i]->is_type<g::not_modifier>()) {
      c.negated = true;
      ++i;
    }
    const Node& op = *n.children[i++];
    if (op.is_type<g::op_eq>())
      c.op = ComparisonOperator::kEqual;
    else if (op.is_type<g::op_neq>())
      c.op = ComparisonOperator::kNotEqual;
    else if (op.is_type<g::op_lt>())
      c.op = ComparisonOperator::kLess;
    else if (op.is_type<g::op_le>())
      c.op = ComparisonOperator::kLessOrEqual;
    else if (op.is_type<g::op_gt>())
      c.op = ComparisonOperator::kGreater;
    else if (op.is_type<g::op_ge>())
      c.op = ComparisonOperator::kGreaterOrEqual;
    else if (op.is_type<g::op_in>())
      c.op = ComparisonOperator::kIn;
    else if (op.is_type<g::op_like>())
      c.op = ComparisonOperator::kLike;
    else if (op.is_type<g::op_matches>())
      c.op = ComparisonOperator::kMatches;
    else if (op.is_type<g::op_issubset>())
      c.op = ComparisonOperator::kIsSubset;
    else
      c.op = ComparisonOperator::kIsSuperset;
    const Node& operand = *n.children[i];
    if (operand.is_type<g::set_literal>()) {
      for (const auto& element : operand.children) {
        LIAISON_ASSIGN_OR_RETURN(Constant k, MakeConstant(*element));
        c.constants.push_back(std::move(k));
      }
    } else {
      LIAISON_ASSIGN_OR_RETURN(Constant k, MakeConstant(operand));
      c.constants.push_back(std::move(k));
    }
    return out;
  }

  Result<ObjectPath> MakePath(const Node& n) {
    ObjectPath path;
    path.offset = Offset(n);
    path.object_type = std::string(n.children[0]->string_view());
    for (size_t i = 1; i < n.children.size(); ++i) {
      const Node& step = *n.children[i];
      PathStep s;
      if (step.is_type<g::index_value>()) {
        if (step.string_view() == "*") {
          s.kind = PathStep::Kind::kAnyIndex;
        } else {
          s.kind = PathStep::Kind::kIndex;
          LIAISON_ASSIGN_OR_RETURN(s.index, ParseInteger(step.string_view(), Offset(step)));
        }
      } else if (step.is_type<g::string_literal>()) {
        s.key = Unescape(step.string_view());
      } else {
        s.key = std::string(step.string_view());
      }
      path.steps.push_back(std::move(s));
    }
    return path;
  }

  Result<Constant> MakeConstant(const Node& n) {
    Constant k;
    k.offset = Offset(n);
    const std::string_view text = n.string_view();
    if (n.is_type<g::int_literal>()) {
      k.kind = Constant::Kind::kInteger;
      LIAISON_ASSIGN_OR_RETURN(k.integer, ParseInteger(text, k.offset));
    } else if (n.is_type<g::float_literal>()) {
      k.kind = Constant::Kind::kFloat;
      LIAISON_ASSIGN_OR_RETURN(k.floating, ParseDouble(text, k.offset));
    } else if (n.is_type<g::string_literal>()) {
      k.kind = Constant::Kind::kString;
      k.text = Unescape(text);
    } else if (n.is_type<g::bool_literal>()) {
      k.kind = Constant::Kind::kBoolean;
      k.boolean = text == "true";
    } else if (n.is_type<g::hex_literal>()) {
      k.kind = Constant::Kind::kHex;
      k.text = std::string(text.substr(2, text.size() - 3));
    } else if (n.is_type<g::binary_literal>()) {
      k.kind = Constant::Kind::kBinary;
      // Section 9.2: line feeds in base64 MUST be supported and ignored.
      for (char c : text.substr(2, text.size() - 3)) {
        if (c != '\n' && c != '\r') k.text.push_back(c);
      }
      if (k.text.size() < 4 || k.text.size() % 4 != 0) {
        return SyntaxError(k.offset, "invalid base64 in the binary constant");
      }
    } else {
      k.kind = Constant::Kind::kTimestamp;
      k.text = TimestampText(n);
    }
    return k;
  }

  static std::string TimestampText(const Node& n) {
    const std::string_view text = n.string_view();  // t'...'
    return std::string(text.substr(2, text.size() - 3));
  }

  static std::string Unescape(std::string_view quoted) {
    std::string out;
    out.reserve(quoted.size());
    for (size_t i = 1; i + 1 < quoted.size(); ++i) {
      if (quoted[i] == '\\') ++i;  // the grammar allows only \' and \\ here
      out.push_back(quoted[i]);
    }
    return out;
  }

  static Result<int64_t> ParseInteger(std::string_view text, size_t offset) {
    bool negative = false;
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
      negative = text[0] == '-';
      text.remove_prefix(1);
    }
    unsigned __int128 magnitude = 0;
    for (char c : text) {
      magnitude = magnitude * 10 + static_cast<unsigned>(c - '0');
      if (magnitude > (static_cast<unsigned __int128>(1) << 63)) {
        return SyntaxError(offset, "integer out of the range of 64-bit integers");
      }
    }
    if (!negative && magnitude == (static_cast<unsigned __int128>(1) << 63)) {
      return SyntaxError(offset, "integer out of the range of 64-bit integers");
    }
    return negative ? static_cast<int64_t>(-static_cast<__int128>(magnitude))
                    : static_cast<int64_t>(magnitude);
  }

  static Result<double> ParseDouble(std::string_view text, size_t offset) {
    if (!text.empty() && text[0] == '+') text.remove_prefix(1);
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
      return SyntaxError(offset, "number out of the range of 64-bit floating point");
    }
    return value;
  }
};

// --- The fast path (ParseOptions::fast_path) ---------------------------------------------------
//
// Recognises `[object_type:name(.name)* op 'string']` where op is =, ==, != or <>, a name is a
// path_name or a quoted string, the text is printable ASCII and the only whitespace is ' '.
// Each step follows the grammar's rule for it (grammar.h); wherever the text leaves this subset
// (another operator, a qualifier, AND, a comment, a tab, an escape the grammar refuses) the
// result is nullopt and the grammar decides, so refusals and their messages are the grammar's.

bool IdentFirst(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IdentOther(char c) { return IdentFirst(c) || (c >= '0' && c <= '9'); }

// A whole token equal to a reserved word: not_at<any_keyword> refuses it as a type or name.
bool IsKeyword(std::string_view token) {
  static constexpr std::string_view kWords[] = {
      "AND",      "OR",     "NOT",    "FOLLOWEDBY", "LIKE",  "MATCHES", "ISSUPERSET",
      "ISSUBSET", "EXISTS", "LAST",   "IN",         "START", "STOP",    "SECONDS",
      "true",     "false",  "WITHIN", "REPEATS",    "TIMES"};
  for (std::string_view w : kWords) {
    if (token == w) return true;
  }
  return false;
}

class SimpleParser {
 public:
  explicit SimpleParser(std::string_view text) : t_(text) {}

  std::optional<Pattern> Run() {
    for (char c : t_) {
      if (c < 0x20 || c > 0x7e) return std::nullopt;  // UTF-8, tabs, line breaks: the grammar
    }
    Spaces();
    if (!Eat('[')) return std::nullopt;
    ObservationExpression observation;
    observation.kind = ObservationExpression::Kind::kObservation;
    observation.offset = i_ - 1;
    Spaces();
    ComparisonExpression& expression = observation.comparison;
    expression.kind = ComparisonExpression::Kind::kComparison;
    expression.offset = i_;
    Comparison& c = expression.comparison;
    c.offset = i_;
    c.path.offset = i_;
    // object_type: ident_first (ident_other | '-')*, not a reserved word.
    if (!IdentFirst(Peek())) return std::nullopt;
    const size_t type_at = i_;
    while (IdentOther(Peek()) || Peek() == '-') ++i_;
    c.path.object_type = std::string(t_.substr(type_at, i_ - type_at));
    if (IsKeyword(c.path.object_type)) return std::nullopt;
    Spaces();
    if (!Eat(':')) return std::nullopt;
    Spaces();
    if (!PathComponent(c.path)) return std::nullopt;
    // star<ws, key_path_step>: spaces belong to a step only when a '.' follows them.
    for (;;) {
      const size_t before = i_;
      Spaces();
      if (!Eat('.')) {
        i_ = before;
        break;
      }
      Spaces();
      if (!PathComponent(c.path)) return std::nullopt;
    }
    Spaces();
    if (Eat('=')) {
      Eat('=');  // "==" is op_eq too
      c.op = ComparisonOperator::kEqual;
    } else if (Peek() == '!' && Peek(1) == '=') {
      i_ += 2;
      c.op = ComparisonOperator::kNotEqual;
    } else if (Peek() == '<' && Peek(1) == '>') {
      i_ += 2;
      c.op = ComparisonOperator::kNotEqual;
    } else {
      return std::nullopt;
    }
    Spaces();
    Constant k;
    k.kind = Constant::Kind::kString;
    k.offset = i_;
    if (!StringLiteral(k.text)) return std::nullopt;
    c.constants.push_back(std::move(k));
    Spaces();
    if (!Eat(']')) return std::nullopt;
    Spaces();
    if (i_ != t_.size()) return std::nullopt;
    return Pattern{std::move(observation)};
  }

 private:
  char Peek(size_t ahead = 0) const { return i_ + ahead < t_.size() ? t_[i_ + ahead] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  void Spaces() {
    while (Peek() == ' ') ++i_;
  }

  // path_component: path_name (ident_first ident_other*, not followed by '-', not a reserved
  // word) or a string literal.
  bool PathComponent(ObjectPath& path) {
    PathStep step;
    step.kind = PathStep::Kind::kKey;
    if (Peek() == '\'') {
      if (!StringLiteral(step.key)) return false;
    } else {
      if (!IdentFirst(Peek())) return false;
      const size_t at = i_;
      while (IdentOther(Peek())) ++i_;
      if (Peek() == '-') return false;
      step.key = std::string(t_.substr(at, i_ - at));
      if (IsKeyword(step.key)) return false;
    }
    path.steps.push_back(std::move(step));
    return true;
  }

  // string_literal: ' (\' | \\ | any byte but ' and \)* ', unescaped into `out`.
  bool StringLiteral(std::string& out) {
    if (!Eat('\'')) return false;
    for (;;) {
      const char c = Peek();
      if (i_ >= t_.size()) return false;  // unterminated: the grammar's message
      ++i_;
      if (c == '\'') return true;
      if (c == '\\') {
        const char e = Peek();
        if (e != '\'' && e != '\\') return false;  // an escape the grammar refuses
        ++i_;
        out.push_back(e);
      } else {
        out.push_back(c);
      }
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

Result<Pattern> Parse(std::string_view text, const ParseOptions& options) {
  if (options.fast_path && text.size() <= options.max_length && options.max_nesting >= 1) {
    if (std::optional<Pattern> simple = SimpleParser(text).Run()) return *std::move(simple);
  }
  if (text.size() > options.max_length) {
    return SyntaxError(options.max_length,
                       absl::StrCat("pattern longer than ", options.max_length, " bytes"));
  }
  // Section 9.4: patterns are Unicode strings; reject bytes that are not UTF-8 up front so
  // every later stage (printing, NFC, regular expressions) sees valid text.
  if (size_t bad = internal::InvalidUtf8Offset(text); bad != std::string_view::npos) {
    return SyntaxError(bad, "the pattern is not valid UTF-8");
  }
  LIAISON_RETURN_IF_ERROR(CheckNesting(text, options.max_nesting));

  pegtl::memory_input in(text.data(), text.size(), "pattern");
  std::unique_ptr<Node> root;
  try {
    root = pegtl::parse_tree::parse<g::pattern, g::selector, pegtl::nothing, g::control>(in);
  } catch (const pegtl::parse_error& e) {  // must<> throws at points of no return; stop it here
    const size_t offset = e.positions().empty() ? 0 : e.positions().front().byte;
    return SyntaxError(offset, e.message());
  }
  if (root == nullptr || root->children.size() != 1) {
    return SyntaxError(0, "expected an observation expression: '[' or '('");
  }
  Builder builder;
  LIAISON_ASSIGN_OR_RETURN(ObservationExpression expression,
                           builder.ObservationExpressions(*root->children[0]));
  return Pattern{std::move(expression)};
}

size_t SyntaxErrorOffset(const Status& status) {
  std::string_view message = ToStd(status.message());
  if (message.substr(0, 7) != "offset ") return 0;
  size_t offset = 0;
  std::from_chars(message.data() + 7, message.data() + message.size(), offset);
  return offset;
}

}  // namespace liaison::pattern
