#include "core/uuid.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace liaison {
namespace {

TEST(Uuid, ParsesAndPrintsCanonicalForm) {
  auto u = Uuid::Parse("8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->ToString(), "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  EXPECT_EQ(u->version(), 4);
  EXPECT_TRUE(u->IsRfc4122Variant());
}

TEST(Uuid, RejectsMalformed) {
  EXPECT_FALSE(Uuid::Parse("8e2e2d2b17d44cbf938f98ee46b3cd3f").ok());
  EXPECT_FALSE(Uuid::Parse("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3g").ok());
  EXPECT_FALSE(Uuid::Parse("8e2e2d2b-17d4-4cbf-938f_98ee46b3cd3f").ok());
}

// Scan (the SIMD text check) must agree with TryParse on every input, valid or one byte off.
TEST(Uuid, ScanAgreesWithTryParse) {
  std::mt19937 rng(20261129);
  const std::string alphabet = "0123456789abcdefABCDEF-gG/:@`{ \x80\xff";
  for (int round = 0; round < 20000; ++round) {
    std::string text = Uuid::V4().ToString();
    if (round % 3 == 0) text[14] = "0123456789abcdef"[rng() % 16];
    if (round % 2 == 1) text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    if (round % 97 == 0) text.pop_back();
    Uuid parsed;
    const bool expected = Uuid::TryParse(text, parsed);
    int version = -1;
    bool rfc4122 = false;
    ASSERT_EQ(Uuid::Scan(text, version, rfc4122), expected) << text;
    if (expected) {
      EXPECT_EQ(version, parsed.version()) << text;
      EXPECT_EQ(rfc4122, parsed.IsRfc4122Variant()) << text;
    }
  }
}

TEST(Uuid, V4IsRandomVersion4) {
  Uuid a = Uuid::V4(), b = Uuid::V4();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.version(), 4);
  EXPECT_TRUE(a.IsRfc4122Variant());
}

// RFC 9562 section 5.7: 48 bits of Unix milliseconds, version 7, the RFC variant, the rest
// random; and ids of different milliseconds sort (as text too) in time order.
TEST(Uuid, V7IsTimeOrderedVersion7) {
  const auto ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = ms();
  const Uuid a = Uuid::V7();
  const int64_t after = ms();
  EXPECT_EQ(a.version(), 7);
  EXPECT_TRUE(a.IsRfc4122Variant());
  int64_t stamp = 0;
  for (int i = 0; i < 6; ++i) stamp = (stamp << 8) | a.bytes()[i];
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  EXPECT_NE(Uuid::V7(), Uuid::V7());  // same millisecond, different random bits
  Uuid b = Uuid::V7();
  while (ms() == after) b = Uuid::V7();  // until the clock has moved on
  b = Uuid::V7();
  EXPECT_LT(a.ToString(), b.ToString());
  EXPECT_TRUE(Uuid::Parse(b.ToString()).ok());
}

TEST(Uuid, V5MatchesRfc4122Example) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") == 886313e1-3b8a-5372-9b90-0c9aee199e5d
  auto dns = *Uuid::Parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_EQ(Uuid::V5(dns, "python.org").ToString(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

}  // namespace
}  // namespace liaison
