#pragma once

// Writing STIX content out: bundles (STIX 2.1 section 8), NDJSON (one object a line) and TAXII
// 2.1 envelopes (TAXII 2.1 section 3.7).
//
// Objects are written from the JSON text they arrived with (stix::Object::json), never
// re-serialised: what the store holds is what a reader gets, byte for byte, and writing costs one
// copy of the bytes. Each function reserves its output once. Every overload set takes the
// objects as stix::Object, as owned texts or as views, so callers holding any of them avoid
// building Objects only to write them.
//
// Round trip: splitting the output again (parse.h SplitObjects) gives back the same object texts
// in the same order (NDJSON: see SerializeNdjson for multi-line texts).

#include <span>
#include <string>
#include <string_view>

#include "stix/object.h"

namespace liaison::stix {

// Returns {"type":"bundle","id":"...","objects":[...]} holding each object's text verbatim, in
// order. `bundle_id` is written as given (the caller vouches for its "bundle--UUID" form); when
// empty, a fresh "bundle--<UUIDv4>" is generated (section 8: bundle ids are not versioned and
// carry no meaning). STIX 2.1 bundles carry no spec_version. With no objects, the "objects"
// member is left out: the spec defines it, when present, as a list of one or more objects.
std::string SerializeBundle(std::span<const Object> objects, std::string_view bundle_id = {});
std::string SerializeBundle(std::span<const std::string> object_texts,
                            std::string_view bundle_id = {});
std::string SerializeBundle(std::span<const std::string_view> object_texts,
                            std::string_view bundle_id = {});

// Returns one object a line, each line ending in "\n". A text that spans several lines (an
// object split out of a pretty-printed bundle) is written without its insignificant whitespace;
// a one-line text is copied verbatim.
std::string SerializeNdjson(std::span<const Object> objects);
std::string SerializeNdjson(std::span<const std::string> object_texts);
std::string SerializeNdjson(std::span<const std::string_view> object_texts);

// Returns a TAXII 2.1 envelope: {"more":...,"next":"...","objects":[...]}. `next` is written
// only when non-empty and `objects` only when there is at least one. With no objects, no more
// and no next, the result is the empty envelope "{}" (every envelope property is optional in
// TAXII 2.1 section 3.7, and a server with nothing to return sends an empty one).
std::string SerializeEnvelope(std::span<const Object> objects, bool more,
                              std::string_view next = {});
std::string SerializeEnvelope(std::span<const std::string> object_texts, bool more,
                              std::string_view next = {});
std::string SerializeEnvelope(std::span<const std::string_view> object_texts, bool more,
                              std::string_view next = {});

// Appends `json` (one well-formed JSON value) to `out` without insignificant whitespace. Bytes
// inside strings are copied unchanged; the input is not otherwise checked.
void AppendCompactJson(std::string_view json, std::string& out);

}  // namespace liaison::stix
