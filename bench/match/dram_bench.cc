// What two cores of this machine allow, as a bound for the matcher's 2-core figure (issue #5,
// bar 1.8x). The matcher's lookups are random 64-byte reads over a ~1 GB index; if two threads
// of nothing but such reads do not scale to 2x here, neither can matching.
//
// Each benchmark interleaves, in every iteration, one pass on one thread (the other core idle)
// and one pass on two threads doing the same work each, and reports the 2-thread speed-up of
// the summed wall times (2 * t1 / t2) and the nanoseconds per access of each:
//   compute      a multiply/xorshift chain in registers: no memory at all (tells whether the two
//                vCPUs are separate cores or share one, e.g. SMT siblings or an overcommitted host)
//   cached       independent random 8-byte reads over 256 KiB (L2)
//   dependent    a pointer chase over the table (each read's address comes from the last): DRAM
//                latency, one miss in flight per thread
//   independent  random reads whose addresses come from a PRNG: as many misses in flight as the
//                core's out-of-order window allows
//   batched      the matcher's pattern: 32 addresses computed, prefetched in one tight loop, then
//                read
//   sequential   every line of the table in order (each thread from its own random start):
//                streaming bandwidth, for comparison with the random kinds
// The table is LIAISON_DRAM_MB (default 1024) of 64-byte lines, 2 MiB-aligned and marked for
// transparent huge pages as the index is (HugePageAllocator). LIAISON_BENCH_SMOKE=1 shrinks
// it all.
//
//   build/release/bench/match/match_dram_bench --benchmark_min_time=3

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "match/internal/flat_key_set.h"

namespace liaison::match {
namespace {

bool Smoke() { return std::getenv("LIAISON_BENCH_SMOKE") != nullptr; }

struct alignas(64) Line {
  uint64_t next;
  uint64_t pad[7];
};

struct Table {
  internal::HugeVector<Line> lines;
  uint64_t mask = 0;  // lines.size() - 1 (a power of two)
};

uint64_t XorShift(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

const Table& TheTable() {
  static Table* t = [] {
    auto* table = new Table();
    const char* mb_env = std::getenv("LIAISON_DRAM_MB");
    size_t mb = Smoke() ? 16 : (mb_env != nullptr ? std::strtoull(mb_env, nullptr, 10) : 1024);
    size_t n = 1;
    while (n * sizeof(Line) < (mb << 20)) n <<= 1;
    table->lines.resize(n);
    table->mask = n - 1;
    // One random cycle through every line (Sattolo's algorithm), so a chase visits them all.
    std::vector<uint32_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    uint64_t s = 88172645463325252ull;
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[XorShift(s) % i]);
    for (size_t i = 0; i < n; ++i) table->lines[order[i]].next = order[(i + 1) % n];
    return table;
  }();
  return *t;
}

enum Kind : int { kCompute, kCached, kDependent, kIndependent, kBatched, kSequential };
const char* const kKindNames[] = {"compute",     "cached",  "dependent",
                                  "independent", "batched", "sequential"};

size_t AccessesPerThread(Kind kind) {
  const size_t scale = Smoke() ? 100 : 1;
  switch (kind) {
    case kCompute:
      return 200'000'000 / scale;
    case kCached:
      return 100'000'000 / scale;
    case kDependent:
      return 3'000'000 / scale;
    case kSequential:
      return 40'000'000 / scale;
    default:
      return 20'000'000 / scale;
  }
}

// One thread's work; returns a sum so nothing is optimised away.
uint64_t Work(Kind kind, const Table& t, uint64_t seed, size_t n) {
  uint64_t s = seed | 1;
  uint64_t sum = 0;
  const Line* lines = t.lines.data();
  switch (kind) {
    case kCompute:
      for (size_t i = 0; i < n; ++i) sum += XorShift(s) * 0x9E3779B97F4A7C15ull;
      break;
    case kCached: {
      const uint64_t mask = std::min<uint64_t>(t.mask, (256 << 10) / sizeof(Line) - 1);
      for (size_t i = 0; i < n; ++i) sum += lines[XorShift(s) & mask].next;
      break;
    }
    case kDependent: {
      uint64_t p = XorShift(s) & t.mask;
      for (size_t i = 0; i < n; ++i) p = lines[p].next;
      sum = p;
      break;
    }
    case kIndependent:
      for (size_t i = 0; i < n; ++i) sum += lines[XorShift(s) & t.mask].next;
      break;
    case kBatched: {
      uint64_t batch[32];
      for (size_t i = 0; i < n; i += 32) {
        for (uint64_t& b : batch) {
          b = XorShift(s) & t.mask;
          internal::PrefetchLine(&lines[b]);
        }
        for (uint64_t b : batch) sum += lines[b].next;
      }
      break;
    }
    case kSequential: {
      uint64_t p = XorShift(s) & t.mask;
      for (size_t i = 0; i < n; ++i, p = (p + 1) & t.mask) sum += lines[p].next;
      break;
    }
  }
  return sum;
}

// Wall seconds of `threads` threads doing Work(kind) each, started together.
double Pass(Kind kind, int threads) {
  const Table& t = TheTable();
  const size_t n = AccessesPerThread(kind);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  std::vector<uint64_t> sums(threads);
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      sums[i] = Work(kind, t, 0x2545F4914F6CDD1Dull * (i + 1), n);
    });
  }
  while (ready.load() < threads) {
  }
  const auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& th : pool) th.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (uint64_t s : sums) benchmark::DoNotOptimize(s);
  return secs;
}

void BM_Dram_TwoThreadsVsOne(benchmark::State& state) {
  const Kind kind = static_cast<Kind>(state.range(0));
  state.SetLabel(kKindNames[kind]);
  TheTable();
  double one = 0, two = 0;
  for (auto _ : state) {
    one += Pass(kind, 1);
    two += Pass(kind, 2);
  }
  const double n = static_cast<double>(AccessesPerThread(kind) * state.iterations());
  state.counters["ns_1_thread"] = one / n * 1e9;
  state.counters["ns_2_threads"] = two / n * 1e9;  // per access of each thread
  state.counters["speedup_2"] = two > 0 ? 2 * one / two : 0;
  state.counters["table_MB"] =
      static_cast<double>(TheTable().lines.size() * sizeof(Line)) / 1048576;
}
BENCHMARK(BM_Dram_TwoThreadsVsOne)
    ->DenseRange(kCompute, kSequential)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace liaison::match

BENCHMARK_MAIN();
