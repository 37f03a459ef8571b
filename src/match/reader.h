#pragma once

// Log readers: one line of Zeek TSV, Zeek JSON, Suricata EVE or mapped NDJSON in, one Event of
// observable fields (fields.h) out.
//
// Readers never fail on a line: a line they cannot use is classified (LineResult) and, when it
// is bad, counted by reason in ReaderStats, so a corrupt record costs one counter and the
// stream goes on. A reader keeps what the format needs between lines (the Zeek TSV header) and
// nothing per event beyond fixed buffers, so memory stays bounded whatever the input.
// Readers are not thread safe; use one per thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"
#include "match/fields.h"

namespace liaison::match {

inline constexpr size_t kMaxEventFields = 96;  // fields past this are dropped (and counted)

struct Event {
  bool has_time = false;
  Timestamp time;
  size_t count = 0;
  std::array<FieldValue, kMaxEventFields> fields;
  bool truncated = false;

  void Clear() {
    has_time = false;
    count = 0;
    truncated = false;
  }
  void Push(Field field, std::string_view value) {
    if (value.empty()) return;
    if (count == kMaxEventFields) {
      truncated = true;
      return;
    }
    fields[count++] = {field, value};
  }
};

enum class LineResult { kEvent, kSkipped, kBad };

enum class BadReason : uint8_t {
  kMalformedJson,  // not a JSON object
  kNotAnObject,    // valid JSON, but not an object
  kNoHeader,       // Zeek TSV data before a #fields line
  kBadHeader,      // a #separator/#fields line that cannot be used
  kColumnCount,    // Zeek TSV row whose column count differs from #fields
  kBadTime,        // a time field that is not a time
  kTooLong,        // longer than the reader's line buffer
  kTooManyFields,  // more observable fields than kMaxEventFields
};
inline constexpr size_t kBadReasonCount = 8;
std::string_view BadReasonName(BadReason reason);

struct ReaderStats {
  std::array<uint64_t, kBadReasonCount> bad{};
  uint64_t bad_total() const {
    uint64_t n = 0;
    for (uint64_t b : bad) n += b;
    return n;
  }
  // 1-based line number of the first bad line of each reason (0: none), to name it in a report.
  std::array<uint64_t, kBadReasonCount> first_bad_line{};
};

enum class LogFormat { kZeek, kZeekJson, kEve, kNdjson };
std::string_view LogFormatName(LogFormat format);
Result<LogFormat> ParseLogFormat(std::string_view name);
// Guesses the format from the first bytes of a log: "#separator" is Zeek TSV, a JSON object
// with "event_type" is EVE, one with "_path", "ts" or "id.orig_h" is Zeek JSON; nullopt when
// unsure (use --format).
std::optional<LogFormat> DetectLogFormat(std::string_view head);

// For NDJSON: which JSON member (a dotted path into nested objects) holds which field, and
// which holds the event time (RFC 3339 text or Unix seconds).
struct FieldMapping {
  std::vector<std::pair<std::string, Field>> fields;
  std::string time;
};
// Reads a TOML mapping: [fields] member = "field name or STIX path" ..., and time = "member".
Result<FieldMapping> ParseFieldMapping(std::string_view toml_text, std::string_view source);

class LogReader {
 public:
  virtual ~LogReader() = default;
  // Reads one line (without its line feed). simdjson needs `capacity` >= line.size() + 64
  // readable bytes from line.data(); the line's bytes and the Event's views are valid until
  // the next call.
  virtual LineResult Read(std::string_view line, size_t capacity, Event& event) = 0;
  // Counts a bad line for `reason` (also used by the line splitter for kTooLong).
  void CountBad(BadReason reason, uint64_t line_number) {
    auto i = static_cast<size_t>(reason);
    if (stats_.bad[i]++ == 0) stats_.first_bad_line[i] = line_number;
  }
  const ReaderStats& stats() const { return stats_; }
  // The stats since the last call, and zero from here on: ParallelMatcher counts a block's bad
  // lines with the block's own line numbers and adds them up in input order.
  ReaderStats TakeStats() {
    ReaderStats out = stats_;
    stats_ = ReaderStats{};
    return out;
  }
  void set_line_number(uint64_t n) { line_number_ = n; }

 protected:
  ReaderStats stats_;
  uint64_t line_number_ = 0;
};

std::unique_ptr<LogReader> MakeZeekTsvReader();
std::unique_ptr<LogReader> MakeZeekJsonReader();
std::unique_ptr<LogReader> MakeEveReader();
std::unique_ptr<LogReader> MakeNdjsonReader(const FieldMapping& mapping);
// One of the above by format (kNdjson needs `mapping`).
std::unique_ptr<LogReader> MakeReader(LogFormat format, const FieldMapping* mapping = nullptr);

}  // namespace liaison::match
