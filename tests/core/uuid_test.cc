#include "core/uuid.h"

#include <gtest/gtest.h>

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

TEST(Uuid, V4IsRandomVersion4) {
  Uuid a = Uuid::V4(), b = Uuid::V4();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.version(), 4);
  EXPECT_TRUE(a.IsRfc4122Variant());
}

TEST(Uuid, V5MatchesRfc4122Example) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") == 886313e1-3b8a-5372-9b90-0c9aee199e5d
  auto dns = *Uuid::Parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_EQ(Uuid::V5(dns, "python.org").ToString(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

}  // namespace
}  // namespace liaison
