// End to end: indicators -> compiler -> readers -> matcher -> sightings, on the real data of
// ../shared/data (SOURCES.md): labelled Stratosphere captures, URLhaus, MISP warninglists and
// Suricata EVE.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "match/line_source.h"
#include "match/matcher.h"
#include "match/parallel.h"
#include "match/sightings.h"
#include "simdjson.h"
#include "stix/validate.h"
#include "testing/shared_data.h"

namespace liaison::match {
namespace {

using HitsByLine = std::map<uint64_t, std::set<std::string>>;

HitsByLine MatchFile(const std::filesystem::path& path, LogFormat format, const IndicatorSet& set,
                     uint64_t* bad = nullptr) {
  HitsByLine out;
  auto source = LineSource::Open(path.string(), 1 << 16);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return out;
  auto reader = MakeReader(format);
  Matcher matcher(set);
  std::string_view block;
  size_t capacity = 0;
  uint64_t line = 0;
  while ((*source)->NextBlock(block, capacity)) {
    MatchBlock(block, capacity, *reader, matcher, line,
               [&](uint64_t n, const Event&, const std::vector<IndexHit>& hits) {
                 for (const IndexHit& h : hits) out[n].insert(set.IdOf(h));
               });
  }
  if (bad != nullptr) *bad = reader->stats().bad_total();
  return out;
}

// A Zeek TSV file as rows of named columns, with their 1-based line numbers.
struct ZeekRow {
  uint64_t line;
  std::map<std::string, std::string> columns;
};
std::vector<ZeekRow> ReadZeekRows(const std::filesystem::path& path) {
  std::vector<ZeekRow> rows;
  std::istringstream in(testing::ReadFileOrDie(path));
  std::vector<std::string> names;
  uint64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::vector<std::string> parts = absl::StrSplit(line, '\t');
    if (line.rfind("#fields", 0) == 0) {
      names.assign(parts.begin() + 1, parts.end());
      continue;
    }
    if (line.empty() || line[0] == '#' || parts.size() != names.size()) continue;
    ZeekRow row{n, {}};
    for (size_t i = 0; i < names.size(); ++i) row.columns[names[i]] = parts[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

CompileOptions Now2025() {
  CompileOptions o;
  o.now = *Timestamp::Parse("2025-06-01T00:00:00Z");
  return o;
}

// Kovter (Stratosphere 009): indicators from the MD5s of the malicious file transfers (minus
// any that also occur in a benign row) find exactly the malicious rows.
TEST(RealData, StratosphereKovterMaliciousFileHashesAreFound) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto path =
      shared / "data/logs/zeek/stratosphere/009-zeek-malicious/data/files.log.labeled";
  const std::vector<ZeekRow> rows = ReadZeekRows(path);
  ASSERT_GT(rows.size(), 2000u);
  std::set<std::string> malicious, benign;
  for (const ZeekRow& r : rows) {
    const std::string& md5 = r.columns.at("md5");
    if (md5 == "-") continue;
    (r.columns.at("label") == "Malicious" ? malicious : benign).insert(md5);
  }
  std::string list;
  for (const std::string& m : malicious) {
    if (!benign.contains(m)) StrAppend(&list, "md5 ", m, "\n");
  }
  IndicatorSet set(Now2025());
  set.AddList(list, "kovter.txt");
  set.Finish();
  ASSERT_EQ(set.stats().invalid, 0u);

  uint64_t bad = 0;
  const HitsByLine hits = MatchFile(path, LogFormat::kZeek, set, &bad);
  EXPECT_EQ(bad, 0u);
  size_t expected = 0;
  for (const ZeekRow& r : rows) {
    const bool should = r.columns.at("label") == "Malicious" && r.columns.at("md5") != "-" &&
                        !benign.contains(r.columns.at("md5"));
    expected += should;
    EXPECT_EQ(hits.contains(r.line), should) << "line " << r.line;
  }
  EXPECT_GT(expected, 1000u);
  EXPECT_EQ(hits.size(), expected);
}

// CTU mixed capture (Stratosphere 012): STIX indicators on the destinations of malicious
// flows' sources (the attackers), network-traffic:src_ref.value, fire on those flows and on no
// benign one.
TEST(RealData, StratosphereMixedMaliciousDestinationsAreFoundBenignAreNot) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto path = shared / "data/logs/zeek/stratosphere/012-zeek-mixed/data/conn.log.labeled";
  const std::vector<ZeekRow> rows = ReadZeekRows(path);
  std::set<std::string> malicious, other;
  for (const ZeekRow& r : rows) {
    if (r.columns.at("label") == "Malicious") {
      malicious.insert(r.columns.at("id.orig_h"));
    } else {
      other.insert(r.columns.at("id.resp_h"));
      other.insert(r.columns.at("id.orig_h"));
    }
  }
  std::string bundle =
      R"({"type":"bundle","id":"bundle--6d3c0a8e-1f1a-4c53-9a1e-0d6f3e2b7c11","objects":[)";
  std::map<std::string, std::string> id_of;
  int n = 0;
  for (const std::string& ip : malicious) {
    if (other.contains(ip)) continue;
    const std::string id =
        StrCat("indicator--00000000-0000-4000-8000-", absl::StrFormat("%012d", ++n));
    id_of[ip] = id;
    if (n > 1) bundle += ",";
    StrAppend(&bundle, R"({"type":"indicator","spec_version":"2.1","id":")", id,
              R"(","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",)",
              R"("pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z",)",
              R"("pattern":"[network-traffic:src_ref.value = ')", ip, R"(']"})");
  }
  bundle += "]}";
  ASSERT_GT(n, 0);
  IndicatorSet set(Now2025());
  ASSERT_TRUE(set.AddStix(bundle, "bundle.json").ok());
  set.Finish();
  EXPECT_EQ(set.stats().exact, static_cast<uint64_t>(n));

  const HitsByLine hits = MatchFile(path, LogFormat::kZeek, set);
  size_t found = 0;
  for (const ZeekRow& r : rows) {
    auto it = id_of.find(r.columns.at("id.orig_h"));
    const bool should = r.columns.at("label") == "Malicious" && it != id_of.end();
    if (should) {
      ASSERT_TRUE(hits.contains(r.line)) << "line " << r.line;
      EXPECT_THAT(hits.at(r.line), ::testing::ElementsAre(it->second));
      ++found;
    } else {
      EXPECT_FALSE(hits.contains(r.line)) << "benign line " << r.line;
    }
  }
  EXPECT_GT(found, 100u);
}

// Android RAT (Stratosphere 003): a pattern with AND goes to the pattern engine and fires on
// exactly the TCP flows to port 1337.
TEST(RealData, PatternEngineIndicatorOnTheRatPort) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto path = shared / "data/logs/zeek/stratosphere/003-zeek-scenario-malicious/conn.log";
  IndicatorSet set(Now2025());
  set.AddStixObject(
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--11111111-1111-4111-8111-111111111111",)"
      R"("created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern_type":"stix",)"
      R"("valid_from":"2024-01-01T00:00:00Z",)"
      R"("pattern":"[network-traffic:dst_port = 1337 AND network-traffic:protocols[*] = 'tcp']"})",
      "inline", 1);
  set.Finish();
  ASSERT_EQ(set.stats().engine, 1u);
  const HitsByLine hits = MatchFile(path, LogFormat::kZeek, set);
  size_t expected = 0;
  for (const ZeekRow& r : ReadZeekRows(path)) {
    const bool should = r.columns.at("id.resp_p") == "1337" && r.columns.at("proto") == "tcp";
    expected += should;
    EXPECT_EQ(hits.contains(r.line), should) << "line " << r.line;
  }
  EXPECT_GT(expected, 10u);
}

// URLhaus: every listed IP, host and URL is found in log events that carry it; the MISP
// warninglists' popular domains give exactly the hits a naive suffix comparison predicts.
TEST(RealData, UrlhausFindsItsOwnValuesAndWarninglistsMatchTheReference) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::string text =
      testing::ReadFileOrDie(shared / "data/indicators/urlhaus-filter/urlhaus-filter-online.txt");
  std::vector<std::string> ips, hosts, urls;
  std::string list;
  for (absl::string_view absl_line : absl::StrSplit(text, '\n')) {
    const std::string_view line = ToStd(absl_line);
    if (line.empty() || line[0] == '!') continue;
    std::string v(line);
    if (v.rfind("||", 0) == 0) {  // ABP rule: ||host/path^$options
      v = v.substr(2, v.find('^') - 2);
      if (v.find('/') == std::string::npos) {
        hosts.push_back(v);
        StrAppend(&list, "domain-name ", v, "\n");
      } else {
        urls.push_back(v);
        StrAppend(&list, "url ", v, "\n");
      }
    } else if (std::isdigit(static_cast<unsigned char>(v[0])) &&
               v.find_first_not_of("0123456789.") == std::string::npos) {
      ips.push_back(v);
      StrAppend(&list, "ipv4-addr ", v, "\n");
    } else {
      hosts.push_back(v);
      StrAppend(&list, "domain-name ", v, "\n");
    }
  }
  EXPECT_GT(ips.size(), 2000u);
  EXPECT_GT(urls.size(), 3000u);
  IndicatorSet set(Now2025());
  set.AddList(list, "urlhaus");
  set.Finish();
  EXPECT_EQ(set.stats().invalid, 0u) << set.stats().errors[0];

  auto reader = MakeZeekJsonReader();
  Matcher matcher(set);
  uint64_t line = 0;
  auto count_hits = [&](const std::string& ndjson) {
    uint64_t hit_events = 0;
    std::set<uint64_t> lines_hit;
    const uint64_t first_line = line + 1;
    std::string padded = ndjson;
    padded.append(64, '\0');
    MatchBlock(std::string_view(padded.data(), ndjson.size()), padded.size(), *reader, matcher,
               line, [&](uint64_t n, const Event&, const std::vector<IndexHit>&) {
                 ++hit_events;
                 lines_hit.insert(n);
               });
    if (std::getenv("LIAISON_DEBUG_MISSES")) {
      size_t i = 0;
      for (absl::string_view l : absl::StrSplit(ToAbsl(std::string_view(ndjson)), '\n')) {
        if (!lines_hit.contains(first_line + i++))
          std::fprintf(stderr, "miss: %.*s\n", int(l.size()), l.data());
      }
    }
    return hit_events;
  };
  std::string events;
  for (const std::string& ip : ips) {
    StrAppend(&events, R"({"_path":"conn","ts":1,"id.orig_h":"10.0.0.1","id.resp_h":")", ip,
              "\"}\n");
  }
  for (const std::string& h : hosts)
    StrAppend(&events, R"({"_path":"dns","ts":1,"query":")", h, "\"}\n");
  for (const std::string& u : urls) {
    const size_t slash = u.find('/');
    StrAppend(&events, R"({"_path":"http","ts":1,"host":")", u.substr(0, slash), R"(","uri":")",
              u.substr(slash), "\"}\n");
  }
  EXPECT_EQ(count_hits(events), ips.size() + hosts.size() + urls.size());

  // Known-benign names: the reference is a plain suffix walk over a std::set.
  const std::set<std::string> host_set(hosts.begin(), hosts.end());
  auto reference_hit = [&](std::string d) {
    for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (true) {
      if (host_set.contains(d)) return true;
      const size_t dot = d.find('.');
      if (dot == std::string::npos) return false;
      d = d.substr(dot + 1);
    }
  };
  uint64_t expected = 0;
  size_t names = 0;
  std::string benign;
  for (std::string_view list_name :
       {"majestic_million", "google", "microsoft", "amazon-aws", "cloudflare", "bank-website"}) {
    const std::string json = testing::ReadFileOrDie(
        shared / "data/indicators/misp-warninglists/lists" / std::string(list_name) / "list.json");
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(json);
    for (simdjson::dom::element e : doc["list"].get_array()) {
      std::string_view v = e.get_string();
      if (v.find_first_of("/: ") != std::string_view::npos || v.empty()) continue;
      if (std::isdigit(static_cast<unsigned char>(v[0]))) continue;
      ++names;
      expected += reference_hit(std::string(v));
      StrAppend(&benign, R"({"_path":"dns","ts":1,"query":")", v, "\"}\n");
    }
  }
  EXPECT_GT(names, 5000u);
  EXPECT_EQ(count_hits(benign), expected);
  EXPECT_LT(expected, names / 100) << "warninglists should be mostly non-matches";
}

// Suricata EVE: DNS names seen in the sample become indicators; the hits aggregate into valid
// STIX 2.1 sightings whose counts add up to the hit events. With observed_data, each sighting
// also names an observed-data (written before it) over the SCO that matched (written before
// that, once per value), with number_observed = count and the sighting's time span.
TEST(RealData, EveHitsBecomeValidSightings) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto path = shared / "data/logs/suricata/surevego/eve.json";
  IndicatorSet set(Now2025());
  set.AddList("domain-name debian.org\ndomain-name fastly.net\nipv4-addr 151.101.0.0/16\n", "list");
  set.Finish();
  for (const bool observed : {false, true}) {
    SCOPED_TRACE(observed);
    std::vector<std::string> objects;
    SightingOptions options;
    options.identity_id = "identity--5d2b0a1c-3c4e-4f7a-9b8c-1d2e3f4a5b6c";
    options.window_seconds = 3600;
    options.now = *Timestamp::Parse("2025-06-01T00:00:00Z");
    options.observed_data = observed;
    SightingAggregator aggregator(set, options,
                                  [&](std::string_view json) { objects.emplace_back(json); });
    auto source = LineSource::Open(path.string());
    ASSERT_TRUE(source.ok());
    auto reader = MakeEveReader();
    Matcher matcher(set);
    std::string_view block;
    size_t capacity = 0;
    uint64_t line = 0;
    uint64_t hit_pairs = 0;
    while ((*source)->NextBlock(block, capacity)) {
      MatchBlock(block, capacity, *reader, matcher, line,
                 [&](uint64_t, const Event& e, const std::vector<IndexHit>& hits) {
                   ASSERT_TRUE(e.has_time);
                   for (const IndexHit& h : hits) {
                     aggregator.Add(h, e.time);
                     ++hit_pairs;
                   }
                 });
    }
    aggregator.Flush();
    ASSERT_GT(hit_pairs, 30u);
    ASSERT_FALSE(objects.empty());
    int64_t total = 0;
    size_t sightings = 0;
    std::map<std::string, std::string> written;  // id -> JSON, of the objects before
    simdjson::dom::parser parser;
    for (const std::string& s : objects) {
      const stix::Report report = stix::ValidateObjectText(s);
      EXPECT_EQ(report.errors, 0u) << s << "\n"
                                   << (report.findings.empty() ? "" : report.findings[0].message);
      simdjson::dom::element doc = parser.parse(s);
      const std::string id{std::string_view(doc["id"])};
      const std::string_view type(doc["type"]);
      if (type == "sighting") {
        ++sightings;
        total += int64_t(doc["count"]);
        EXPECT_EQ(std::string_view(doc["where_sighted_refs"].at(0)), options.identity_id);
        simdjson::dom::array refs;
        if (!observed) {
          EXPECT_NE(doc["observed_data_refs"].get(refs), simdjson::SUCCESS) << s;
          continue;
        }
        ASSERT_EQ(doc["observed_data_refs"].get(refs), simdjson::SUCCESS) << s;
        const std::string od_id{std::string_view(refs.at(0))};
        ASSERT_TRUE(written.contains(od_id)) << s;
        simdjson::dom::parser od_parser;
        simdjson::dom::element od = od_parser.parse(written[od_id]);
        EXPECT_EQ(int64_t(od["number_observed"]), int64_t(doc["count"]));
        EXPECT_EQ(std::string_view(od["first_observed"]), std::string_view(doc["first_seen"]));
        EXPECT_EQ(std::string_view(od["last_observed"]), std::string_view(doc["last_seen"]));
        const std::string sco_id{std::string_view(od["object_refs"].at(0))};
        ASSERT_TRUE(written.contains(sco_id)) << written[od_id];
        EXPECT_TRUE(sco_id.rfind("domain-name--", 0) == 0 || sco_id.rfind("ipv4-addr--", 0) == 0)
            << sco_id;
      } else {
        EXPECT_TRUE(observed) << s;
        EXPECT_TRUE(written.emplace(id, s).second) << "written twice: " << s;
      }
    }
    EXPECT_EQ(total, static_cast<int64_t>(hit_pairs));
    EXPECT_GT(sightings, 0u);
    if (observed) {
      EXPECT_GT(written.size(), sightings);  // SCOs and observed-data
    }
  }
}

// MatchBlock reads events ahead in batches and matches copies of them; what reaches on_hits
// (line numbers, hits, the event's fields and time) must be what one event at a time gives,
// across batch boundaries and with bad and blank lines between events.
TEST(MatchBlock, BatchedEqualsOneEventAtATime) {
  IndicatorSet set(Now2025());
  std::string list;
  std::string log;
  for (int i = 0; i < 300; ++i) {
    const std::string src = absl::StrFormat("10.0.%d.%d", i / 200, i % 200);
    const std::string domain = absl::StrFormat("host%d.example", i);
    if (i % 7 == 0) StrAppend(&list, "ip ", src, "\n");
    if (i % 11 == 0) StrAppend(&list, "domain ", domain, "\n");
    StrAppend(&log,
              absl::StrFormat(R"({"_path":"dns","ts":%d.5,"id.orig_h":"%s","id.orig_p":%d,)"
                              R"("id.resp_h":"8.8.8.8","id.resp_p":53,"query":"a.%s"})",
                              1700000000 + i, src, 1024 + i, domain),
              "\n");
    if (i % 37 == 0) log += "{not json\n\n";
  }
  set.AddList(list, "test");
  set.Finish();

  struct Seen {
    uint64_t line;
    std::vector<std::string> fields;
    int64_t time;
    std::vector<std::string> ids;
  };
  auto describe = [&](uint64_t line, const Event& e, const std::vector<IndexHit>& hits) {
    Seen s{line, {}, e.time.unix_seconds(), {}};
    for (size_t i = 0; i < e.count; ++i) {
      s.fields.push_back(StrCat(static_cast<int>(e.fields[i].field), "=", e.fields[i].value));
    }
    for (const IndexHit& h : hits) s.ids.push_back(set.IdOf(h));
    return s;
  };

  std::vector<Seen> batched;
  {
    std::string buffer = log + std::string(64, '\0');  // simdjson's padding
    auto reader = MakeZeekJsonReader();
    Matcher matcher(set);
    uint64_t line = 0;
    MatchBlock({buffer.data(), log.size()}, buffer.size(), *reader, matcher, line,
               [&](uint64_t n, const Event& e, const std::vector<IndexHit>& hits) {
                 batched.push_back(describe(n, e, hits));
               });
    EXPECT_EQ(reader->stats().bad_total(), 9u);
  }
  std::vector<Seen> single;
  {
    auto reader = MakeZeekJsonReader();
    Matcher matcher(set);
    Event event;
    std::vector<IndexHit> hits;
    uint64_t n = 0;
    for (std::string_view rest = log; !rest.empty();) {
      const std::string_view line = rest.substr(0, rest.find('\n'));
      rest.remove_prefix(std::min(rest.size(), line.size() + 1));
      ++n;
      std::string copy(line);
      copy.append(64, '\0');
      if (reader->Read({copy.data(), line.size()}, copy.size(), event) != LineResult::kEvent) {
        continue;
      }
      matcher.Match(event, hits);
      if (!hits.empty()) single.push_back(describe(n, event, hits));
    }
  }
  ASSERT_EQ(batched.size(), single.size());
  EXPECT_GT(batched.size(), 60u);
  for (size_t i = 0; i < batched.size(); ++i) {
    EXPECT_EQ(batched[i].line, single[i].line);
    EXPECT_EQ(batched[i].fields, single[i].fields) << "line " << single[i].line;
    EXPECT_EQ(batched[i].time, single[i].time);
    EXPECT_EQ(batched[i].ids, single[i].ids);
  }
}

// Several workers over blocks of the same log give what one MatchBlock pass gives, in order:
// hits with their lines and times, events, lines, and bad lines with the first of each reason.
TEST(ParallelMatcher, SameHitsInTheSameOrderAsOneThread) {
  IndicatorSet set(Now2025());
  std::string list;
  std::string log;
  for (int i = 0; i < 3000; ++i) {
    const std::string dst = absl::StrFormat("192.0.%d.%d", i / 250, i % 250);
    if (i % 13 == 0) StrAppend(&list, "ip ", dst, "\n");
    StrAppend(&log,
              absl::StrFormat(R"({"timestamp":"2024-01-01T00:%02d:%02d.000000+0000",)"
                              R"("event_type":"flow","src_ip":"10.1.1.1","src_port":%d,)"
                              R"("dest_ip":"%s","dest_port":443,"proto":"TCP"})",
                              (i / 60) % 60, i % 60, 1024 + i, dst),
              "\n");
    if (i % 401 == 7) log += "[1,2]\n";
    if (i % 907 == 3) log += "{\"timestamp\":\"yesterday\"}\n";
  }
  set.AddList(list, "test");
  set.Finish();
  // The event's fields too: the sightings' observed values are read from them
  // (ObservedValueOf), so the workers must hand them over, not the time alone.
  using Seen = std::tuple<uint64_t, int64_t, std::vector<std::string>, std::vector<std::string>>;
  auto record = [&](std::vector<Seen>& out) {
    return [&](uint64_t n, const Event& e, const std::vector<IndexHit>& hits) {
      std::vector<std::string> ids;
      for (const IndexHit& h : hits) ids.push_back(set.IdOf(h));
      std::vector<std::string> fields;
      for (size_t i = 0; i < e.count; ++i) {
        fields.push_back(StrCat(static_cast<int>(e.fields[i].field), "=", e.fields[i].value));
      }
      out.emplace_back(n, e.has_time ? e.time.unix_seconds() : -1, ids, fields);
    };
  };
  std::vector<Seen> one;
  auto reader = MakeEveReader();
  Matcher matcher(set);
  uint64_t lines = 0;
  std::string padded = log + std::string(64, '\0');
  const uint64_t events =
      MatchBlock({padded.data(), log.size()}, padded.size(), *reader, matcher, lines, record(one));

  std::vector<Seen> many;
  ParallelMatcher parallel(set, LogFormat::kEve, nullptr, 3);
  // Blocks of about 4 KiB of whole lines: many more blocks than workers.
  std::string_view rest = log;
  while (!rest.empty()) {
    size_t cut = std::min(rest.size(), size_t{4096});
    const size_t nl = rest.find('\n', cut - 1);
    cut = nl == std::string_view::npos ? rest.size() : nl + 1;
    parallel.Submit(rest.substr(0, cut), record(many));
    rest.remove_prefix(cut);
  }
  parallel.Finish(record(many));

  EXPECT_EQ(many, one);
  EXPECT_GT(one.size(), 200u);
  EXPECT_EQ(parallel.lines(), lines);
  EXPECT_EQ(parallel.events(), events);
  EXPECT_EQ(parallel.counters().hits, matcher.counters().hits);
  const ReaderStats s = parallel.stats();
  EXPECT_EQ(s.bad, reader->stats().bad);
  EXPECT_EQ(s.first_bad_line, reader->stats().first_bad_line);
  EXPECT_EQ(s.bad_total(), 8u + 4u);
}

// Real EVE lines with bad ones (surevego's eve.json with one line cut in half at line 150, then
// eve_broken.json) through ParallelMatcher on 2 workers, in blocks of about 3 KiB copied
// (Submit) and handed over in place (SubmitView): the sightings written, the lines with hits,
// lines, events, bad lines and each reason's first bad line are those of one thread, although
// workers number lines within their block and every bad line lies past the first block.
TEST(ParallelMatcher, RealLogWithBadLinesGivesTheOneThreadOutputAndStats) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data/logs/suricata/surevego";
  std::string text;
  int n = 0;
  std::istringstream good(testing::ReadFileOrDie(dir / "eve.json"));
  for (std::string line; std::getline(good, line);) {
    text += ++n == 150 ? line.substr(0, line.size() / 2) : line;
    text += '\n';
  }
  text += testing::ReadFileOrDie(dir / "eve_broken.json");
  const size_t size = text.size();
  text.append(64, '\0');  // simdjson's padding
  // Whole lines of about 3 KiB each: many more blocks than workers.
  std::vector<std::string_view> blocks;
  for (std::string_view rest(text.data(), size); !rest.empty();) {
    size_t cut = std::min(rest.size(), size_t{3000});
    const size_t nl = rest.find('\n', cut - 1);
    cut = nl == std::string_view::npos ? rest.size() : nl + 1;
    blocks.push_back(rest.substr(0, cut));
    rest.remove_prefix(cut);
  }
  auto capacity_of = [&](std::string_view block) {
    return text.size() - static_cast<size_t>(block.data() - text.data());
  };

  IndicatorSet set(Now2025());
  set.AddList("domain-name debian.org\ndomain-name fastly.net\nipv4-addr 151.101.0.0/16\n", "list");
  set.Finish();
  SightingOptions options;
  options.identity_id = "identity--5d2b0a1c-3c4e-4f7a-9b8c-1d2e3f4a5b6c";
  options.window_seconds = 60;
  options.now = *Timestamp::Parse("2025-06-01T00:00:00Z");
  struct Run {
    std::vector<std::string> objects;
    std::vector<uint64_t> hit_lines;
  };
  auto on_hits_into = [&](Run& run, SightingAggregator& aggregator) {
    return [&](uint64_t line, const Event& e, const std::vector<IndexHit>& hits) {
      run.hit_lines.push_back(line);
      for (const IndexHit& h : hits) aggregator.Add(h, e.has_time ? e.time : options.now);
    };
  };

  Run one;
  uint64_t one_lines = 0;
  uint64_t one_events = 0;
  uint64_t first_block_lines = 0;
  ReaderStats one_stats;
  {
    SightingAggregator aggregator(set, options,
                                  [&](std::string_view json) { one.objects.emplace_back(json); });
    auto reader = MakeEveReader();
    Matcher matcher(set);
    for (std::string_view block : blocks) {
      one_events += MatchBlock(block, capacity_of(block), *reader, matcher, one_lines,
                               on_hits_into(one, aggregator));
      if (first_block_lines == 0) first_block_lines = one_lines;
    }
    aggregator.Flush();
    one_stats = reader->stats();
  }
  ASSERT_GT(one.hit_lines.size(), 60u);
  ASSERT_GT(one.objects.size(), 2u);
  ASSERT_GE(one_stats.bad_total(), 2u);
  EXPECT_EQ(one_lines, 266u + 273u);
  for (size_t r = 0; r < kBadReasonCount; ++r) {
    if (one_stats.bad[r] > 0) {
      EXPECT_GT(one_stats.first_bad_line[r], first_block_lines) << r;
    }
  }
  EXPECT_EQ(*std::min_element(one_stats.first_bad_line.begin(), one_stats.first_bad_line.end(),
                              [](uint64_t a, uint64_t b) { return (a - 1) < (b - 1); }),
            150u);

  // As `liaison match --threads` reads a file: a LineSource whose ring keeps the blocks in flight.
  const std::string file =
      (std::filesystem::path(::testing::TempDir()) / StrCat(getpid(), "-eve-bad.json")).string();
  std::ofstream(file) << std::string_view(text.data(), size);
  for (const std::string mode : {"Submit", "SubmitView", "LineSource ring + SubmitView"}) {
    SCOPED_TRACE(mode);
    Run many;
    SightingAggregator aggregator(set, options,
                                  [&](std::string_view json) { many.objects.emplace_back(json); });
    ParallelMatcher parallel(set, LogFormat::kEve, nullptr, 2);
    auto on_hits = on_hits_into(many, aggregator);
    size_t submitted = 0;
    if (mode == "LineSource ring + SubmitView") {
      auto source = LineSource::Open(file, 4096);
      ASSERT_TRUE(source.ok());
      (*source)->KeepBlocks(parallel.max_in_flight());
      std::string_view block;
      size_t capacity = 0;
      while ((*source)->NextBlock(block, capacity)) {
        parallel.SubmitView(block, capacity, on_hits);
        submitted += block.size();
      }
      parallel.Finish(on_hits);
    }
    for (std::string_view block :
         mode == "LineSource ring + SubmitView" ? std::vector<std::string_view>{} : blocks) {
      if (mode == "SubmitView") {
        parallel.SubmitView(block, capacity_of(block), on_hits);
      } else {
        parallel.Submit(block, on_hits);
      }
      submitted += block.size();
      EXPECT_LE(parallel.delivered_bytes(), submitted);
    }
    parallel.Finish(on_hits);
    aggregator.Flush();
    EXPECT_EQ(parallel.delivered_bytes(), size);
    EXPECT_EQ(many.hit_lines, one.hit_lines);
    EXPECT_EQ(many.objects, one.objects);
    EXPECT_EQ(parallel.lines(), one_lines);
    EXPECT_EQ(parallel.events(), one_events);
    EXPECT_EQ(parallel.stats().bad, one_stats.bad);
    EXPECT_EQ(parallel.stats().first_bad_line, one_stats.first_bad_line);
  }
  std::filesystem::remove(file);
}

// Patterns over several events (FOLLOWEDBY, REPEATS with WITHIN) run over a window of recent
// events and fire on the event that makes them hold over the window (not on later events while
// they still hold); the window's bound is a real bound.
TEST(StreamPatterns, FollowedByAndRepeatsAcrossEvents) {
  auto indicator = [](const std::string& id, const std::string& pattern) {
    return StrCat(R"({"type":"indicator","spec_version":"2.1","id":"indicator--)", id,
                  R"(","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",)",
                  R"("pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","pattern":")",
                  pattern, "\"}\n");
  };
  const std::string followed = "11111111-1111-4111-8111-111111111111";
  const std::string repeats = "22222222-2222-4222-8222-222222222222";
  const std::string single = "33333333-3333-4333-8333-333333333333";
  const std::string stix =
      indicator(followed,
                "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = "
                "'evil.example'] WITHIN 60 SECONDS") +
      indicator(repeats,
                "[domain-name:value = 'evil.example'] REPEATS 3 TIMES WITHIN 300 SECONDS") +
      indicator(single, "[domain-name:value LIKE '%.other.example']");
  auto flow = [](const std::string& time, const std::string& dst) {
    return StrCat(R"({"timestamp":"2024-01-01T)", time,
                  R"(.000000+0000","event_type":"flow","src_ip":"10.1.1.1","src_port":1,)",
                  R"("dest_ip":")", dst, R"(","dest_port":443,"proto":"TCP"})", "\n");
  };
  auto dns = [](const std::string& time, const std::string& name) {
    return StrCat(R"({"timestamp":"2024-01-01T)", time,
                  R"(.000000+0000","event_type":"dns","src_ip":"10.1.1.1","src_port":5353,)",
                  R"("dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP",)",
                  R"("dns":{"type":"query","rrname":")", name, R"(","rrtype":"A"}})", "\n");
  };
  const std::string log = flow("00:00:00", "198.51.100.1") +    // 1
                          dns("00:00:10", "evil.example") +     // 2: follows 1 within 60 s
                          dns("00:00:20", "evil.example") +     // 3: follows 1 within 60 s
                          dns("00:02:00", "evil.example") +     // 4: 1 is 120 s back; 3rd repeat
                          dns("00:02:05", "a.other.example") +  // 5: the one-event pattern
                          dns("00:03:00", "evil.example") +     // 6: 3 repeats within 300 s
                          flow("00:03:10", "198.51.100.1") +    // 7: before no evil.example
                          dns("00:03:20", "evil.example");      // 8: follows 7 within 60 s
  auto run = [&](size_t window_events) {
    CompileOptions options = Now2025();
    options.stream_window_events = window_events;
    IndicatorSet set(options);
    EXPECT_TRUE(set.AddStix(stix, "test").ok());
    set.Finish();
    EXPECT_EQ(set.stats().stream, 2u);
    EXPECT_EQ(set.stats().engine, 3u);
    std::map<std::string, std::vector<uint64_t>> fired;
    auto reader = MakeEveReader();
    Matcher matcher(set);
    uint64_t line = 0;
    const std::string padded = log + std::string(64, '\0');
    MatchBlock({padded.data(), log.size()}, padded.size(), *reader, matcher, line,
               [&](uint64_t n, const Event&, const std::vector<IndexHit>& hits) {
                 for (const IndexHit& h : hits) fired[set.IdOf(h)].push_back(n);
               });
    EXPECT_EQ(reader->stats().bad_total(), 0u);
    return fired;
  };
  using ::testing::ElementsAre;
  std::map<std::string, std::vector<uint64_t>> fired = run(64);
  EXPECT_THAT(fired["indicator--" + followed], ElementsAre(2));  // 3: already held by 1, 2
  EXPECT_THAT(fired["indicator--" + repeats], ElementsAre(4));   // 6: 2, 3, 4 still held
  EXPECT_THAT(fired["indicator--" + single], ElementsAre(5));
  // A window of 2 events holds no 3 repeats; and once 1 and 2 leave it, a new pair can fire.
  fired = run(2);
  EXPECT_THAT(fired["indicator--" + followed], ElementsAre(2, 8));
  EXPECT_THAT(fired["indicator--" + repeats], ElementsAre());
  EXPECT_THAT(fired["indicator--" + single], ElementsAre(5));
}

TEST(ObservedDataJson, IsValidStixForTheEngine) {
  Event e;
  e.has_time = true;
  e.time = Timestamp::FromUnixNanos(1700000000, 0);
  e.Push(Field::kSrcAddress, "10.0.0.1");
  e.Push(Field::kDstAddress, "2001:db8::1");
  e.Push(Field::kDstPort, "443");
  e.Push(Field::kProtocol, "tcp");
  const std::string sha256(64, 'a');
  e.Push(Field::kSha256, sha256);
  e.Push(Field::kFileName, "a\"b.exe");
  e.Push(Field::kUserAgent, "curl/8");
  const std::string json =
      ObservedDataJson(e, "observed-data--00000000-0000-4000-8000-000000000000", {});
  const stix::Report report = stix::ValidateObjectText(json);
  EXPECT_EQ(report.errors, 0u) << json << "\n"
                               << (report.findings.empty() ? "" : report.findings[0].message);
}

}  // namespace
}  // namespace liaison::match
