// Parse + validate + serialise, with round-trip properties:
//  - the validator never crashes or hangs, whatever the bytes;
//  - an input that splits into objects yields objects whose text parses back to the same
//    common properties (ParseObject is a function of the stored text alone);
//  - json::Serialize(json::Parse(x)) is a fixed point: parsing it again gives the same tree,
//    and validating the re-serialised text gives the same number of errors.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json.h"
#include "stix/parse.h"
#include "stix/validate.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static liaison::stix::Validator validator;
  const liaison::stix::Report report = validator.Validate(text);

  auto split = liaison::stix::SplitObjects(text);
  if (split.ok()) {
    for (const auto& object : split->objects) {
      auto a = liaison::stix::ParseObject(object.json);
      if (!a.ok()) continue;
      auto b = liaison::stix::ParseObject(a->json);
      Require(b.ok() && b->id == a->id && b->type == a->type && b->version() == a->version());
    }
  }

  auto tree = liaison::json::Parse(text);
  if (tree.ok()) {
    const std::string once = liaison::json::Serialize(*tree);
    auto again = liaison::json::Parse(once);
    Require(again.ok() && *again == *tree);
    Require(liaison::json::Serialize(*again) == once);
    if (report.form != liaison::stix::InputForm::kNdjson) {
      Require(validator.Validate(once).errors == report.errors);
    }
  }
  return 0;
}
