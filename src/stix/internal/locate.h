#pragma once

// The slow path of validation: finding *where* something is in the input text. simdjson's DOM
// keeps no source positions, so when a finding must be shown to a person we scan the text once
// more. Nothing here runs unless there is something to report.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::stix::internal {

struct SyntaxError {
  size_t offset = 0;    // byte offset of the first offending byte
  std::string message;  // e.g. "expected ',' or '}' after an object member"
};

// Returns the first JSON syntax error of `text` (RFC 8259, UTF-8 checked, nesting limited to
// `max_depth`), or nullopt when `text` is one well-formed JSON value. Iterative: hostile nesting
// cannot exhaust the stack.
std::optional<SyntaxError> FindSyntaxError(std::string_view text, size_t max_depth);

// Byte offsets of the values at `pointers` (RFC 6901 JSON pointers; "" is the whole document)
// in one pass over `text`, which must be well-formed. An unresolved pointer maps to npos; a
// pointer's longest resolvable prefix is used when it names a missing member.
//
// `structurals`, when given, are the offsets of every structural character and scalar start of
// `text` in document order, as simdjson's stage 1 left them after parsing exactly `text`. The
// walk then steps from structural to structural instead of over every byte, which makes
// locating a finding deep in a big bundle cost a fraction of a parse instead of several.
std::vector<size_t> LocatePointers(std::string_view text, const std::vector<std::string>& pointers,
                                   std::span<const uint32_t> structurals = {});

// Counts '\n' bytes in `text`, 16 bytes at a time where SSE2 is available.
size_t CountNewlines(std::string_view text);

// True when `text` holds two or more non-blank lines that each start with '{' and end with '}'
// once trimmed: NDJSON rather than one (possibly pretty-printed) document.
bool LooksLikeNdjson(std::string_view text);

// 1-based line and column (in bytes) of `offset`.
void LineColumn(std::string_view text, size_t offset, size_t& line, size_t& column);

}  // namespace liaison::stix::internal
