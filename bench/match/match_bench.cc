// `liaison match` at scale (issue #5): 10M domains + 10M SHA-256 + 1M IPv4 CIDRs loaded from
// plain-list text, then Zeek-JSON-like logs matched against them.
//
//   BM_Match_Load       indicators/s through IndicatorSet::AddList, and the resident memory
//                       the finished set holds (RSS after - RSS before)
//   BM_Match_Extract    the baseline: simdjson On Demand extraction of the mapped fields of the
//                       same bytes (the Zeek JSON reader without lookups)
//   BM_Match_Match      extraction + lookups + aggregation-ready hits; ->Threads(2) for scaling
//
// The log is generated in-process from a fixed seed with the key sets and value shapes of real
// Zeek conn, dns, http, ssl and files logs (../shared/data/logs/zeek), about 0.5 % of values
// drawn from the indicator set. After the runs, main() prints the ratios the issue asks for.
// LIAISON_BENCH_SMOKE=1 (ctest) shrinks everything to a few thousand items; LIAISON_BENCH_SCALE
// (a fraction, default 1) scales the indicator counts and LIAISON_BENCH_LOG_MB the log size.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "match/compiler.h"
#include "match/matcher.h"
#include "match/parallel.h"
#include "match/reader.h"
#include "simdjson.h"

namespace liaison::match {
namespace {

bool Smoke() { return std::getenv("LIAISON_BENCH_SMOKE") != nullptr; }

double EnvDouble(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atof(v);
}

// CPU time of the calling thread: the machine is shared, so wall time measures the neighbours.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

constexpr char kHex[] = "0123456789abcdef";

std::string Hex(std::mt19937_64& rng, size_t bytes) {
  std::string s;
  s.reserve(bytes * 2);
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t r = rng();
    for (size_t j = 0; j < 8 && i + j < bytes; ++j, r >>= 8) {
      s.push_back(kHex[(r >> 4) & 15]);
      s.push_back(kHex[r & 15]);
    }
  }
  return s;
}

// Domain names shaped like real ones: one to three labels of 3-12 letters and digits under a
// common TLD.
std::string Domain(std::mt19937_64& rng) {
  static constexpr const char* kTlds[] = {"com", "net", "org", "ru", "cn", "info", "io", "de"};
  static constexpr char kAlpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string d;
  const int labels = 1 + static_cast<int>(rng() % 3);
  for (int l = 0; l < labels; ++l) {
    const int len = 3 + static_cast<int>(rng() % 10);
    for (int i = 0; i < len; ++i) d.push_back(kAlpha[rng() % 36]);
    d.push_back('.');
  }
  d += kTlds[rng() % 8];
  return d;
}

std::string Ip(uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
         std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
}

struct World {
  size_t domains = 0;
  size_t hashes = 0;
  size_t cidrs = 0;
  double load_seconds = 0;      // wall
  double load_cpu_seconds = 0;  // CPU of the loading thread
  size_t rss_bytes = 0;
  size_t index_bytes = 0;
  std::unique_ptr<IndicatorSet> set;
  // Samples of loaded values for the log generator to plant.
  std::vector<std::string> domain_samples;
  std::vector<std::string> hash_samples;
  std::vector<uint32_t> cidr_samples;
  std::string log;  // NDJSON + 64 bytes of padding past log_size
  size_t log_size = 0;
  uint64_t log_lines = 0;
  uint64_t expected_hit_events = 0;
};

void Load(World& w) {
  const double scale = Smoke() ? 0.0005 : EnvDouble("LIAISON_BENCH_SCALE", 1.0);
  w.domains = static_cast<size_t>(10'000'000 * scale);
  w.hashes = static_cast<size_t>(10'000'000 * scale);
  w.cidrs = static_cast<size_t>(1'000'000 * scale);
  std::mt19937_64 rng(20261130);
  const size_t rss_before = RssBytes();
  CompileOptions options;
  w.set = std::make_unique<IndicatorSet>(options);
  std::string chunk;
  double seconds = 0;
  double cpu = 0;
  {
    // The counts are known up front, as a feed's size usually is. Timed with the load: the
    // slot tables are allocated and zeroed here.
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ThreadCpuSeconds();
    w.set->mutable_index().Reserve(ValueKind::kDomain, w.domains, w.domains * 24);
    w.set->mutable_index().Reserve(ValueKind::kSha256, w.hashes);
    w.set->mutable_index().Reserve(ValueKind::kIpv4, w.cidrs);
    cpu += ThreadCpuSeconds() - c0;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  auto flush = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ThreadCpuSeconds();
    w.set->AddList(chunk, "bench");
    cpu += ThreadCpuSeconds() - c0;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    chunk.clear();
  };
  for (size_t i = 0; i < w.domains; ++i) {
    std::string d = Domain(rng);
    if (i % 1000 == 0) w.domain_samples.push_back(d);
    chunk += "domain-name ";
    chunk += d;
    chunk += '\n';
    if (chunk.size() > (8 << 20)) flush();
  }
  for (size_t i = 0; i < w.hashes; ++i) {
    std::string h = Hex(rng, 32);
    if (i % 1000 == 0) w.hash_samples.push_back(h);
    chunk += "sha256 ";
    chunk += h;
    chunk += '\n';
    if (chunk.size() > (8 << 20)) flush();
  }
  for (size_t i = 0; i < w.cidrs; ++i) {
    // Public-looking space (1.0.0.0 - 223.255.255.255), /24 to /32, as block lists mostly are.
    const uint32_t addr = 0x01000000u + static_cast<uint32_t>(rng() % (0xdf000000u - 0x01000000u));
    const int len = 24 + static_cast<int>(rng() % 9);
    if (i % 100 == 0) w.cidr_samples.push_back(addr);
    chunk += "ipv4-addr ";
    chunk += Ip(addr);
    chunk += '/';
    chunk += std::to_string(len);
    chunk += '\n';
    if (chunk.size() > (8 << 20)) flush();
  }
  flush();
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = ThreadCpuSeconds();
  w.set->Finish();
  cpu += ThreadCpuSeconds() - c0;
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  w.load_cpu_seconds = cpu;
  std::string().swap(chunk);
  w.load_seconds = seconds;
  w.rss_bytes = RssBytes() - rss_before;
  w.index_bytes = w.set->index().MemoryBytes();
}

// Zeek JSON lines with the members of real conn / dns / http / ssl / files records.
void Generate(World& w) {
  const size_t target =
      Smoke() ? (1 << 20) : static_cast<size_t>(EnvDouble("LIAISON_BENCH_LOG_MB", 300)) << 20;
  std::mt19937_64 rng(7);
  std::string& s = w.log;
  s.reserve(target + 4096);
  double ts = 1521911721.0;
  auto internal_ip = [&] {
    return "10." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 256) + "." +
           std::to_string(1 + rng() % 254);
  };
  bool planted = false;
  auto external_ip = [&] {
    if (!w.cidr_samples.empty() && rng() % 200 == 0) {
      planted = true;
      return Ip(w.cidr_samples[rng() % w.cidr_samples.size()]);
    }
    return Ip(0x01000000u + static_cast<uint32_t>(rng() % 0xde000000u));
  };
  auto domain = [&] {
    if (!w.domain_samples.empty() && rng() % 200 == 0) {
      planted = true;
      return w.domain_samples[rng() % w.domain_samples.size()];
    }
    return Domain(rng);
  };
  auto uid = [&] { return "C" + Hex(rng, 8).substr(0, 17); };
  auto head = [&](std::string_view path) {
    ts += 0.001 * static_cast<double>(rng() % 1000);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6f", ts);
    return "{\"_path\":\"" + std::string(path) +
           "\",\"_write_ts\":\"2018-03-24T17:15:21.400275Z\",\"ts\":" + buf + ",\"uid\":\"" +
           uid() + "\",\"id.orig_h\":\"" + internal_ip() +
           "\",\"id.orig_p\":" + std::to_string(1024 + rng() % 60000) + ",\"id.resp_h\":\"" +
           external_ip() + "\",\"id.resp_p\":";
  };
  while (s.size() < target) {
    planted = false;
    const unsigned kind = rng() % 100;
    if (kind < 40) {
      s += head("conn") + "443,\"proto\":\"tcp\",\"service\":\"ssl\",\"duration\":0.0" +
           std::to_string(rng() % 99999) + ",\"orig_bytes\":" + std::to_string(rng() % 5000) +
           ",\"resp_bytes\":" + std::to_string(rng() % 90000) +
           ",\"conn_state\":\"SF\",\"local_orig\":true,\"local_resp\":false,\"missed_bytes\":0,"
           "\"history\":\"ShADadFf\",\"orig_pkts\":12,\"orig_ip_bytes\":1500,\"resp_pkts\":14,"
           "\"resp_ip_bytes\":18000}\n";
    } else if (kind < 70) {
      const std::string q = domain();
      s += head("dns") + "53,\"proto\":\"udp\",\"trans_id\":" + std::to_string(rng() % 65536) +
           ",\"rtt\":0.02,\"query\":\"" + q +
           "\",\"qclass\":1,\"qclass_name\":\"C_INTERNET\",\"qtype\":1,\"qtype_name\":\"A\","
           "\"rcode\":0,\"rcode_name\":\"NOERROR\",\"AA\":false,\"TC\":false,\"RD\":true,"
           "\"RA\":true,\"Z\":0,\"answers\":[\"" +
           external_ip() + "\"],\"TTLs\":[300.0],\"rejected\":false}\n";
    } else if (kind < 80) {
      s += head("http") + "80,\"trans_depth\":1,\"method\":\"GET\",\"host\":\"" + domain() +
           "\",\"uri\":\"/" + Hex(rng, 6) + "/index.php?id=" + std::to_string(rng() % 100000) +
           "\",\"version\":\"1.1\",\"user_agent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\","
           "\"request_body_len\":0,\"response_body_len\":" +
           std::to_string(rng() % 50000) +
           ",\"status_code\":200,\"status_msg\":\"OK\",\"tags\":[],\"resp_fuids\":[\"F" +
           Hex(rng, 8) + "\"],\"resp_mime_types\":[\"text/html\"]}\n";
    } else if (kind < 95) {
      s += head("ssl") +
           "443,\"version\":\"TLSv12\",\"cipher\":\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\","
           "\"curve\":\"secp256r1\",\"server_name\":\"" +
           domain() + "\",\"resumed\":false,\"established\":true,\"cert_chain_fuids\":[\"F" +
           Hex(rng, 8) +
           "\"],\"client_cert_chain_fuids\":[],\"subject\":\"CN=www.example.com\","
           "\"issuer\":\"CN=Example CA,O=Example\",\"validation_status\":\"ok\"}\n";
    } else {
      const bool plant = !w.hash_samples.empty() && rng() % 50 == 0;
      planted = planted || plant;
      ts += 0.001;
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.6f", ts);
      s += std::string("{\"_path\":\"files\",\"ts\":") + buf + ",\"fuid\":\"F" + Hex(rng, 8) +
           "\",\"tx_hosts\":[\"" + external_ip() + "\"],\"rx_hosts\":[\"" + internal_ip() +
           "\"],\"conn_uids\":[\"" + uid() +
           "\"],\"source\":\"HTTP\",\"depth\":0,\"analyzers\":[\"MD5\",\"SHA1\",\"SHA256\"],"
           "\"mime_type\":\"application/x-dosexec\",\"filename\":\"setup.exe\",\"duration\":0.01,"
           "\"is_orig\":false,\"seen_bytes\":" +
           std::to_string(rng() % 900000) + ",\"total_bytes\":" + std::to_string(rng() % 900000) +
           ",\"md5\":\"" + Hex(rng, 16) + "\",\"sha1\":\"" + Hex(rng, 20) + "\",\"sha256\":\"" +
           (plant ? w.hash_samples[rng() % w.hash_samples.size()] : Hex(rng, 32)) + "\"}\n";
    }
    ++w.log_lines;
    w.expected_hit_events += planted;
  }
  w.log_size = s.size();
  s.append(64, '\0');
}

World& TheWorld() {
  static World* w = [] {
    auto* world = new World();
    Load(*world);
    Generate(*world);
    return world;
  }();
  return *w;
}

struct Rates {
  std::mutex mu;
  double extract_bytes_per_s = 0;
  double match_bytes_per_s_1 = 0;
  double match_bytes_per_s_2 = 0;
  // Bytes and thread CPU seconds of the timed passes, by run: 0 extract, 1 match on 1 thread,
  // 2 match on 2 threads.
  double bytes[3] = {0, 0, 0};
  double cpu[3] = {0, 0, 0};
  void Add(int run, double b, double c) {
    std::lock_guard<std::mutex> lock(mu);
    bytes[run] += b;
    cpu[run] += c;
  }
} g_rates;

// One pass over the log; returns hit events (match) or events (extract).
uint64_t Pass(const World& w, bool match) {
  auto reader = MakeZeekJsonReader();
  Matcher matcher(*w.set);
  uint64_t line = 0;
  if (!match) {
    Event event;
    uint64_t events = 0;
    const char* p = w.log.data();
    const char* end = p + w.log_size;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      const char* le = nl ? nl : end;
      if (reader->Read({p, static_cast<size_t>(le - p)}, w.log.size() - (p - w.log.data()),
                       event) == LineResult::kEvent) {
        ++events;
        benchmark::DoNotOptimize(event.count);
      }
      p = le + 1;
    }
    return events;
  }
  uint64_t hit_events = 0;
  MatchBlock({w.log.data(), w.log_size}, w.log.size(), *reader, matcher, line,
             [&](uint64_t, const Event&, const std::vector<IndexHit>&) { ++hit_events; });
  return hit_events;
}

void BM_Match_Load(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    // Loading is measured once, in TheWorld(); report it here.
    state.SetIterationTime(w.load_seconds);
  }
  const double n = static_cast<double>(w.domains + w.hashes + w.cidrs);
  state.counters["indicators"] = n;
  state.counters["indicators_per_s"] = n / w.load_seconds;
  state.counters["rss_MB"] = static_cast<double>(w.rss_bytes) / (1 << 20);
  state.counters["index_MB"] = static_cast<double>(w.index_bytes) / (1 << 20);
}
BENCHMARK(BM_Match_Load)->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);

void BM_Match_Extract(benchmark::State& state) {
  const World& w = TheWorld();
  if (Pass(w, false) != w.log_lines) return state.SkipWithError("lines lost in extraction");
  for (auto _ : state) {
    const double c0 = ThreadCpuSeconds();
    benchmark::DoNotOptimize(Pass(w, false));
    g_rates.Add(0, static_cast<double>(w.log_size), ThreadCpuSeconds() - c0);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.log_size));
}
BENCHMARK(BM_Match_Extract)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Match_Match(benchmark::State& state) {
  const World& w = TheWorld();
  const uint64_t hits = Pass(w, true);
  if (hits < w.expected_hit_events || hits == 0) {
    return state.SkipWithError("planted indicators were not all found");
  }
  const int run = state.threads() == 1 ? 1 : 2;
  for (auto _ : state) {
    const double c0 = ThreadCpuSeconds();
    benchmark::DoNotOptimize(Pass(w, true));
    g_rates.Add(run, static_cast<double>(w.log_size), ThreadCpuSeconds() - c0);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.log_size));
  state.counters["hit_events"] = static_cast<double>(hits);
  state.counters["planted"] = static_cast<double>(w.expected_hit_events);
}
BENCHMARK(BM_Match_Match)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(1)->Threads(2);

// Extraction and matching alternated pass by pass on one thread, each timed by the thread's
// CPU clock: on a shared machine the load drifts within seconds, and a ratio of two runs made
// a minute apart measured the neighbours as much as the matcher. This pairing is the ratio
// the summary reports as "paired".
struct Paired {
  double extract_cpu = 0;
  double match_cpu = 0;
  double bytes = 0;
} g_paired;

void BM_Match_Paired(benchmark::State& state) {
  const World& w = TheWorld();
  for (auto _ : state) {
    double c0 = ThreadCpuSeconds();
    benchmark::DoNotOptimize(Pass(w, false));
    g_paired.extract_cpu += ThreadCpuSeconds() - c0;
    c0 = ThreadCpuSeconds();
    benchmark::DoNotOptimize(Pass(w, true));
    g_paired.match_cpu += ThreadCpuSeconds() - c0;
    g_paired.bytes += static_cast<double>(w.log_size);
  }
  state.counters["ratio"] = g_paired.match_cpu > 0 ? g_paired.extract_cpu / g_paired.match_cpu : 0;
}
BENCHMARK(BM_Match_Paired)->Unit(benchmark::kMillisecond)->MinTime(Smoke() ? 0.01 : 5);

// One log through ParallelMatcher (what `liaison match --threads N` runs) in 4 MiB blocks, on
// range(0) workers; wall time, since the point is the speed-up of one stream. The figure to
// compare is Parallel/1 against Parallel/2 of the same run.
double g_parallel_wall[3] = {0, 0, 0};
// One pass of ParallelMatcher with `threads` workers over the whole log, in 4 MiB blocks
// handed over without a copy (SubmitView; the one-thread Pass does not copy the log either);
// returns the wall seconds and adds the events with hits to *hit_events.
double ParallelPass(const World& w, int threads, uint64_t* hit_events) {
  const auto t0 = std::chrono::steady_clock::now();
  ParallelMatcher parallel(*w.set, LogFormat::kZeekJson, nullptr, threads);
  auto on_hits = [&](uint64_t, const Event&, const std::vector<IndexHit>&) { ++*hit_events; };
  std::string_view rest(w.log.data(), w.log_size);
  while (!rest.empty()) {
    size_t cut = std::min(rest.size(), size_t{4} << 20);
    const size_t nl = rest.find('\n', cut - 1);
    cut = nl == std::string_view::npos ? rest.size() : nl + 1;
    const size_t offset = static_cast<size_t>(rest.data() - w.log.data());
    parallel.SubmitView(rest.substr(0, cut), w.log.size() - offset, on_hits);
    rest.remove_prefix(cut);
  }
  parallel.Finish(on_hits);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The 2-core figure, interleaved so that both sides see the same machine: each
// iteration matches the log once on one thread (one core; the other idles) and once with
// ParallelMatcher's 2 workers (both cores), and the ratio of the summed wall times is
// reported. Bar (issue #5): >= 1.8.
//
// Also the CPU time of the process in both passes (the 2-worker pass's: both workers and the
// submitting thread): 2 * cpu_one / cpu_two is the speed-up the two workers would give if both
// cores were theirs for the whole pass, i.e. what is left of the bar once the neighbours'
// share of the cores is taken out (they still share caches and memory with us). On a quiet
// machine the two figures agree; under load, only the CPU one says something.
double g_two_core_speedup = 0;
double g_two_core_cpu_speedup = 0;
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}
void BM_Match_TwoCoresVsOne(benchmark::State& state) {
  const World& w = TheWorld();
  double one = 0, two = 0, cpu_one = 0, cpu_two = 0;
  uint64_t hit_events = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    double c0 = ProcessCpuSeconds();
    benchmark::DoNotOptimize(Pass(w, true));
    one += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_one += ProcessCpuSeconds() - c0;
    c0 = ProcessCpuSeconds();
    two += ParallelPass(w, 2, &hit_events);
    cpu_two += ProcessCpuSeconds() - c0;
  }
  g_two_core_speedup = two > 0 ? one / two : 0;
  g_two_core_cpu_speedup = cpu_two > 0 ? 2 * cpu_one / cpu_two : 0;
  state.SetBytesProcessed(static_cast<int64_t>(2 * state.iterations() * w.log_size));
  state.counters["speedup_2_cores"] = g_two_core_speedup;
  state.counters["cpu_speedup_2_cores"] = g_two_core_cpu_speedup;
}
BENCHMARK(BM_Match_TwoCoresVsOne)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Match_Parallel(benchmark::State& state) {
  const World& w = TheWorld();
  const int threads = static_cast<int>(state.range(0));
  uint64_t hit_events = 0;
  double wall_per_byte = 0;  // Google Benchmark may call this function more than once
  for (auto _ : state) {
    const double secs = ParallelPass(w, threads, &hit_events);
    state.SetIterationTime(secs);
    wall_per_byte += secs / static_cast<double>(w.log_size);
  }
  if (threads <= 2 && state.iterations() > 0) {
    g_parallel_wall[threads] = wall_per_byte / static_cast<double>(state.iterations());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.log_size));
  state.counters["hit_events"] = static_cast<double>(hit_events / state.iterations());
}
BENCHMARK(BM_Match_Parallel)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);

// Collects bytes/s of the runs above for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end()) continue;
      const double rate = it->second;
      const std::string name = r.benchmark_name();
      if (name.find("BM_Match_Extract") == 0) g_rates.extract_bytes_per_s = rate;
      if (name.find("BM_Match_Match") == 0 && r.threads == 1) g_rates.match_bytes_per_s_1 = rate;
      if (name.find("BM_Match_Match") == 0 && r.threads == 2) g_rates.match_bytes_per_s_2 = rate;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace
}  // namespace liaison::match

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  liaison::match::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const liaison::match::World& w = liaison::match::TheWorld();
  const auto& r = liaison::match::g_rates;
  auto per_cpu = [&](int i) { return r.cpu[i] > 0 ? r.bytes[i] / r.cpu[i] / 1048576.0 : 0.0; };
  const double n = static_cast<double>(w.domains + w.hashes + w.cidrs);
  std::printf(
      "\nsummary: %zu domains + %zu sha256 + %zu cidrs\n"
      "load: %.2f s CPU (%.2f M indicators/s), %.2f s wall (%.2f M/s); RSS of the set %.0f MB "
      "(index capacity %.0f MB)\n"
      "log: %.0f MB, %llu lines, %llu planted hit lines\n"
      "per CPU second: extract %.0f MB/s, match %.0f MB/s -> ratio %.2f; match on 2 threads "
      "%.0f MB/s per thread -> 2-core scaling %.2fx\n"
      "wall clock: extract %.0f MB/s, match 1 thread %.0f MB/s, 2 threads %.0f MB/s (%.2fx)\n",
      w.domains, w.hashes, w.cidrs, w.load_cpu_seconds, n / w.load_cpu_seconds / 1e6,
      w.load_seconds, n / w.load_seconds / 1e6, w.rss_bytes / 1048576.0, w.index_bytes / 1048576.0,
      w.log_size / 1048576.0, (unsigned long long)w.log_lines,
      (unsigned long long)w.expected_hit_events, per_cpu(0), per_cpu(1),
      per_cpu(0) > 0 ? per_cpu(1) / per_cpu(0) : 0.0, per_cpu(2),
      per_cpu(1) > 0 ? 2 * per_cpu(2) / per_cpu(1) : 0.0, r.extract_bytes_per_s / 1048576.0,
      r.match_bytes_per_s_1 / 1048576.0, r.match_bytes_per_s_2 / 1048576.0,
      r.match_bytes_per_s_1 > 0 ? r.match_bytes_per_s_2 / r.match_bytes_per_s_1 : 0.0);
  const auto& p = liaison::match::g_paired;
  if (p.match_cpu > 0) {
    std::printf(
        "paired (alternating passes, CPU time): extract %.0f MB/s, match %.0f MB/s -> ratio "
        "%.2f\n",
        p.bytes / p.extract_cpu / 1048576.0, p.bytes / p.match_cpu / 1048576.0,
        p.extract_cpu / p.match_cpu);
  }
  if (liaison::match::g_two_core_speedup > 0) {
    std::printf("2 cores vs 1, interleaved (wall): %.2fx\n", liaison::match::g_two_core_speedup);
    std::printf("2 cores vs 1, interleaved, per CPU second (2 * cpu_one / cpu_two): %.2fx\n",
                liaison::match::g_two_core_cpu_speedup);
  }
  if (liaison::match::g_parallel_wall[2] > 0) {
    std::printf("ParallelMatcher, one log, wall clock: 2 workers %.2fx the speed of 1\n",
                liaison::match::g_parallel_wall[1] / liaison::match::g_parallel_wall[2]);
  }
  // Both sides of the ratio run the same reader, so they use the same simdjson kernels: stage 1
  // through the runtime-dispatched implementation, the On Demand walk as compiled here.
  std::printf("simdjson: active implementation %s, built-in (On Demand) %s\n",
              simdjson::get_active_implementation()->name().c_str(),
              simdjson::builtin_implementation()->name().c_str());
  benchmark::Shutdown();
  return 0;
}
