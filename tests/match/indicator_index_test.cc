#include "match/indicator_index.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "match/internal/flat_key_set.h"

namespace liaison::match {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::vector<uint32_t> Hits(const IndicatorIndex& index, ValueKind kind, std::string_view value,
                           uint16_t field = 0) {
  std::vector<IndexHit> hits;
  index.Lookup(kind, value, hits, field);
  std::vector<uint32_t> out;
  for (const IndexHit& h : hits) out.push_back(h.indicator);
  return out;
}

TEST(IndicatorIndex, Ipv4AddressesAndNestedBlocks) {
  IndicatorIndex index;
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "10.0.0.0/8", 1).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "10.1.0.0/16", 2).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "10.1.2.3", 3).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "10.2.0.0/16", 4).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "192.168.1.77/24", 5).ok());  // host bits masked
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "10.1.2.3"), ElementsAre(3, 2, 1));  // longest first
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "10.1.9.9"), ElementsAre(2, 1));
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "10.3.0.1"), ElementsAre(1));
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "10.2.255.255"), ElementsAre(4, 1));
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "192.168.1.1"), ElementsAre(5));
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "11.0.0.0"), ElementsAre());
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "9.255.255.255"), ElementsAre());
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "10.1.2.3.4"), ElementsAre());
  std::vector<IndexHit> hits;
  index.Lookup(ValueKind::kIpv4, "192.168.1.200", hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(index.EntryText(hits[0]), "192.168.1.0/24");
}

// The /24 bitmap and the compact span array only short-cut the search: every block that
// contains an address must still be reported. Random laminar blocks (/8 to /32, nested and
// sharing /24s with non-matching neighbours) against a brute-force containment check.
TEST(IndicatorIndex, Ipv4LookupsAgreeWithBruteForce) {
  std::mt19937 rng(5);
  struct Block {
    uint32_t start;
    uint32_t last;
  };
  std::vector<Block> blocks;
  IndicatorIndex index;
  auto ip = [](uint32_t v) {
    return StrCat(v >> 24, ".", (v >> 16) & 255, ".", (v >> 8) & 255, ".", v & 255);
  };
  for (uint32_t i = 0; i < 1500; ++i) {
    // Addresses under 20.0.0.0/14 so that blocks nest and share /24s.
    const uint32_t addr = (20u << 24) | (rng() & 0x3ffffu);
    const int len = std::vector<int>{8, 14, 16, 20, 24, 25, 28, 30, 32}[rng() % 9];
    const uint32_t mask = ~0u << (32 - len);
    const Block b{addr & mask, (addr & mask) | ~mask};
    ASSERT_TRUE(index.Add(ValueKind::kIpv4, StrCat(ip(b.start), "/", len), i).ok());
    blocks.push_back(b);
  }
  index.Finish();
  for (int probe = 0; probe < 4000; ++probe) {
    const uint32_t a = probe % 7 == 0 ? rng() : ((20u << 24) | (rng() & 0x7ffffu));
    std::set<uint32_t> want;
    for (uint32_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].start <= a && a <= blocks[i].last) want.insert(i);
    }
    const std::vector<uint32_t> got = Hits(index, ValueKind::kIpv4, ip(a));
    ASSERT_EQ(std::set<uint32_t>(got.begin(), got.end()), want) << ip(a);
  }
}

TEST(IndicatorIndex, Ipv6BlocksAndZeroLengthPrefix) {
  IndicatorIndex index;
  ASSERT_TRUE(index.Add(ValueKind::kIpv6, "2001:db8::/32", 1).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv6, "2001:db8::1", 2).ok());
  ASSERT_TRUE(index.Add(ValueKind::kIpv4, "0.0.0.0/0", 3).ok());
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kIpv6, "2001:DB8::1"), ElementsAre(2, 1));
  EXPECT_THAT(Hits(index, ValueKind::kIpv6, "2001:db8:ffff::"), ElementsAre(1));
  EXPECT_THAT(Hits(index, ValueKind::kIpv6, "2001:db9::"), ElementsAre());
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "255.255.255.255"), ElementsAre(3));
  EXPECT_THAT(Hits(index, ValueKind::kIpv4, "fe80::1%eth0"), ElementsAre());
}

TEST(IndicatorIndex, RejectsMalformedValues) {
  IndicatorIndex index;
  EXPECT_FALSE(index.Add(ValueKind::kIpv4, "10.0.0.300", 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kIpv4, "10.0.0.0/33", 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kIpv4, "010.0.0.1", 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kIpv6, "2001:db8::/129", 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kSha256, std::string(63, 'a'), 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kMd5, std::string(32, 'g'), 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kDomain, "", 1).ok());
  EXPECT_FALSE(index.Add(ValueKind::kEmail, "nobody", 1).ok());
}

TEST(IndicatorIndex, DomainsMatchSubdomainsCaseAndTrailingDot) {
  IndicatorIndex index;
  ASSERT_TRUE(index.Add(ValueKind::kDomain, "Evil.Example", 1).ok());
  ASSERT_TRUE(index.Add(ValueKind::kDomain, "c2.evil.example.", 2).ok());
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kDomain, "evil.example"), ElementsAre(1));
  EXPECT_THAT(Hits(index, ValueKind::kDomain, "A.C2.EVIL.EXAMPLE."), ElementsAre(2, 1));
  EXPECT_THAT(Hits(index, ValueKind::kDomain, "notevil.example"), ElementsAre());
  EXPECT_THAT(Hits(index, ValueKind::kDomain, "example"), ElementsAre());

  IndicatorIndex exact(IndexOptions{.subdomains = false});
  ASSERT_TRUE(exact.Add(ValueKind::kDomain, "evil.example", 1).ok());
  exact.Finish();
  EXPECT_THAT(Hits(exact, ValueKind::kDomain, "www.evil.example"), ElementsAre());
  EXPECT_THAT(Hits(exact, ValueKind::kDomain, "EVIL.example"), ElementsAre(1));
}

TEST(IndicatorIndex, UrlsAreNormalised) {
  std::string out;
  ASSERT_TRUE(NormalizeUrl("HTTP://User@Evil.Example:80/Path?q=1#frag", out));
  EXPECT_EQ(out, "evil.example/Path?q=1");
  ASSERT_TRUE(NormalizeUrl("evil.example", out));
  EXPECT_EQ(out, "evil.example/");
  ASSERT_TRUE(NormalizeUrl("https://evil.example:8443/x", out));
  EXPECT_EQ(out, "evil.example:8443/x");
  EXPECT_FALSE(NormalizeUrl("/only/a/path", out));
  EXPECT_FALSE(NormalizeUrl("http://", out));

  IndicatorIndex index;
  ASSERT_TRUE(index.Add(ValueKind::kUrl, "http://evil.example/dl/a.exe", 7).ok());
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kUrl, "EVIL.example/dl/a.exe"), ElementsAre(7));
  EXPECT_THAT(Hits(index, ValueKind::kUrl, "https://evil.example:443/dl/a.exe"), ElementsAre(7));
  EXPECT_THAT(Hits(index, ValueKind::kUrl, "evil.example/dl/A.exe"), ElementsAre());
}

TEST(IndicatorIndex, HashesAreBytesLookedUpFromAnyCase) {
  IndicatorIndex index;
  const std::string sha256(64, 'a');
  ASSERT_TRUE(index.Add(ValueKind::kSha256, sha256, 1).ok());
  ASSERT_TRUE(index.Add(ValueKind::kSha256, sha256, 2).ok());  // two indicators, one value
  ASSERT_TRUE(index.Add(ValueKind::kSha256, sha256, 2).ok());  // added twice: reported once
  ASSERT_TRUE(index.Add(ValueKind::kMd5, "D41D8CD98F00B204E9800998ECF8427E", 3).ok());
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kSha256, std::string(64, 'A')), UnorderedElementsAre(1, 2));
  EXPECT_THAT(Hits(index, ValueKind::kMd5, "d41d8cd98f00b204e9800998ecf8427e"), ElementsAre(3));
  EXPECT_THAT(Hits(index, ValueKind::kSha1, "d41d8cd98f00b204e9800998ecf8427e"), ElementsAre());
  std::vector<IndexHit> hits;
  index.Lookup(ValueKind::kMd5, "d41d8cd98f00b204e9800998ecf8427e", hits);
  EXPECT_EQ(index.EntryText(hits[0]), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(index.size(ValueKind::kSha256), 1u);
}

TEST(IndicatorIndex, EmailAndOtherLiteralsByField) {
  IndicatorIndex index;
  ASSERT_TRUE(index.Add(ValueKind::kEmail, "Bad@Evil.Example", 1).ok());
  ASSERT_TRUE(index.Add(ValueKind::kOther, "1337", 2, /*field=*/4).ok());
  index.Finish();
  EXPECT_THAT(Hits(index, ValueKind::kEmail, "bad@evil.example"), ElementsAre(1));
  EXPECT_THAT(Hits(index, ValueKind::kOther, "1337", 4), ElementsAre(2));
  EXPECT_THAT(Hits(index, ValueKind::kOther, "1337", 3), ElementsAre());  // another field
}

TEST(IndicatorIndex, ManyValuesAllFound) {
  IndicatorIndex index;
  std::mt19937_64 rng(42);
  std::vector<std::string> domains;
  for (int i = 0; i < 20000; ++i) domains.push_back("d" + std::to_string(rng()) + ".example");
  for (size_t i = 0; i < domains.size(); ++i) {
    ASSERT_TRUE(index.Add(ValueKind::kDomain, domains[i], static_cast<uint32_t>(i)).ok());
  }
  index.Finish();
  for (size_t i = 0; i < domains.size(); ++i) {
    ASSERT_THAT(Hits(index, ValueKind::kDomain, domains[i]), ElementsAre(i));
  }
  EXPECT_THAT(Hits(index, ValueKind::kDomain, "absent.example"), ElementsAre());
}

// Keys that all start their probe runs in one bucket of a table keyed with `attacked`: what an
// adversary who knew the key could send. They are found by trying random keys.
std::vector<std::string> CraftCollisions(const internal::HashKey& attacked, size_t table_slots,
                                         size_t n) {
  std::vector<std::string> out;
  std::mt19937_64 rng(7);
  std::string key(12, 'x');
  while (out.size() < n) {
    const uint64_t r = rng();
    std::memcpy(key.data(), &r, 8);
    if ((internal::HashBytes(key.data(), key.size(), attacked) & (table_slots - 1)) == 0) {
      out.push_back(key);
    }
  }
  return out;
}

size_t TotalProbes(const internal::FlatKeySet<0>& set, const std::vector<std::string>& keys) {
  size_t total = 0;
  for (const std::string& k : keys) total += set.ProbeLength(k);
  return total;
}

// Values are appended while loading and placed in Finish(), radix-sorted by slot region when
// there are many (FlatKeySet::FlushPending): duplicates inside one load, duplicates of values
// placed by an earlier Finish, and both paths (small and partitioned) must keep every
// indicator of a value and count each value once.
// The matcher prepares a whole batch of values of every kind into one PreparedLookups (its key
// buffer grows and moves meanwhile) and looks them up later: each must give what its value
// alone gives, and the prefetch lines must come for the kinds that have them.
TEST(IndicatorIndex, PreparedBatchOfMixedValuesGivesEachValuesHits) {
  IndicatorIndex index;
  auto sha = [](int i) {
    std::string h = StrCat(i);
    h.resize(64, 'a');
    return h;
  };
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) {
    const auto ind = static_cast<uint32_t>(i);
    ASSERT_TRUE(index.Add(ValueKind::kDomain, StrCat("d", i, ".example"), ind).ok());
    ASSERT_TRUE(index.Add(ValueKind::kSha256, sha(i), ind).ok());
    ASSERT_TRUE(
        index.Add(ValueKind::kIpv4, StrCat("10.", i / 256, ".", i % 256, ".0/24"), ind).ok());
    ASSERT_TRUE(index.Add(ValueKind::kEmail, StrCat("u", i, "@x.test"), ind).ok());
    ASSERT_TRUE(index.Add(ValueKind::kUrl, StrCat("http://h", i, ".test/p"), ind).ok());
  }
  index.Finish();
  struct Query {
    ValueKind kind;
    std::string value;
    std::vector<uint32_t> want;
  };
  std::vector<Query> queries;
  for (int i = 0; i < kN; ++i) {
    const auto ind = static_cast<uint32_t>(i);
    std::string upper = sha(i);
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    queries.push_back({ValueKind::kDomain, StrCat("www.D", i, ".EXAMPLE."), {ind}});
    queries.push_back({ValueKind::kSha256, upper, {ind}});
    queries.push_back({ValueKind::kIpv4, StrCat("10.", i / 256, ".", i % 256, ".77"), {ind}});
    queries.push_back({ValueKind::kEmail, StrCat("U", i, "@X.test"), {ind}});
    queries.push_back({ValueKind::kUrl, StrCat("h", i, ".test:80/p"), {ind}});
    queries.push_back({ValueKind::kDomain, StrCat("nope", i, ".example"), {}});
    queries.push_back({ValueKind::kIpv4, StrCat("11.0.", i % 256, ".1"), {}});
    queries.push_back({ValueKind::kSha256, "not hex", {}});
  }
  PreparedLookups prepared;
  std::vector<const void*> lines;
  for (size_t q = 0; q < queries.size(); ++q) {
    ASSERT_EQ(index.Prepare(queries[q].kind, queries[q].value, 0, prepared, &lines), q);
  }
  // A slot line per domain probe, hash and URL, and a /24 line per parsed IPv4 address; none
  // for e-mail and the bad hash.
  EXPECT_GE(lines.size(), static_cast<size_t>(kN) * 6);
  EXPECT_LE(lines.size(), queries.size());
  std::vector<const void*> second;
  index.AddSecondLines(prepared, second);
  EXPECT_GE(second.size(), static_cast<size_t>(kN));  // the 10.x addresses are in listed /24s
  for (size_t q = 0; q < queries.size(); ++q) {
    std::vector<IndexHit> hits;
    index.Lookup(prepared, q, hits);
    std::vector<uint32_t> got;
    for (const IndexHit& h : hits) got.push_back(h.indicator);
    EXPECT_EQ(got, queries[q].want) << queries[q].value;
    EXPECT_EQ(got, Hits(index, queries[q].kind, queries[q].value)) << queries[q].value;
  }
}

TEST(IndicatorIndex, BulkPlacementMergesDuplicatesAcrossFinishes) {
  for (const size_t n : {size_t{100}, size_t{200'000}}) {
    SCOPED_TRACE(n);
    IndicatorIndex index;
    std::mt19937_64 rng(n);
    std::vector<std::string> hashes;
    for (size_t i = 0; i < n; ++i) {
      std::string h;
      for (int j = 0; j < 64; ++j) h.push_back("0123456789abcdef"[rng() & 15]);
      hashes.push_back(h);
      ASSERT_TRUE(index.Add(ValueKind::kSha256, h, static_cast<uint32_t>(i)).ok());
      ASSERT_TRUE(index.Add(ValueKind::kDomain, StrCat("d", i, ".example"), 1).ok());
    }
    // Every 7th value again, by another indicator, in the same load.
    for (size_t i = 0; i < n; i += 7) {
      ASSERT_TRUE(index.Add(ValueKind::kSha256, hashes[i], static_cast<uint32_t>(n + i)).ok());
      ASSERT_TRUE(index.Add(ValueKind::kDomain, StrCat("D", i, ".EXAMPLE"), 2).ok());
    }
    index.Finish();
    EXPECT_EQ(index.size(ValueKind::kSha256), n);
    EXPECT_EQ(index.size(ValueKind::kDomain), n);
    // Every 5th value once more after the first Finish, plus new ones.
    for (size_t i = 0; i < n; i += 5) {
      ASSERT_TRUE(index.Add(ValueKind::kSha256, hashes[i], static_cast<uint32_t>(3 * n + i)).ok());
    }
    ASSERT_TRUE(index.Add(ValueKind::kDomain, "late.example", 3).ok());
    index.Finish();
    EXPECT_EQ(index.size(ValueKind::kSha256), n);
    EXPECT_EQ(index.size(ValueKind::kDomain), n + 1);
    for (size_t i = 0; i < n; ++i) {
      std::vector<uint32_t> want = {static_cast<uint32_t>(i)};
      if (i % 7 == 0) want.push_back(static_cast<uint32_t>(n + i));
      if (i % 5 == 0) want.push_back(static_cast<uint32_t>(3 * n + i));
      std::vector<uint32_t> got = Hits(index, ValueKind::kSha256, hashes[i]);
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << i;
      std::vector<IndexHit> hits;
      index.Lookup(ValueKind::kSha256, hashes[i], hits);
      ASSERT_EQ(index.EntryText(hits[0]), hashes[i]);
      std::vector<uint32_t> d = Hits(index, ValueKind::kDomain, StrCat("d", i, ".example"));
      std::sort(d.begin(), d.end());
      const std::vector<uint32_t> want_d =
          i % 7 == 0 ? std::vector<uint32_t>{1, 2} : std::vector<uint32_t>{1};
      ASSERT_EQ(d, want_d) << i;
    }
    EXPECT_THAT(Hits(index, ValueKind::kDomain, "x.late.example"), ElementsAre(3));
    EXPECT_THAT(Hits(index, ValueKind::kDomain, "never.example"), ElementsAre());
  }
}

TEST(FlatKeySet, CraftedCollisionsCostLessThanTwiceRandomKeys) {
  constexpr size_t kKeys = 1500;
  constexpr size_t kSlots = 2048;  // the table size kKeys settles at (load <= 3/4)
  const internal::HashKey attacked{0x1111, 0x2222};
  const std::vector<std::string> crafted = CraftCollisions(attacked, kSlots, kKeys);
  std::vector<std::string> random;
  std::mt19937_64 rng(99);
  for (size_t i = 0; i < kKeys; ++i) {
    std::string k(12, 'y');
    const uint64_t r = rng();
    std::memcpy(k.data(), &r, 8);
    random.push_back(k);
  }

  // The attack works against the key it was made for: every lookup scans one long run.
  internal::FlatKeySet<0> victim(attacked);
  for (const std::string& k : crafted) victim.Insert(k, 0);
  const size_t attacked_cost = TotalProbes(victim, crafted);

  // A process draws its own key, and the same values cost what random ones do.
  internal::FlatKeySet<0> seeded;  // RandomHashKey()
  internal::FlatKeySet<0> baseline;
  for (const std::string& k : crafted) seeded.Insert(k, 0);
  for (const std::string& k : random) baseline.Insert(k, 0);
  const size_t crafted_cost = TotalProbes(seeded, crafted);
  const size_t random_cost = TotalProbes(baseline, random);
  EXPECT_GT(attacked_cost, 50 * random_cost) << "the crafted keys do not collide";
  EXPECT_LT(crafted_cost, 2 * random_cost)
      << "crafted " << crafted_cost << " vs random " << random_cost;
}

}  // namespace
}  // namespace liaison::match
