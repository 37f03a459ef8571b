#include "app/commands/taxii_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "policy/partner.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace liaison::app {
namespace {

// [[peer]] tables (docs/sync.md). Secrets may come from the environment (`token_env`,
// `password_env`) so that the file itself holds none.
Status ParsePeers(const std::string& path, const toml::array& peers,
                  std::vector<taxii::sync::PeerConfig>& out) {
  for (const toml::node& node : peers) {
    const toml::table* t = node.as_table();
    if (t == nullptr) return absl::InvalidArgumentError(StrCat(path, ": peer: not a table"));
    taxii::sync::PeerConfig p;
    p.name = (*t)["name"].value_or(std::string());
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(StrCat(path, ": peer \"", p.name, "\": ", why));
    };
    if (p.name.empty() || p.name.find('/') != std::string::npos)
      return bad("needs a name without '/'");
    for (const auto& other : out) {
      if (other.name == p.name) return bad("duplicate name");
    }
    p.collection_url = (*t)["url"].value_or(std::string());
    if (p.collection_url.empty()) return bad("needs url (<api-root>/collections/<id>/)");
    if (auto split = taxii::sync::SplitCollectionUrl(p.collection_url); !split.ok()) {
      return bad(ToStd(split.status().message()));
    }
    if (auto url = taxii::sync::Url::Parse(p.collection_url); !url.ok()) {
      return bad(ToStd(url.status().message()));
    }
    auto direction = taxii::sync::ParseDirection((*t)["direction"].value_or(std::string("pull")));
    if (!direction.ok()) return bad(ToStd(direction.status().message()));
    p.direction = *direction;
    p.local_collection = (*t)["local_collection"].value_or(std::string());
    if (p.local_collection.empty()) return bad("needs local_collection (a local collection id)");
    auto& c = p.client;
    c.token = (*t)["token"].value_or(std::string());
    if (auto env = (*t)["token_env"].value<std::string>()) {
      const char* v = std::getenv(env->c_str());
      if (v == nullptr) return bad(StrCat("environment variable ", *env, " is not set"));
      c.token = v;
    }
    c.username = (*t)["username"].value_or(std::string());
    c.password = (*t)["password"].value_or(std::string());
    if (auto env = (*t)["password_env"].value<std::string>()) {
      const char* v = std::getenv(env->c_str());
      if (v == nullptr) return bad(StrCat("environment variable ", *env, " is not set"));
      c.password = v;
    }
    if (!c.token.empty() && !c.username.empty()) return bad("give either a token or a username");
    c.client_cert_file = (*t)["client_cert"].value_or(std::string());
    c.client_key_file = (*t)["client_key"].value_or(std::string());
    if (c.client_cert_file.empty() != c.client_key_file.empty()) {
      return bad("client_cert and client_key go together");
    }
    c.ca_file = (*t)["ca_file"].value_or(std::string());
    c.max_attempts = (*t)["max_attempts"].value_or(c.max_attempts);
    c.request_timeout =
        std::chrono::milliseconds((*t)["timeout_ms"].value_or(int64_t{c.request_timeout.count()}));
    const int64_t interval = (*t)["interval_seconds"].value_or(int64_t{300});
    if (interval < 1) return bad("interval_seconds must be at least 1");
    p.interval = std::chrono::seconds(interval);
    const int64_t page = (*t)["page_size"].value_or(int64_t{1000});
    const int64_t batch = (*t)["batch_size"].value_or(int64_t{500});
    if (page < 1 || batch < 1 || batch > 100'000) return bad("page_size/batch_size out of range");
    p.page_size = static_cast<size_t>(page);
    p.batch_size = static_cast<size_t>(batch);
    if (auto overlap = (*t)["overlap_seconds"].value<int64_t>()) {
      if (*overlap < 0) return bad("overlap_seconds must not be negative");
      p.overlap = std::chrono::seconds(*overlap);
    }
    p.propagate_deletions = (*t)["propagate_deletions"].value_or(false);
    p.inbound_user = (*t)["inbound_user"].value_or(std::string());
    p.receipt_key = (*t)["receipt_key"].value_or(std::string());
    out.push_back(std::move(p));
  }
  return absl::OkStatus();
}

}  // namespace

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
  config.store_cache_ms = root["store_cache_ms"].value_or(config.store_cache_ms);
  if (config.store_cache_ms < 0) {
    return absl::InvalidArgumentError(StrCat(path, ": store_cache_ms: expected 0 or more"));
  }
  config.store_writers = root["store_writers"].value_or(config.store_writers);
  if (config.store_writers < 1 || config.store_writers > 64) {
    return absl::InvalidArgumentError(StrCat(path, ": store_writers: expected 1 to 64"));
  }
  config.store_text_cache_mb = root["store_text_cache_mb"].value_or(config.store_text_cache_mb);
  if (config.store_text_cache_mb < 0 || config.store_text_cache_mb > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(
        StrCat(path, ": store_text_cache_mb: expected 0 to 1048576 (MiB)"));
  }
  config.max_page_size = root["max_page_size"].value_or(config.max_page_size);
  config.status_ttl_hours = root["status_ttl_hours"].value_or(config.status_ttl_hours);
  config.log_format = root["log_format"].value_or(config.log_format);
  if (config.log_format != "text" && config.log_format != "json") {
    return absl::InvalidArgumentError(StrCat(path, ": log_format: expected \"text\" or \"json\""));
  }
  config.seed_file = root["seed"].value_or(config.seed_file);
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
  s.write_threads = root["write_threads"].value_or(s.write_threads);
  s.insecure = root["insecure"].value_or(s.insecure);
  s.title = root["title"].value_or(s.title);
  s.description = root["description"].value_or(s.description);
  s.contact = root["contact"].value_or(s.contact);
  s.tls_cert_file = root["tls"]["cert"].value_or(s.tls_cert_file);
  s.tls_key_file = root["tls"]["key"].value_or(s.tls_key_file);
  // mTLS (docs/sync.md): clients must present a certificate that chains to this CA bundle.
  s.tls_client_ca_file = root["tls"]["client_ca"].value_or(s.tls_client_ca_file);
  if (!s.tls_client_ca_file.empty() && (s.tls_cert_file.empty() || s.tls_key_file.empty())) {
    return absl::InvalidArgumentError(
        StrCat(path, ": tls.client_ca needs tls.cert and tls.key (mTLS is a TLS option)"));
  }
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
      r.max_content_length = (*t)["max_content_length"].value_or(r.max_content_length);
      if (r.name.empty() || r.name.find('/') != std::string::npos || r.name == "taxii2" ||
          r.name == "health") {
        return absl::InvalidArgumentError(StrCat(path, ": api_roots: bad name \"", r.name, "\""));
      }
      s.api_roots.push_back(std::move(r));
    }
  }
  // [[partner]] tables: partners and their release policies (docs/policy.md).
  LIAISON_ASSIGN_OR_RETURN(policy::PartnerSet partners, policy::LoadPartners(path));
  s.partners = std::make_shared<const policy::PartnerSet>(std::move(partners));
  if (const toml::array* peers = root["peer"].as_array()) {
    LIAISON_RETURN_IF_ERROR(ParsePeers(path, *peers, config.peers));
  }
  return config;
}

Result<std::unique_ptr<store::Store>> OpenConfiguredStore(const TaxiiConfig& config) {
  if (!config.store.empty()) {
    store::PostgresOptions options;
    options.conninfo = config.store;
    options.max_page_size = config.max_page_size;
    options.status_ttl = std::chrono::hours(std::max<int64_t>(0, config.status_ttl_hours));
    options.cache_ttl = std::chrono::milliseconds(config.store_cache_ms);
    options.text_cache_bytes = static_cast<size_t>(config.store_text_cache_mb) << 20;
    options.object_writers = static_cast<size_t>(config.store_writers);
    return store::OpenPostgresStore(options);
  }
  store::SqliteOptions options;
  options.path = std::filesystem::path(config.data_dir) / "liaison.db";
  options.max_page_size = config.max_page_size;
  // One reader connection per serving thread stays open: with fewer, the reads beyond them
  // opened and closed a connection each time (strace of 8 threads over 4 idle readers: 361 file
  // opens in 4 s of GETs; docs/store.md).
  options.idle_readers = std::max(options.idle_readers, config.server.threads);
  options.status_ttl = std::chrono::hours(std::max<int64_t>(0, config.status_ttl_hours));
  return store::OpenSqliteStore(options);
}

}  // namespace liaison::app
