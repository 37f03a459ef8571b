// Pattern evaluation on the shared workload (../shared/bench/pattern-workload): 200 feed-style
// patterns against a bundle of 10,000 observed-data, the set the OASIS reference matcher was
// measured on (about 65,000 pattern x observed-data evaluations per second on one core).
//
// Figures are pattern x observed-data evaluations per second (items/s) and, as a baseline
// measured in the same run, the ratio of the time to the time simdjson takes just to parse the
// same bundle (x_simdjson_parse), both in this thread's CPU time. docs/BENCHMARKS.md has the
// command and the figures.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/file.h"
#include "pattern/evaluate.h"
#include "pattern/observations.h"
#include "pattern/pattern_set.h"
#include "simdjson.h"

namespace liaison::pattern {
namespace {

struct Workload {
  std::vector<std::string> patterns;
  std::string bundle;  // decompressed JSON
  std::optional<ObservationSet> observations;
  size_t expected_matches = 0;  // from the naive, one-pattern-at-a-time evaluation
};

// Loaded once for all benchmarks; null when ../shared is absent.
const Workload* GetWorkload() {
  static const Workload* workload = []() -> const Workload* {
    const char* env = std::getenv("LIAISON_SHARED_DIR");
    const std::filesystem::path dir =
        std::filesystem::path(env ? env : "../shared") / "bench" / "pattern-workload";
    std::ifstream in(dir / "patterns.txt");
    if (!in) return nullptr;
    auto* w = new Workload;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) w->patterns.push_back(line);
    }
    auto buffer = ReadInput((dir / "bundle.json.gz").string());
    if (!buffer.ok()) return nullptr;
    w->bundle = std::string(buffer->view());
    auto set = ObservationSet::FromJson(w->bundle);
    if (!set.ok()) return nullptr;
    w->observations.emplace(std::move(*set));
    PatternSet patterns;
    for (const std::string& p : w->patterns) {
      if (!patterns.Add(p).ok()) return nullptr;
    }
    const SetEvaluation naive = patterns.EvaluateEachNaively(*w->observations);
    if (!naive.failures.empty()) return nullptr;
    w->expected_matches = naive.matches.size();
    return w;
  }();
  return workload;
}

// This thread's CPU time: the machines are shared, and wall time counts the other jobs too.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds simdjson's DOM parser takes for the bundle: the best of several runs.
double ParseSeconds() {
  static const double seconds = [] {
    const Workload* w = GetWorkload();
    simdjson::dom::parser parser;
    const simdjson::padded_string json(w->bundle);
    double best = 1e9;
    for (int i = 0; i < 20; ++i) {
      const double start = CpuSeconds();
      simdjson::dom::element root;
      if (parser.parse(json).get(root) != simdjson::SUCCESS) return 0.0;
      benchmark::DoNotOptimize(root);
      best = std::min(best, CpuSeconds() - start);
    }
    return best;
  }();
  return seconds;
}

double Elapsed(double start) { return CpuSeconds() - start; }

void ReportAgainstParse(benchmark::State& state, double seconds) {
  const double per_iteration = seconds / static_cast<double>(state.iterations());
  state.counters["x_simdjson_parse"] = per_iteration / ParseSeconds();
}

// The main figure: all 200 patterns against all 10,000 observed-data through the index.
void BM_PatternSet_Workload(benchmark::State& state) {
  const Workload* w = GetWorkload();
  if (w == nullptr) return state.SkipWithError("../shared/bench/pattern-workload is absent");
  PatternSet set;
  for (const std::string& p : w->patterns) (void)set.Add(p);
  const SetEvaluation check = set.Evaluate(*w->observations);
  if (check.matches.size() != w->expected_matches || !check.failures.empty()) {
    return state.SkipWithError("the indexed evaluation disagrees with the naive one");
  }
  const double start = CpuSeconds();
  for (auto _ : state) benchmark::DoNotOptimize(set.Evaluate(*w->observations));
  ReportAgainstParse(state, Elapsed(start));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w->patterns.size()) *
                          static_cast<int64_t>(w->observations->size()));
  state.counters["matches"] = static_cast<double>(w->expected_matches);
  state.counters["tests_per_run"] = static_cast<double>(check.observation_tests);
}
BENCHMARK(BM_PatternSet_Workload)->Unit(benchmark::kMillisecond);

// The same answer computed one pattern at a time, every observation expression against every
// observed-data (CompiledPattern::Evaluate): what a pattern costs without the index.
void BM_EachPatternNaively_Workload(benchmark::State& state) {
  const Workload* w = GetWorkload();
  if (w == nullptr) return state.SkipWithError("../shared/bench/pattern-workload is absent");
  PatternSet set;
  for (const std::string& p : w->patterns) (void)set.Add(p);
  const double start = CpuSeconds();
  for (auto _ : state) benchmark::DoNotOptimize(set.EvaluateEachNaively(*w->observations));
  ReportAgainstParse(state, Elapsed(start));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w->patterns.size()) *
                          static_cast<int64_t>(w->observations->size()));
}
BENCHMARK(BM_EachPatternNaively_Workload)->Unit(benchmark::kMillisecond);

// Reading the bundle into an ObservationSet (simdjson parse plus the observed-data index).
void BM_ObservationSet_Load(benchmark::State& state) {
  const Workload* w = GetWorkload();
  if (w == nullptr) return state.SkipWithError("../shared/bench/pattern-workload is absent");
  const double start = CpuSeconds();
  for (auto _ : state) benchmark::DoNotOptimize(ObservationSet::FromJson(w->bundle));
  ReportAgainstParse(state, Elapsed(start));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w->bundle.size()));
}
BENCHMARK(BM_ObservationSet_Load)->Unit(benchmark::kMillisecond);

// The baseline: simdjson's DOM parse of the same bundle, nothing else.
void BM_Baseline_SimdjsonParse(benchmark::State& state) {
  const Workload* w = GetWorkload();
  if (w == nullptr) return state.SkipWithError("../shared/bench/pattern-workload is absent");
  simdjson::dom::parser parser;
  const simdjson::padded_string json(w->bundle);
  for (auto _ : state) {
    simdjson::dom::element root;
    benchmark::DoNotOptimize(parser.parse(json).get(root));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w->bundle.size()));
}
BENCHMARK(BM_Baseline_SimdjsonParse)->Unit(benchmark::kMillisecond);

// Compile time: parsing, planning and indexing the 200 patterns (items = patterns).
void BM_PatternSet_Compile(benchmark::State& state) {
  const Workload* w = GetWorkload();
  if (w == nullptr) return state.SkipWithError("../shared/bench/pattern-workload is absent");
  for (auto _ : state) {
    PatternSet set;
    for (const std::string& p : w->patterns) benchmark::DoNotOptimize(set.Add(p));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w->patterns.size()));
}
BENCHMARK(BM_PatternSet_Compile)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace liaison::pattern

BENCHMARK_MAIN();
