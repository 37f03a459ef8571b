#include "app/commands/taxii_config.h"

#include <toml++/toml.h>

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace liaison::app {

Result<TaxiiConfig> LoadTaxiiConfig(const std::string& path) {
  TaxiiConfig config;
  if (path.empty()) return config;
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {  // toml++ reports by throwing; stop it here
    return absl::InvalidArgumentError(StrCat(path, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ",
                                             std::string(e.description())));
  }
  taxii::ServerOptions& s = config.server;
  config.data_dir = root["data_dir"].value_or(config.data_dir);
  config.store = root["store"].value_or(config.store);
  if (!config.store.empty() && !config.store.starts_with("postgres://") &&
      !config.store.starts_with("postgresql://")) {
    return absl::InvalidArgumentError(
        StrCat(path, ": store: expected \"postgres://...\" (or leave it out for SQLite)"));
  }
  config.max_page_size = root["max_page_size"].value_or(config.max_page_size);
  std::string listen = root["listen"].value_or(std::string());
  if (!listen.empty()) {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(StrCat(path, ": listen: expected ADDRESS:PORT"));
    }
    s.address = listen.substr(0, colon);
    if (s.address.size() > 2 && s.address.front() == '[') {
      s.address = s.address.substr(1, s.address.size() - 2);  // [::1]:6543
    }
    try {
      s.port = static_cast<uint16_t>(std::stoul(listen.substr(colon + 1)));
    } catch (const std::exception&) {
      return absl::InvalidArgumentError(StrCat(path, ": listen: bad port"));
    }
  }
  s.threads = root["threads"].value_or(s.threads);
  s.insecure = root["insecure"].value_or(s.insecure);
  s.title = root["title"].value_or(s.title);
  s.description = root["description"].value_or(s.description);
  s.contact = root["contact"].value_or(s.contact);
  s.tls_cert_file = root["tls"]["cert"].value_or(s.tls_cert_file);
  s.tls_key_file = root["tls"]["key"].value_or(s.tls_key_file);
  if (const toml::table* limits = root["limits"].as_table()) {
    const toml::table& l = *limits;
    s.max_content_length = l["max_content_length"].value_or(s.max_content_length);
    s.max_header_bytes = l["max_header_bytes"].value_or(s.max_header_bytes);
    s.max_connections = l["max_connections"].value_or(s.max_connections);
    s.request_timeout = std::chrono::milliseconds(
        l["request_timeout_ms"].value_or(static_cast<int64_t>(s.request_timeout.count())));
    s.idle_timeout = std::chrono::milliseconds(
        l["idle_timeout_ms"].value_or(static_cast<int64_t>(s.idle_timeout.count())));
  }
  if (const toml::array* roots = root["api_roots"].as_array()) {
    s.api_roots.clear();
    for (const toml::node& node : *roots) {
      const toml::table* t = node.as_table();
      if (t == nullptr) return absl::InvalidArgumentError(StrCat(path, ": api_roots: not a table"));
      taxii::ApiRootOptions r;
      r.name = (*t)["name"].value_or(std::string());
      r.title = (*t)["title"].value_or(r.name);
      r.description = (*t)["description"].value_or(std::string());
      if (r.name.empty() || r.name.find('/') != std::string::npos || r.name == "taxii2" ||
          r.name == "health") {
        return absl::InvalidArgumentError(StrCat(path, ": api_roots: bad name \"", r.name, "\""));
      }
      s.api_roots.push_back(std::move(r));
    }
  }
  return config;
}

Result<std::unique_ptr<store::Store>> OpenConfiguredStore(const TaxiiConfig& config) {
  if (!config.store.empty()) {
    store::PostgresOptions options;
    options.conninfo = config.store;
    options.max_page_size = config.max_page_size;
    return store::OpenPostgresStore(options);
  }
  store::SqliteOptions options;
  options.path = std::filesystem::path(config.data_dir) / "liaison.db";
  options.max_page_size = config.max_page_size;
  return store::OpenSqliteStore(options);
}

}  // namespace liaison::app
