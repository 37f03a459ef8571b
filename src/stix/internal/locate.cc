#include "stix/internal/locate.h"

#include <algorithm>
#include <array>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/container/flat_hash_map.h"
#include "core/strings.h"

namespace liaison::stix::internal {
namespace {

// A minimal RFC 8259 scanner with an explicit stack. `on_value` is called at the start of every
// value with the current JSON pointer, when `track_paths` is set.
class Scanner {
 public:
  Scanner(std::string_view text, size_t max_depth) : s_(text), max_depth_(max_depth) {}

  template <typename OnValue>
  std::optional<SyntaxError> Run(bool track_paths, OnValue&& on_value);

  // Decodes the JSON string at the start of the text (escapes resolved); empty on error.
  std::string DecodeString() {
    std::string out;
    if (!s_.starts_with('"') || !ScanString(&out)) out.clear();
    return out;
  }

 private:
  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool ScanString(std::string* decoded);
  bool ScanNumber();
  bool ScanLiteral(std::string_view word);
  std::optional<SyntaxError> Fail(std::string message) {
    return SyntaxError{std::min(pos_, s_.size()), std::move(message)};
  }

  std::string_view s_;
  size_t max_depth_;
  size_t pos_ = 0;
  std::string error_;
};

bool Scanner::ScanLiteral(std::string_view word) {
  if (s_.substr(pos_, word.size()) != word) {
    error_ = StrCat("invalid literal, expected ", word);
    return false;
  }
  pos_ += word.size();
  return true;
}

bool Scanner::ScanNumber() {
  size_t p = pos_;
  auto digit = [&](size_t i) { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; };
  if (p < s_.size() && s_[p] == '-') ++p;
  if (!digit(p)) {
    pos_ = p;
    error_ = "expected a digit";
    return false;
  }
  if (s_[p] == '0') {
    ++p;
  } else {
    while (digit(p)) ++p;
  }
  if (p < s_.size() && s_[p] == '.') {
    ++p;
    if (!digit(p)) {
      pos_ = p;
      error_ = "expected a digit after '.'";
      return false;
    }
    while (digit(p)) ++p;
  }
  if (p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
    ++p;
    if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
    if (!digit(p)) {
      pos_ = p;
      error_ = "expected a digit in the exponent";
      return false;
    }
    while (digit(p)) ++p;
  }
  pos_ = p;
  return true;
}

// Scans a string starting at the opening quote; checks escapes and UTF-8. Decodes into `decoded`
// when given (member names, for pointer tracking).
bool Scanner::ScanString(std::string* decoded) {
  ++pos_;  // opening quote
  while (pos_ < s_.size()) {
    unsigned char c = s_[pos_];
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c < 0x20) {
      error_ = "control character in a string must be escaped";
      return false;
    }
    if (c == '\\') {
      if (pos_ + 1 >= s_.size()) break;
      char e = s_[pos_ + 1];
      if (e == 'u') {
        for (int i = 2; i < 6; ++i) {
          char h = pos_ + i < s_.size() ? s_[pos_ + i] : '\0';
          if (!isxdigit(static_cast<unsigned char>(h))) {
            pos_ += i;
            error_ = "expected 4 hex digits after \\u";
            return false;
          }
        }
        if (decoded) decoded->append(s_.substr(pos_, 6));  // kept escaped: rare in member names
        pos_ += 6;
        continue;
      }
      static constexpr std::string_view kEscapes = "\"\\/bfnrt";
      if (kEscapes.find(e) == std::string_view::npos) {
        ++pos_;
        error_ = "invalid escape sequence";
        return false;
      }
      if (decoded) {
        static constexpr std::string_view kDecoded = "\"\\/\b\f\n\r\t";
        decoded->push_back(kDecoded[kEscapes.find(e)]);
      }
      pos_ += 2;
      continue;
    }
    if (c < 0x80) {
      if (decoded) decoded->push_back(static_cast<char>(c));
      ++pos_;
      continue;
    }
    // UTF-8 multi-byte sequence (RFC 3629): no overlongs, no surrogates, at most U+10FFFF.
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || pos_ + len > s_.size()) {
      error_ = "invalid UTF-8";
      return false;
    }
    unsigned char c1 = s_[pos_ + 1];
    bool ok = (c1 & 0xc0) == 0x80;
    if (len == 3) {
      ok = ok && !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    } else if (len == 4) {
      ok = ok && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    for (int i = 2; i < len; ++i)
      ok = ok && (static_cast<unsigned char>(s_[pos_ + i]) & 0xc0) == 0x80;
    if (!ok) {
      error_ = "invalid UTF-8";
      return false;
    }
    if (decoded) decoded->append(s_.substr(pos_, len));
    pos_ += len;
  }
  error_ = "unterminated string";
  return false;
}

void AppendPointerToken(std::string& path, std::string_view token) {
  path += '/';
  for (char c : token) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path += c;
    }
  }
}

template <typename OnValue>
std::optional<SyntaxError> Scanner::Run(bool track_paths, OnValue&& on_value) {
  struct Frame {
    bool is_object;
    size_t index;      // array element count so far
    size_t path_size;  // length of `path` for this container
  };
  std::vector<Frame> stack;
  std::string path;
  std::string key;

  SkipWs();
  if (pos_ >= s_.size()) return Fail("empty input: expected a JSON value");
  // Each iteration parses one value at pos_, then consumes separators up to the next value.
  while (true) {
    SkipWs();
    if (pos_ >= s_.size()) return Fail("unexpected end of input: expected a value");
    if (track_paths) on_value(path, pos_);
    const char c = s_[pos_];
    if (c == '{' || c == '[') {
      if (stack.size() >= max_depth_) {
        return Fail(StrCat("nesting deeper than the limit of ", max_depth_));
      }
      ++pos_;
      stack.push_back({c == '{', 0, path.size()});
      SkipWs();
      const char close = c == '{' ? '}' : ']';
      if (pos_ < s_.size() && s_[pos_] == close) {
        ++pos_;
        stack.pop_back();
      } else if (c == '{') {
        if (pos_ >= s_.size() || s_[pos_] != '"') {
          return Fail("expected a member name in double quotes or '}'");
        }
        key.clear();
        if (!ScanString(track_paths ? &key : nullptr)) return Fail(error_);
        SkipWs();
        if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':' after a member name");
        ++pos_;
        if (track_paths) AppendPointerToken(path, key);
        continue;
      } else {
        if (track_paths) AppendPointerToken(path, "0");
        continue;
      }
    } else if (c == '"') {
      if (!ScanString(nullptr)) return Fail(error_);
    } else if (c == 't') {
      if (!ScanLiteral("true")) return Fail(error_);
    } else if (c == 'f') {
      if (!ScanLiteral("false")) return Fail(error_);
    } else if (c == 'n') {
      if (!ScanLiteral("null")) return Fail(error_);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      if (!ScanNumber()) return Fail(error_);
    } else {
      return Fail(StrCat("unexpected character '", std::string(1, c), "': expected a value"));
    }
    // After a value: close containers or move to the next element.
    while (true) {
      SkipWs();
      if (stack.empty()) {
        if (pos_ != s_.size()) return Fail("unexpected text after the JSON value");
        return std::nullopt;
      }
      Frame& top = stack.back();
      if (pos_ >= s_.size()) {
        return Fail(top.is_object ? "unexpected end of input: expected ',' or '}'"
                                  : "unexpected end of input: expected ',' or ']'");
      }
      const char d = s_[pos_];
      if (d == ',') {
        ++pos_;
        if (track_paths) path.resize(top.path_size);
        if (top.is_object) {
          SkipWs();
          if (pos_ >= s_.size() || s_[pos_] != '"')
            return Fail("expected a member name in double quotes");
          key.clear();
          if (!ScanString(track_paths ? &key : nullptr)) return Fail(error_);
          SkipWs();
          if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':' after a member name");
          ++pos_;
          if (track_paths) AppendPointerToken(path, key);
        } else {
          ++top.index;
          if (track_paths) AppendPointerToken(path, StrCat(top.index));
        }
        break;  // parse the next value
      }
      if (d == (top.is_object ? '}' : ']')) {
        ++pos_;
        if (track_paths) path.resize(top.path_size);
        stack.pop_back();
        continue;
      }
      return Fail(top.is_object ? "expected ',' or '}' after an object member"
                                : "expected ',' or ']' after an array element");
    }
  }
}

}  // namespace

std::optional<SyntaxError> FindSyntaxError(std::string_view text, size_t max_depth) {
  Scanner scanner(text, max_depth);
  return scanner.Run(false, [](const std::string&, size_t) {});
}

namespace {

// RFC 6901 section 4: "~1" is '/', "~0" is '~'.
std::string UnescapeToken(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '~' && i + 1 < raw.size()) {
      out += raw[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// `raw` is the text between a member name's quotes.
std::string DecodeJsonString(std::string_view raw) {
  const std::string quoted = StrCat("\"", raw, "\"");
  return Scanner(quoted, 1).DecodeString();
}

// Whether the member name whose raw text (between the quotes) is `raw` equals `token`.
bool KeyMatches(std::string_view raw, std::string_view token) {
  if (raw.find('\\') == std::string_view::npos) return raw == token;
  return DecodeJsonString(raw) == token;
}

// Finds values by JSON pointer in well-formed text without building anything: each step skips
// sibling values with a string-aware bracket count. Arrays remember their element offsets, so
// many findings in one big bundle ("/objects/N/...") cost one pass over the array.
class PointerLocator {
 public:
  explicit PointerLocator(std::string_view text) : s_(text) {}

  size_t Locate(std::string_view pointer) {
    size_t pos = SkipWs(0);
    if (pos >= s_.size()) return std::string_view::npos;
    while (!pointer.empty()) {
      pointer.remove_prefix(1);  // '/'
      size_t slash = pointer.find('/');
      std::string_view raw = pointer.substr(0, slash);
      pointer = slash == std::string_view::npos ? std::string_view{} : pointer.substr(slash);
      std::string token = UnescapeToken(raw);
      size_t child = Child(pos, token);
      if (child == std::string_view::npos) break;  // missing member: its closest ancestor
      pos = child;
    }
    return pos;
  }

 private:
  size_t SkipWs(size_t pos) const {
    while (pos < s_.size() &&
           (s_[pos] == ' ' || s_[pos] == '\t' || s_[pos] == '\n' || s_[pos] == '\r')) {
      ++pos;
    }
    return pos;
  }

  // `pos` is at an opening quote; returns the position after the closing quote.
  size_t SkipString(size_t pos) const {
    ++pos;
    while (true) {
      const void* q = std::memchr(s_.data() + pos, '"', s_.size() - pos);
      if (q == nullptr) return s_.size();
      size_t quote = static_cast<const char*>(q) - s_.data();
      size_t backslashes = 0;
      while (quote - backslashes > pos && s_[quote - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return quote + 1;
      pos = quote + 1;
    }
  }

  // Skips a run of spaces 16 bytes at a time: pretty-printed bundles are mostly indentation
  // outside their strings. SSE2 is part of x86-64's baseline.
  size_t SkipSpaces(size_t pos) const {
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(' ');
    while (pos + 16 <= s_.size()) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s_.data() + pos));
      const unsigned mask =
          ~static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, space))) & 0xffff;
      if (mask != 0) return pos + __builtin_ctz(mask);
      pos += 16;
    }
#endif
    while (pos < s_.size() && s_[pos] == ' ') ++pos;
    return pos;
  }

  // Returns the position just past the value starting at `pos`.
  size_t SkipValue(size_t pos) const {
    size_t depth = 0;
    while (pos < s_.size()) {
      const char c = s_[pos];
      if (c == ' ') {
        pos = SkipSpaces(pos);
        continue;
      }
      if (c == '"') {
        pos = SkipString(pos);
      } else if (c == '{' || c == '[') {
        ++depth;
        ++pos;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return pos;  // end of the enclosing container
        --depth;
        ++pos;
      } else if (depth == 0 && c == ',') {
        return pos;
      } else {
        ++pos;
      }
      if (depth == 0 && (c == '"' || c == '}' || c == ']')) return pos;
    }
    return pos;
  }

  size_t Child(size_t pos, const std::string& token) {
    if (s_[pos] == '[') {
      const std::vector<size_t>& elements = Elements(pos);
      size_t index = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return std::string_view::npos;
        index = index * 10 + (c - '0');
        if (index > elements.size()) return std::string_view::npos;
      }
      return index < elements.size() ? elements[index] : std::string_view::npos;
    }
    if (s_[pos] != '{') return std::string_view::npos;
    pos = SkipWs(pos + 1);
    while (pos < s_.size() && s_[pos] == '"') {
      const size_t key_end = SkipString(pos);
      std::string_view key = s_.substr(pos + 1, key_end - pos - 2);
      pos = SkipWs(key_end);
      if (pos >= s_.size() || s_[pos] != ':') return std::string_view::npos;
      pos = SkipWs(pos + 1);
      if (KeyMatches(key, token)) return pos;
      pos = SkipWs(SkipValue(pos));
      if (pos < s_.size() && s_[pos] == ',') pos = SkipWs(pos + 1);
    }
    return std::string_view::npos;
  }

  const std::vector<size_t>& Elements(size_t array_start) {
    auto [it, inserted] = arrays_.try_emplace(array_start);
    if (!inserted) return it->second;
    size_t pos = SkipWs(array_start + 1);
    while (pos < s_.size() && s_[pos] != ']') {
      it->second.push_back(pos);
      pos = SkipWs(SkipValue(pos));
      if (pos < s_.size() && s_[pos] == ',') pos = SkipWs(pos + 1);
    }
    return it->second;
  }

  std::string_view s_;
  absl::flat_hash_map<size_t, std::vector<size_t>> arrays_;
};

// The same walk over simdjson's structural index: position i is the i-th structural character
// ('{', '}', '[', ']', ':', ',') or the first byte of a scalar, so skipping a sibling value is a
// bracket count over a few entries instead of a scan over all of its bytes and strings.
class StructuralLocator {
 public:
  StructuralLocator(std::string_view text, std::span<const uint32_t> index)
      : s_(text), index_(index) {}

  size_t Locate(std::string_view pointer) {
    size_t i = 0;
    if (index_.empty()) return std::string_view::npos;
    while (!pointer.empty()) {
      pointer.remove_prefix(1);  // '/'
      const size_t slash = pointer.find('/');
      const std::string token = UnescapeToken(pointer.substr(0, slash));
      pointer = slash == std::string_view::npos ? std::string_view{} : pointer.substr(slash);
      const size_t child = Child(i, token);
      if (child == kNone) break;  // missing member: its closest ancestor
      i = child;
    }
    return index_[i];
  }

 private:
  static constexpr size_t kNone = SIZE_MAX;

  char At(size_t i) const { return i < index_.size() ? s_[index_[i]] : '\0'; }

  // +1 for an opening bracket, -1 for a closing one, 0 for any other structural.
  static constexpr std::array<int8_t, 256> kDepthChange = [] {
    std::array<int8_t, 256> t{};
    t['{'] = t['['] = 1;
    t['}'] = t[']'] = -1;
    return t;
  }();

  // Index just past the value starting at structural `i`. Skipping the objects before a
  // finding in a big bundle is most of the cost of locating it, so the bracket count adds a
  // table entry per structural instead of branching on the character.
  size_t SkipValue(size_t i) const {
    const char c = At(i);
    if (c != '{' && c != '[') return i + 1;
    int64_t depth = 0;
    for (; i < index_.size(); ++i) {
      depth += kDepthChange[static_cast<unsigned char>(s_[index_[i]])];
      if (depth == 0) return i + 1;
    }
    return index_.size();
  }

  // The raw text of the member name whose opening quote is structural `i`: it ends at the last
  // quote before the ':' that follows it.
  std::string_view KeyAt(size_t i) const {
    const size_t open = index_[i];
    size_t close = i + 1 < index_.size() ? index_[i + 1] : s_.size();
    while (close > open + 1 && s_[close - 1] != '"') --close;
    return s_.substr(open + 1, close > open + 1 ? close - open - 2 : 0);
  }

  size_t Child(size_t i, const std::string& token) {
    if (At(i) == '[') {
      size_t n = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return kNone;
        n = n * 10 + (c - '0');
        if (n > index_.size()) return kNone;
      }
      const std::vector<size_t>& elements = Elements(i, n);
      return n < elements.size() ? elements[n] : kNone;
    }
    if (At(i) != '{') return kNone;
    size_t j = i + 1;
    while (At(j) == '"' && At(j + 1) == ':') {
      if (KeyMatches(KeyAt(j), token)) return j + 2;
      j = SkipValue(j + 2);
      if (At(j) != ',') break;
      ++j;
    }
    return kNone;
  }

  // The structurals of the elements of the array opening at `open`, at least up to element
  // `n` (or all of them when it has fewer): a finding in the first objects of a bundle does not
  // pay for skipping the rest. Kept across the pointers of one call, and extended on demand.
  const std::vector<size_t>& Elements(size_t open, size_t n) {
    ArrayElements& a = arrays_[open];
    if (a.next == 0) {
      a.next = open + 1;
      if (At(a.next) == ']') a.complete = true;
    }
    while (!a.complete && a.starts.size() <= n && a.next < index_.size()) {
      a.starts.push_back(a.next);
      size_t j = SkipValue(a.next);
      if (At(j) != ',') {
        a.complete = true;
        break;
      }
      a.next = j + 1;
    }
    return a.starts;
  }

  struct ArrayElements {
    std::vector<size_t> starts;
    size_t next = 0;  // structural of the next element to record (0: not started)
    bool complete = false;
  };

  std::string_view s_;
  std::span<const uint32_t> index_;
  absl::flat_hash_map<size_t, ArrayElements> arrays_;
};

}  // namespace

std::vector<size_t> LocatePointers(std::string_view text, const std::vector<std::string>& pointers,
                                   std::span<const uint32_t> structurals) {
  std::vector<size_t> offsets;
  offsets.reserve(pointers.size());
  if (!structurals.empty()) {
    StructuralLocator locator(text, structurals);
    for (const std::string& p : pointers) offsets.push_back(locator.Locate(p));
    return offsets;
  }
  PointerLocator locator(text);
  for (const std::string& p : pointers) offsets.push_back(locator.Locate(p));
  return offsets;
}

size_t CountNewlines(std::string_view text) {
  size_t count = 0, pos = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  while (pos + 16 <= text.size()) {
    // Byte counters subtract -1 per match; flushed before they can wrap (at most 252 blocks).
    __m128i counters = _mm_setzero_si128();
    const size_t blocks = std::min<size_t>((text.size() - pos) / 16, 252);
    size_t b = 0;
    for (; b + 4 <= blocks; b += 4, pos += 64) {
      const char* p = text.data() + pos;
      const __m128i c0 =
          _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), newline);
      const __m128i c1 =
          _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)), newline);
      const __m128i c2 =
          _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)), newline);
      const __m128i c3 =
          _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48)), newline);
      // A lane grows by at most one per block, so 252 blocks cannot wrap it.
      counters = _mm_sub_epi8(counters, _mm_add_epi8(_mm_add_epi8(c0, c1), _mm_add_epi8(c2, c3)));
    }
    for (; b < blocks; ++b, pos += 16) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + pos));
      counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(chunk, newline));
    }
    const __m128i sums = _mm_sad_epu8(counters, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sums, 8)));
  }
#endif
  for (; pos < text.size(); ++pos) count += text[pos] == '\n';
  return count;
}

bool LooksLikeNdjson(std::string_view text) {
  size_t lines = 0, start = 0;
  while (start < text.size() && lines < 3) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    if (line[first] != '{') return false;
    size_t last = line.find_last_not_of(" \t\r");
    if (line[last] != '}') return false;
    ++lines;
  }
  return lines >= 2;
}

void LineColumn(std::string_view text, size_t offset, size_t& line, size_t& column) {
  offset = std::min(offset, text.size());
  line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
  size_t start = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
  start = start == std::string_view::npos ? 0 : start + 1;
  column = offset - start + 1;
}

}  // namespace liaison::stix::internal
