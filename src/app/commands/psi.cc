// `liaison psi`: private set intersection with a partner's server (issue #7, docs/psi.md), and
// the [psi] section of `liaison serve`'s configuration that turns on the responder.
//
//   liaison psi --peer https://partner:6543 --list watch.txt --kind email [--mode one-sided]
//
// Prints the items in common (or only their number) and a summary on stderr. Exit 0 success,
// 1 the watch-list is bad, 2 usage, 3 the run failed (peer unreachable or refused).

#include "psi/psi.h"

#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/exchange_log.h"
#include "app/commands/psi_config.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "psi/http/http.h"
#include "psi/normalize.h"
#include "psi/run_log.h"

namespace liaison::app {
namespace {

struct PsiArgs {
  std::string peer;
  std::string list;
  std::string kind;
  std::string mode = "one-sided";
  std::string remote_list;
  std::string user;
  std::string token;
  std::string ca;
  std::string out;
  std::string record;
  std::string region;
  size_t workers = 0;
  uint32_t chunk = 4096;
};

Status WritePrivateFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(StrCat(path, ": cannot create"));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return absl::UnavailableError(StrCat(path, ": write failed"));
  return absl::OkStatus();
}

int RunPsi(const PsiArgs& args) {
  auto kind = psi::ParseItemKind(args.kind);
  auto mode = psi::ParseMode(args.mode);
  if (!kind.ok() || !mode.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 std::string((kind.ok() ? mode.status() : kind.status()).message()).c_str());
    return 2;
  }
  psi::NormalizeOptions normalize;
  normalize.default_region = args.region;
  auto list = psi::LoadWatchList(args.list, *kind, normalize);
  if (!list.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(list.status().message()).c_str());
    return list.status().code() == absl::StatusCode::kInvalidArgument ? 1 : 3;
  }
  psi::HttpPeer peer;
  peer.url = args.peer;
  peer.user = args.user;
  peer.token = args.token;
  if (peer.token.empty()) {
    if (const char* t = std::getenv("LIAISON_TOKEN")) peer.token = t;
  }
  if (const char* p = std::getenv("LIAISON_PASSWORD")) peer.password = p;
  if (peer.token.empty() && peer.user.empty()) {
    std::fprintf(stderr, "error: give --user (password in $LIAISON_PASSWORD) or --token\n");
    return 2;
  }
  peer.ca_file = args.ca;
  auto factory = psi::MakeHttpTransportFactory(peer);
  if (!factory.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(factory.status().message()).c_str());
    return 2;
  }
  psi::RequestOptions options;
  options.mode = *mode;
  options.remote_list = args.remote_list;
  options.workers = args.workers;
  options.chunk_items = args.chunk;
  const auto started = std::chrono::system_clock::now();
  auto result = psi::RunRequester(*list, options, *factory);

  if (!args.record.empty()) {
    psi::RunRecord r;
    r.started = started;
    r.ended = std::chrono::system_clock::now();
    r.role = "requester";
    r.user = args.user.empty() ? "(token)" : args.user;
    r.partner = args.peer;
    r.mode = args.mode;
    r.kind = args.kind;
    r.list = args.list;
    r.requester_set_size = list->items.size();
    if (result.ok()) {
      r.session_id = result->session_id;
      r.responder_set_size = result->responder_set_size;
      r.result_size = result->cardinality;
      r.outcome = "completed";
    } else {
      r.outcome = StrCat("aborted: ", result.status().message());
    }
    auto recorder = psi::OpenFileRunRecorder(args.record);
    Status st = recorder.ok() ? (*recorder)->Record(r) : recorder.status();
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return 3;
    }
  }
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(result.status().message()).c_str());
    return 3;
  }
  std::string text;
  if (*mode == psi::Mode::kCardinality) {
    text = StrCat(result->cardinality, "\n");
  } else {
    for (const std::string& item : result->intersection) StrAppend(&text, item, "\n");
  }
  if (!args.out.empty()) {
    if (Status st = WritePrivateFile(args.out, text); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return 3;
    }
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  std::fprintf(stderr,
               "psi %s session %s: %llu of %zu items in common (the partner's list has %llu); "
               "%llu bytes sent, %llu received\n",
               args.mode.c_str(), result->session_id.c_str(),
               static_cast<unsigned long long>(result->cardinality), list->items.size(),
               static_cast<unsigned long long>(result->responder_set_size),
               static_cast<unsigned long long>(result->bytes_sent),
               static_cast<unsigned long long>(result->bytes_received));
  return 0;
}

// The part of the responder's state the endpoint keeps alive: the recorder outlives the
// responder (members are destroyed in reverse order).
struct PsiRuntime {
  std::unique_ptr<psi::RunRecorder> recorder;
  std::unique_ptr<psi::Responder> responder;
};

}  // namespace

Status ConfigurePsi(const std::string& config_path, const std::string& data_dir,
                    taxii::ServerOptions& options, store::Store* store) {
  if (config_path.empty()) return absl::OkStatus();
  toml::table root;
  try {
    root = toml::parse_file(config_path);
  } catch (const toml::parse_error& e) {  // toml++ reports by throwing; stop it here
    return absl::InvalidArgumentError(
        StrCat(config_path, ":", e.source().begin.line, ": ", std::string(e.description())));
  }
  const toml::table* section = root["psi"].as_table();
  if (section == nullptr) return absl::OkStatus();  // PSI is off unless configured
  const toml::table& t = *section;
  auto where = [&](std::string_view key) { return StrCat(config_path, ": psi.", key, ": "); };
  psi::ResponderOptions ro;
  psi::NormalizeOptions normalize;
  normalize.default_region = t["phone_region"].value_or(std::string());
  ro.max_sessions = t["max_sessions"].value_or(ro.max_sessions);
  ro.session_timeout = std::chrono::seconds(
      t["session_timeout_s"].value_or(static_cast<int64_t>(ro.session_timeout.count())));
  ro.results_dir = t["results_dir"].value_or(std::string());
  if (const toml::array* lists = t["lists"].as_array()) {
    for (const toml::node& node : *lists) {
      const toml::table* l = node.as_table();
      if (l == nullptr) return absl::InvalidArgumentError(StrCat(where("lists"), "not a table"));
      psi::ResponderList list;
      list.name = (*l)["name"].value_or(std::string());
      const std::string file = (*l)["file"].value_or(std::string());
      if (list.name.empty() || file.empty()) {
        return absl::InvalidArgumentError(StrCat(where("lists"), "each list needs name and file"));
      }
      auto kind = psi::ParseItemKind((*l)["kind"].value_or(std::string()));
      if (!kind.ok())
        return absl::InvalidArgumentError(StrCat(where("lists"), kind.status().message()));
      LIAISON_ASSIGN_OR_RETURN(list.list, psi::LoadWatchList(file, *kind, normalize));
      ro.lists.push_back(std::move(list));
    }
  }
  if (const toml::array* partners = t["partners"].as_array()) {
    for (const toml::node& node : *partners) {
      const toml::table* p = node.as_table();
      if (p == nullptr) return absl::InvalidArgumentError(StrCat(where("partners"), "not a table"));
      psi::PartnerPolicy policy;
      policy.partner = (*p)["group"].value_or(std::string());
      if (policy.partner.empty()) {
        return absl::InvalidArgumentError(StrCat(where("partners"), "each partner needs a group"));
      }
      if (const toml::array* names = (*p)["lists"].as_array()) {
        for (const toml::node& n : *names) policy.lists.push_back(n.value_or(std::string()));
      }
      if (const toml::array* modes = (*p)["modes"].as_array()) {
        policy.modes.clear();
        for (const toml::node& n : *modes) {
          auto m = psi::ParseMode(n.value_or(std::string()));
          if (!m.ok())
            return absl::InvalidArgumentError(StrCat(where("partners"), m.status().message()));
          policy.modes.push_back(*m);
        }
      }
      policy.min_set_size = (*p)["min_set_size"].value_or(policy.min_set_size);
      policy.max_set_size = (*p)["max_set_size"].value_or(policy.max_set_size);
      policy.max_runs = (*p)["max_runs"].value_or(policy.max_runs);
      policy.period = std::chrono::seconds(
          (*p)["period_s"].value_or(static_cast<int64_t>(policy.period.count())));
      policy.cooldown = std::chrono::seconds(
          (*p)["cooldown_s"].value_or(static_cast<int64_t>(policy.cooldown.count())));
      ro.partners.push_back(std::move(policy));
    }
  }
  auto runtime = std::make_shared<PsiRuntime>();
  // Runs go into the release log with every other exchange (issue #7), unless the section names
  // a file of its own.
  std::string run_log = t["run_log"].value_or(std::string());
  if (run_log.empty() && store != nullptr) {
    runtime->recorder = MakeReleaseLogRunRecorder(*store);
  } else {
    if (run_log.empty()) {
      std::filesystem::create_directories(data_dir);
      run_log = StrCat(data_dir, "/psi-runs.jsonl");
    }
    LIAISON_ASSIGN_OR_RETURN(runtime->recorder, psi::OpenFileRunRecorder(run_log));
  }
  LIAISON_ASSIGN_OR_RETURN(runtime->responder,
                           psi::Responder::Create(std::move(ro), *runtime->recorder));
  // Aliasing: the endpoint holds the runtime, and through it the recorder.
  options.extra_endpoints.push_back(
      psi::MakePsiEndpoint(std::shared_ptr<psi::Responder>(runtime, runtime->responder.get())));
  return absl::OkStatus();
}

void RegisterPsiCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<PsiArgs>();
  CLI::App* cmd = root.add_subcommand(
      "psi", "Private set intersection of a watch-list with a partner's server");
  cmd->add_option("--peer", args->peer, "the partner's server, https://HOST:PORT")->required();
  cmd->add_option("--list", args->list, "watch-list file, one item per line ('-' for stdin)")
      ->required();
  cmd->add_option("--kind", args->kind, "email, phone, domain, ip, hash or id")->required();
  cmd->add_option("--mode", args->mode, "mutual, one-sided (default) or cardinality");
  cmd->add_option("--remote-list", args->remote_list,
                  "the partner's list to compare with (default: its only list of this kind)");
  cmd->add_option("--user", args->user,
                  "user on the partner's server (password: $LIAISON_PASSWORD)");
  cmd->add_option("--token", args->token, "API token on the partner's server (or $LIAISON_TOKEN)");
  cmd->add_option("--ca", args->ca, "PEM CA bundle for the partner's certificate");
  cmd->add_option("--out", args->out, "write the result to this file (mode 0600), not stdout");
  cmd->add_option("--record", args->record, "append a record of the run (never the items) here");
  cmd->add_option("--region", args->region, "region for phone numbers without +, e.g. FR");
  cmd->add_option("--workers", args->workers, "connections and threads (default 2 per core)");
  cmd->add_option("--chunk", args->chunk, "items per message (default 4096)");
  cmd->callback([args, &exit_code] { exit_code = RunPsi(*args); });
}

}  // namespace liaison::app
