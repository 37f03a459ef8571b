#pragma once

// A small mutable JSON tree for the places that build or rewrite JSON: STIX 2.0 -> 2.1 upgrade,
// deterministic SCO identifiers (RFC 8785 canonical JSON), sanitised releases. Hot paths
// (validation, ingest, log matching) never build one: they read simdjson's tape directly.
//
// Objects keep their members in document order, so a parsed and re-serialised object keeps its
// shape. Numbers keep whether they were integers.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace liaison::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Object o) : v_(std::move(o)) {}

  bool is_null() const { return v_.index() == 0; }
  bool is_bool() const { return v_.index() == 1; }
  bool is_int() const { return v_.index() == 2; }
  bool is_double() const { return v_.index() == 3; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return v_.index() == 4; }
  bool is_array() const { return v_.index() == 5; }
  bool is_object() const { return v_.index() == 6; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const {
    return is_int() ? static_cast<double>(as_int()) : std::get<double>(v_);
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Member lookup on an object; nullptr when absent or when this is not an object.
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Sets (replacing or appending) a member of an object.
  void Set(std::string_view key, Value value);
  // Removes a member of an object; returns whether it was there.
  bool Erase(std::string_view key);

  // Numbers compare by value: 12.0 and 12 are the same JSON number (and serialise alike).
  friend bool operator==(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
      return a.is_int() && b.is_int() ? a.as_int() == b.as_int() : a.as_double() == b.as_double();
    }
    return a.v_ == b.v_;
  }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

struct ParseOptions {
  // Maximum nesting of arrays and objects.
  size_t max_depth = 256;
};

// Parses one JSON document. Errors name the byte offset where known. Duplicate member names are
// an error (RFC 8259 says they SHOULD be unique; STIX objects depend on it).
Result<Value> Parse(std::string_view text, const ParseOptions& options = {});

// Compact serialisation, members in stored order.
std::string Serialize(const Value& value);
void SerializeTo(const Value& value, std::string& out);

// RFC 8785 (JSON Canonicalization Scheme): members sorted by UTF-16 code units, ECMAScript
// number formatting, minimal string escaping.
std::string Canonicalize(const Value& value);

// Appends `s` as a JSON string literal (with quotes), escaping as RFC 8785 requires.
void AppendQuoted(std::string_view s, std::string& out);
// Formats a double as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3).
std::string FormatNumber(double d);

}  // namespace liaison::json
