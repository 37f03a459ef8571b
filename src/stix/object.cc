#include "stix/object.h"

#include "core/strings.h"
#include "simdjson.h"
#include "stix/internal/extract.h"
#include "stix/internal/spec.h"

namespace liaison::stix {
namespace {

Status WrongType(std::string_view property, std::string_view expected) {
  return absl::InvalidArgumentError(StrCat("/", property, ": expected ", expected));
}

Status ReadStrings(simdjson::dom::object obj, std::string_view key, std::vector<std::string>& out) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return absl::OkStatus();
  simdjson::dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return WrongType(key, "a list of strings");
  for (simdjson::dom::element item : a) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) return WrongType(key, "a list of strings");
    out.emplace_back(s);
  }
  return absl::OkStatus();
}

Status ReadString(simdjson::dom::object obj, std::string_view key, std::string& out) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return absl::OkStatus();
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return WrongType(key, "a string");
  out.assign(s);
  return absl::OkStatus();
}

Status ReadTimestamp(simdjson::dom::object obj, std::string_view key,
                     std::optional<Timestamp>& out) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return absl::OkStatus();
  std::string_view text;  // parsed in place: no copy of the text
  if (e.get_string().get(text) != simdjson::SUCCESS) return WrongType(key, "a string");
  if (text.empty()) return absl::OkStatus();
  auto t = Timestamp::Parse(text);
  if (!t.ok()) return absl::InvalidArgumentError(StrCat("/", key, ": ", t.status().message()));
  out = *t;
  return absl::OkStatus();
}

}  // namespace

ObjectCategory CategoryOfType(std::string_view type) {
  const internal::TypeSpec* spec = internal::FindType(type);
  if (spec == nullptr) return ObjectCategory::kUnknown;
  switch (spec->category) {
    case internal::Category::kSdo:
      return ObjectCategory::kSdo;
    case internal::Category::kSro:
      return ObjectCategory::kSro;
    case internal::Category::kSco:
      return ObjectCategory::kSco;
    case internal::Category::kMeta:
      return ObjectCategory::kMeta;
    case internal::Category::kBundle:
      return ObjectCategory::kUnknown;
  }
  return ObjectCategory::kUnknown;
}

Result<Object> ParseObject(std::string_view json) {
  // One parser per thread: its buffers are reused across objects.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) {
    return absl::InvalidArgumentError(StrCat("malformed JSON: ", simdjson::error_message(err)));
  }
  return internal::ExtractObject(root, json);
}

namespace internal {

Result<Object> ExtractObject(simdjson::dom::element root, std::string_view json) {
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("a STIX object must be a JSON object");
  }
  Object o;
  o.json.assign(json);
  // Trim surrounding whitespace so the stored text is exactly one JSON object.
  while (!o.json.empty() && isspace(static_cast<unsigned char>(o.json.back()))) o.json.pop_back();
  size_t lead = 0;
  while (lead < o.json.size() && isspace(static_cast<unsigned char>(o.json[lead]))) ++lead;
  o.json.erase(0, lead);

  if (auto st = ReadString(obj, "type", o.type); !st.ok()) return st;
  if (o.type.empty()) return absl::InvalidArgumentError("/type: required property is missing");
  if (auto st = ReadString(obj, "id", o.id); !st.ok()) return st;
  if (o.id.empty()) return absl::InvalidArgumentError("/id: required property is missing");
  if (auto st = ReadString(obj, "spec_version", o.spec_version); !st.ok()) return st;
  if (auto st = ReadTimestamp(obj, "created", o.created); !st.ok()) return st;
  if (auto st = ReadTimestamp(obj, "modified", o.modified); !st.ok()) return st;
  if (auto st = ReadString(obj, "created_by_ref", o.created_by_ref); !st.ok()) return st;
  if (auto st = ReadString(obj, "lang", o.lang); !st.ok()) return st;
  bool revoked = false;
  if (obj["revoked"].get_bool().get(revoked) == simdjson::SUCCESS) o.revoked = revoked;
  int64_t confidence;
  if (obj["confidence"].get_int64().get(confidence) == simdjson::SUCCESS && confidence >= 0 &&
      confidence <= 100) {
    o.confidence = static_cast<int>(confidence);
  }
  if (auto st = ReadStrings(obj, "labels", o.labels); !st.ok()) return st;
  if (auto st = ReadStrings(obj, "object_marking_refs", o.object_marking_refs); !st.ok()) return st;
  simdjson::dom::array markings;
  if (obj["granular_markings"].get_array().get(markings) == simdjson::SUCCESS) {
    for (simdjson::dom::element m : markings) {
      simdjson::dom::object mo;
      if (m.get_object().get(mo) != simdjson::SUCCESS) {
        return WrongType("granular_markings", "a list of objects");
      }
      GranularMarking g;
      if (auto st = ReadString(mo, "marking_ref", g.marking_ref); !st.ok()) return st;
      if (auto st = ReadString(mo, "lang", g.lang); !st.ok()) return st;
      if (auto st = ReadStrings(mo, "selectors", g.selectors); !st.ok()) return st;
      o.granular_markings.push_back(std::move(g));
    }
  }
  return o;
}

}  // namespace internal

}  // namespace liaison::stix
