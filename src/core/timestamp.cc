#include "core/timestamp.h"

#include <chrono>
#include <cstdio>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/strings.h"

namespace liaison {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`; returns -1 when any is missing.
int ReadDigits(std::string_view s, size_t pos, int n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

Status Error(std::string_view text, size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat("invalid timestamp \"", text.substr(0, 64), "\" at offset ", offset, ": ", what));
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<Timestamp> Timestamp::Parse(std::string_view text) { return ParseImpl(text, true); }

Result<Timestamp> Timestamp::ParseRfc3339(std::string_view text) { return ParseImpl(text, false); }

// The layout nearly every producer writes, "YYYY-MM-DDTHH:mm:ss[.f+]Z", checked without the
// general parser's per-field loop; anything else (or any out-of-range field) takes the general
// path, which produces the error message.
static bool ParseCommonLayout(std::string_view s, int64_t& seconds, int32_t& nanos,
                              int& precision) {
  if (s.size() < 20 || s.size() > 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':' || s.back() != 'Z') {
    return false;
  }
  auto d = [&](size_t i) { return static_cast<unsigned>(s[i]) - '0'; };
#if defined(__SSE2__)
  // The digits of "YYYY-MM-DDTHH:mm" (the separators are checked above) in one 16-byte load.
  {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data()));
    const __m128i shifted = _mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8('0')), _mm_set1_epi8(-128));
    const unsigned digits = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(10 - 128)))));
    constexpr unsigned kSeparatorLanes = 1u << 4 | 1u << 7 | 1u << 10 | 1u << 13;
    if ((digits | kSeparatorLanes) != 0xffff || d(17) > 9 || d(18) > 9) return false;
  }
#else
  constexpr size_t kDigits[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
  unsigned bad = 0;
  for (size_t i : kDigits) bad |= d(i) > 9;
  if (bad) return false;
#endif
  const int year = static_cast<int>(d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3));
  const int month = static_cast<int>(d(5) * 10 + d(6)), day = static_cast<int>(d(8) * 10 + d(9));
  const int hour = static_cast<int>(d(11) * 10 + d(12));
  const int minute = static_cast<int>(d(14) * 10 + d(15));
  const int second = static_cast<int>(d(17) * 10 + d(18));
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  nanos = 0;
  precision = 0;
  if (s.size() > 20) {
    if (s[19] != '.' || s.size() == 21) return false;
    for (size_t i = 20; i + 1 < s.size(); ++i) {
      if (d(i) > 9) return false;
      if (precision < 9) {
        nanos = nanos * 10 + static_cast<int32_t>(d(i));
        ++precision;
      }
    }
    static constexpr int32_t kScale[] = {1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
                                         10'000,        1'000,       100,        10,        1};
    nanos *= kScale[precision];
  }
  seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return true;
}

Result<Timestamp> Timestamp::ParseImpl(std::string_view s, bool stix_only) {
  {
    Timestamp t;
    int precision = 0;
    if (ParseCommonLayout(s, t.seconds_, t.nanos_, precision)) {
      t.precision_ = static_cast<int8_t>(precision);
      return t;
    }
  }
  // YYYY-MM-DDTHH:mm:ss
  static constexpr struct {
    size_t pos;
    int digits;
    char sep;
  } kFields[] = {{0, 4, '-'}, {5, 2, '-'}, {8, 2, 'T'}, {11, 2, ':'}, {14, 2, ':'}, {17, 2, 0}};
  int v[6];
  for (int i = 0; i < 6; ++i) {
    v[i] = ReadDigits(s, kFields[i].pos, kFields[i].digits);
    if (v[i] < 0) return Error(s, kFields[i].pos, "expected YYYY-MM-DDTHH:mm:ss[.s+]Z");
    size_t sep_pos = kFields[i].pos + kFields[i].digits;
    if (kFields[i].sep != 0) {
      char c = sep_pos < s.size() ? s[sep_pos] : '\0';
      bool ok = c == kFields[i].sep || (!stix_only && kFields[i].sep == 'T' && c == 't');
      if (!ok) {
        return Error(s, sep_pos, StrCat("expected '", std::string(1, kFields[i].sep), "'"));
      }
    }
  }
  const int year = v[0], month = v[1], day = v[2], hour = v[3], minute = v[4], second = v[5];
  if (month < 1 || month > 12) return Error(s, 5, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Error(s, 8, "day out of range");
  if (hour > 23) return Error(s, 11, "hour out of range");
  if (minute > 59) return Error(s, 14, "minute out of range");
  if (second > 60) return Error(s, 17, "second out of range");  // 60: a leap second

  size_t pos = 19;
  int32_t nanos = 0;
  int precision = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (precision < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++precision;
      }
      ++pos;
    }
    if (pos == start) return Error(s, pos, "expected digits after '.'");
    for (int i = precision; i < 9; ++i) nanos *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || (!stix_only && s[pos] == 'z'))) {
    ++pos;
  } else if (!stix_only && pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = ReadDigits(s, pos + 1, 2);
    int om = ReadDigits(s, pos + 4, 2);
    if (oh < 0 || om < 0 || s[pos + 3] != ':' || oh > 23 || om > 59) {
      return Error(s, pos, "malformed UTC offset");
    }
    offset_seconds = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return Error(
        s, pos,
        stix_only ? "expected 'Z': STIX timestamps are in UTC" : "expected 'Z' or a UTC offset");
  }
  if (pos != s.size()) return Error(s, pos, "unexpected text after the timestamp");

  Timestamp t;
  t.seconds_ =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  t.nanos_ = nanos;
  t.precision_ = static_cast<int8_t>(precision);
  return t;
}

Timestamp Timestamp::FromUnixMillis(int64_t millis) {
  int64_t s = millis / 1000, ms = millis % 1000;
  if (ms < 0) {
    ms += 1000;
    --s;
  }
  return FromUnixNanos(s, static_cast<int32_t>(ms * 1'000'000));
}

Timestamp Timestamp::Now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return FromUnixNanos(ns / 1'000'000'000, static_cast<int32_t>(ns % 1'000'000'000));
}

std::string Timestamp::ToString(int min_digits) const {
  int64_t days = seconds_ / 86400;
  int64_t rem = seconds_ % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days (Howard Hinnant).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);

  char buf[48];
  int n;
  if (y >= 0 && y <= 9999 && nanos_ >= 0 && nanos_ < 1'000'000'000) {
    // Formatted by hand: the ingest path formats several timestamps per object (status versions,
    // store keys), and snprintf was ~10 % of a TAXII POST's CPU. Same output as the general case.
    auto put = [](char* at, unsigned value, int width) {
      for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
    };
    put(buf, static_cast<unsigned>(y), 4);
    buf[4] = '-';
    put(buf + 5, m, 2);
    buf[7] = '-';
    put(buf + 8, d, 2);
    buf[10] = 'T';
    put(buf + 11, static_cast<unsigned>(rem / 3600), 2);
    buf[13] = ':';
    put(buf + 14, static_cast<unsigned>(rem / 60 % 60), 2);
    buf[16] = ':';
    put(buf + 17, static_cast<unsigned>(rem % 60), 2);
    n = 19;
  } else {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(y),
                      m, d, static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                      static_cast<int>(rem % 60));
  }
  std::string out;
  out.reserve(n + 11);
  out.append(buf, n);
  char frac[10];
  if (nanos_ >= 0 && nanos_ < 1'000'000'000) {
    unsigned v = static_cast<unsigned>(nanos_);
    for (int i = 8; i >= 0; --i, v /= 10) frac[i] = static_cast<char>('0' + v % 10);
    frac[9] = '\0';
  } else {
    std::snprintf(frac, sizeof frac, "%09d", nanos_);
  }
  int digits = 9;
  while (digits > min_digits && frac[digits - 1] == '0') --digits;
  if (digits > 0) {
    out += '.';
    out.append(frac, digits);
  }
  out += 'Z';
  return out;
}

}  // namespace liaison
