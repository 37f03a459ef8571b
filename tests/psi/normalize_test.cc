#include "psi/normalize.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace liaison::psi {
namespace {

std::string N(ItemKind kind, std::string_view text, const NormalizeOptions& options = {}) {
  auto r = Normalize(kind, text, options);
  return r.ok() ? *r : "ERROR: " + std::string(r.status().message());
}

bool Bad(ItemKind kind, std::string_view text) { return !Normalize(kind, text).ok(); }

TEST(PsiNormalize, EmailLowerCasesTheDomainAndKeepsTheLocalPart) {
  EXPECT_EQ(N(ItemKind::kEmail, " John.Doe+x@Example.ORG "), "John.Doe+x@example.org");
  EXPECT_EQ(N(ItemKind::kEmail, "a@b.example."), "a@b.example");
  EXPECT_EQ(N(ItemKind::kEmail, "user@BÜCHER.example"), "user@xn--bcher-kva.example");
}

TEST(PsiNormalize, EmailFoldsGmailAliasesOnly) {
  EXPECT_EQ(N(ItemKind::kEmail, "J.O.Doe+news@GoogleMail.com"), "jodoe@gmail.com");
  EXPECT_EQ(N(ItemKind::kEmail, "jodoe@gmail.com"), "jodoe@gmail.com");
  EXPECT_EQ(N(ItemKind::kEmail, "J.O.Doe+news@outlook.com"), "J.O.Doe+news@outlook.com");
}

TEST(PsiNormalize, EmailRejectsMalformedAddresses) {
  EXPECT_TRUE(Bad(ItemKind::kEmail, "no-at-sign"));
  EXPECT_TRUE(Bad(ItemKind::kEmail, "@example.org"));
  EXPECT_TRUE(Bad(ItemKind::kEmail, "a@"));
  EXPECT_TRUE(Bad(ItemKind::kEmail, "a@exa..mple"));
  EXPECT_TRUE(Bad(ItemKind::kEmail, "+tag@gmail.com"));
  EXPECT_TRUE(Bad(ItemKind::kEmail, std::string(65, 'a') + "@example.org"));
  EXPECT_TRUE(Bad(ItemKind::kEmail,
                  "a\x01"
                  "b@example.org"));
}

TEST(PsiNormalize, PhoneBecomesE164) {
  EXPECT_EQ(N(ItemKind::kPhone, "+33 1 23 45 67 89"), "+33123456789");
  EXPECT_EQ(N(ItemKind::kPhone, "+1 (650) 253-0000"), "+16502530000");
  EXPECT_EQ(N(ItemKind::kPhone, "01 23 45 67 89", {.default_region = "FR"}), "+33123456789");
  EXPECT_EQ(N(ItemKind::kPhone, "+44 20 7946 0958"), "+442079460958");
}

TEST(PsiNormalize, PhoneWithoutCountryNeedsARegion) {
  EXPECT_TRUE(Bad(ItemKind::kPhone, "01 23 45 67 89"));
  EXPECT_TRUE(Bad(ItemKind::kPhone, "not a number"));
  EXPECT_TRUE(Bad(ItemKind::kPhone, "+1 2"));
}

TEST(PsiNormalize, DomainIsLowerCaseALabels) {
  EXPECT_EQ(N(ItemKind::kDomain, "WWW.Example.COM."), "www.example.com");
  EXPECT_EQ(N(ItemKind::kDomain, "bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(N(ItemKind::kDomain, "XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  // Non-transitional UTS #46: sharp s stays a distinct letter.
  EXPECT_EQ(N(ItemKind::kDomain, "faß.de"), "xn--fa-hia.de");
}

TEST(PsiNormalize, DomainRejectsJunk) {
  EXPECT_TRUE(Bad(ItemKind::kDomain, "."));
  EXPECT_TRUE(Bad(ItemKind::kDomain, "a..b"));
  EXPECT_TRUE(Bad(ItemKind::kDomain, "exa mple.com"));
  EXPECT_TRUE(Bad(ItemKind::kDomain, "\xff\xfe.com"));
  EXPECT_TRUE(Bad(ItemKind::kDomain, std::string(300, 'a') + ".com"));
}

TEST(PsiNormalize, IpAddressesGetCanonicalText) {
  EXPECT_EQ(N(ItemKind::kIp, "192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(N(ItemKind::kIp, "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(N(ItemKind::kIp, "2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(N(ItemKind::kIp, "::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_TRUE(Bad(ItemKind::kIp, "192.0.2.256"));
  EXPECT_TRUE(Bad(ItemKind::kIp, "192.0.2.1/24"));
  EXPECT_TRUE(Bad(ItemKind::kIp, "fe80::1%eth0"));
}

TEST(PsiNormalize, HashesAreLowerCaseHexOfKnownLengths) {
  EXPECT_EQ(N(ItemKind::kHash, "D41D8CD98F00B204E9800998ECF8427E"),
            "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(N(ItemKind::kHash, std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_TRUE(Bad(ItemKind::kHash, std::string(33, 'a')));
  EXPECT_TRUE(Bad(ItemKind::kHash, std::string(31, 'a') + "g"));
}

TEST(PsiNormalize, IdentifiersAreNfc) {
  // "é" decomposed (e + U+0301) and precomposed (U+00E9) are the same identifier.
  EXPECT_EQ(N(ItemKind::kId, "caf\x65\xcc\x81"), "caf\xc3\xa9");
  EXPECT_EQ(N(ItemKind::kId, "  wallet-1A2b  "), "wallet-1A2b");
  EXPECT_TRUE(Bad(ItemKind::kId, "bad \xc3"));
  EXPECT_TRUE(Bad(ItemKind::kId, "   "));
  EXPECT_TRUE(Bad(ItemKind::kId, std::string(1025, 'x')));
}

TEST(PsiWatchList, SkipsCommentsAndDuplicatesAndNamesTheBadLine) {
  auto list = ParseWatchList("# comment\r\n192.0.2.1\r\n\n::ffff:192.0.2.1\n2001:db8::1\n",
                             ItemKind::kIp, "ips.txt");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(list->items, ::testing::ElementsAre("192.0.2.1", "2001:db8::1"));
  auto bad = ParseWatchList("192.0.2.1\nnot-an-ip\n", ItemKind::kIp, "ips.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::StartsWith("ips.txt:2: "));
  auto big = ParseWatchList("a\nb\nc\n", ItemKind::kId, "ids", {}, 2);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PsiNormalize, KindNamesRoundTrip) {
  for (auto k : {ItemKind::kEmail, ItemKind::kPhone, ItemKind::kDomain, ItemKind::kIp,
                 ItemKind::kHash, ItemKind::kId}) {
    EXPECT_EQ(*ParseItemKind(ItemKindName(k)), k);
  }
  EXPECT_FALSE(ParseItemKind("url").ok());
}

}  // namespace
}  // namespace liaison::psi
