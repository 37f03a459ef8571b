#pragma once

// Deterministic identifiers of STIX Cyber-observable Objects (STIX 2.1 section 2.9).
//
// An SCO's id SHOULD be "type--" + a UUIDv5 in the namespace 00abedb4-aa42-466c-9c01-fed23315a9b7
// whose name is the RFC 8785 canonical JSON of an object holding the SCO's present
// "ID Contributing Properties" (listed per type in section 6). Of a `hashes` dictionary only one
// hash contributes, chosen in the order MD5, SHA-1, SHA-256, SHA-512; when none of those is there,
// the first hash of the dictionary (in document order) is used, as the OASIS python library does.
// Two producers that follow these rules give the same object the same id, which is what lets a
// store or a partner deduplicate observables.

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison::stix {

// Returns the identifier the SCO `sco_json` should carry, or nullopt when a UUIDv4 is correct:
// the type has no ID-contributing properties (process), none of them is present, or the type is
// not one of the SCOs of section 6 (custom SCOs defined by an extension-definition have no rule in
// the spec; SDOs, SROs and meta objects always use UUIDv4).
//
// Errors (InvalidArgument): malformed JSON, not a JSON object, no string `type`, or a `hashes`
// property that is not a non-empty object of strings. Other property values are used as they are:
// validation is Validator's job.
Result<std::optional<std::string>> DeterministicScoId(std::string_view sco_json);

}  // namespace liaison::stix
