// PSI end to end against its floor (issue #7): both parties in this process, the responder
// behind the TAXII server on 127.0.0.1 (HTTP), the requester over its Beast client.
//
// The floor is what the protocol must compute per item pair: 2 hash-to-group and 4 scalar
// multiplications (each party hashes and blinds its own items, then blinds the other's again).
// It is timed in the same run, on the same threads the protocol may use (all hardware threads),
// on a sample of items before and after the end-to-end run, scaled to the set size; the mean
// of the two samples is the floor, so a change in the machine's load during the run shows.
//
// Size: LIAISON_PSI_BENCH_LOG2 (default 16; the figure is 20). LIAISON_BENCH_SMOKE=1
// (ctest) runs 2^10. LIAISON_PSI_BENCH_MODE = mutual (default), one-sided or cardinality.
// Half of each set is in the intersection.

#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "psi/http/http.h"
#include "psi/internal/crypto.h"
#include "psi/psi.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"

namespace liaison::psi {
namespace {

class NullRecorder : public RunRecorder {
 public:
  Status Record(const RunRecord&) override { return absl::OkStatus(); }
};

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Item(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "id-%016llx",
                static_cast<unsigned long long>(i * 0x9e3779b97f4a7c15ull));
  return buf;
}

struct Timing {
  double wall = 0;
  double cpu = 0;
};

// 2 hash-to-group + 4 scalar multiplications for each of `pairs` item pairs, over `threads`
// threads. Returns wall and process CPU seconds.
Timing MeasureFloor(size_t pairs, size_t threads) {
  const internal::Context context = internal::DeriveContext("floor", "floor", 1, 6);
  const auto secret = internal::SecretScalar::Random();
  std::atomic<uint64_t> sink{0};
  const double wall0 = WallSeconds(), cpu0 = ProcessCpuSeconds();
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      unsigned char p[32], q[32], r[32];
      uint64_t acc = 0;
      for (size_t i = t; i < pairs; i += threads) {
        internal::HashToGroup(context, Item(i), p);          // requester's item
        internal::HashToGroup(context, Item(i + pairs), q);  // responder's item
        if (!internal::Blind(p, secret, r)) std::abort();    // H(x)^a
        if (!internal::Blind(r, secret, p)) std::abort();    // H(x)^ab
        if (!internal::Blind(q, secret, r)) std::abort();    // H(y)^b
        if (!internal::Blind(r, secret, q)) std::abort();    // H(y)^ba
        acc += p[0] + q[0];
      }
      sink += acc;
    });
  }
  for (auto& w : workers) w.join();
  benchmark::DoNotOptimize(sink.load());
  return {WallSeconds() - wall0, ProcessCpuSeconds() - cpu0};
}

void BM_Psi_EndToEndOverLoopback(benchmark::State& state) {
  const size_t n = size_t{1} << state.range(0);
  const char* mode_env = std::getenv("LIAISON_PSI_BENCH_MODE");
  const Mode mode = *ParseMode(mode_env ? mode_env : "mutual");
  const size_t threads = std::max<size_t>(1, std::thread::hardware_concurrency());
  const size_t common = n / 2;

  WatchList a, b;
  a.kind = b.kind = ItemKind::kId;
  for (size_t i = 0; i < n; ++i) a.items.push_back(Item(i));
  for (size_t i = 0; i < n; ++i) b.items.push_back(Item(i < common ? i : n + i));

  const auto dir =
      std::filesystem::temp_directory_path() / ("liaison_psi_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  store::SqliteOptions so;
  so.path = dir / "store.db";
  auto store = store::OpenSqliteStore(so);
  if (!store.ok()) return state.SkipWithError("cannot open the store");
  auto hash = taxii::HashPassword("pw", taxii::PasswordCost::kMinimum);
  if (!(*store)->CreateUser({"partner", *hash, false, {"bench"}}).ok())
    return state.SkipWithError("user");
  NullRecorder recorder;
  ResponderOptions ro;
  ro.lists.push_back({"watch", b});
  PartnerPolicy policy;
  policy.partner = "bench";
  policy.lists = {"watch"};
  policy.min_set_size = 0;
  policy.max_set_size = n;
  policy.max_runs = 1000;
  policy.cooldown = std::chrono::seconds(0);
  ro.partners.push_back(policy);
  std::shared_ptr<Responder> responder(std::move(*Responder::Create(std::move(ro), recorder)));
  taxii::ServerOptions so2;
  so2.port = 0;
  so2.threads = 2 * threads;
  so2.extra_endpoints.push_back(MakePsiEndpoint(responder));
  auto server = taxii::Server::Start(**store, so2);
  if (!server.ok()) return state.SkipWithError("cannot start the server");
  HttpPeer peer;
  peer.url = "http://127.0.0.1:" + std::to_string((*server)->port());
  peer.user = "partner";
  peer.password = "pw";
  peer.wire_bytes = std::make_shared<std::atomic<uint64_t>>(0);
  auto factory = *MakeHttpTransportFactory(peer);

  const size_t sample = std::min<size_t>(n, size_t{1} << 13);
  const double scale = static_cast<double>(n) / sample;
  RequestOptions options;
  options.mode = mode;

  for (auto _ : state) {
    const Timing before = MeasureFloor(sample, threads);
    *peer.wire_bytes = 0;
    const double wall0 = WallSeconds(), cpu0 = ProcessCpuSeconds();
    auto result = RunRequester(a, options, factory);
    const double wall = WallSeconds() - wall0, cpu = ProcessCpuSeconds() - cpu0;
    const Timing after = MeasureFloor(sample, threads);
    if (!result.ok()) return state.SkipWithError(std::string(result.status().message()).c_str());
    // A wrong answer earns no timing.
    if (result->cardinality != common ||
        (mode != Mode::kCardinality && result->intersection.size() != common)) {
      return state.SkipWithError("wrong intersection size");
    }
    state.SetIterationTime(wall);
    const double floor_wall = (before.wall + after.wall) / 2 * scale;
    const double floor_cpu = (before.cpu + after.cpu) / 2 * scale;
    state.counters["items"] = static_cast<double>(n);
    state.counters["e2e_s"] = wall;
    state.counters["floor_s"] = floor_wall;
    state.counters["x_floor"] = wall / floor_wall;
    state.counters["cpu_s"] = cpu;
    state.counters["floor_cpu_s"] = floor_cpu;
    state.counters["cpu_x_floor"] = cpu / floor_cpu;
    state.counters["floor_spread"] =
        std::max(before.wall, after.wall) / std::min(before.wall, after.wall);
    state.counters["wire_B_per_item"] = static_cast<double>(peer.wire_bytes->load()) / n;
    state.counters["protocol_B_per_item"] =
        static_cast<double>(result->bytes_sent + result->bytes_received) / n;
  }
  state.SetItemsProcessed(state.iterations() * n);
  (*server)->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liaison::psi

int main(int argc, char** argv) {
  int log2 = 16;
  if (const char* v = std::getenv("LIAISON_PSI_BENCH_LOG2")) log2 = std::atoi(v);
  if (const char* smoke = std::getenv("LIAISON_BENCH_SMOKE"); smoke && *smoke == '1') log2 = 10;
  benchmark::RegisterBenchmark("BM_Psi_EndToEndOverLoopback",
                               liaison::psi::BM_Psi_EndToEndOverLoopback)
      ->Arg(log2)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kSecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
