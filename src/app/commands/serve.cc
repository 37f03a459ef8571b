// `liaison serve [--config liaison.toml]`: the TAXII 2.1 server on the configured store. On the
// first start it creates a default collection and an `admin` user whose password comes from
// $LIAISON_ADMIN_PASSWORD or is generated and printed once.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/psi_config.h"
#include "app/commands/taxii_config.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/uuid.h"
#include "taxii/auth.h"
#include "taxii/server.h"

namespace liaison::app {
namespace {

struct ServeArgs {
  std::string config;
  std::string data_dir;
  std::string listen;
  bool insecure = false;
};

// First start: an empty store gets a default collection under the first API root and an admin.
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

int RunServe(const ServeArgs& args) {
  auto config = LoadTaxiiConfig(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (!args.data_dir.empty()) config->data_dir = args.data_dir;
  if (args.insecure) config->server.insecure = true;
  if (!args.listen.empty()) {
    size_t colon = args.listen.rfind(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "error: --listen: expected ADDRESS:PORT\n");
      return 2;
    }
    config->server.address = args.listen.substr(0, colon);
    config->server.port = static_cast<uint16_t>(std::atoi(args.listen.c_str() + colon + 1));
  }
  if (Status st = ConfigurePsi(args.config, config->data_dir, config->server); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());  // issue #7: [psi]
    return 2;
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
  std::fprintf(stderr, "liaison serving TAXII 2.1 on %s://%s:%u/taxii2/ (data in %s)\n",
               tls ? "https" : "http", config->server.address.c_str(), (*server)->port(),
               config->data_dir.c_str());
  int received = 0;
  sigwait(&signals, &received);
  std::fprintf(stderr, "received %s, shutting down\n", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  return 0;
}

}  // namespace

void RegisterServeCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = root.add_subcommand("serve", "Run the TAXII 2.1 server");
  cmd->add_option("--config", args->config, "TOML configuration file");
  cmd->add_option("--data", args->data_dir, "data directory (default ./liaison-data)");
  cmd->add_option("--listen", args->listen, "ADDRESS:PORT (default 127.0.0.1:6543)");
  cmd->add_flag("--insecure", args->insecure,
                "allow plain HTTP on a non-loopback address (no TLS)");
  cmd->callback([args, &exit_code] { exit_code = RunServe(*args); });
}

}  // namespace liaison::app
