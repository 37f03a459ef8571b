// The PSI protocol end to end through a direct transport: correctness against a plain
// intersection, what crosses the wire, replay and reordering, malformed messages, policy and
// the run record.

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/absl_compat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "psi/internal/crypto.h"
#include "psi/internal/wire.h"
#include "psi/psi.h"
#include "psi/psi_testing.h"

namespace liaison::psi {
namespace {

using testing::DirectFactory;
using ::testing::HasSubstr;
using testing::MemoryRecorder;
using testing::RandomLists;
using testing::WireLog;

const Caller kCaller{"alice", {"analysts", "cert-x"}};

PartnerPolicy OpenPolicy() {
  PartnerPolicy p;
  p.partner = "cert-x";
  p.lists = {"watch"};
  p.min_set_size = 0;
  p.max_set_size = 1 << 20;
  p.max_runs = 1000;
  p.cooldown = std::chrono::seconds(0);
  return p;
}

struct Fixture {
  explicit Fixture(WatchList list, PartnerPolicy policy = OpenPolicy()) {
    ResponderOptions o;
    o.lists.push_back({"watch", std::move(list)});
    o.partners.push_back(std::move(policy));
    o.clock = [this] { return now; };
    responder = *Responder::Create(std::move(o), recorder);
  }
  std::chrono::system_clock::time_point now{std::chrono::seconds(1'800'000'000)};
  MemoryRecorder recorder;
  std::unique_ptr<Responder> responder;
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(PsiProtocol, MatchesAPlainIntersectionOnRandomSets) {
  struct Case {
    size_t na, nb, common;
  };
  const Case cases[] = {{0, 0, 0},     {0, 5, 0},    {5, 0, 0},       {1, 1, 1},
                        {1, 1, 0},     {3, 7, 2},    {50, 50, 50},    {50, 50, 0},
                        {100, 10, 10}, {10, 100, 5}, {257, 300, 100}, {1000, 900, 333}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    for (Mode mode : {Mode::kMutual, Mode::kOneSided, Mode::kCardinality}) {
      SCOPED_TRACE(::testing::Message()
                   << c.na << "x" << c.nb << " common " << c.common << " " << ModeName(mode));
      auto lists = RandomLists(c.na, c.nb, c.common, seed++);
      Fixture f(lists.b);
      RequestOptions options;
      options.mode = mode;
      options.chunk_items = 64;  // many chunks, so that ordering across workers is exercised
      options.workers = 3;
      auto result = RunRequester(lists.a, options, DirectFactory(*f.responder, kCaller));
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->cardinality, c.common);
      EXPECT_EQ(result->requester_set_size, c.na);
      EXPECT_EQ(result->responder_set_size, c.nb);
      if (mode == Mode::kCardinality) {
        EXPECT_TRUE(result->intersection.empty());
      } else {
        EXPECT_EQ(Sorted(result->intersection), lists.expected);
      }
      const auto records = f.recorder.records();
      ASSERT_EQ(records.size(), 1u);
      EXPECT_EQ(records[0].outcome, "completed");
      EXPECT_EQ(records[0].mode, ModeName(mode));
      EXPECT_EQ(records[0].requester_set_size, c.na);
      EXPECT_EQ(records[0].responder_set_size, c.nb);
      EXPECT_EQ(records[0].partner, "cert-x");
      // Only a mutual run tells the responder the intersection.
      if (mode == Mode::kMutual) {
        EXPECT_EQ(records[0].result_size, c.common);
      } else {
        EXPECT_FALSE(records[0].result_size.has_value());
      }
      EXPECT_EQ(f.responder->open_sessions(), 0u);
    }
  }
}

TEST(PsiProtocol, MutualResponderWritesItsResult) {
  auto lists = RandomLists(40, 30, 7, 99);
  const std::string dir = ::testing::TempDir() + "/psi_results_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  ResponderOptions o;
  o.lists.push_back({"watch", lists.b});
  o.partners.push_back(OpenPolicy());
  o.results_dir = dir;
  MemoryRecorder recorder;
  auto responder = *Responder::Create(std::move(o), recorder);
  RequestOptions options;
  options.mode = Mode::kMutual;
  ASSERT_TRUE(RunRequester(lists.a, options, DirectFactory(*responder, kCaller)).ok());
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    std::ifstream in(e.path());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') lines.push_back(line);
    }
    EXPECT_EQ(lines, lists.expected);
    EXPECT_EQ(std::filesystem::status(e.path()).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
  }
  EXPECT_EQ(files, 1u);
  std::filesystem::remove_all(dir);
}

TEST(PsiProtocol, WireCarriesOnlyGroupElementsAndDigests) {
  auto lists = RandomLists(200, 150, 60, 7);
  Fixture f(lists.b);
  WireLog log;
  RequestOptions options;
  options.mode = Mode::kMutual;
  options.chunk_items = 50;
  ASSERT_TRUE(RunRequester(lists.a, options, DirectFactory(*f.responder, kCaller, &log)).ok());
  std::string wire;
  for (const std::string& m : log.messages()) wire += m;
  // Neither an item, nor a plain hash of one (SHA-256, SHA-512, the unblinded group element
  // under any context we could guess), appears anywhere.
  std::vector<std::string> items = lists.a.items;
  items.insert(items.end(), lists.b.items.begin(), lists.b.items.end());
  internal::Context zero{};
  for (const std::string& item : items) {
    ASSERT_EQ(wire.find(item), std::string::npos) << item;
    unsigned char h256[32], h512[64], point[32];
    crypto_hash_sha256(h256, reinterpret_cast<const unsigned char*>(item.data()), item.size());
    crypto_hash_sha512(h512, reinterpret_cast<const unsigned char*>(item.data()), item.size());
    internal::HashToGroup(zero, item, point);
    for (auto [p, n] : {std::pair<const unsigned char*, size_t>{h256, 8}, {h512, 8}, {point, 8}}) {
      ASSERT_EQ(wire.find(std::string(reinterpret_cast<const char*>(p), n)), std::string::npos)
          << item;
    }
  }
  // And every point-sized payload is a valid ristretto255 element: parse the chunks.
  size_t points = 0;
  for (const std::string& m : log.messages()) {
    internal::Reader r(m);
    auto h = r.ReadHeader();
    ASSERT_TRUE(h.ok());
    if (h->type == internal::MessageType::kBlindedChunk ||
        h->type == internal::MessageType::kResponderChunk) {
      const uint32_t n = *r.U32("count");
      for (uint32_t i = 0; i < n; ++i) {
        auto p = r.Bytes(32, "point");
        ASSERT_TRUE(p.ok());
        EXPECT_TRUE(crypto_core_ristretto255_is_valid_point(
            reinterpret_cast<const unsigned char*>(p->data())));
        ++points;
      }
    }
  }
  EXPECT_EQ(points, 350u);
}

// A hand-driven session, to send messages out of order.
class ManualSession {
 public:
  ManualSession(Responder& r, Mode mode, uint64_t na, uint32_t chunk) : r_(r) {
    std::string hello;
    internal::AppendHeader({internal::MessageType::kHello, "", 0}, hello);
    internal::AppendU8(static_cast<uint8_t>(mode), hello);
    internal::AppendU8(static_cast<uint8_t>(ItemKind::kId), hello);
    internal::AppendU64(na, hello);
    internal::AppendU32(chunk, hello);
    hello += std::string(16, 'n');
    internal::AppendU16(0, hello);
    auto accept = r_.Handle(kCaller, hello);
    EXPECT_TRUE(accept.ok()) << accept.status();
    if (!accept.ok()) return;
    internal::Reader reader(*accept);
    id_ = reader.ReadHeader()->session_id;
    context_ = internal::DeriveContext(id_, std::string(16, 'n'), static_cast<uint8_t>(mode),
                                       static_cast<uint8_t>(ItemKind::kId));
  }
  std::string Blinded(uint32_t step, const std::vector<std::string>& items) {
    std::string m;
    internal::AppendHeader({internal::MessageType::kBlindedChunk, id_, step}, m);
    internal::AppendU32(static_cast<uint32_t>(items.size()), m);
    for (const std::string& item : items) {
      unsigned char p[32];
      internal::HashAndBlind(context_, item, secret_, p);
      m.append(reinterpret_cast<const char*>(p), 32);
    }
    return m;
  }
  std::string Fetch(uint32_t step) {
    std::string m;
    internal::AppendHeader({internal::MessageType::kFetchChunk, id_, step}, m);
    return m;
  }
  std::string Finish() {
    std::string m;
    internal::AppendHeader({internal::MessageType::kFinish, id_, internal::kFinishStep}, m);
    internal::AppendIndexSet({}, 0, m);
    return m;
  }
  Result<std::string> Send(const std::string& m) { return r_.Handle(kCaller, m); }
  const std::string& id() const { return id_; }

 private:
  Responder& r_;
  std::string id_;
  internal::Context context_{};
  internal::SecretScalar secret_ = internal::SecretScalar::Random();
};

TEST(PsiProtocol, ReplayedStepsAreRefused) {
  auto lists = RandomLists(4, 4, 2, 3);
  Fixture f(lists.b);
  ManualSession s(*f.responder, Mode::kOneSided, 4, 2);
  const std::string chunk1 = s.Blinded(1, {lists.a.items[0], lists.a.items[1]});
  ASSERT_TRUE(s.Send(chunk1).ok());
  auto replay = s.Send(chunk1);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(replay.status().message()), HasSubstr("replayed"));
  ASSERT_TRUE(s.Send(s.Fetch(1)).ok());
  EXPECT_EQ(s.Send(s.Fetch(1)).status().code(), absl::StatusCode::kAlreadyExists);
  // The same message after the session finished finds no session.
  ASSERT_TRUE(s.Send(s.Blinded(2, {lists.a.items[2], lists.a.items[3]})).ok());
  ASSERT_TRUE(s.Send(s.Fetch(2)).ok());
  ASSERT_TRUE(s.Send(s.Finish()).ok());
  EXPECT_EQ(s.Send(s.Finish()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Send(chunk1).status().code(), absl::StatusCode::kNotFound);
}

TEST(PsiProtocol, ReorderedMessagesAreRefused) {
  auto lists = RandomLists(4, 4, 2, 4);
  Fixture f(lists.b);
  ManualSession s(*f.responder, Mode::kOneSided, 4, 2);
  // Finish before the chunks.
  auto early = s.Send(s.Finish());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(early.status().message()), HasSubstr("reordered"));
  // A step beyond the last chunk, and step 0.
  EXPECT_EQ(s.Send(s.Blinded(3, {"x"})).status().code(), absl::StatusCode::kInvalidArgument);
  // A chunk before any hello (a session id nobody issued).
  std::string orphan;
  internal::AppendHeader({internal::MessageType::kFetchChunk, std::string(16, 'z'), 1}, orphan);
  EXPECT_EQ(f.responder->Handle(kCaller, orphan).status().code(), absl::StatusCode::kNotFound);
  // Another user cannot touch this session.
  EXPECT_EQ(f.responder->Handle({"mallory", {"cert-x"}}, s.Fetch(1)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PsiProtocol, RequesterRefusesARepliedStepOfAnotherMessage) {
  // A transport that answers every fetch with the reply to the first one: a replayed reply.
  auto lists = RandomLists(10, 10, 3, 5);
  Fixture f(lists.b);
  class Replaying : public Transport {
   public:
    explicit Replaying(Responder& r) : r_(r) {}
    Result<std::string> Exchange(std::string_view m) override {
      auto reply = r_.Handle(kCaller, m);
      if (!reply.ok()) return reply;
      internal::Reader rd(*reply);
      if (rd.ReadHeader()->type == internal::MessageType::kResponderChunk) {
        if (first_.empty()) first_ = *reply;
        return first_;
      }
      return reply;
    }

   private:
    Responder& r_;
    std::string first_;
  };
  RequestOptions options;
  options.chunk_items = 4;
  options.workers = 1;
  auto result = RunRequester(lists.a, options, [&]() -> Result<std::unique_ptr<Transport>> {
    return std::make_unique<Replaying>(*f.responder);
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("replayed or reordered"));
}

TEST(PsiProtocol, MalformedMessagesFailWithAClearError) {
  auto lists = RandomLists(4, 4, 2, 6);
  Fixture f(lists.b);
  EXPECT_EQ(f.responder->Handle(kCaller, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(f.responder->Handle(kCaller, std::string(40, 'x')).status().message()),
              HasSubstr("bad magic"));
  ManualSession s(*f.responder, Mode::kOneSided, 4, 2);
  // A chunk holding a non-canonical point aborts the session.
  std::string bad;
  internal::AppendHeader({internal::MessageType::kBlindedChunk, s.id(), 1}, bad);
  internal::AppendU32(2, bad);
  bad += std::string(64, '\xff');
  auto r = s.Send(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("not a valid ristretto255"));
  EXPECT_EQ(s.Send(s.Fetch(1)).status().code(), absl::StatusCode::kNotFound);
  const auto records = f.recorder.records();
  ASSERT_FALSE(records.empty());
  EXPECT_THAT(records.back().outcome, HasSubstr("aborted"));
  // A truncated chunk.
  ManualSession t(*f.responder, Mode::kOneSided, 4, 2);
  std::string chunk = t.Blinded(1, {"a", "b"});
  chunk.resize(chunk.size() - 5);
  EXPECT_THAT(std::string(t.Send(chunk).status().message()), HasSubstr("truncated"));
}

std::string IndexSetBytes(const std::vector<uint32_t>& sorted, uint64_t n) {
  std::string out;
  internal::AppendIndexSet(sorted, n, out);
  return out;
}

TEST(PsiWire, IndexSetsRoundTripInTheShorterEncoding) {
  const std::vector<std::pair<std::vector<uint32_t>, uint64_t>> cases = {
      {{}, 0},
      {{}, 1000},
      {{0}, 1},
      {{7}, 1000},
      {{0, 1, 2, 9, 999}, 1000},
      {{1, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14}, 17}};
  for (const auto& [sorted, n] : cases) {
    const std::string bytes = IndexSetBytes(sorted, n);
    EXPECT_LE(bytes.size(), 5 + std::min<uint64_t>((n + 7) / 8, 4 * sorted.size())) << n;
    internal::Reader r(bytes);
    auto back = internal::ReadIndexSet(r, n);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, sorted);
    EXPECT_TRUE(r.End().ok());
  }
  // 3 million matches in a list of 4 Mi items: a 512 KiB bitmap, far under the 10 MiB body
  // limit that 12 MB of u32 indices would exceed.
  std::vector<uint32_t> many(3'000'000);
  for (uint32_t i = 0; i < many.size(); ++i) many[i] = i + i / 3;
  const std::string big = IndexSetBytes(many, uint64_t{1} << 22);
  EXPECT_EQ(big.size(), 5 + (size_t{1} << 19));
  internal::Reader r(big);
  auto back = internal::ReadIndexSet(r, uint64_t{1} << 22);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, many);
}

TEST(PsiWire, MalformedIndexSetsAreRefused) {
  auto read = [](const std::string& bytes, uint64_t n) {
    internal::Reader r(bytes);
    return internal::ReadIndexSet(r, n).status();
  };
  std::string list;  // encoding 0, decreasing
  internal::AppendU32(2, list);
  internal::AppendU8(0, list);
  internal::AppendU32(5, list);
  internal::AppendU32(4, list);
  EXPECT_THAT(read(list, 10).message(), HasSubstr("increasing"));
  std::string out_of_range = IndexSetBytes({9}, 100);  // encoding 0 (4 bytes < 13)
  ASSERT_EQ(out_of_range[4], 0);
  EXPECT_THAT(read(out_of_range, 9).message(), HasSubstr("in range"));
  std::string bitmap = IndexSetBytes({0, 1, 2, 3, 4, 5, 6}, 10);  // a bitmap of 2 bytes
  ASSERT_EQ(bitmap[4], 1);
  std::string beyond = bitmap;
  beyond.back() = static_cast<char>(0x80);  // bit 15 of a 10-item list
  EXPECT_THAT(read(beyond, 10).message(), HasSubstr("beyond"));
  std::string miscounted = bitmap;
  miscounted[3] = 6;
  EXPECT_THAT(read(miscounted, 10).message(), HasSubstr("more indices than its count"));
  miscounted[3] = 8;
  EXPECT_THAT(read(miscounted, 10).message(), HasSubstr("count"));
  EXPECT_THAT(read(bitmap.substr(0, bitmap.size() - 1), 10).message(), HasSubstr("truncated"));
  std::string unknown = bitmap;
  unknown[4] = 2;
  EXPECT_THAT(read(unknown, 10).message(), HasSubstr("unknown index encoding"));
}

TEST(PsiPolicy, RefusesSetsOutsideTheSizeBounds) {
  auto lists = RandomLists(5, 50, 1, 8);
  PartnerPolicy p = OpenPolicy();
  p.min_set_size = 10;
  p.max_set_size = 20;
  Fixture f(lists.b, p);
  auto small = RunRequester(lists.a, {}, DirectFactory(*f.responder, kCaller));
  EXPECT_EQ(small.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(small.status().message()), HasSubstr("below this partner's minimum"));
  auto big_list = RandomLists(21, 1, 0, 9).a;
  auto big = RunRequester(big_list, {}, DirectFactory(*f.responder, kCaller));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kOutOfRange);
  const auto records = f.recorder.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0].outcome, HasSubstr("refused"));
  EXPECT_EQ(records[0].requester_set_size, 5u);
}

TEST(PsiPolicy, EnforcesRunsPerPeriodAndCoolDown) {
  auto lists = RandomLists(3, 3, 1, 10);
  PartnerPolicy p = OpenPolicy();
  p.max_runs = 2;
  p.period = std::chrono::seconds(3600);
  p.cooldown = std::chrono::seconds(60);
  Fixture f(lists.b, p);
  auto run = [&] { return RunRequester(lists.a, {}, DirectFactory(*f.responder, kCaller)); };
  ASSERT_TRUE(run().ok());
  auto cool = run();
  EXPECT_EQ(cool.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(cool.status().message()), HasSubstr("cool-down"));
  EXPECT_TRUE(cool.status().GetPayload(ToAbsl(kRetryAfterPayload)).has_value());
  f.now += std::chrono::seconds(61);
  ASSERT_TRUE(run().ok());
  f.now += std::chrono::seconds(61);
  auto quota = run();
  EXPECT_EQ(quota.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(quota.status().message()), HasSubstr("2 runs per 3600 s"));
  f.now += std::chrono::seconds(3600);
  EXPECT_TRUE(run().ok());
}

// Two responders (two nodes of one server) whose runs are counted in one shared place: the
// partner's limits hold across them, a refusal there leaves the partner free to try again later,
// and a count that cannot be read refuses the run instead of lifting the limit.
TEST(PsiPolicy, SharedRunCountsHoldAcrossResponders) {
  auto lists = RandomLists(3, 3, 1, 13);
  PartnerPolicy p = OpenPolicy();
  p.max_runs = 2;
  p.period = std::chrono::seconds(3600);
  p.cooldown = std::chrono::seconds(60);
  struct Shared {
    std::mutex mu;
    std::vector<std::chrono::system_clock::time_point> starts;
    bool broken = false;
  } shared;
  auto count = [&shared](const PartnerPolicy& policy,
                         std::chrono::system_clock::time_point now) -> Result<SharedRuns> {
    std::lock_guard<std::mutex> lock(shared.mu);
    if (shared.broken) return absl::UnavailableError("database down");
    SharedRuns runs;
    for (auto t : shared.starts) {
      if (now - t >= policy.period) continue;
      ++runs.runs;
      if (!runs.oldest || t < *runs.oldest) runs.oldest = t;
      if (!runs.latest || t > *runs.latest) runs.latest = t;
    }
    runs.admitted =
        runs.runs < policy.max_runs && (!runs.latest || now - *runs.latest >= policy.cooldown);
    if (runs.admitted) shared.starts.push_back(now);
    return runs;
  };
  std::chrono::system_clock::time_point now{std::chrono::seconds(1'800'000'000)};
  MemoryRecorder recorder;
  std::unique_ptr<Responder> nodes[2];
  for (auto& node : nodes) {
    ResponderOptions o;
    o.lists.push_back({"watch", lists.b});
    o.partners.push_back(p);
    o.clock = [&now] { return now; };
    o.shared_runs = count;
    node = *Responder::Create(std::move(o), recorder);
  }
  auto run = [&](int node) {
    return RunRequester(lists.a, {}, DirectFactory(*nodes[node], kCaller));
  };
  ASSERT_TRUE(run(0).ok());
  auto cool = run(1);  // the other node: its own counts are empty, the shared ones are not
  EXPECT_EQ(cool.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(cool.status().message()), HasSubstr("cool-down"));
  EXPECT_TRUE(cool.status().GetPayload(ToAbsl(kRetryAfterPayload)).has_value());
  now += std::chrono::seconds(61);
  ASSERT_TRUE(run(1).ok()) << "a shared refusal left the partner's session slot taken";
  now += std::chrono::seconds(61);
  auto quota = run(0);
  EXPECT_EQ(quota.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(quota.status().message()), HasSubstr("2 runs per 3600 s"));
  now += std::chrono::seconds(3600);
  shared.broken = true;
  auto down = run(1);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_THAT(std::string(down.status().message()), HasSubstr("cannot be counted"));
  shared.broken = false;
  EXPECT_TRUE(run(1).ok());
  size_t refused = 0;
  for (const RunRecord& r : recorder.records()) refused += r.outcome.rfind("refused", 0) == 0;
  EXPECT_EQ(refused, 3u) << "every refusal is recorded";
}

TEST(PsiPolicy, OneOpenSessionPerPartner) {
  auto lists = RandomLists(3, 3, 1, 11);
  Fixture f(lists.b);
  ManualSession first(*f.responder, Mode::kOneSided, 3, 2);
  auto second = RunRequester(lists.a, {}, DirectFactory(*f.responder, kCaller));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("already open"));
}

TEST(PsiPolicy, RefusesUnknownPartnersModesAndLists) {
  auto lists = RandomLists(3, 3, 1, 12);
  PartnerPolicy p = OpenPolicy();
  p.modes = {Mode::kCardinality};
  Fixture f(lists.b, p);
  auto stranger = RunRequester(lists.a, {}, DirectFactory(*f.responder, {"bob", {"other"}}));
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kPermissionDenied);
  RequestOptions mutual;
  mutual.mode = Mode::kMutual;
  auto mode = RunRequester(lists.a, mutual, DirectFactory(*f.responder, kCaller));
  EXPECT_EQ(mode.status().code(), absl::StatusCode::kPermissionDenied);
  RequestOptions named;
  named.mode = Mode::kCardinality;
  named.remote_list = "secret-list";
  auto list = RunRequester(lists.a, named, DirectFactory(*f.responder, kCaller));
  EXPECT_EQ(list.status().code(), absl::StatusCode::kPermissionDenied);
  WatchList emails = lists.a;
  emails.kind = ItemKind::kEmail;
  named.remote_list = "";
  EXPECT_EQ(RunRequester(emails, named, DirectFactory(*f.responder, kCaller)).status().code(),
            absl::StatusCode::kPermissionDenied);
  named.remote_list = "watch";
  auto ok = RunRequester(lists.a, named, DirectFactory(*f.responder, kCaller));
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST(PsiProtocol, IdleSessionsExpireAndAreRecorded) {
  auto lists = RandomLists(3, 3, 1, 13);
  ResponderOptions o;
  o.lists.push_back({"watch", lists.b});
  o.partners.push_back(OpenPolicy());
  o.session_timeout = std::chrono::seconds(0);
  MemoryRecorder recorder;
  auto responder = *Responder::Create(std::move(o), recorder);
  ManualSession s(*responder, Mode::kOneSided, 3, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  responder->ExpireSessions();
  EXPECT_EQ(responder->open_sessions(), 0u);
  ASSERT_EQ(recorder.records().size(), 1u);
  EXPECT_EQ(recorder.records()[0].outcome, "expired");
  EXPECT_EQ(s.Send(s.Fetch(1)).status().code(), absl::StatusCode::kNotFound);
}

TEST(PsiProtocol, RecordsNeverContainItems) {
  auto lists = RandomLists(30, 30, 10, 14);
  Fixture f(lists.b);
  RequestOptions options;
  options.mode = Mode::kMutual;
  ASSERT_TRUE(RunRequester(lists.a, options, DirectFactory(*f.responder, kCaller)).ok());
  for (const RunRecord& r : f.recorder.records()) {
    const std::string json = RunRecordJson(r);
    for (const std::string& item : lists.b.items) EXPECT_EQ(json.find(item), std::string::npos);
    EXPECT_THAT(json, HasSubstr(R"("result_size":10)"));
  }
}

TEST(PsiCrypto, SecretScalarIsZeroedWhenMovedFrom) {
  internal::SecretScalar a = internal::SecretScalar::Random();
  const unsigned char* p = a.data();
  internal::SecretScalar b = std::move(a);
  EXPECT_TRUE(sodium_is_zero(p, 32));
  EXPECT_FALSE(sodium_is_zero(b.data(), 32));
}

TEST(PsiCrypto, DigestLengthKeepsFalseMatchesBelowTwoToMinus40) {
  EXPECT_EQ(internal::DigestLength(0, 0), 8u);
  EXPECT_EQ(internal::DigestLength(1 << 20, 1 << 20), 10u);
  EXPECT_EQ(internal::DigestLength(uint64_t{1} << 32, uint64_t{1} << 32), 13u);
}

TEST(PsiRunLog, FileRecorderAppendsJsonLines) {
  const std::string path =
      ::testing::TempDir() + "/psi_runs_" + std::to_string(::getpid()) + ".jsonl";
  std::filesystem::remove(path);
  {
    auto rec = OpenFileRunRecorder(path);
    ASSERT_TRUE(rec.ok());
    RunRecord r;
    r.user = "alice";
    r.mode = "mutual";
    r.result_size = 3;
    r.outcome = "completed";
    ASSERT_TRUE((*rec)->Record(r).ok());
    ASSERT_TRUE((*rec)->Record(r).ok());
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(R"("user":"alice")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("result_size":3)"));
  EXPECT_FALSE(OpenFileRunRecorder("/nonexistent-dir/x.jsonl").ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace liaison::psi
