// `liaison psi`: private set intersection with a partner's server (issue #7, docs/psi.md), and
// the [psi] section of `liaison serve`'s configuration that turns on the responder.
//
//   liaison psi --peer https://partner:6543 --list watch.txt --kind email [--mode one-sided]
//   liaison psi --config liaison.toml --peer partner-x --list watch-email
//
// Prints the items in common (or only their number) and a summary on stderr. Exit 0 success,
// 1 the watch-list is bad, 2 usage, 3 the run failed (peer unreachable or refused).

#include "psi/psi.h"

#include <toml++/toml.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/exchange_log.h"
#include "app/commands/psi_config.h"
#include "app/commands/psi_lists.h"
#include "app/commands/taxii_config.h"
#include "core/private_file.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "psi/http/http.h"
#include "psi/normalize.h"
#include "psi/run_log.h"
#include "store/filter.h"
#include "store/store.h"

namespace liaison::app {
namespace {

struct PsiArgs {
  std::string config;
  std::string peer;
  std::string list;
  std::string collection;
  std::string property;
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

Result<toml::table> ParseToml(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {  // toml++ reports by throwing; stop it here
    return absl::InvalidArgumentError(
        StrCat(path, ":", e.source().begin.line, ": ", std::string(e.description())));
  }
}

// Where a watch-list comes from: a file of one item a line, or the indicators of a collection.
struct ListSource {
  std::string name;
  std::optional<psi::ItemKind> kind;
  std::string file;
  std::string collection;
  std::string property;  // for a collection: "<object-type>:<property>"
};

// One [[psi.lists]] table: name, kind, and file or collection (+ property).
Result<ListSource> ParseListTable(const toml::table& l, std::string_view where) {
  ListSource source;
  source.name = l["name"].value_or(std::string());
  source.file = l["file"].value_or(std::string());
  source.collection = l["collection"].value_or(std::string());
  source.property = l["property"].value_or(std::string());
  if (source.name.empty() || source.file.empty() == source.collection.empty()) {
    return absl::InvalidArgumentError(
        StrCat(where, "each list needs a name and either file or collection"));
  }
  auto kind = psi::ParseItemKind(l["kind"].value_or(std::string()));
  if (!kind.ok()) return absl::InvalidArgumentError(StrCat(where, kind.status().message()));
  source.kind = *kind;
  return source;
}

// Loads a list; a collection needs `store`. The list's origin goes to stderr for a collection
// (how many indicators gave how many items), since nothing else shows it.
Result<psi::WatchList> LoadList(const ListSource& source, psi::ItemKind kind,
                                const psi::NormalizeOptions& normalize, store::Store* store) {
  if (source.collection.empty()) return psi::LoadWatchList(source.file, kind, normalize);
  if (store == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("list ", source.name, ": a collection needs the store (give --config)"));
  }
  IndicatorListOptions options;
  options.property = source.property;
  options.normalize = normalize;
  IndicatorListStats stats;
  auto list = WatchListFromIndicators(*store, source.collection, kind, options, &stats);
  if (!list.ok()) {
    return Status(list.status().code(),
                  StrCat("list ", source.name.empty() ? source.collection : source.name, ": ",
                         list.status().message()));
  }
  std::fprintf(stderr,
               "list %s: %zu %s items from %zu indicators of collection %s (%zu not active, "
               "%zu unparsable patterns, %zu values not of this kind)\n",
               source.name.empty() ? source.collection.c_str() : source.name.c_str(),
               list->items.size(), std::string(psi::ItemKindName(kind)).c_str(), stats.indicators,
               source.collection.c_str(), stats.inactive, stats.unusable, stats.invalid);
  return list;
}

// The requester's side of the configuration: the [[psi.lists]] entry named `name`, or nullopt.
Result<std::optional<ListSource>> FindConfiguredList(const toml::table& root,
                                                     const std::string& config_path,
                                                     const std::string& name) {
  const toml::array* lists = root["psi"]["lists"].as_array();
  if (lists == nullptr) return std::optional<ListSource>();
  for (const toml::node& node : *lists) {
    const toml::table* l = node.as_table();
    if (l == nullptr || (*l)["name"].value_or(std::string()) != name) continue;
    LIAISON_ASSIGN_OR_RETURN(ListSource source,
                             ParseListTable(*l, StrCat(config_path, ": psi.lists: ")));
    return std::optional<ListSource>(std::move(source));
  }
  return std::optional<ListSource>();
}

// A [[peer]] of the configuration as the PSI client's peer: the origin of its collection URL
// (the PSI endpoint sits at the server's root), its credentials and TLS settings.
Result<psi::HttpPeer> PeerFromConfig(const TaxiiConfig& config, const std::string& config_path,
                                     const std::string& name) {
  for (const taxii::sync::PeerConfig& p : config.peers) {
    if (p.name != name) continue;
    LIAISON_ASSIGN_OR_RETURN(taxii::sync::Url url, taxii::sync::Url::Parse(p.collection_url));
    psi::HttpPeer peer;
    peer.url = url.Origin();
    peer.token = p.client.token;
    peer.user = p.client.username;
    peer.password = p.client.password;
    peer.ca_file = p.client.ca_file;
    peer.client_cert_file = p.client.client_cert_file;
    peer.client_key_file = p.client.client_key_file;
    return peer;
  }
  return absl::NotFoundError(StrCat("no [[peer]] named \"", name, "\" in ", config_path));
}

int Fail(const Status& st, int code) {
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return code;
}

int RunPsi(const PsiArgs& args) {
  auto mode = psi::ParseMode(args.mode);
  if (!mode.ok()) return Fail(mode.status(), 2);
  if (args.list.empty() == args.collection.empty()) {
    return Fail(absl::InvalidArgumentError("give --list or --collection (one of them)"), 2);
  }
  const bool peer_is_url = args.peer.find("://") != std::string::npos;
  if ((!peer_is_url || !args.collection.empty()) && args.config.empty()) {
    return Fail(absl::InvalidArgumentError(
                    "a peer name or --collection needs --config (the [[peer]] entries and the "
                    "store); or give the peer as https://HOST:PORT and a list file"),
                2);
  }

  // The configuration: [[peer]], [[psi.lists]], the store (for collections and the run record).
  TaxiiConfig config;
  toml::table root;
  std::unique_ptr<store::Store> store;
  if (!args.config.empty()) {
    auto loaded = LoadTaxiiConfig(args.config);
    if (!loaded.ok()) return Fail(loaded.status(), 2);
    config = std::move(*loaded);
    auto parsed = ParseToml(args.config);
    if (!parsed.ok()) return Fail(parsed.status(), 2);
    root = std::move(*parsed);
    auto opened = OpenConfiguredStore(config);
    if (!opened.ok()) return Fail(opened.status(), 3);
    store = std::move(*opened);
  }

  ListSource source;
  if (!args.collection.empty()) {
    source.collection = args.collection;
    source.property = args.property;
  } else {
    std::optional<ListSource> configured;
    if (!args.config.empty()) {
      auto found = FindConfiguredList(root, args.config, args.list);
      if (!found.ok()) return Fail(found.status(), 2);
      configured = std::move(*found);
    }
    if (configured) {
      source = std::move(*configured);
    } else {
      source.name = args.list;
      source.file = args.list;
    }
  }
  if (!args.kind.empty()) {
    auto kind = psi::ParseItemKind(args.kind);
    if (!kind.ok()) return Fail(kind.status(), 2);
    if (source.kind && *source.kind != *kind) {
      return Fail(absl::InvalidArgumentError(StrCat("list ", source.name, " holds ",
                                                    psi::ItemKindName(*source.kind), " items, not ",
                                                    args.kind)),
                  2);
    }
    source.kind = *kind;
  }
  if (!source.kind) {
    return Fail(absl::InvalidArgumentError(
                    "give --kind (email, phone, domain, ip, hash or id) for this list"),
                2);
  }
  const psi::ItemKind kind = *source.kind;
  psi::NormalizeOptions normalize;
  normalize.default_region =
      args.region.empty() ? root["psi"]["phone_region"].value_or(std::string()) : args.region;
  auto list = LoadList(source, kind, normalize, store.get());
  if (!list.ok()) {
    const auto code = list.status().code();
    return Fail(list.status(), code == absl::StatusCode::kInvalidArgument ||
                                       code == absl::StatusCode::kNotFound ||
                                       code == absl::StatusCode::kResourceExhausted
                                   ? 1
                                   : 3);
  }

  psi::HttpPeer peer;
  if (peer_is_url) {
    peer.url = args.peer;
  } else {
    auto configured = PeerFromConfig(config, args.config, args.peer);
    if (!configured.ok()) return Fail(configured.status(), 2);
    peer = std::move(*configured);
  }
  // The command line overrides the configured credentials.
  if (!args.user.empty()) {
    peer.user = args.user;
    peer.token.clear();
  }
  if (!args.token.empty()) peer.token = args.token;
  if (peer.token.empty() && peer.user.empty()) {
    if (const char* t = std::getenv("LIAISON_TOKEN")) peer.token = t;
  }
  if (const char* p = std::getenv("LIAISON_PASSWORD"); p != nullptr && !args.user.empty()) {
    peer.password = p;
  }
  if (peer.token.empty() && peer.user.empty()) {
    return Fail(absl::InvalidArgumentError(
                    "give --user (password in $LIAISON_PASSWORD) or --token, or a configured "
                    "peer with credentials"),
                2);
  }
  if (!args.ca.empty()) peer.ca_file = args.ca;
  auto factory = psi::MakeHttpTransportFactory(peer);
  if (!factory.ok()) return Fail(factory.status(), 2);

  // Every run is recorded (never the items): in the release log of the configured store, or in
  // the --record file.
  std::unique_ptr<psi::RunRecorder> recorder;
  if (!args.record.empty()) {
    auto opened = psi::OpenFileRunRecorder(args.record);
    if (!opened.ok()) return Fail(opened.status(), 3);
    recorder = std::move(*opened);
  } else if (store != nullptr) {
    recorder = MakeReleaseLogRunRecorder(*store);
  }

  psi::RequestOptions options;
  options.mode = *mode;
  options.remote_list = args.remote_list;
  options.workers = args.workers;
  options.chunk_items = args.chunk;
  const auto started = std::chrono::system_clock::now();
  auto result = psi::RunRequester(*list, options, *factory);

  if (recorder != nullptr) {
    psi::RunRecord r;
    r.started = started;
    r.ended = std::chrono::system_clock::now();
    r.role = "requester";
    r.user = peer.token.empty() ? peer.user : "(token)";
    r.partner = args.peer;
    r.mode = args.mode;
    r.kind = std::string(psi::ItemKindName(kind));
    r.list = source.name.empty() ? StrCat("collection:", source.collection) : source.name;
    r.requester_set_size = list->items.size();
    if (result.ok()) {
      r.session_id = result->session_id;
      r.responder_set_size = result->responder_set_size;
      r.result_size = result->cardinality;
      r.outcome = "completed";
    } else {
      r.outcome = StrCat("aborted: ", result.status().message());
    }
    if (Status st = recorder->Record(r); !st.ok()) return Fail(st, 3);
  }
  if (!result.ok()) return Fail(result.status(), 3);
  std::string text;
  if (*mode == psi::Mode::kCardinality) {
    text = StrCat(result->cardinality, "\n");
  } else {
    for (const std::string& item : result->intersection) StrAppend(&text, item, "\n");
  }
  if (!args.out.empty()) {
    if (Status st = WritePrivateFile(args.out, text); !st.ok()) return Fail(st, 3);
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

// A partner's PSI runs counted in the store (Store::AdmitUse), so that every node on one database
// enforces the partner's one limit, and a restart forgets no run.
std::function<Result<psi::SharedRuns>(const psi::PartnerPolicy&,
                                      std::chrono::system_clock::time_point)>
SharedRunsInStore(store::Store& store) {
  return [&store](const psi::PartnerPolicy& policy,
                  std::chrono::system_clock::time_point now) -> Result<psi::SharedRuns> {
    psi::SharedRuns runs;
    if (policy.period.count() <= 0) {  // no period: nothing is counted (as in the responder)
      runs.admitted = true;
      return runs;
    }
    using std::chrono::microseconds;
    auto to_timestamp = [](std::chrono::system_clock::time_point t) {
      return store::FromUnixMicros(
          std::chrono::duration_cast<microseconds>(t.time_since_epoch()).count());
    };
    auto to_time_point = [](Timestamp t) {
      return std::chrono::system_clock::time_point(microseconds(store::ToUnixMicros(t)));
    };
    LIAISON_ASSIGN_OR_RETURN(
        store::Store::UseCount used,
        store.AdmitUse(StrCat("psi-runs:", policy.partner), to_timestamp(now), policy.period,
                       static_cast<int64_t>(policy.max_runs), policy.cooldown));
    runs.admitted = used.admitted;
    runs.runs = static_cast<size_t>(used.uses);
    if (used.oldest) runs.oldest = to_time_point(*used.oldest);
    if (used.latest) runs.latest = to_time_point(*used.latest);
    return runs;
  };
}

}  // namespace

Status ConfigurePsi(const std::string& config_path, const std::string& data_dir,
                    taxii::ServerOptions& options, store::Store* store) {
  if (config_path.empty()) return absl::OkStatus();
  LIAISON_ASSIGN_OR_RETURN(toml::table root, ParseToml(config_path));
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
      LIAISON_ASSIGN_OR_RETURN(ListSource source, ParseListTable(*l, where("lists")));
      psi::ResponderList list;
      list.name = source.name;
      // A collection's list is read once, at start: a snapshot of its active indicators.
      LIAISON_ASSIGN_OR_RETURN(list.list, LoadList(source, *source.kind, normalize, store));
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
  if (store != nullptr) ro.shared_runs = SharedRunsInStore(*store);
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
  cmd->add_option("--config", args->config,
                  "liaison.toml: its [[peer]] entries, [[psi.lists]] and store (the run is "
                  "recorded in its release log)");
  cmd->add_option("--peer", args->peer,
                  "the partner: a [[peer]] name from --config, or https://HOST:PORT")
      ->required();
  cmd->add_option("--list", args->list,
                  "a [[psi.lists]] name from --config, or a file with one item per line ('-' for "
                  "stdin)");
  cmd->add_option("--collection", args->collection,
                  "instead of --list: the values named by the active indicators of this local "
                  "collection");
  cmd->add_option("--property", args->property,
                  "with --collection: the indicators' property to take, e.g. "
                  "user-account:user_id (default: the kind's STIX property)");
  cmd->add_option("--kind", args->kind,
                  "email, phone, domain, ip, hash or id (a configured list has its own)");
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
