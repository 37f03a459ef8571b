#include "stix/serialize.h"

#include <cstring>

#include "core/json.h"
#include "core/uuid.h"

namespace liaison::stix {
namespace {

// One accessor per overload, so each writer below is written once.
std::string_view TextOf(const Object& o) { return o.json; }
std::string_view TextOf(const std::string& s) { return s; }
std::string_view TextOf(std::string_view s) { return s; }

template <typename T>
size_t TotalSize(std::span<const T> items) {
  size_t n = 0;
  for (const T& item : items) n += TextOf(item).size() + 1;
  return n;
}

// Appends `[t0,t1,...]`.
template <typename T>
void AppendList(std::span<const T> items, std::string& out) {
  out += '[';
  bool first = true;
  for (const T& item : items) {
    if (!first) out += ',';
    first = false;
    out += TextOf(item);
  }
  out += ']';
}

template <typename T>
std::string Bundle(std::span<const T> items, std::string_view bundle_id) {
  std::string generated;
  if (bundle_id.empty()) {
    generated = "bundle--" + Uuid::V4().ToString();
    bundle_id = generated;
  }
  std::string out;
  out.reserve(TotalSize(items) + bundle_id.size() + 48);
  out += R"({"type":"bundle","id":)";
  json::AppendQuoted(bundle_id, out);
  if (!items.empty()) {
    out += R"(,"objects":)";
    AppendList(items, out);
  }
  out += '}';
  return out;
}

template <typename T>
std::string Ndjson(std::span<const T> items) {
  std::string out;
  out.reserve(TotalSize(items));
  for (const T& item : items) {
    std::string_view text = TextOf(item);
    // A raw line break can only be insignificant whitespace: JSON strings must escape it.
    if (std::memchr(text.data(), '\n', text.size()) != nullptr ||
        std::memchr(text.data(), '\r', text.size()) != nullptr) {
      AppendCompactJson(text, out);
    } else {
      out += text;
    }
    out += '\n';
  }
  return out;
}

template <typename T>
std::string Envelope(std::span<const T> items, bool more, std::string_view next) {
  if (items.empty() && !more && next.empty()) return "{}";
  std::string out;
  out.reserve(TotalSize(items) + next.size() + 48);
  out += more ? R"({"more":true)" : R"({"more":false)";
  if (!next.empty()) {
    out += R"(,"next":)";
    json::AppendQuoted(next, out);
  }
  if (!items.empty()) {
    out += R"(,"objects":)";
    AppendList(items, out);
  }
  out += '}';
  return out;
}

}  // namespace

std::string SerializeBundle(std::span<const Object> objects, std::string_view bundle_id) {
  return Bundle(objects, bundle_id);
}
std::string SerializeBundle(std::span<const std::string> object_texts, std::string_view bundle_id) {
  return Bundle(object_texts, bundle_id);
}
std::string SerializeBundle(std::span<const std::string_view> object_texts,
                            std::string_view bundle_id) {
  return Bundle(object_texts, bundle_id);
}

std::string SerializeNdjson(std::span<const Object> objects) { return Ndjson(objects); }
std::string SerializeNdjson(std::span<const std::string> object_texts) {
  return Ndjson(object_texts);
}
std::string SerializeNdjson(std::span<const std::string_view> object_texts) {
  return Ndjson(object_texts);
}

std::string SerializeEnvelope(std::span<const Object> objects, bool more, std::string_view next) {
  return Envelope(objects, more, next);
}
std::string SerializeEnvelope(std::span<const std::string> object_texts, bool more,
                              std::string_view next) {
  return Envelope(object_texts, more, next);
}
std::string SerializeEnvelope(std::span<const std::string_view> object_texts, bool more,
                              std::string_view next) {
  return Envelope(object_texts, more, next);
}

void AppendCompactJson(std::string_view json, std::string& out) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];  // the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out += c;
    }
  }
}

}  // namespace liaison::stix
