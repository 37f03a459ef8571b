#pragma once

// Splitting an input into STIX objects without re-serialising them: for ingest (TAXII POST,
// `liaison import`) where each object's original text is kept. Validation is separate
// (validate.h); call it on each object's text.

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "stix/object.h"
#include "stix/validate.h"

namespace liaison::stix {

struct ObjectText {
  std::string_view json;  // a view into the input: valid while the input is
  std::string pointer;    // "/objects/3" for bundles and envelopes, "" for a single object
  size_t line = 1;        // 1-based line of the object's start (NDJSON: its line)
};

struct SplitResult {
  InputForm form = InputForm::kUnknown;
  std::vector<ObjectText> objects;
};

// Finds each object of a bundle, envelope, single object or NDJSON input. Errors: malformed
// JSON (with line and column), or a container whose `objects` is not a list of objects.
Result<SplitResult> SplitObjects(std::string_view text);

}  // namespace liaison::stix
