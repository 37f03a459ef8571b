#pragma once

// ParseObject's extraction of the common properties, from a document already parsed with
// simdjson's DOM (the validator's), so that a TAXII POST parses each object once, not twice.

#include <string_view>

#include "core/result.h"
#include "simdjson.h"
#include "stix/object.h"

namespace liaison::stix::internal {

// What ParseObject(json) returns when `root` is the DOM of `json`.
Result<Object> ExtractObject(simdjson::dom::element root, std::string_view json);

}  // namespace liaison::stix::internal
