// Reloading the indicator set while a stream is matched (match/reload.h): the stream keeps
// matching against the old set while the new one builds, switches between two blocks, drops no
// event, and after the switch hits come from the new set only.

#include "match/reload.h"

#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "match/matcher.h"
#include "match/parallel.h"
#include "match/sightings.h"

namespace liaison::match {
namespace {

constexpr int kEvents = 3000;

CompileOptions Now2025() {
  CompileOptions o;
  o.now = *Timestamp::Parse("2025-06-01T00:00:00Z");
  return o;
}

std::string Dst(int i) { return absl::StrFormat("192.0.%d.%d", i / 250, i % 250); }

// EVE flows, event i (line i + 1) going to Dst(i).
std::string Log() {
  std::string log;
  for (int i = 0; i < kEvents; ++i) {
    StrAppend(&log,
              absl::StrFormat(R"({"timestamp":"2024-01-01T00:%02d:%02d.000000+0000",)"
                              R"("event_type":"flow","src_ip":"10.1.1.1","src_port":%d,)"
                              R"("dest_ip":"%s","dest_port":443,"proto":"TCP"})",
                              (i / 60) % 60, i % 60, 1024 + i, Dst(i)),
              "\n");
  }
  return log;
}

// A set of the destinations of the events i with i % every == 0.
std::unique_ptr<IndicatorSet> SetOfEvery(int every) {
  auto set = std::make_unique<IndicatorSet>(Now2025());
  std::string list;
  for (int i = 0; i < kEvents; i += every) StrAppend(&list, "ip ", Dst(i), "\n");
  set->AddList(list, StrCat("every ", every));
  set->Finish();
  return set;
}

std::vector<std::string_view> Blocks(std::string_view log, size_t size) {
  std::vector<std::string_view> out;
  while (!log.empty()) {
    size_t cut = std::min(log.size(), size);
    const size_t nl = log.find('\n', cut - 1);
    cut = nl == std::string_view::npos ? log.size() : nl + 1;
    out.push_back(log.substr(0, cut));
    log.remove_prefix(cut);
  }
  return out;
}

struct Outcome {
  uint64_t events = 0;
  uint64_t first_line_after_swap = 0;
  size_t blocks_during_build = 0;
  std::map<uint64_t, std::string> hit_value;  // line -> the value (as the set names it)
  uint64_t sighting_count = 0;                // sum of the sightings' counts
  uint64_t hits = 0;
};

// Streams the log block by block through one thread (threads == 0) or a ParallelMatcher; asks
// for a reload before block `reload_at`, keeps matching while the (gated) build waits, opens the
// gate after two more blocks, and switches at the first block boundary after the build.
Outcome Stream(int threads, size_t reload_at) {
  const std::string log = Log();
  const std::vector<std::string_view> blocks = Blocks(log, 4096);
  EXPECT_GT(blocks.size(), reload_at + 4);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  IndicatorReloader reloader(std::shared_ptr<const IndicatorSet>(SetOfEvery(2)),
                             [opened]() -> Result<std::unique_ptr<IndicatorSet>> {
                               opened.wait();
                               return SetOfEvery(3);
                             });
  std::shared_ptr<const IndicatorSet> set = reloader.current();
  Outcome out;
  SightingOptions so;
  so.now = Now2025().now;
  SightingAggregator sightings(*set, so, [&](std::string_view json) {
    const size_t at = json.find("\"count\":");
    out.sighting_count += std::stoull(std::string(json.substr(at + 8)));
  });
  auto on_hits = [&](uint64_t line, const Event& e, const std::vector<IndexHit>& hits) {
    EXPECT_EQ(hits.size(), 1u) << line;
    for (const IndexHit& h : hits) {
      // Hits are named through the set their block was matched against: during SwapSet the
      // blocks in flight still come back under the old one.
      out.hit_value[line] = set->index().EntryText(h);
      sightings.Add(h, e.time);
      ++out.hits;
    }
  };
  auto reader = MakeEveReader();
  auto matcher = std::make_unique<Matcher>(*set);
  std::unique_ptr<ParallelMatcher> parallel;
  if (threads > 0)
    parallel = std::make_unique<ParallelMatcher>(*set, LogFormat::kEve, nullptr, threads);
  uint64_t line = 0;
  std::string padded;
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (b == reload_at) reloader.Request();
    if (b == reload_at + 2) {
      gate.set_value();
      reloader.WaitIdle();  // so that the switch comes at a known block in the test
    }
    if (std::shared_ptr<const IndicatorSet> next = reloader.TakeReady()) {
      if (parallel != nullptr) parallel->SwapSet(*next, on_hits);
      matcher = std::make_unique<Matcher>(*next);
      sightings.Rebind(*next);
      set = std::move(next);
      out.first_line_after_swap = (parallel != nullptr ? parallel->lines() : line) + 1;
    } else if (b > reload_at && out.first_line_after_swap == 0) {
      ++out.blocks_during_build;
    }
    if (parallel != nullptr) {
      parallel->Submit(blocks[b], on_hits);
    } else {
      padded.assign(blocks[b]);
      padded.append(64, '\0');
      out.events += MatchBlock({padded.data(), blocks[b].size()}, padded.size(), *reader, *matcher,
                               line, on_hits);
    }
  }
  if (parallel != nullptr) {
    parallel->Finish(on_hits);
    out.events = parallel->events();
    EXPECT_EQ(parallel->counters().hits, out.hits);
  }
  sightings.Flush();
  EXPECT_EQ(reloader.swaps(), 1u);
  EXPECT_EQ(reloader.builds_failed(), 0u);
  return out;
}

void CheckOutcome(const Outcome& o) {
  EXPECT_EQ(o.events, static_cast<uint64_t>(kEvents));  // no event lost
  EXPECT_GE(o.blocks_during_build, 1u);                 // the stream went on during the build
  ASSERT_GT(o.first_line_after_swap, 100u);
  ASSERT_LT(o.first_line_after_swap, static_cast<uint64_t>(kEvents - 100));
  // Before the switch exactly the old set's values hit, after it exactly the new set's.
  std::map<uint64_t, std::string> want;
  for (int i = 0; i < kEvents; ++i) {
    const uint64_t line = static_cast<uint64_t>(i) + 1;
    const int every = line < o.first_line_after_swap ? 2 : 3;
    if (i % every == 0) want[line] = Dst(i);
  }
  EXPECT_EQ(o.hit_value, want);
  EXPECT_EQ(o.sighting_count, o.hits);  // the sightings written at the switch count every hit
}

TEST(IndicatorReloader, OneThreadSwitchesBetweenBlocksWithoutLosingEvents) {
  CheckOutcome(Stream(0, 5));
}

TEST(IndicatorReloader, ParallelMatcherSwitchesAfterTheBlocksInFlight) {
  const Outcome one = Stream(0, 5);
  const Outcome many = Stream(3, 5);
  CheckOutcome(many);
  // The switch comes at the same block boundary, so the hits are the same.
  EXPECT_EQ(many.first_line_after_swap, one.first_line_after_swap);
  EXPECT_EQ(many.hit_value, one.hit_value);
}

TEST(IndicatorReloader, FailedBuildKeepsTheRunningSet) {
  int calls = 0;
  IndicatorReloader reloader(std::shared_ptr<const IndicatorSet>(SetOfEvery(2)),
                             [&calls]() -> Result<std::unique_ptr<IndicatorSet>> {
                               ++calls;
                               return absl::InvalidArgumentError("feed.txt: not STIX");
                             });
  const IndicatorSet* before = reloader.current().get();
  reloader.Request();
  reloader.WaitIdle();
  EXPECT_EQ(reloader.TakeReady(), nullptr);
  EXPECT_EQ(reloader.current().get(), before);
  EXPECT_EQ(reloader.builds_failed(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(std::string(reloader.last_error().message()), ::testing::HasSubstr("not STIX"));
}

// Requests during a build coalesce into one more build after it, not one each.
TEST(IndicatorReloader, RequestsDuringABuildCoalesce) {
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<int> calls{0};
  IndicatorReloader reloader(std::shared_ptr<const IndicatorSet>(SetOfEvery(2)),
                             [&]() -> Result<std::unique_ptr<IndicatorSet>> {
                               ++calls;
                               opened.wait();
                               return SetOfEvery(5);
                             });
  reloader.Request();
  for (int i = 0; i < 10; ++i) reloader.Request();
  gate.set_value();
  reloader.WaitIdle();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(reloader.builds_done(), 2u);
  ASSERT_NE(reloader.TakeReady(), nullptr);
  EXPECT_EQ(reloader.TakeReady(), nullptr);  // handed out once
  EXPECT_EQ(reloader.swaps(), 1u);
}

}  // namespace
}  // namespace liaison::match
