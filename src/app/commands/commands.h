#pragma once

// Each subcommand registers itself on the root CLI11 app. A command's callback stores its exit
// status (DESIGN.md: 0 success, 1 bad input, 2 usage, 3 runtime failure) in `exit_code`.

namespace CLI {
class App;
}

namespace liaison::app {

void RegisterValidateCommand(CLI::App& root, int& exit_code);  // commands/validate.cc
void RegisterUpgradeCommand(CLI::App& root, int& exit_code);   // commands/upgrade.cc
void RegisterPatternCommand(CLI::App& root, int& exit_code);   // commands/pattern.cc

void RegisterServeCommand(CLI::App& root, int& exit_code);  // commands/serve.cc
// `user`, `token` and `collection`: commands/admin.cc
void RegisterAdminCommands(CLI::App& root, int& exit_code);
void RegisterImportCommand(CLI::App& root, int& exit_code);    // commands/import.cc
void RegisterPartnerCommands(CLI::App& root, int& exit_code);  // commands/partner.cc
void RegisterAuditCommands(CLI::App& root, int& exit_code);    // commands/audit.cc
void RegisterSyncCommand(CLI::App& root, int& exit_code);      // commands/sync.cc
void RegisterMatchCommand(CLI::App& root, int& exit_code);     // commands/match.cc
// `psi`: commands/psi.cc (`serve`'s [psi] section: commands/psi_config.h)
void RegisterPsiCommand(CLI::App& root, int& exit_code);
void RegisterExportCommand(CLI::App& root, int& exit_code);  // commands/export.cc
}  // namespace liaison::app
