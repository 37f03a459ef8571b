#pragma once

// The [psi] section of `liaison serve`'s configuration (docs/psi.md): watch-lists, partner
// policies and the run log. commands/psi.cc.

#include <string>

#include "core/result.h"
#include "taxii/server.h"

namespace liaison::app {

// Reads [psi] from `config_path` and, when present, loads the watch-lists and adds the PSI
// endpoint to `options`. No file or no section: PSI stays off. InvalidArgument with the key for
// a bad section or list; the run log defaults to <data_dir>/psi-runs.jsonl.
Status ConfigurePsi(const std::string& config_path, const std::string& data_dir,
                    taxii::ServerOptions& options);

}  // namespace liaison::app
