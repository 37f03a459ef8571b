// The `liaison` command: the composition root. Subcommands live in commands/*.cc.

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "app/commands/commands.h"

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on: a
  // lock-order graph updated under one global lock at every acquisition (48 ns per uncontended
  // lock and unlock against 13 ns without, measured on this machine). The tests keep it on to
  // catch lock-order inversions; the program does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"liaison: a threat-intelligence exchange for partners that do not trust each other"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "liaison 0.1.0");
  int exit_code = 0;
  liaison::app::RegisterValidateCommand(app, exit_code);
  liaison::app::RegisterUpgradeCommand(app, exit_code);
  liaison::app::RegisterPatternCommand(app, exit_code);
  liaison::app::RegisterServeCommand(app, exit_code);
  liaison::app::RegisterAdminCommands(app, exit_code);
  liaison::app::RegisterImportCommand(app, exit_code);
  liaison::app::RegisterPartnerCommands(app, exit_code);
  liaison::app::RegisterAuditCommands(app, exit_code);
  liaison::app::RegisterSyncCommand(app, exit_code);
  liaison::app::RegisterMatchCommand(app, exit_code);
  liaison::app::RegisterPsiCommand(app, exit_code);
  liaison::app::RegisterExportCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help and --version exit 0; every usage error is 2
  }
  return exit_code;
}
