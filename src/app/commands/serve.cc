// `liaison serve [--config liaison.toml]`: the TAXII 2.1 server on the configured store. On the
// first start it creates a default collection (loading the seed file into it, e.g. the repo's
// examples/bundle.json) and an `admin` user whose password comes from $LIAISON_ADMIN_PASSWORD
// or is generated and printed once. Every answered request is logged on stderr by spdlog, as
// text or as one JSON object a line.

#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/exchange_log.h"
#include "app/commands/import.h"
#include "app/commands/psi_config.h"
#include "app/commands/taxii_config.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "pattern/check.h"
#include "policy/release_log.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "taxii/sync/receipt.h"
#include "taxii/sync/sync.h"

namespace liaison::app {
namespace {

struct ServeArgs {
  std::string config;
  std::string data_dir;
  std::string listen;
  std::string log_format;
  std::string seed_file;
  std::string port_file;
  bool insecure = false;
};

// The access log: one line per answered request (method, target, status, body bytes, duration,
// user, peer). JSON lines are built by hand: spdlog's pattern cannot escape field values.
std::function<void(const taxii::RequestLogEntry&)> MakeRequestLog(spdlog::logger& log,
                                                                  bool as_json) {
  return [&log, as_json](const taxii::RequestLogEntry& e) {
    const double ms = static_cast<double>(e.duration.count()) / 1000.0;
    if (as_json) {
      std::string line = "{\"ts\":";
      json::AppendQuoted(Timestamp::Now().ToString(6), line);
      line += ",\"msg\":\"request\",\"method\":";
      json::AppendQuoted(e.method, line);
      line += ",\"path\":";
      json::AppendQuoted(e.target, line);
      StrAppend(&line, ",\"status\":", e.status, ",\"bytes\":", e.bytes,
                ",\"duration_ms\":", json::FormatNumber(ms), ",\"user\":");
      json::AppendQuoted(e.user, line);
      line += ",\"remote\":";
      json::AppendQuoted(e.remote_address, line);
      line += '}';
      log.info("{}", line);
    } else {
      log.info("{} {} {} {}B {:.3f}ms user={} remote={}", e.method, e.target, e.status, e.bytes, ms,
               e.user.empty() ? "-" : e.user, e.remote_address);
    }
  };
}

// Server messages (start, stop) in the access log's format.
void LogEvent(spdlog::logger& log, bool as_json, std::string_view message) {
  if (as_json) {
    std::string line = "{\"ts\":";
    json::AppendQuoted(Timestamp::Now().ToString(6), line);
    line += ",\"msg\":";
    json::AppendQuoted(message, line);
    line += '}';
    log.info("{}", line);
  } else {
    log.info("{}", message);
  }
}

// First start: an empty store gets a default collection under the first API root (with the seed
// file's objects) and an admin.
Status Bootstrap(store::Store& store, const TaxiiConfig& config) {
  LIAISON_ASSIGN_OR_RETURN(auto collections, store.ListCollections());
  if (collections.empty()) {
    store::Collection c;
    c.id = Uuid::V4().ToString();
    c.api_root = config.server.api_roots.front().name;
    c.title = "default";
    c.description = "created on first start";
    LIAISON_RETURN_IF_ERROR(store.CreateCollection(c));
    std::fprintf(stderr, "created collection %s under /%s/\n", c.id.c_str(), c.api_root.c_str());
    if (!config.seed_file.empty()) {
      ImportOptions options;
      options.progress = false;
      LIAISON_ASSIGN_OR_RETURN(ImportSummary s,
                               ImportFiles(store, c.id, {config.seed_file}, options));
      std::fprintf(stderr, "loaded %zu objects from %s into %s (%zu invalid)\n", s.added,
                   config.seed_file.c_str(), c.id.c_str(), s.invalid);
    }
  }
  LIAISON_ASSIGN_OR_RETURN(auto users, store.ListUsers());
  if (users.empty()) {
    std::string password;
    bool generated = false;
    if (const char* env = std::getenv("LIAISON_ADMIN_PASSWORD"); env && *env) {
      password = env;
    } else {
      password = taxii::NewApiToken().substr(4, 24);
      generated = true;
    }
    LIAISON_ASSIGN_OR_RETURN(std::string hash, taxii::HashPassword(password));
    LIAISON_RETURN_IF_ERROR(store.CreateUser({"admin", hash, true, {}}));
    if (generated) {
      // Printed once: only its Argon2id hash is kept.
      std::fprintf(stderr, "created user admin with password: %s\n", password.c_str());
    } else {
      std::fprintf(stderr, "created user admin with the password from LIAISON_ADMIN_PASSWORD\n");
    }
  }
  return absl::OkStatus();
}

// glibc gives the top of a thread's heap back to the kernel (madvise) whenever more than
// M_TRIM_THRESHOLD is free there, and serves blocks above M_MMAP_THRESHOLD with mmap/munmap. A
// server that builds a response page of 50 KB to 1 MB per request and frees it after sending
// then pays page faults and TLB flushes on every request (profiled: ~15 % of a GET's CPU).
// Keeping freed memory in the heap bounds it by the peak in use instead, which the request,
// page and connection limits already bound.
void TuneAllocatorForServing() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int RunServe(const ServeArgs& args) {
  TuneAllocatorForServing();
  auto config = LoadTaxiiConfig(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (!args.data_dir.empty()) config->data_dir = args.data_dir;
  if (args.insecure) config->server.insecure = true;
  if (!args.seed_file.empty()) config->seed_file = args.seed_file;
  if (!args.log_format.empty()) config->log_format = args.log_format;
  if (config->log_format != "text" && config->log_format != "json") {
    std::fprintf(stderr, "error: --log-format: expected text or json\n");
    return 2;
  }
  const bool json_log = config->log_format == "json";
  // stderr, unbuffered by spdlog's own lock; a text line starts with the time and the level.
  auto log = std::make_shared<spdlog::logger>("liaison",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_pattern(json_log ? "%v" : "%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  config->server.request_log = MakeRequestLog(*log, json_log);
  // Posted indicators with pattern_type "stix" must have a pattern that can match (section 9).
  config->server.check_stix_pattern = pattern::CheckPatternText;
  if (!args.listen.empty()) {
    size_t colon = args.listen.rfind(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "error: --listen: expected ADDRESS:PORT\n");
      return 2;
    }
    config->server.address = args.listen.substr(0, colon);
    config->server.port = static_cast<uint16_t>(std::atoi(args.listen.c_str() + colon + 1));
  }
  auto store = OpenConfiguredStore(*config);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", config->data_dir.c_str(),
                 std::string(store.status().message()).c_str());
    return 3;
  }
  // Block the stop signals before the serving threads start, so that they inherit the mask and
  // only this thread receives SIGINT/SIGTERM (in sigwait below).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Sync (docs/sync.md): the signing key for receipts, the POST hook, and the scheduler below.
  auto signer = taxii::sync::Signer::LoadOrCreate(config->data_dir);
  if (!signer.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(signer.status().message()).c_str());
    return 3;
  }
  if (Status st = ConfigurePsi(args.config, config->data_dir, config->server, store->get());
      !st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());  // issue #7: [psi]
    return 2;
  }
  taxii::sync::EngineOptions sync_options;
  sync_options.release = MakeSyncReleaseFilter(**store, config->server.partners, config->peers);
  sync_options.release_version = MakeSyncReleaseVersion(config->server.partners);
  sync_options.withheld_for_ends =
      MakeSyncWithheldForEnds(**store, config->server.partners, config->peers);
  SetReceiptLogging(**store, config->server.partners, sync_options);
  // Receipts that a crash left between the objects' commit and the audit file go into the chain
  // now (docs/store.md, "Receipts ride the objects' commit").
  if (Status s = policy::ReleaseLog(**store).Flush(); !s.ok()) {
    std::fprintf(stderr, "warning: release log: %s\n", std::string(s.message()).c_str());
  }
  sync_options.signer = signer->get();
  sync_options.server_name = config->server.title;
  taxii::sync::Engine sync_engine(**store, sync_options);
  config->server.post_observer = sync_engine.MakePostObserver(config->peers);
  auto server = taxii::Server::Start(**store, config->server);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return server.status().code() == absl::StatusCode::kFailedPrecondition ? 2 : 3;
  }
  // After Start, so that a refused configuration leaves a new data directory untouched.
  if (Status st = Bootstrap(**store, *config); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
    return 3;
  }
  const bool tls = !config->server.tls_cert_file.empty();
  LogEvent(
      *log, json_log,
      StrCat("liaison serving TAXII 2.1 on ", tls ? "https" : "http", "://", config->server.address,
             ":", (*server)->port(), "/taxii2/ (data in ", config->data_dir, ")"));
  if (!args.port_file.empty()) {
    // Written after the bootstrap, so a reader that sees the port can use the server at once.
    const std::string tmp = args.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << (*server)->port() << "\n";
    }
    if (std::rename(tmp.c_str(), args.port_file.c_str()) != 0) {
      std::fprintf(stderr, "error: cannot write %s\n", args.port_file.c_str());
      return 3;
    }
  }
  std::atomic<bool> stopping{false};
  std::thread sync_thread;
  if (!config->peers.empty()) {
    sync_thread = std::thread([&] {
      sync_engine.RunScheduled(
          config->peers, [&] { return stopping.load(); },
          [&](std::string_view line) { LogEvent(*log, json_log, std::string(line)); });
    });
  }
  int received = 0;
  sigwait(&signals, &received);
  LogEvent(*log, json_log,
           StrCat("received ", received == SIGTERM ? "SIGTERM" : "SIGINT", ", shutting down"));
  stopping = true;
  if (sync_thread.joinable()) sync_thread.join();
  (*server)->Stop();
  LogEvent(*log, json_log, "stopped");
  log->flush();
  return 0;
}

}  // namespace

void RegisterServeCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = root.add_subcommand("serve", "Run the TAXII 2.1 server");
  cmd->add_option("--config", args->config, "TOML configuration file");
  cmd->add_option("--data", args->data_dir, "data directory (default ./liaison-data)");
  cmd->add_option("--listen", args->listen, "ADDRESS:PORT (default 127.0.0.1:6543)");
  cmd->add_option("--log-format", args->log_format, "access log format: text (default) or json");
  cmd->add_option("--seed", args->seed_file,
                  "on first start (empty store), import this file into the default collection");
  cmd->add_option("--port-file", args->port_file,
                  "write the bound port to this file once serving (useful with --listen ...:0)");
  cmd->add_flag("--insecure", args->insecure,
                "allow plain HTTP on a non-loopback address (no TLS)");
  cmd->callback([args, &exit_code] { exit_code = RunServe(*args); });
}

}  // namespace liaison::app
