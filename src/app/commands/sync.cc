// `liaison sync [--peer NAME]`: one pull/push round with the configured peers (docs/sync.md).
// Exit 0 when every round succeeded, 3 when one failed (peer unreachable, store error), 2 for a
// bad configuration or an unknown peer.

#include "taxii/sync/sync.h"

#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/exchange_log.h"
#include "app/commands/taxii_config.h"
#include "core/absl_compat.h"
#include "core/strings.h"
#include "taxii/sync/receipt.h"

namespace liaison::app {
namespace {

struct SyncArgs {
  std::string config;
  std::string data_dir;
  std::string peer;
};

int RunSync(const SyncArgs& args) {
  auto config = LoadTaxiiConfig(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (!args.data_dir.empty()) config->data_dir = args.data_dir;
  std::vector<taxii::sync::PeerConfig> peers;
  for (const auto& p : config->peers) {
    if (args.peer.empty() || p.name == args.peer) peers.push_back(p);
  }
  if (peers.empty()) {
    std::fprintf(stderr, "error: %s\n",
                 args.peer.empty() ? "no [[peer]] in the configuration"
                                   : StrCat("no peer named \"", args.peer, "\"").c_str());
    return 2;
  }
  auto store = OpenConfiguredStore(*config);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", config->data_dir.c_str(),
                 std::string(store.status().message()).c_str());
    return 3;
  }
  auto signer = taxii::sync::Signer::LoadOrCreate(config->data_dir);
  if (!signer.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(signer.status().message()).c_str());
    return 3;
  }
  taxii::sync::EngineOptions options;
  options.release = MakeSyncReleaseFilter(**store, config->server.partners, config->peers);
  options.release_version = MakeSyncReleaseVersion(config->server.partners);
  options.withheld_for_ends =
      MakeSyncWithheldForEnds(**store, config->server.partners, config->peers);
  SetReceiptLogging(**store, config->server.partners, options);
  options.signer = signer->get();
  options.server_name = config->server.title;
  taxii::sync::Engine engine(**store, options);
  int rc = 0;
  for (const auto& peer : peers) {
    auto stats = engine.RunRound(peer);
    if (!stats.ok()) {
      std::fprintf(stderr, "error: peer %s: %s\n", peer.name.c_str(),
                   std::string(stats.status().message()).c_str());
      rc = 3;
      continue;
    }
    std::printf(
        "%s: pulled %zu new (%zu duplicates, %zu invalid, %zu pages), deleted %zu; pushed %zu, "
        "withheld %zu, not returned %zu, failed %zu; receipts %zu (%zu bad)\n",
        peer.name.c_str(), stats->pulled_added, stats->pulled_duplicates, stats->pulled_invalid,
        stats->pulled_pages, stats->deleted, stats->pushed, stats->push_withheld,
        stats->push_not_returned, stats->push_failed, stats->receipts, stats->bad_receipts);
  }
  return rc;
}

}  // namespace

void RegisterSyncCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<SyncArgs>();
  CLI::App* cmd = root.add_subcommand("sync", "Run one pull/push round with the configured peers");
  cmd->add_option("--config", args->config, "TOML configuration file with [[peer]] entries");
  cmd->add_option("--data", args->data_dir, "data directory (default ./liaison-data)");
  cmd->add_option("--peer", args->peer, "only this peer");
  cmd->callback([args, &exit_code] { exit_code = RunSync(*args); });
}

}  // namespace liaison::app
