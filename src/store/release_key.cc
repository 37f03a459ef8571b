#include "store/release_key.h"

#include <algorithm>

#include "simdjson.h"

namespace liaison::store {
namespace {

// Reads one optional string member; false when present with another type.
bool ViewString(simdjson::dom::object obj, const char* key, std::string_view& out) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return true;  // absent
  return e.get_string().get(out) == simdjson::SUCCESS;
}

// Reads one optional list of strings; false when present with another shape.
template <typename List>
bool ViewStrings(simdjson::dom::object obj, const char* key, List& out) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return true;
  simdjson::dom::array list;
  if (e.get_array().get(list) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element item : list) {
    std::string_view v;
    if (item.get_string().get(v) != simdjson::SUCCESS) return false;
    out.push_back(v);
  }
  return true;
}

}  // namespace

std::optional<ReleaseFacts> ReadReleaseFacts(std::string_view json) {
  // One parser per thread, reused: its buffers grow to the largest object seen and stay.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  ReleaseFacts f;
  if (!ViewString(obj, "type", f.type) || !ViewString(obj, "id", f.id) ||
      !ViewString(obj, "created_by_ref", f.created_by_ref) ||
      !ViewStrings(obj, "object_marking_refs", f.markings) ||
      !ViewStrings(obj, "labels", f.labels)) {
    return std::nullopt;
  }
  if (f.type.empty() || f.id.empty()) return std::nullopt;
  int64_t confidence;
  if (obj["confidence"].get_int64().get(confidence) == simdjson::SUCCESS && confidence >= 0 &&
      confidence <= 100) {
    f.confidence = static_cast<int>(confidence);
  }
  return f;
}

int64_t EncodeReleaseKey(const ReleaseFacts& facts, KeyCoder coder, void* context) {
  uint64_t key = 1;
  const uint64_t confidence =
      facts.confidence ? static_cast<uint64_t>(*facts.confidence) : kKeyConfidenceAbsent;
  key |= confidence << kKeyConfidenceShift;

  const int64_t type = coder(context, KeyKind::kType, facts.type);
  if (type < 0) return 0;
  key |= std::min<uint64_t>(static_cast<uint64_t>(type), kKeyTypeOverflow) << kKeyTypeShift;

  uint64_t creator = 0;
  if (!facts.created_by_ref.empty()) {
    const int64_t code = coder(context, KeyKind::kCreator, facts.created_by_ref);
    if (code < 0) return 0;
    creator = std::min<uint64_t>(static_cast<uint64_t>(code) + 1, kKeyCreatorOverflow);
  }
  key |= creator << kKeyCreatorShift;

  for (std::string_view m : facts.markings) {
    const int64_t code = coder(context, KeyKind::kMarking, m);
    if (code < 0) return 0;
    key |= uint64_t{1} << (kKeyMarkingShift + std::min<int64_t>(code, kKeyMarkingBits));
  }
  for (std::string_view l : facts.labels) {
    const int64_t code = coder(context, KeyKind::kLabel, l);
    if (code < 0) return 0;
    key |= uint64_t{1} << (kKeyLabelShift + std::min<int64_t>(code, kKeyLabelBits));
  }
  return static_cast<int64_t>(key);
}

DecodedReleaseKey DecodeReleaseKey(int64_t signed_key) {
  DecodedReleaseKey d;
  const uint64_t key = static_cast<uint64_t>(signed_key);
  if ((key & 1) == 0) return d;
  d.valid = true;
  const uint64_t confidence = (key >> kKeyConfidenceShift) & 127;
  if (confidence <= 100) d.confidence = static_cast<int>(confidence);
  const uint64_t type = (key >> kKeyTypeShift) & 63;
  if (type != kKeyTypeOverflow) d.type_code = static_cast<int64_t>(type);
  const uint64_t creator = (key >> kKeyCreatorShift) & 1023;
  if (creator != kKeyCreatorOverflow) d.creator = static_cast<int64_t>(creator);
  const uint64_t markings = (key >> kKeyMarkingShift) & 0xFFFF;
  d.markings = static_cast<uint32_t>(markings & ((1u << kKeyMarkingBits) - 1));
  d.markings_overflow = (markings >> kKeyMarkingBits) & 1;
  const uint64_t labels = (key >> kKeyLabelShift) & ((uint64_t{1} << (kKeyLabelBits + 1)) - 1);
  d.labels = static_cast<uint32_t>(labels & ((uint64_t{1} << kKeyLabelBits) - 1));
  d.labels_overflow = (labels >> kKeyLabelBits) & 1;
  return d;
}

}  // namespace liaison::store
