#include "pattern/internal/regex.h"

#include <re2/re2.h>

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/absl_compat.h"

namespace liaison::pattern::internal {
namespace {

// PCRE's vertical and horizontal white space (\v, \h) and its \s, which unlike RE2's includes
// the vertical tab.
constexpr std::string_view kVerticalSpace = "\\n\\x0B\\f\\r\\x{85}\\x{2028}\\x{2029}";
constexpr std::string_view kHorizontalSpace =
    "\\t \\x{A0}\\x{1680}\\x{180E}\\x{2000}-\\x{200A}\\x{202F}\\x{205F}\\x{3000}";
constexpr std::string_view kPcreSpace = "\\t\\n\\x0B\\f\\r ";

Status Unsupported(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("regular expression offset ", offset, ": ", ToAbsl(what),
                   " (MATCHES runs on RE2, which matches in linear time and cannot run it)"));
}

Status Invalid(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("regular expression offset ", offset, ": ", ToAbsl(what)));
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

void AppendCodePoint(uint32_t cp, std::string& out) { absl::StrAppendFormat(&out, "\\x{%X}", cp); }

class Translator {
 public:
  explicit Translator(std::string_view in) : in_(in) {}

  Result<std::string> Run() {
    while (pos_ < in_.size()) {
      Status s = in_class_ ? ClassChar() : OuterChar();
      if (!s.ok()) return s;
    }
    if (in_class_) return Invalid(in_.size(), "missing ] to close a character class");
    return std::move(out_);
  }

 private:
  char Peek(size_t ahead = 0) const { return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : '\0'; }
  bool StartsWith(std::string_view s) const { return in_.substr(pos_, s.size()) == s; }

  Status OuterChar() {
    const char c = in_[pos_];
    switch (c) {
      case '\\':
        return Escape(/*in_class=*/false);
      case '[':
        return OpenClass();
      case '(':
        return OpenGroup();
      case '$':
        // PCRE's $ (without multiline) also matches before a newline that ends the subject;
        // RE2's matches only at the very end.
        ++pos_;
        out_.append(multiline_ ? "$" : "(?:\\n?\\z)");
        return absl::OkStatus();
      case '*':
      case '+':
      case '?':
        out_.push_back(c);
        ++pos_;
        return AfterQuantifier();
      case '{':
        return Brace();
      default:
        out_.push_back(c);
        ++pos_;
        return absl::OkStatus();
    }
  }

  // After a quantifier: a lazy '?' is fine, a possessive '+' changes what matches.
  Status AfterQuantifier() {
    if (Peek() == '+') return Unsupported(pos_, "possessive quantifiers are not supported");
    if (Peek() == '?') {
      out_.push_back('?');
      ++pos_;
    }
    return absl::OkStatus();
  }

  Status Brace() {
    // {n}, {n,}, {n,m} are quantifiers; any other '{' is a literal in PCRE.
    size_t i = pos_ + 1;
    size_t digits = 0;
    while (i < in_.size() && std::isdigit(static_cast<unsigned char>(in_[i]))) ++i, ++digits;
    bool quantifier = digits > 0;
    if (quantifier && i < in_.size() && in_[i] == ',') {
      ++i;
      while (i < in_.size() && std::isdigit(static_cast<unsigned char>(in_[i]))) ++i;
    }
    quantifier = quantifier && i < in_.size() && in_[i] == '}';
    if (!quantifier) {
      out_.append("\\{");
      ++pos_;
      return absl::OkStatus();
    }
    out_.append(in_.substr(pos_, i + 1 - pos_));
    pos_ = i + 1;
    return AfterQuantifier();
  }

  Status OpenClass() {
    out_.push_back('[');
    ++pos_;
    if (Peek() == '^') {
      out_.push_back('^');
      ++pos_;
    }
    if (Peek() == ']') {  // a ']' first in a class is a literal
      out_.append("\\]");
      ++pos_;
    }
    in_class_ = true;
    return absl::OkStatus();
  }

  Status ClassChar() {
    const char c = in_[pos_];
    if (c == '\\') return Escape(/*in_class=*/true);
    if (c == ']') {
      out_.push_back(']');
      ++pos_;
      in_class_ = false;
      return absl::OkStatus();
    }
    if (c == '[') {
      if (Peek(1) == ':') {  // POSIX class [:alpha:]
        size_t end = in_.find(":]", pos_ + 2);
        if (end != std::string_view::npos) {
          out_.append(in_.substr(pos_, end + 2 - pos_));
          pos_ = end + 2;
          return absl::OkStatus();
        }
      }
      out_.append("\\[");
      ++pos_;
      return absl::OkStatus();
    }
    out_.push_back(c);
    ++pos_;
    return absl::OkStatus();
  }

  Status OpenGroup() {
    const size_t start = pos_;
    if (Peek(1) == '*')
      return Unsupported(start, "backtracking control verbs (*...) are not supported");
    if (Peek(1) != '?') {
      out_.push_back('(');
      ++pos_;
      return absl::OkStatus();
    }
    // (?...
    const char k = Peek(2);
    if (k == '#') {  // comment
      size_t end = in_.find(')', pos_);
      if (end == std::string_view::npos) return Invalid(start, "missing ) after a comment");
      pos_ = end + 1;
      return absl::OkStatus();
    }
    if (k == '=' || k == '!' || (k == '<' && (Peek(3) == '=' || Peek(3) == '!'))) {
      return Unsupported(start, "look-ahead and look-behind assertions are not supported");
    }
    if (k == '>') return Unsupported(start, "atomic groups (?>...) are not supported");
    if (k == '(') return Unsupported(start, "conditional groups (?(...)...) are not supported");
    if (k == 'C') return Unsupported(start, "callouts (?C...) are not supported");
    if (k == 'R' || k == '&' || k == '+' || std::isdigit(static_cast<unsigned char>(k)) ||
        (k == 'P' && (Peek(3) == '=' || Peek(3) == '>')) ||
        (k == '-' && std::isdigit(static_cast<unsigned char>(Peek(3))))) {
      return Unsupported(start, "recursion and back-references are not supported");
    }
    if (k == '|') {  // branch reset: without captures it is a plain group
      out_.append("(?:");
      pos_ += 3;
      return absl::OkStatus();
    }
    if (k == '<' || k == '\'' || (k == 'P' && Peek(3) == '<')) {  // named group
      const char close = k == '\'' ? '\'' : '>';
      size_t end = in_.find(close, pos_ + 3);
      if (end == std::string_view::npos) return Invalid(start, "unterminated group name");
      out_.append("(?:");
      pos_ = end + 1;
      return absl::OkStatus();
    }
    // Inline options (?imsU-imsU) or (?imsU-imsU:...)
    size_t i = pos_ + 2;
    bool negate = false;
    std::string flags;
    while (i < in_.size() && in_[i] != ')' && in_[i] != ':') {
      const char f = in_[i];
      if (f == '-') {
        negate = true;
      } else if (f == 'i' || f == 's' || f == 'U') {
      } else if (f == 'm') {
        if (!negate) multiline_ = true;
      } else if (f == 'x' || f == 'n' || f == 'J' || f == 'X') {
        return Unsupported(
            start, absl::StrCat("the inline option (?", std::string(1, f), ") is not supported"));
      } else {
        return Invalid(start, "unknown group construct after (?");
      }
      ++i;
    }
    if (i >= in_.size()) return Invalid(start, "missing ) after inline options");
    out_.append(in_.substr(pos_, i + 1 - pos_));
    pos_ = i + 1;
    return absl::OkStatus();
  }

  Status Escape(bool in_class) {
    const size_t start = pos_;
    if (pos_ + 1 >= in_.size()) return Invalid(start, "the expression ends with a backslash");
    const char c = in_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case 'Q':
        return Quoted();
      case 'E':
        return absl::OkStatus();  // a stray \E is ignored
      case 'x': {
        if (Peek() == '{') {
          size_t end = in_.find('}', pos_);
          if (end == std::string_view::npos) return Invalid(start, "missing } after \\x{");
          out_.append("\\x");
          out_.append(in_.substr(pos_, end + 1 - pos_));
          pos_ = end + 1;
          return absl::OkStatus();
        }
        uint32_t v = 0;
        for (int k = 0; k < 2 && IsHex(Peek()); ++k) {
          v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(Peek()))
                                                 ? Peek() - '0'
                                                 : (std::tolower(Peek()) - 'a' + 10));
          ++pos_;
        }
        AppendCodePoint(v, out_);
        return absl::OkStatus();
      }
      case 'o': {
        if (Peek() != '{') return Invalid(start, "expected { after \\o");
        size_t end = in_.find('}', pos_);
        if (end == std::string_view::npos) return Invalid(start, "missing } after \\o{");
        uint32_t v = 0;
        for (size_t k = pos_ + 1; k < end; ++k) {
          if (!IsOctal(in_[k]) || v > 0x10FFFF) return Invalid(start, "bad octal escape");
          v = v * 8 + static_cast<uint32_t>(in_[k] - '0');
        }
        pos_ = end + 1;
        AppendCodePoint(v, out_);
        return absl::OkStatus();
      }
      case '0': {
        uint32_t v = 0;
        for (int k = 0; k < 2 && IsOctal(Peek()); ++k)
          v = v * 8 + static_cast<uint32_t>(in_[pos_++] - '0');
        AppendCodePoint(v, out_);
        return absl::OkStatus();
      }
      case 'c': {
        if (pos_ >= in_.size()) return Invalid(start, "missing character after \\c");
        const auto x =
            static_cast<unsigned char>(std::toupper(static_cast<unsigned char>(in_[pos_++])));
        if (x >= 0x80) return Invalid(start, "\\c must be followed by an ASCII character");
        AppendCodePoint(x ^ 0x40u, out_);
        return absl::OkStatus();
      }
      case 'e':
        AppendCodePoint(0x1B, out_);
        return absl::OkStatus();
      case 's':
        out_.append(in_class ? kPcreSpace : absl::StrCat("[", ToAbsl(kPcreSpace), "]"));
        return absl::OkStatus();
      case 'S':
        out_.append(in_class ? "\\S" : absl::StrCat("[^", ToAbsl(kPcreSpace), "]"));
        return absl::OkStatus();
      case 'h':
        out_.append(in_class ? kHorizontalSpace : absl::StrCat("[", ToAbsl(kHorizontalSpace), "]"));
        return absl::OkStatus();
      case 'v':
        out_.append(in_class ? kVerticalSpace : absl::StrCat("[", ToAbsl(kVerticalSpace), "]"));
        return absl::OkStatus();
      case 'H':
      case 'V':
        if (in_class)
          return Unsupported(start, "\\H and \\V inside a character class are not supported");
        out_.append(absl::StrCat("[^", ToAbsl(c == 'H' ? kHorizontalSpace : kVerticalSpace), "]"));
        return absl::OkStatus();
      case 'b':
        if (in_class) {  // backspace inside a class
          AppendCodePoint(0x08, out_);
        } else {
          out_.append("\\b");
        }
        return absl::OkStatus();
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'n':
      case 'r':
      case 't':
      case 'f':
      case 'a':
        out_.push_back('\\');
        out_.push_back(c);
        return absl::OkStatus();
      case 'p':
      case 'P': {
        out_.push_back('\\');
        out_.push_back(c);
        if (Peek() == '{') {
          size_t end = in_.find('}', pos_);
          if (end == std::string_view::npos) return Invalid(start, "missing } after \\p{");
          out_.append(in_.substr(pos_, end + 1 - pos_));
          pos_ = end + 1;
        } else if (pos_ < in_.size()) {
          out_.push_back(in_[pos_++]);
        }
        return absl::OkStatus();
      }
      default:
        break;
    }
    if (!in_class) {
      switch (c) {
        case 'B':
        case 'A':
        case 'z':
          out_.push_back('\\');
          out_.push_back(c);
          return absl::OkStatus();
        case 'Z':
          out_.append("(?:\\n?\\z)");
          return absl::OkStatus();
        case 'N':
          out_.append("[^\\n]");
          return absl::OkStatus();
        case 'R':
          out_.append(absl::StrCat("(?:\\r\\n|[", ToAbsl(kVerticalSpace), "])"));
          return absl::OkStatus();
        default:
          break;
      }
    }
    if (c >= '1' && c <= '9') {
      return Unsupported(start, "back-references are not supported");
    }
    if (c == 'g' || c == 'k') return Unsupported(start, "back-references are not supported");
    if (c == 'G' || c == 'K' || c == 'X' || c == 'C') {
      return Unsupported(start, absl::StrCat("\\", std::string(1, c), " is not supported"));
    }
    if (std::isalnum(static_cast<unsigned char>(c))) {
      return Invalid(start, absl::StrCat("unknown escape \\", std::string(1, c)));
    }
    // An escaped punctuation character, space or non-ASCII byte stands for itself.
    if (static_cast<unsigned char>(c) >= 0x80) {
      --pos_;  // copy the whole UTF-8 sequence as a literal
      return absl::OkStatus();
    }
    out_.push_back('\\');
    out_.push_back(c);
    return absl::OkStatus();
  }

  // \Q...\E: every character literal, up to \E or the end.
  Status Quoted() {
    size_t end = in_.find("\\E", pos_);
    std::string_view text = in_.substr(pos_, end == std::string_view::npos ? end : end - pos_);
    for (char ch : text) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x80 && !std::isalnum(u) && ch != '_') out_.push_back('\\');
      out_.push_back(ch);
    }
    pos_ = end == std::string_view::npos ? in_.size() : end + 2;
    return absl::OkStatus();
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool in_class_ = false;
  bool multiline_ = false;
  std::string out_;
};

}  // namespace

Result<std::string> PcreToRe2(std::string_view pcre) { return Translator(pcre).Run(); }

Result<std::unique_ptr<re2::RE2>> CompileRegex(std::string_view pcre, const RegexLimits& limits) {
  if (pcre.size() > limits.max_pattern_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("regular expression longer than ", limits.max_pattern_bytes, " bytes"));
  }
  Result<std::string> translated = PcreToRe2(pcre);
  if (!translated.ok()) return translated.status();
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_dot_nl(true);  // section 9.6.1: the DOTALL option MUST be specified
  options.set_never_capture(true);
  options.set_log_errors(false);
  options.set_max_mem(limits.max_program_memory);
  auto re = std::make_unique<re2::RE2>(*translated, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("regular expression: ", re->error(),
                     re->error_code() == RE2::ErrorPatternTooLarge
                         ? " (the compiled expression exceeds its memory budget)"
                         : ""));
  }
  return re;
}

}  // namespace liaison::pattern::internal
