#pragma once

// RFC 3339 timestamps as STIX 2.1 uses them: instants in UTC with nanosecond precision.
//
// STIX (section 3.2, "Timestamp") allows `YYYY-MM-DDTHH:mm:ss[.s+]Z`: UTC only, any number of
// fractional digits. Timestamps compare as instants, never as text: "...:00.5Z" is later than
// "...:00Z" although it sorts first as text.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison {

class Timestamp {
 public:
  // The Unix epoch.
  constexpr Timestamp() = default;

  // Parses a STIX timestamp. Digits past the ninth fractional one are accepted and truncated.
  // Returns InvalidArgument naming the offending offset when `text` is not of the STIX form, is
  // not in UTC ("Z"), or names a day or time that does not exist.
  static Result<Timestamp> Parse(std::string_view text);

  // Like Parse but also accepts the offsets RFC 3339 allows (+hh:mm, -hh:mm, lower-case t/z),
  // for TAXII query parameters and log timestamps.
  static Result<Timestamp> ParseRfc3339(std::string_view text);

  static constexpr Timestamp FromUnixNanos(int64_t seconds, int32_t nanos) {
    Timestamp t;
    t.seconds_ = seconds;
    t.nanos_ = nanos;
    return t;
  }
  static Timestamp FromUnixMillis(int64_t millis);
  // The current time from the system clock.
  static Timestamp Now();

  int64_t unix_seconds() const { return seconds_; }
  int32_t nanos() const { return nanos_; }
  int64_t UnixMillis() const { return seconds_ * 1000 + nanos_ / 1'000'000; }

  // The number of fractional digits of the text this was parsed from (0 when built otherwise).
  int precision() const { return precision_; }

  // Formats as YYYY-MM-DDTHH:mm:ss.sssZ with at least `min_digits` fractional digits and as
  // many more (up to 9) as needed to be exact. min_digits = 3 gives STIX's usual milliseconds.
  std::string ToString(int min_digits = 3) const;

  friend constexpr bool operator==(const Timestamp& a, const Timestamp& b) {
    return a.seconds_ == b.seconds_ && a.nanos_ == b.nanos_;
  }
  friend constexpr std::strong_ordering operator<=>(const Timestamp& a, const Timestamp& b) {
    if (auto c = a.seconds_ <=> b.seconds_; c != 0) return c;
    return a.nanos_ <=> b.nanos_;
  }

 private:
  static Result<Timestamp> ParseImpl(std::string_view text, bool stix_only);

  int64_t seconds_ = 0;  // since 1970-01-01T00:00:00Z, negative before
  int32_t nanos_ = 0;    // [0, 1e9)
  int8_t precision_ = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace liaison
