// Sightings with --observed-data name what the events showed (the address inside a listed
// block, the subdomain under a listed domain), not the listed value itself.

#include "match/sightings.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/strings.h"
#include "gtest/gtest.h"
#include "match/matcher.h"
#include "simdjson.h"
#include "stix/validate.h"

namespace liaison::match {
namespace {

Timestamp June2025() { return *Timestamp::Parse("2025-06-01T00:00:00Z"); }

CompileOptions Now2025() {
  CompileOptions o;
  o.now = June2025();
  return o;
}

struct Written {
  std::map<std::string, std::string> by_id;  // every object, by id
  std::vector<std::string> sightings;
};

// Matches Zeek JSON `log` against `list` and returns what the aggregator wrote.
Written MatchAndAggregate(std::string_view list, const std::string& log, bool pass_observed) {
  IndicatorSet set(Now2025());
  set.AddList(list, "test");
  set.Finish();
  SightingOptions options;
  options.identity_id = "identity--5d2b0a1c-3c4e-4f7a-9b8c-1d2e3f4a5b6c";
  options.now = June2025();
  options.observed_data = true;
  Written out;
  simdjson::dom::parser parser;
  SightingAggregator aggregator(set, options, [&](std::string_view json) {
    const stix::Report report = stix::ValidateObjectText(json);
    EXPECT_EQ(report.errors, 0u) << json << "\n"
                                 << (report.findings.empty() ? "" : report.findings[0].message);
    simdjson::dom::element doc = parser.parse(json.data(), json.size());
    const std::string id{std::string_view(doc["id"])};
    out.by_id.emplace(id, std::string(json));
    if (std::string_view(doc["type"]) == "sighting") out.sightings.emplace_back(json);
  });
  std::string buffer = log + std::string(64, '\0');  // simdjson's padding
  auto reader = MakeZeekJsonReader();
  Matcher matcher(set);
  uint64_t line = 0;
  MatchBlock({buffer.data(), log.size()}, buffer.size(), *reader, matcher, line,
             [&](uint64_t, const Event& e, const std::vector<IndexHit>& hits) {
               for (const IndexHit& h : hits) {
                 aggregator.Add(h, e.time,
                                pass_observed ? ObservedValueOf(set, e, h) : std::string_view());
               }
             });
  aggregator.Flush();
  return out;
}

std::string DnsLine(int second, std::string_view source, std::string_view query) {
  return absl::StrFormat(R"({"_path":"dns","ts":%d.5,"id.orig_h":"%s","id.orig_p":5353,)"
                         R"("id.resp_h":"192.0.2.53","id.resp_p":53,"query":"%s"})"
                         "\n",
                         1748736000 + second, source, query);
}

// The SCO values named by the observed-data of each sighting, by the sighting's count.
std::multimap<int64_t, std::set<std::string>> ObservedValues(const Written& w) {
  std::multimap<int64_t, std::set<std::string>> result;
  simdjson::dom::parser sp, op, cp;
  for (const std::string& s : w.sightings) {
    simdjson::dom::element sighting = sp.parse(s);
    simdjson::dom::array refs;
    EXPECT_EQ(sighting["observed_data_refs"].get(refs), simdjson::SUCCESS) << s;
    if (refs.size() == 0) continue;
    const std::string od_id{std::string_view(refs.at(0))};
    EXPECT_TRUE(w.by_id.contains(od_id)) << s;
    if (!w.by_id.contains(od_id)) continue;
    simdjson::dom::element od = op.parse(w.by_id.at(od_id));
    EXPECT_EQ(int64_t(od["number_observed"]), int64_t(sighting["count"]));
    std::set<std::string> values;
    for (simdjson::dom::element ref : simdjson::dom::array(od["object_refs"])) {
      const std::string sco_id{std::string_view(ref)};
      EXPECT_TRUE(w.by_id.contains(sco_id)) << sco_id;
      if (!w.by_id.contains(sco_id)) continue;
      values.emplace(std::string_view(cp.parse(w.by_id.at(sco_id))["value"]));
    }
    result.emplace(int64_t(sighting["count"]), values);
  }
  return result;
}

TEST(ObservedData, NamesTheEventsValuesInsideABlockOrUnderADomain) {
  const std::string list = "ipv4-addr 10.0.0.0/8\ndomain-name example.com\n";
  std::string log;
  log += DnsLine(1, "10.1.2.3", "WWW.Example.COM.");
  log += DnsLine(2, "10.9.9.9", "mail.example.com");
  log += DnsLine(3, "192.168.1.1", "example.com");
  log += DnsLine(4, "10.1.2.3", "www.example.com");  // same values again: named once
  log += DnsLine(5, "172.16.0.1", "example.org");    // no hit

  const Written w = MatchAndAggregate(list, log, /*pass_observed=*/true);
  ASSERT_EQ(w.sightings.size(), 2u);
  const auto values = ObservedValues(w);
  // The block: three hits from two addresses; the domain: four hits from three names, in
  // lower case and without the root's dot.
  const std::multimap<int64_t, std::set<std::string>> want = {
      {3, {"10.1.2.3", "10.9.9.9"}},
      {4, {"www.example.com", "mail.example.com", "example.com"}},
  };
  EXPECT_EQ(values, want);

  // Without the events' values (a caller that gives none), the listed values stand in.
  const Written fallback = MatchAndAggregate(list, log, /*pass_observed=*/false);
  const std::multimap<int64_t, std::set<std::string>> listed = {{3, {"10.0.0.0/8"}},
                                                                {4, {"example.com"}}};
  EXPECT_EQ(ObservedValues(fallback), listed);
}

TEST(ObservedData, AtMostAFewDistinctValuesPerSightingWhileTheCountKeepsEveryHit) {
  std::string log;
  for (int i = 0; i < 50; ++i) log += DnsLine(i, absl::StrFormat("10.0.0.%d", i + 1), "x.test");
  const Written w = MatchAndAggregate("ipv4-addr 10.0.0.0/24\n", log, /*pass_observed=*/true);
  ASSERT_EQ(w.sightings.size(), 1u);
  const auto values = ObservedValues(w);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values.begin()->first, 50);
  const std::set<std::string> first = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
  ASSERT_EQ(kMaxObservedValues, first.size());
  EXPECT_EQ(values.begin()->second, first);
}

TEST(ObservedData, NoValueForAHitTheEventDidNotGive) {
  IndicatorSet set(Now2025());
  set.AddList("ipv4-addr 10.0.0.0/8\nipv4-addr 192.0.2.0/24\n", "test");
  set.Finish();
  std::string line = DnsLine(0, "10.1.2.3", "a.test");
  line.pop_back();
  std::string buffer = line + std::string(64, '\0');
  auto reader = MakeZeekJsonReader();
  Event event;
  ASSERT_EQ(reader->Read({buffer.data(), line.size()}, buffer.size(), event), LineResult::kEvent);
  Matcher matcher(set);
  std::vector<IndexHit> hits;
  matcher.Match(event, hits);
  // The source 10.1.2.3 hits 10/8, the responder 192.0.2.53 hits 192.0.2/24.
  ASSERT_EQ(hits.size(), 2u);
  std::set<std::string_view> seen;
  for (const IndexHit& h : hits) seen.insert(ObservedValueOf(set, event, h));
  EXPECT_EQ(seen, (std::set<std::string_view>{"10.1.2.3", "192.0.2.53"}));
  IndexHit other = hits[0];
  other.entry += 1000;  // no such entry
  EXPECT_EQ(ObservedValueOf(set, event, other), "");
}

}  // namespace
}  // namespace liaison::match
