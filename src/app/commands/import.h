#pragma once

// `liaison import FILE... --collection ID`: loads STIX content into a collection of the store,
// the way a TAXII POST would (each object validated on its own; the invalid ones reported with
// the reason, the valid ones stored), but without HTTP and in large transactions. `liaison
// serve` uses the same code to load the example data on first start.

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace liaison::app {

struct ImportOptions {
  // Objects per store transaction (one fsync each). Larger batches ingest faster; memory grows
  // with the batch (two batches are in flight: one validated, one committing).
  size_t batch_size = 5000;
  // Upgrade STIX 2.0 objects (stix/upgrade.h) before validating them; else they are invalid.
  bool upgrade = true;
  // Redraw a one-line progress report on `log` (meant for a terminal) a few times a second.
  bool progress = false;
  // Where invalid objects and unreadable files are reported, one line each ("" prefix-free);
  // nullptr for silence.
  std::FILE* log = stderr;
  // At most this many invalid objects are reported one by one; all are counted.
  size_t max_reported = 1000;
};

struct ImportSummary {
  size_t files = 0;       // files read
  size_t bad_files = 0;   // files that could not be read or split (malformed JSON)
  size_t objects = 0;     // objects found (after upgrade: as stored)
  size_t upgraded = 0;    // STIX 2.0 objects upgraded to 2.1
  size_t invalid = 0;     // objects rejected by validation
  size_t added = 0;       // versions stored
  size_t duplicates = 0;  // versions already in the collection
  double seconds = 0;     // wall time
};

// Finds a collection by id, else by alias, else by title (when exactly one has it).
// NotFound otherwise; InvalidArgument when a title is ambiguous.
Result<store::Collection> FindCollection(store::Store& store, std::string_view name);

// Imports `files` ("-" is stdin; gzip is recognised) into `collection` (an id). Bad files and
// invalid objects are counted and reported, not errors; a store failure is returned as the
// error (what was committed before it stays).
Result<ImportSummary> ImportFiles(store::Store& store, std::string_view collection,
                                  const std::vector<std::string>& files,
                                  const ImportOptions& options);

}  // namespace liaison::app
