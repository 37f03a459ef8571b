#pragma once

// The configuration of `liaison serve` and of the administration commands that open the same
// store (`liaison user`, `liaison token`, `liaison collection`): a small TOML file, every key
// optional. docs/taxii.md lists the keys.

#include <memory>
#include <string>

#include "core/result.h"
#include "store/store.h"
#include "taxii/server.h"
#include "taxii/sync/sync.h"

namespace liaison::app {

struct TaxiiConfig {
  std::string data_dir = "liaison-data";  // the SQLite store is <data_dir>/liaison.db
  // "" (the default): SQLite in data_dir. "postgres://..." or "postgresql://...": a shared
  // PostgreSQL database (a libpq connection URI), for several nodes behind a load balancer.
  std::string store;
  // PostgreSQL only: how long a node may answer users, tokens, collections and grants from its
  // cache (PostgresOptions::cache_ttl): a change made through another node takes effect here
  // within this bound. 0 turns the cache off (every request reads them from the database).
  int64_t store_cache_ms = 1000;
  // PostgreSQL only: MiB of stored JSON texts a node keeps (PostgresOptions::text_cache_bytes);
  // a page then asks the database only for its keys and flags. 0 turns it off.
  int64_t store_text_cache_mb = 64;
  // PostgreSQL only: groups of Adds a node commits at once, each on its own connection
  // (PostgresOptions::object_writers; docs/store.md, "Concurrent object writers").
  int64_t store_writers = 2;
  size_t max_page_size = 1000;
  // Status resources are kept this long (SqliteOptions::status_ttl); 0 keeps them forever.
  int64_t status_ttl_hours = 7 * 24;
  // Access log format: "text" (one human-readable line per request) or "json" (one JSON object
  // a line, for log shippers).
  std::string log_format = "text";
  // Imported into the default collection when `liaison serve` creates it (first start).
  std::string seed_file;
  taxii::ServerOptions server;
  std::vector<taxii::sync::PeerConfig> peers;  // [[peer]] entries (docs/sync.md)
};

// Reads `path` ("" gives the defaults). InvalidArgument with the file position on a bad file.
Result<TaxiiConfig> LoadTaxiiConfig(const std::string& path);

// Opens (creating when missing) the store the configuration names.
Result<std::unique_ptr<store::Store>> OpenConfiguredStore(const TaxiiConfig& config);

}  // namespace liaison::app
