// `liaison match`: runs the active indicators over Zeek, Suricata EVE or NDJSON logs and writes
// STIX 2.1 sightings (docs/match.md).
//
//   liaison match --indicators FILE... | --collection ID [--config F] [--format F] LOG...
//
// Indicators come from STIX files (bundles, NDJSON, .gz), plain lists ("TYPE VALUE" lines,
// told apart by their first byte), or a collection of the local store. Logs are files, .gz
// files, or "-" for stdin, read as streams through a fixed buffer. Sightings go to stdout or
// --output, as NDJSON or (--bundle) one bundle. A progress line is drawn on stderr when it is
// a terminal; a summary always ends the run on stderr.
//
// Exit codes (DESIGN.md): 0 the run completed (with or without hits); 1 bad input (no usable
// indicator, an indicator file that is not readable STIX, an unknown log format, a bad
// mapping); 2 usage; 3 runtime failure (I/O, the store).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/sighting_post.h"
#include "app/commands/taxii_config.h"
#include "core/file.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/uuid.h"
#include "match/compiler.h"
#include "match/line_source.h"
#include "match/matcher.h"
#include "match/parallel.h"
#include "match/reader.h"
#include "match/reload.h"
#include "match/sightings.h"
#include "store/store.h"

namespace liaison::app {
namespace {

struct MatchArgs {
  std::vector<std::string> indicators;
  std::string collection;
  std::string config;
  std::string data_dir;
  std::string format;
  std::string mapping;
  std::string identity;
  std::string output;
  std::string post;  // a [[peer]] name or a collection URL the sightings are also posted to
  std::string now;
  int64_t window = 3600;
  bool bundle = false;
  bool no_subdomains = false;
  bool quiet = false;
  int threads = 1;
  bool reload = false;  // SIGHUP and changed indicator files rebuild the set mid-stream
  bool observed_data = false;
  std::vector<std::string> logs;
};

// Set by SIGHUP (with --reload); the matching loop turns it into a reload between blocks.
volatile sig_atomic_t g_reload_requested = 0;
extern "C" void OnSighup(int) { g_reload_requested = 1; }

// What --reload watches of an indicator file: a new mtime or size means a new feed.
struct FileStamp {
  int64_t mtime_ns = -1;
  int64_t size = -1;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
FileStamp StampOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size)};
}

int ExitFor(const Status& st) {
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      return 1;
    default:
      return 3;
  }
}

Status LoadIndicatorFile(const std::string& path, match::IndicatorSet& set) {
  LIAISON_ASSIGN_OR_RETURN(Buffer buffer, ReadInput(path));
  const std::string_view text = buffer.view();
  size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) {
    ++i;
  }
  if (i < text.size() && (text[i] == '{' || text[i] == '[')) return set.AddStix(text, path);
  set.AddList(text, path);
  return absl::OkStatus();
}

Status LoadCollection(const MatchArgs& a, match::IndicatorSet& set) {
  LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(a.config));
  if (!a.data_dir.empty()) config.data_dir = a.data_dir;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, OpenConfiguredStore(config));
  store::Filter filter;
  filter.types = {"indicator"};
  const std::string source = StrCat("collection ", a.collection);
  size_t n = 0;
  while (true) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store->Query(a.collection, filter));
    for (const store::ObjectRecord& r : page.records) set.AddStixObject(r.json, source, ++n);
    if (!page.more) break;
    filter.next = page.next;
  }
  return absl::OkStatus();
}

std::string HumanBytes(uint64_t b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

int Run(const MatchArgs& a) {
  if (a.indicators.empty() && a.collection.empty()) {
    std::fprintf(stderr, "error: give --indicators FILE or --collection ID\n");
    return 2;
  }
  if (a.window <= 0) {
    std::fprintf(stderr, "error: --window must be positive\n");
    return 2;
  }
  match::CompileOptions options;
  if (!a.now.empty()) {
    Result<Timestamp> now = Timestamp::ParseRfc3339(a.now);
    if (!now.ok()) {
      std::fprintf(stderr, "error: --now: %s\n", std::string(now.status().message()).c_str());
      return 2;
    }
    options.now = *now;
  }
  options.index.subdomains = !a.no_subdomains;
  std::optional<match::LogFormat> format;
  if (!a.format.empty()) {
    Result<match::LogFormat> f = match::ParseLogFormat(a.format);
    if (!f.ok()) {
      std::fprintf(stderr, "error: --format: %s\n", std::string(f.status().message()).c_str());
      return 2;
    }
    format = *f;
  }
  match::FieldMapping mapping;
  if (!a.mapping.empty()) {
    Result<Buffer> text = ReadInput(a.mapping);
    if (!text.ok()) return ExitFor(text.status());
    Result<match::FieldMapping> m = match::ParseFieldMapping(text->view(), a.mapping);
    if (!m.ok()) return ExitFor(m.status());
    mapping = *std::move(m);
  }

  // Indicators. The same function builds the first set and, with --reload, its successors
  // (on the reloader's thread, while the logs go on being matched against the running set).
  auto build = [&a, options]() -> Result<std::unique_ptr<match::IndicatorSet>> {
    match::CompileOptions o = options;
    if (a.now.empty()) o.now = Timestamp::Now();  // a reload also retires expired indicators
    const auto load_start = std::chrono::steady_clock::now();
    auto set = std::make_unique<match::IndicatorSet>(o);
    for (const std::string& path : a.indicators) {
      LIAISON_RETURN_IF_ERROR(LoadIndicatorFile(path, *set));
    }
    if (!a.collection.empty()) LIAISON_RETURN_IF_ERROR(LoadCollection(a, *set));
    set->Finish();
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    const match::CompileStats& cs = set->stats();
    for (const std::string& e : cs.errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr,
                 "indicators: %llu exact, %llu pattern engine, %llu list values; skipped %llu "
                 "inactive, %llu revoked, %llu not stix, %llu invalid (%.2f s, %s of indexes)\n",
                 (unsigned long long)cs.exact, (unsigned long long)cs.engine,
                 (unsigned long long)cs.list_values, (unsigned long long)cs.inactive,
                 (unsigned long long)cs.revoked, (unsigned long long)cs.not_stix,
                 (unsigned long long)cs.invalid, load_seconds,
                 HumanBytes(set->index().MemoryBytes()).c_str());
    if (cs.stream > 0) {
      std::fprintf(stderr,
                   "indicators: %llu of the pattern engine's span several events (window of %zu "
                   "events; matched on one thread)\n",
                   (unsigned long long)cs.stream, o.stream_window_events);
    }
    return set;
  };
  std::vector<FileStamp> stamps;
  for (const std::string& path : a.indicators) stamps.push_back(StampOf(path));
  Result<std::unique_ptr<match::IndicatorSet>> first = build();
  if (!first.ok()) return ExitFor(first.status());
  std::shared_ptr<const match::IndicatorSet> current(std::move(*first));
  const match::CompileStats& cs = current->stats();
  if (cs.exact + cs.engine + cs.list_values == 0) {
    std::fprintf(stderr, "error: no active indicator to match\n");
    return 1;
  }

  // Output.
  FILE* out = stdout;
  if (!a.output.empty() && a.output != "-") {
    out = std::fopen(a.output.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "error: %s: cannot open for writing\n", a.output.c_str());
      return 3;
    }
  }
  std::unique_ptr<EnvelopePoster> poster;
  Status post_status;
  if (!a.post.empty()) {
    auto target = ResolvePostTarget(a.config, a.post);
    if (!target.ok()) return ExitFor(target.status());
    auto created = EnvelopePoster::Create(std::move(*target));
    if (!created.ok()) return ExitFor(created.status());
    poster = std::move(*created);
  }
  match::SightingOptions sopts;
  sopts.identity_id = a.identity;
  if (sopts.identity_id.empty()) {
    char host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    sopts.identity_id =
        StrCat("identity--",
               Uuid::V5(*Uuid::Parse(match::kListNamespace), StrCat("host:", host)).ToString());
  }
  sopts.window_seconds = a.window;
  sopts.observed_data = a.observed_data;
  sopts.now = options.now;
  bool first_object = true;
  if (a.bundle) {
    std::fprintf(out, "{\"type\":\"bundle\",\"id\":\"bundle--%s\",\"objects\":[",
                 Uuid::V4().ToString().c_str());
  }
  match::SightingAggregator sightings(*current, sopts, [&](std::string_view json) {
    if (a.bundle) {
      std::fputs(first_object ? "\n" : ",\n", out);
      first_object = false;
      std::fwrite(json.data(), 1, json.size(), out);
    } else {
      std::fwrite(json.data(), 1, json.size(), out);
      std::fputc('\n', out);
    }
    // After a failed POST the rest is still written to the output, so nothing is lost.
    if (poster != nullptr && post_status.ok()) post_status = poster->Add(json);
  });

  // Logs.
  const bool tty = !a.quiet && isatty(2);
  auto matcher = std::make_unique<match::Matcher>(*current);
  match::IndicatorReloader reloader(current, build);
  if (a.reload) {
    struct sigaction sa {};
    sa.sa_handler = OnSighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // a read interrupted by the signal goes on
    sigaction(SIGHUP, &sa, nullptr);
  }
  auto last_watch = std::chrono::steady_clock::now();
  uint64_t retired_hits = 0;  // counters of matchers replaced by a reload
  uint64_t retired_engine = 0;
  uint64_t reported_failures = 0;
  int exit_code = 0;
  uint64_t total_bytes = 0;
  uint64_t total_events = 0;
  uint64_t parallel_hits = 0;  // counters of the ParallelMatchers (--threads)
  uint64_t parallel_engine = 0;
  const auto run_start = std::chrono::steady_clock::now();
  for (const std::string& path : a.logs) {
    Result<std::unique_ptr<match::LineSource>> source = match::LineSource::Open(path);
    if (!source.ok()) {
      exit_code = std::max(exit_code, ExitFor(source.status()));
      continue;
    }
    std::optional<match::LogFormat> f = format;
    if (!f) f = match::DetectLogFormat((*source)->Peek());
    if (!f) {
      std::fprintf(stderr, "error: %s: cannot tell the log format; give --format\n", path.c_str());
      exit_code = std::max(exit_code, 1);
      continue;
    }
    if (*f == match::LogFormat::kNdjson && a.mapping.empty()) {
      std::fprintf(stderr, "error: --format ndjson needs --mapping FILE\n");
      return 2;
    }
    std::unique_ptr<match::LogReader> reader = match::MakeReader(*f, &mapping);
    std::string_view block;
    size_t capacity = 0;
    uint64_t line = 0;
    uint64_t events = 0;
    uint64_t hit_events = 0;
    auto on_hits = [&](uint64_t, const match::Event& e, const std::vector<match::IndexHit>& hits) {
      ++hit_events;
      for (const match::IndexHit& h : hits) {
        sightings.Add(
            h, e.has_time ? e.time : options.now,
            sopts.observed_data ? match::ObservedValueOf(*current, e, h) : std::string_view());
      }
    };
    // --threads: JSON logs are matched by workers, block by block; hits come back in input
    // order, so the sightings are those of one thread.
    std::unique_ptr<match::ParallelMatcher> parallel;
    // Patterns over several events keep a window of the log's events in order: one thread.
    if (a.threads > 1 && match::CanRunInParallel(*f) && current->stream_engine() == nullptr) {
      parallel = std::make_unique<match::ParallelMatcher>(*current, *f, &mapping, a.threads);
      // The blocks in flight stay where the source read them: no copy on this thread, which
      // would take CPU from the workers.
      (*source)->KeepBlocks(parallel->max_in_flight());
    }
    auto last_draw = std::chrono::steady_clock::now();
    while ((*source)->NextBlock(block, capacity)) {
      if (a.reload) {
        // Between two blocks: ask for a rebuild on SIGHUP or when an indicator file changed
        // (looked at once a second), and switch to a set that finished building.
        if (g_reload_requested) {
          g_reload_requested = 0;
          reloader.Request();
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_watch > std::chrono::seconds(1)) {
          last_watch = now;
          for (size_t i = 0; i < a.indicators.size(); ++i) {
            const FileStamp stamp = StampOf(a.indicators[i]);
            if (!(stamp == stamps[i])) {
              stamps[i] = stamp;
              reloader.Request();
            }
          }
        }
        if (std::shared_ptr<const match::IndicatorSet> next = reloader.TakeReady()) {
          if (parallel != nullptr) {
            parallel->SwapSet(*next, on_hits);
            if (next->stream_engine() != nullptr) {
              // TODO(#5): go to one thread; each worker's window sees only its own blocks.
              std::fprintf(stderr,
                           "warning: the reloaded indicators have patterns over several events; "
                           "with --threads they see windows of one block each until this log "
                           "ends\n");
            }
          }
          retired_hits += matcher->counters().hits;
          retired_engine += matcher->counters().engine_evaluations;
          matcher = std::make_unique<match::Matcher>(*next);
          sightings.Rebind(*next);  // writes the old set's open sightings
          current = std::move(next);
          std::fprintf(stderr, "%s: indicators reloaded at line %llu\n", path.c_str(),
                       (unsigned long long)(parallel != nullptr ? parallel->lines() : line));
        } else if (reloader.builds_failed() > reported_failures) {
          reported_failures = reloader.builds_failed();
          std::fprintf(stderr, "error: reload failed, matching on with the running set: %s\n",
                       std::string(reloader.last_error().message()).c_str());
        }
      }
      if (parallel != nullptr) {
        parallel->SubmitView(block, capacity, on_hits);
      } else {
        events += match::MatchBlock(block, capacity, *reader, *matcher, line, on_hits);
      }
      if (tty) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_draw > std::chrono::milliseconds(500)) {
          last_draw = now;
          const double secs = std::chrono::duration<double>(now - run_start).count();
          std::fprintf(stderr, "\r%s: %s, %.0f events/s, %llu hits   ", path.c_str(),
                       HumanBytes(total_bytes + (*source)->bytes_read()).c_str(),
                       (total_events + events) / (secs > 0 ? secs : 1),
                       (unsigned long long)(retired_hits + matcher->counters().hits));
        }
      }
    }
    match::ReaderStats parallel_stats;
    const bool used_parallel = parallel != nullptr;
    if (parallel != nullptr) {
      parallel->Finish(on_hits);
      events = parallel->events();
      line = parallel->lines();
      parallel_stats = parallel->stats();
      const match::MatchCounters c = parallel->counters();
      parallel_hits += c.hits;
      parallel_engine += c.engine_evaluations;
      parallel.reset();
    }
    if (tty) std::fputs("\r\033[K", stderr);
    if (!(*source)->status().ok()) exit_code = std::max(exit_code, ExitFor((*source)->status()));
    const match::ReaderStats& rs = used_parallel ? parallel_stats : reader->stats();
    std::string bad;
    for (size_t r = 0; r < match::kBadReasonCount; ++r) {
      if (rs.bad[r] == 0) continue;
      StrAppend(&bad, bad.empty() ? "" : ", ", rs.bad[r], " ",
                match::BadReasonName(static_cast<match::BadReason>(r)), " (first at line ",
                rs.first_bad_line[r], ")");
    }
    if ((*source)->lines_too_long() > 0) {
      StrAppend(&bad, bad.empty() ? "" : ", ", (*source)->lines_too_long(), " too_long");
    }
    std::fprintf(stderr, "%s: %s, %s, %llu lines, %llu events, %llu with hits%s%s\n", path.c_str(),
                 std::string(match::LogFormatName(*f)).c_str(),
                 HumanBytes((*source)->bytes_read()).c_str(), (unsigned long long)line,
                 (unsigned long long)events, (unsigned long long)hit_events,
                 bad.empty() ? "" : "; bad lines: ", bad.c_str());
    total_bytes += (*source)->bytes_read();
    total_events += events;
  }
  sightings.Flush();
  if (a.bundle) std::fputs(first_object ? "]}\n" : "\n]}\n", out);
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
    std::fprintf(stderr, "error: %s: write failed\n",
                 a.output.empty() ? "stdout" : a.output.c_str());
    return 3;
  }
  if (poster != nullptr) {
    if (post_status.ok()) post_status = poster->Finish();
    if (!post_status.ok()) {
      exit_code = std::max(exit_code, 3);
      std::fprintf(stderr, "error: %s (the sightings are in %s)\n",
                   std::string(post_status.message()).c_str(),
                   a.output.empty() ? "stdout" : a.output.c_str());
    } else {
      std::fprintf(stderr, "posted %zu sightings to %s\n", poster->accepted(), a.post.c_str());
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  std::fprintf(stderr,
               "summary: %s, %llu events in %.2f s (%.0f events/s), %llu hits, %llu pattern "
               "engine evaluations, %llu sightings written\n",
               HumanBytes(total_bytes).c_str(), (unsigned long long)total_events, secs,
               total_events / (secs > 0 ? secs : 1),
               (unsigned long long)(retired_hits + matcher->counters().hits + parallel_hits),
               (unsigned long long)(retired_engine + matcher->counters().engine_evaluations +
                                    parallel_engine),
               (unsigned long long)sightings.sightings_written());
  return exit_code;
}

}  // namespace

void RegisterMatchCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<MatchArgs>();
  CLI::App* cmd = root.add_subcommand(
      "match", "run indicators over Zeek / Suricata / NDJSON logs -> sightings");
  cmd->add_option("--indicators", args->indicators,
                  "STIX bundle/NDJSON or plain list (TYPE VALUE a line); repeatable");
  cmd->add_option("--collection", args->collection, "use the indicators of this store collection");
  cmd->add_option("--config", args->config, "TOML configuration naming the store");
  cmd->add_option("--data", args->data_dir, "data directory of the store (default ./liaison-data)");
  cmd->add_option("--format", args->format, "zeek, zeek-json, eve or ndjson (default: detect)");
  cmd->add_option("--mapping", args->mapping, "TOML field mapping for --format ndjson");
  cmd->add_option("--identity", args->identity,
                  "identity id for where_sighted_refs (default: derived from the host name)");
  cmd->add_option("--window", args->window, "sighting window in seconds (default 3600)");
  cmd->add_option("--output,-o", args->output, "write sightings here (default stdout)");
  cmd->add_option("--post", args->post,
                  "also post the sightings to a TAXII collection: a [[peer]] name of --config, "
                  "or a collection URL ($LIAISON_TOKEN, or $LIAISON_USER + $LIAISON_PASSWORD)");
  cmd->add_option("--now", args->now, "the time that decides which indicators are active");
  cmd->add_flag("--bundle", args->bundle, "write one STIX bundle rather than NDJSON");
  cmd->add_flag("--no-subdomains", args->no_subdomains,
                "domain indicators match only the exact name");
  cmd->add_flag("--quiet,-q", args->quiet, "no progress line");
  cmd->add_option("--threads,-j", args->threads,
                  "match JSON logs (zeek-json, eve, ndjson) on this many threads (default 1)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--observed-data", args->observed_data,
                "also write the matched observable and an observed-data object per sighting, "
                "named in its observed_data_refs");
  cmd->add_flag("--reload", args->reload,
                "rebuild the indicator set on SIGHUP or when an indicator file changes, and "
                "switch to it between two blocks of the log without stopping");
  cmd->add_option("logs", args->logs, "log files (.gz, or - for stdin)")->required();
  cmd->callback([args, &exit_code] { exit_code = Run(*args); });
}

}  // namespace liaison::app
