#include "core/timestamp.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace liaison {
namespace {

TEST(Timestamp, ParsesStixFormWithAnyFractionDigits) {
  auto t = Timestamp::Parse("2016-04-06T20:03:48.123Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->unix_seconds(), 1459973028);
  EXPECT_EQ(t->nanos(), 123'000'000);
  EXPECT_EQ(t->precision(), 3);
  auto nanos = Timestamp::Parse("2016-04-06T20:03:48.123456789Z");
  ASSERT_TRUE(nanos.ok());
  EXPECT_EQ(nanos->nanos(), 123'456'789);
  EXPECT_TRUE(Timestamp::Parse("2016-04-06T20:03:48Z").ok());
}

TEST(Timestamp, ComparesAsInstantsNotText) {
  // "...:00.5Z" sorts before "...:00Z" as text although it is later.
  auto half = *Timestamp::Parse("2020-01-01T00:00:00.5Z");
  auto whole = *Timestamp::Parse("2020-01-01T00:00:00Z");
  EXPECT_GT(half, whole);
  EXPECT_EQ(*Timestamp::Parse("2020-01-01T00:00:00.500Z"), half);
}

TEST(Timestamp, RejectsNonUtcAndImpossibleDates) {
  EXPECT_FALSE(Timestamp::Parse("2016-04-06T20:03:48+01:00").ok());
  EXPECT_FALSE(Timestamp::Parse("2016-04-06 20:03:48Z").ok());
  EXPECT_FALSE(Timestamp::Parse("2016-02-30T00:00:00Z").ok());
  EXPECT_FALSE(Timestamp::Parse("2015-02-29T00:00:00Z").ok());
  EXPECT_TRUE(Timestamp::Parse("2016-02-29T00:00:00Z").ok());
  EXPECT_FALSE(Timestamp::Parse("2016-04-06T24:00:00Z").ok());
  EXPECT_FALSE(Timestamp::Parse("2016-04-06T20:03:48.Z").ok());
  EXPECT_FALSE(Timestamp::Parse("2016-04-06T20:03:48Zjunk").ok());
  EXPECT_FALSE(Timestamp::Parse("").ok());
}

TEST(Timestamp, ErrorNamesTheOffset) {
  auto t = Timestamp::Parse("2016-04-06T20:03:48+01:00");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("offset 19"), std::string::npos) << t.status();
}

TEST(Timestamp, Rfc3339AcceptsOffsets) {
  auto t = Timestamp::ParseRfc3339("2016-04-06T21:03:48+01:00");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, *Timestamp::Parse("2016-04-06T20:03:48Z"));
}

// The common layout has a fast path; it must agree with the general parser (reached through
// the RFC 3339 form with a lower-case 'z', which the fast path never takes).
TEST(Timestamp, FastPathAgreesWithGeneralParser) {
  std::mt19937_64 rng(20261129);
  const std::string digits = "0123456789";
  for (int round = 0; round < 20000; ++round) {
    const int64_t seconds = static_cast<int64_t>(rng() % 8'000'000'000ull) - 1'000'000'000;
    const int32_t nanos = static_cast<int32_t>(rng() % 1'000'000'000);
    std::string text = Timestamp::FromUnixNanos(seconds, nanos).ToString(rng() % 10);
    if (round % 4 == 0) text[rng() % (text.size() - 1)] = digits[rng() % 10];  // maybe invalid
    // Bytes just outside the digit range, and high bytes ('0' + 128), which a signed range
    // check could mistake for digits.
    static constexpr char kNonDigits[] = {'/', ':', 'a', ' ', '-', '\xb0', '\xb9', '\x80', '\0'};
    if (round % 4 == 1) text[rng() % (text.size() - 1)] = kNonDigits[rng() % sizeof(kNonDigits)];
    std::string lower = text;
    lower.back() = 'z';
    auto fast = Timestamp::Parse(text);
    auto general = Timestamp::ParseRfc3339(lower);
    ASSERT_EQ(fast.ok(), general.ok()) << text;
    if (fast.ok()) {
      EXPECT_EQ(*fast, *general) << text;
      EXPECT_EQ(fast->precision(), general->precision()) << text;
    }
  }
}

TEST(Timestamp, FormatsRoundTrip) {
  for (const char* text :
       {"2016-04-06T20:03:48.000Z", "1969-12-31T23:59:59.999Z", "2016-04-06T20:03:48.123456789Z",
        "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"}) {
    auto t = Timestamp::Parse(text);
    ASSERT_TRUE(t.ok()) << text;
    EXPECT_EQ(t->ToString(), text);
  }
  EXPECT_EQ(Timestamp::FromUnixMillis(1500).ToString(), "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(Timestamp::FromUnixMillis(1500).ToString(0), "1970-01-01T00:00:01.5Z");
}

}  // namespace
}  // namespace liaison
