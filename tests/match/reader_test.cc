#include "match/reader.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "match/line_source.h"
#include "testing/shared_data.h"

namespace liaison::match {
namespace {

using ::testing::Contains;
using ::testing::Pair;

std::vector<std::pair<Field, std::string>> FieldsOf(const Event& e) {
  std::vector<std::pair<Field, std::string>> out;
  for (size_t i = 0; i < e.count; ++i) out.emplace_back(e.fields[i].field, e.fields[i].value);
  return out;
}

// Reads one line the way the matcher does: with simdjson's padding readable behind it.
LineResult ReadLine(LogReader& reader, std::string_view line, Event& event) {
  static std::string padded;  // the event's views point here until the next call
  padded.assign(line);
  padded.append(64, '\0');
  return reader.Read(std::string_view(padded.data(), line.size()), padded.size(), event);
}

TEST(ZeekTsvReader, MapsColumnsByTheFieldsHeader) {
  auto reader = MakeZeekTsvReader();
  Event e;
  for (std::string_view h :
       {"#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
        "#path\tdns",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\tanswers",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tvector[string]"}) {
    ASSERT_EQ(ReadLine(*reader, h, e), LineResult::kSkipped) << h;
  }
  ASSERT_EQ(ReadLine(*reader,
                     "1521911721.5\tC1\t10.0.0.1\t5353\t10.0.0.2\t53\tEvil.Example\t"
                     "cname.example,192.0.2.1",
                     e),
            LineResult::kEvent);
  EXPECT_TRUE(e.has_time);
  EXPECT_EQ(e.time, Timestamp::FromUnixNanos(1521911721, 500'000'000));
  const auto f = FieldsOf(e);
  EXPECT_THAT(f, Contains(Pair(Field::kSrcAddress, "10.0.0.1")));
  EXPECT_THAT(f, Contains(Pair(Field::kDstAddress, "10.0.0.2")));
  EXPECT_THAT(f, Contains(Pair(Field::kDstPort, "53")));
  EXPECT_THAT(f, Contains(Pair(Field::kDomain, "Evil.Example")));
  EXPECT_THAT(f, Contains(Pair(Field::kDomain, "cname.example")));
  EXPECT_THAT(f, Contains(Pair(Field::kAddress, "192.0.2.1")));

  // Unset values give no field; a short row is counted, not fatal.
  ASSERT_EQ(ReadLine(*reader, "1.0\tC2\t-\t-\t-\t-\t-\t(empty)", e), LineResult::kEvent);
  EXPECT_EQ(e.count, 0u);
  EXPECT_EQ(ReadLine(*reader, "1.0\tC2\t10.0.0.1", e), LineResult::kBad);
  EXPECT_EQ(ReadLine(*reader, "notatime\tC2\t-\t-\t-\t-\t-\t-", e), LineResult::kBad);
  EXPECT_EQ(reader->stats().bad[static_cast<size_t>(BadReason::kColumnCount)], 1u);
  EXPECT_EQ(reader->stats().bad[static_cast<size_t>(BadReason::kBadTime)], 1u);
}

TEST(ZeekTsvReader, DataBeforeHeaderIsBad) {
  auto reader = MakeZeekTsvReader();
  Event e;
  EXPECT_EQ(ReadLine(*reader, "1.0\tx", e), LineResult::kBad);
  EXPECT_EQ(reader->stats().bad[static_cast<size_t>(BadReason::kNoHeader)], 1u);
}

TEST(ZeekTsvReader, HttpHostAndUriMakeAUrl) {
  auto reader = MakeZeekTsvReader();
  Event e;
  ReadLine(*reader, "#fields\tts\thost\turi\tuser_agent", e);
  ASSERT_EQ(ReadLine(*reader, "5\tevil.example:8080\t/a?b=1\tcurl", e), LineResult::kEvent);
  const auto f = FieldsOf(e);
  EXPECT_THAT(f, Contains(Pair(Field::kDomain, "evil.example")));
  EXPECT_THAT(f, Contains(Pair(Field::kUrl, "evil.example:8080/a?b=1")));
  EXPECT_THAT(f, Contains(Pair(Field::kUserAgent, "curl")));
}

TEST(JsonReaders, ZeekJsonAndEve) {
  auto zeek = MakeZeekJsonReader();
  Event e;
  ASSERT_EQ(ReadLine(*zeek,
                     R"({"_path":"ssl","ts":1521911721.25,"id.orig_h":"10.0.0.1",)"
                     R"("id.resp_h":"2001:db8::1","server_name":"tls.example","established":true})",
                     e),
            LineResult::kEvent);
  EXPECT_EQ(e.time, Timestamp::FromUnixNanos(1521911721, 250'000'000));
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kDstAddress, "2001:db8::1")));
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kDomain, "tls.example")));

  auto eve = MakeEveReader();
  ASSERT_EQ(
      ReadLine(*eve,
               R"({"timestamp":"2017-01-30T10:46:48.663584+0100","event_type":"dns",)"
               R"("src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"UDP",)"
               R"("dns":{"type":"answer","rrname":"a.example","answers":[{"rdata":"192.0.2.9"},)"
               R"({"rdata":"b.example"}],"grouped":{"A":["192.0.2.10"]}}})",
               e),
      LineResult::kEvent);
  EXPECT_EQ(e.time, *Timestamp::Parse("2017-01-30T09:46:48.663584Z"));
  const auto f = FieldsOf(e);
  EXPECT_THAT(f, Contains(Pair(Field::kDomain, "a.example")));
  EXPECT_THAT(f, Contains(Pair(Field::kAddress, "192.0.2.9")));
  EXPECT_THAT(f, Contains(Pair(Field::kDomain, "b.example")));
  EXPECT_THAT(f, Contains(Pair(Field::kAddress, "192.0.2.10")));
  EXPECT_THAT(f, Contains(Pair(Field::kProtocol, "udp")));

  ASSERT_EQ(
      ReadLine(*eve,
               R"({"timestamp":"2017-01-30T10:46:48Z","event_type":"fileinfo",)"
               R"("http":{"hostname":"dl.example","url":"/x.exe"},)"
               R"("fileinfo":{"md5":"d41d8cd98f00b204e9800998ecf8427e","filename":"/x.exe"}})",
               e),
      LineResult::kEvent);
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kUrl, "dl.example/x.exe")));
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kMd5, "d41d8cd98f00b204e9800998ecf8427e")));

  EXPECT_EQ(ReadLine(*eve, R"({"timestamp":"2017-01-30T10:46:48Z","src_ip":)", e),
            LineResult::kBad);
  EXPECT_EQ(ReadLine(*eve, R"([1,2])", e), LineResult::kBad);
  EXPECT_EQ(ReadLine(*eve, R"({"timestamp":"yesterday"})", e), LineResult::kBad);
  EXPECT_EQ(ReadLine(*eve, "   ", e), LineResult::kSkipped);
  EXPECT_EQ(eve->stats().bad_total(), 3u);
}

TEST(JsonReaders, NdjsonWithAMappingFromToml) {
  Result<FieldMapping> mapping = ParseFieldMapping(R"(
time = "when"
[fields]
"client.ip" = "src_ip"
"server" = "network-traffic:dst_ref.value"
"q" = "domain"
)",
                                                   "map.toml");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  auto reader = MakeNdjsonReader(*mapping);
  Event e;
  ASSERT_EQ(ReadLine(*reader,
                     R"({"when":"2024-05-01T00:00:00Z","client":{"ip":"10.1.1.1"},)"
                     R"("server":"10.2.2.2","q":"x.example"})",
                     e),
            LineResult::kEvent);
  EXPECT_TRUE(e.has_time);
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kSrcAddress, "10.1.1.1")));
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kDstAddress, "10.2.2.2")));
  EXPECT_THAT(FieldsOf(e), Contains(Pair(Field::kDomain, "x.example")));

  EXPECT_FALSE(ParseFieldMapping("[fields]\na = \"nonsense\"\n", "m.toml").ok());
  EXPECT_FALSE(ParseFieldMapping("[fields\n", "m.toml").ok());
}

TEST(DetectLogFormat, FromTheFirstLine) {
  EXPECT_EQ(DetectLogFormat("#separator \\x09\n"), LogFormat::kZeek);
  EXPECT_EQ(DetectLogFormat(R"({"timestamp":"x","event_type":"dns"})"), LogFormat::kEve);
  EXPECT_EQ(DetectLogFormat(R"({"_path":"conn","ts":1})"), LogFormat::kZeekJson);
  EXPECT_EQ(DetectLogFormat(R"({"a":1})"), std::nullopt);
}

struct FileCounts {
  uint64_t events = 0;
  uint64_t bad = 0;
  uint64_t fields = 0;
};

FileCounts ReadFile(const std::filesystem::path& path, std::optional<LogFormat> format = {}) {
  FileCounts c;
  auto source = LineSource::Open(path.string(), 1 << 16);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return c;
  if (!format) format = DetectLogFormat((*source)->Peek());
  EXPECT_TRUE(format.has_value()) << path;
  if (!format) return c;
  auto reader = MakeReader(*format);
  std::string_view block;
  size_t capacity = 0;
  Event e;
  uint64_t line_number = 0;
  while ((*source)->NextBlock(block, capacity)) {
    while (!block.empty()) {
      const size_t nl = block.find('\n');
      const std::string_view line = block.substr(0, nl);
      reader->set_line_number(++line_number);
      if (reader->Read(line, capacity, e) == LineResult::kEvent) {
        ++c.events;
        c.fields += e.count;
      }
      const size_t step = nl == std::string_view::npos ? block.size() : nl + 1;
      block.remove_prefix(step);
      capacity -= step;
    }
  }
  EXPECT_TRUE((*source)->status().ok()) << (*source)->status();
  c.bad = reader->stats().bad_total() + (*source)->lines_too_long();
  return c;
}

TEST(RealLogs, ZeekLogsReadWithoutBadLines) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data/logs/zeek";
  size_t files = 0;
  uint64_t events = 0;
  for (const auto& path :
       testing::FilesUnder(dir, {".log", ".labeled", ".log.gz", ".json.gz", ".labeled.gz"})) {
    const std::string name = path.string();
    if (name.find("zeek-testing") != std::string::npos) continue;  // edge cases: below
    const FileCounts c = ReadFile(path);
    EXPECT_EQ(c.bad, 0u) << path;
    events += c.events;
    ++files;
  }
  EXPECT_GT(files, 80u);
  EXPECT_GT(events, 150'000u);
}

TEST(RealLogs, WrccdcTsvAndJsonGiveTheSameFields) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data/logs/zeek/wrccdc-2018";
  for (std::string_view log : {"ssl", "x509", "smtp"}) {
    const FileCounts tsv = ReadFile(dir / StrCat("zeek-default/", log, ".log.gz"));
    const FileCounts json = ReadFile(dir / StrCat("zeek-json/", log, ".json.gz"));
    EXPECT_EQ(tsv.events, json.events) << log;
    EXPECT_EQ(tsv.fields, json.fields) << log;
    EXPECT_GT(tsv.fields, 0u) << log;
  }
}

TEST(RealLogs, SuricataEveGoodAndBrokenFixtures) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data/logs/suricata";
  const FileCounts good = ReadFile(dir / "surevego/eve.json", LogFormat::kEve);
  EXPECT_EQ(good.events, 266u);
  EXPECT_EQ(good.bad, 0u);
  const FileCounts broken = ReadFile(dir / "surevego/eve_broken.json", LogFormat::kEve);
  EXPECT_GT(broken.bad, 0u);
  EXPECT_GT(broken.events, 200u);
  EXPECT_EQ(ReadFile(dir / "fever/alertify_input.json", LogFormat::kEve).bad, 0u);
  EXPECT_EQ(ReadFile(dir / "fever/jsonparse_eve.json", LogFormat::kEve).bad, 0u);
  EXPECT_EQ(ReadFile(dir / "fever/jsonparse_eve_nulls.json", LogFormat::kEve).bad, 0u);
  EXPECT_GT(ReadFile(dir / "fever/jsonparse_eve_broken1.json", LogFormat::kEve).bad, 0u);
  EXPECT_EQ(ReadFile(dir / "fever/jsonparse_eve_empty.json", LogFormat::kEve).events, 0u);
}

TEST(RealLogs, ZeekEdgeCasesAreReportedNotFatal) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const auto dir = shared / "data/logs/zeek/zeek-testing/zeek-cut-logs";
  EXPECT_EQ(ReadFile(dir / "conn.log", LogFormat::kZeek).bad, 0u);
  EXPECT_EQ(ReadFile(dir / "conncomma.log", LogFormat::kZeek).bad, 0u);
  const FileCounts invalid_time = ReadFile(dir / "invalid-time.log", LogFormat::kZeek);
  EXPECT_GT(invalid_time.bad, 0u);
  // Any of them may be odd, none may crash or stop the reader.
  for (const auto& path : testing::FilesUnder(dir, {".log"})) ReadFile(path, LogFormat::kZeek);
}

// Zeek's own fixture: a request for /non_printable_ + byte 0x07 is logged as "\x07", one for
// the literal text "\x07" as "\\x07". TSV values are decoded back to those bytes, and an
// escaped set separator stays inside its element.
TEST(ZeekTsvReader, DecodesValueEscapes) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  std::string text = testing::ReadFileOrDie(
      shared / "data/logs/zeek/zeek-testing/json-non-printable-escaping/http.log.tsv");
  // The btest baseline masks its times ("XXXXXXXXXX.XXXXXX"); put a real one back.
  for (size_t at; (at = text.find("XXXXXXXXXX.XXXXXX")) != std::string::npos;) {
    text.replace(at, 17, "1700000000.000000");
  }
  auto reader = MakeZeekTsvReader();
  std::vector<std::string> urls;
  Event e;
  for (std::string_view rest = text; !rest.empty();) {
    const std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    if (ReadLine(*reader, line, e) != LineResult::kEvent) continue;
    for (const auto& [field, value] : FieldsOf(e)) {
      if (field == Field::kUrl) urls.push_back(value);
    }
  }
  EXPECT_EQ(reader->stats().bad_total(), 0u);
  EXPECT_THAT(urls, Contains(std::string("172.24.0.3/non_printable_\x07")));
  EXPECT_THAT(urls, Contains(std::string("172.24.0.3/non_printable_literal_\\x07")));
  EXPECT_THAT(urls, Contains(std::string("172.24.0.3/printable_\xf0\x9f\x98\x84")));

  auto tsv = MakeZeekTsvReader();
  ASSERT_EQ(ReadLine(*tsv, "#fields\tanswers\tquery", e), LineResult::kSkipped);
  ASSERT_EQ(ReadLine(*tsv, "a\\x2cb.example,10.0.0.1\tq\\x09.example\\", e), LineResult::kEvent);
  EXPECT_THAT(FieldsOf(e), ::testing::ElementsAre(Pair(Field::kDomain, "a,b.example"),
                                                  Pair(Field::kAddress, "10.0.0.1"),
                                                  Pair(Field::kDomain, "q\t.example\\")));
}

}  // namespace
}  // namespace liaison::match
