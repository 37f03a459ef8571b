#include "CLI/CLI.hpp"
#include "app/commands/commands.h"

namespace liaison::app {
void RegisterUpgradeCommand(CLI::App&, int&) {}
}  // namespace liaison::app
