#include "CLI/CLI.hpp"
#include "app/commands/commands.h"

namespace liaison::app {
void RegisterPatternCommand(CLI::App&, int&) {}
}  // namespace liaison::app
