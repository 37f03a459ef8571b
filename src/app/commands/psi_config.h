#pragma once

// The [psi] section of `liaison serve`'s configuration (docs/psi.md): watch-lists, partner
// policies and the run log. commands/psi.cc.

#include <string>

#include "core/result.h"
#include "store/store.h"
#include "taxii/server.h"

namespace liaison::app {

// Reads [psi] from `config_path` and, when present, loads the watch-lists and adds the PSI
// endpoint to `options`. No file or no section: PSI stays off. InvalidArgument with the key for
// a bad section or list. Runs are recorded in `store`'s release log, or in the file the
// section's run_log names (default <data_dir>/psi-runs.jsonl when `store` is null).
Status ConfigurePsi(const std::string& config_path, const std::string& data_dir,
                    taxii::ServerOptions& options, store::Store* store);

}  // namespace liaison::app
