#include "core/timestamp.h"

#include <gtest/gtest.h>

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
