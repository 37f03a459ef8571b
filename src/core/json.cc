#include "core/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "simdjson.h"

namespace liaison::json {
namespace {

Result<Value> FromDom(simdjson::dom::element e, size_t depth, const ParseOptions& options) {
  if (depth > options.max_depth) {
    return absl::InvalidArgumentError(
        StrCat("nesting deeper than the limit of ", options.max_depth));
  }
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return Value();
    case simdjson::dom::element_type::BOOL:
      return Value(bool(e.get_bool().value_unsafe()));
    case simdjson::dom::element_type::INT64:
      return Value(int64_t(e.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return Value(double(e.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
      return Value(double(e.get_double().value_unsafe()));
    case simdjson::dom::element_type::STRING:
      return Value(std::string_view(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::ARRAY: {
      Array a;
      simdjson::dom::array array = e.get_array().value_unsafe();
      for (simdjson::dom::element item : array) {
        auto v = FromDom(item, depth + 1, options);
        if (!v.ok()) return v.status();
        a.push_back(*std::move(v));
      }
      return Value(std::move(a));
    }
    case simdjson::dom::element_type::OBJECT: {
      Object o;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) {
        auto v = FromDom(field.value, depth + 1, options);
        if (!v.ok()) return v.status();
        o.emplace_back(std::string(field.key), *std::move(v));
      }
      if (o.size() > 1) {
        absl::flat_hash_set<std::string_view> seen;
        for (const auto& [k, v] : o) {
          if (!seen.insert(k).second) {
            return absl::InvalidArgumentError(StrCat("duplicate member name \"", k, "\""));
          }
        }
      }
      return Value(std::move(o));
    }
  }
  return absl::InternalError("unknown JSON element type");
}

// UTF-8 -> UTF-16 code units, for RFC 8785's member ordering. Input is valid UTF-8 (simdjson
// validated it, or we built it).
std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp;
    int len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1f, len = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0f, len = 3;
    } else {
      cp = c & 0x07, len = 4;
    }
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = cp << 6 | (s[i + k] & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xd800 + (cp >> 10));
      out += static_cast<char16_t>(0xdc00 + (cp & 0x3ff));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

void SerializeImpl(const Value& v, std::string& out, bool canonical) {
  if (v.is_null()) {
    out += "null";
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_int()) {
    if (canonical) {
      out += FormatNumber(static_cast<double>(v.as_int()));
    } else {
      StrAppend(&out, v.as_int());
    }
  } else if (v.is_double()) {
    out += FormatNumber(v.as_double());
  } else if (v.is_string()) {
    AppendQuoted(v.as_string(), out);
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const Value& item : v.as_array()) {
      if (!first) out += ',';
      first = false;
      SerializeImpl(item, out, canonical);
    }
    out += ']';
  } else {
    const Object& o = v.as_object();
    out += '{';
    if (canonical) {
      std::vector<std::pair<std::u16string, const Member*>> sorted;
      sorted.reserve(o.size());
      for (const Member& m : o) sorted.emplace_back(ToUtf16(m.first), &m);
      std::sort(sorted.begin(), sorted.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      bool first = true;
      for (const auto& [key16, m] : sorted) {
        if (!first) out += ',';
        first = false;
        AppendQuoted(m->first, out);
        out += ':';
        SerializeImpl(m->second, out, canonical);
      }
    } else {
      bool first = true;
      for (const Member& m : o) {
        if (!first) out += ',';
        first = false;
        AppendQuoted(m.first, out);
        out += ':';
        SerializeImpl(m.second, out, canonical);
      }
    }
    out += '}';
  }
}

}  // namespace

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Value* Value::Find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

void Value::Set(std::string_view key, Value value) {
  if (Value* existing = Find(key)) {
    *existing = std::move(value);
    return;
  }
  as_object().emplace_back(std::string(key), std::move(value));
}

bool Value::Erase(std::string_view key) {
  Object& o = as_object();
  auto it = std::find_if(o.begin(), o.end(), [&](const Member& m) { return m.first == key; });
  if (it == o.end()) return false;
  o.erase(it);
  return true;
}

Result<Value> Parse(std::string_view text, const ParseOptions& options) {
  // One parser per thread: `liaison upgrade` parses every object of a feed, and a fresh parser
  // allocates its buffers each time.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(text.data(), text.size()).get(root)) {
    return absl::InvalidArgumentError(StrCat("malformed JSON: ", simdjson::error_message(err)));
  }
  return FromDom(root, 0, options);
}

std::string Serialize(const Value& value) {
  std::string out;
  SerializeImpl(value, out, false);
  return out;
}

void SerializeTo(const Value& value, std::string& out) { SerializeImpl(value, out, false); }

std::string Canonicalize(const Value& value) {
  std::string out;
  SerializeImpl(value, out, true);
  return out;
}

void AppendQuoted(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  // Characters that need no escape are copied a run at a time: STIX ids, versions and most text
  // have none that do, and the string is then one append instead of a push_back per byte.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string FormatNumber(double d) {
  if (std::isnan(d) || std::isinf(d)) return "null";  // not representable in JSON
  if (d == 0) return "0";                             // also -0, as ECMAScript prints it
  std::string out;
  if (d < 0) {
    out += '-';
    d = -d;
  }
  // Shortest round-trip digits and decimal exponent: d = 0.DIGITS x 10^n.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exp10 = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(n - k, '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, n);
    out += '.';
    out += digits.substr(n);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(-n, '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    StrAppend(&out, std::abs(n - 1));
  }
  return out;
}

}  // namespace liaison::json
