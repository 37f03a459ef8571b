#pragma once

// The objects the TAXII and PostgreSQL store benchmarks load and post: realistic indicators
// (about 570 bytes, an IPv4 pattern, a TLP marking) with ids derived from a counter, and the
// fill of a store with them. Shared by bench/taxii/taxii_load.cc and bench/store/pg_load.cc so
// that both measure the same rows.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/timestamp.h"
#include "stix/object.h"
#include "store/store.h"
#include "taxii/auth.h"

namespace liaison::bench {

inline constexpr char kCollection[] = "5f1d7a80-6a1b-4c59-9d8e-0b2f5a7c9e31";

inline std::string IndicatorId(int64_t n) {
  char uuid[48];  // room for any int64 (the benches stay below 10^12, one UUID each)
  std::snprintf(uuid, sizeof uuid, "6ba7b810-9dad-41d1-80b4-%012lld", static_cast<long long>(n));
  return absl::StrCat("indicator--", uuid);
}

inline std::string IndicatorJson(int64_t n) {
  return absl::StrCat(
      R"({"type":"indicator","spec_version":"2.1","id":")", IndicatorId(n),
      R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
      R"("created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",)",
      R"("name":"C2 address )", n, R"(","description":"Command and control server seen in )",
      R"(the campaign; block at the perimeter.","indicator_types":["malicious-activity"],)",
      R"("pattern":"[ipv4-addr:value = '10.)", (n >> 16) & 255, ".", (n >> 8) & 255, ".", n & 255,
      R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z",)",
      R"("object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]})");
}

// Indicator `n` as the store takes it (what the server's parse would give).
inline stix::Object IndicatorObject(int64_t n) {
  static const Timestamp version = *Timestamp::Parse("2024-01-01T00:00:00.000Z");
  stix::Object o;
  o.type = "indicator";
  o.id = IndicatorId(n);
  o.spec_version = "2.1";
  o.created = version;
  o.modified = version;
  o.json = IndicatorJson(n);
  return o;
}

// Creates kCollection and the user admin / bench-pw (if missing) and adds indicators
// 0..count-1 in batches; prints the collection id on stdout. Exit status for main: 0 or 3.
inline int FillStore(store::Store& store, int64_t count) {
  store::Collection c;
  c.id = kCollection;
  c.api_root = "api";
  c.title = "bench";
  (void)store.CreateCollection(c);
  if (!store.GetUser("admin").ok()) {
    auto hash = taxii::HashPassword("bench-pw");
    if (!hash.ok() || !store.CreateUser({"admin", *hash, true, {}}).ok()) return 3;
  }
  const auto start = std::chrono::steady_clock::now();
  constexpr int64_t kBatch = 10'000;
  for (int64_t at = 0; at < count; at += kBatch) {
    std::vector<stix::Object> batch;
    for (int64_t i = at; i < std::min(count, at + kBatch); ++i) batch.push_back(IndicatorObject(i));
    auto r = store.Add(kCollection, batch);
    if (!r.ok()) {
      std::fprintf(stderr, "fill: %s\n", std::string(r.status().message()).c_str());
      return 3;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "fill: %lld objects in %.1f s (%.0f objects/s)\n",
               static_cast<long long>(count), s, static_cast<double>(count) / s);
  std::printf("%s\n", kCollection);
  return 0;
}

}  // namespace liaison::bench
