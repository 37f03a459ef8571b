// `liaison partner list|show|add|remove|dry-run`: partners and their release policies, declared
// as [[partner]] tables in the configuration file (docs/policy.md).

#include "policy/partner.h"

#include <toml++/toml.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/taxii_config.h"
#include "core/file.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "policy/partner_view.h"

namespace liaison::app {
namespace {

struct PartnerArgs {
  std::string config;
  std::string data_dir;
  std::string name;
  std::string collection;
  bool all_versions = false;
  bool quiet = false;
  // add
  std::string identity;
  std::vector<std::string> groups, users, tlp;
  std::vector<std::string> client_certs;  // "sha256:..." fingerprints
  std::string client_cert_user;
  std::string unmarked;
  std::vector<std::string> allow_types, deny_types, allow_labels, deny_labels;
  std::vector<std::string> allow_creators, deny_creators, allow_markings, deny_markings;
  int min_confidence = -1;
  bool require_confidence = false;
  bool any_ends = false;
};

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return st.code() == absl::StatusCode::kInvalidArgument ||
                 st.code() == absl::StatusCode::kNotFound ||
                 st.code() == absl::StatusCode::kAlreadyExists
             ? 1
             : 3;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) StrAppend(&out, out.empty() ? "" : ",", s);
  return out;
}

Status List(const PartnerArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(policy::PartnerSet set, policy::LoadPartners(a.config));
  for (const policy::Partner& p : set.partners()) {
    std::printf("%s identity=%s groups=%s users=%s policy=%s\n", p.name.c_str(),
                p.identity.empty() ? "-" : p.identity.c_str(), Join(p.groups).c_str(),
                Join(p.users).c_str(), p.policy_version.c_str());
  }
  return absl::OkStatus();
}

Status Show(const PartnerArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(policy::PartnerSet set, policy::LoadPartners(a.config));
  const policy::Partner* p = set.Find(a.name);
  if (p == nullptr) return absl::NotFoundError(StrCat("no partner named ", a.name));
  std::printf("name: %s\nidentity: %s\ngroups: %s\nusers: %s\npolicy_version: %s\nrules: %s\n",
              p->name.c_str(), p->identity.c_str(), Join(p->groups).c_str(), Join(p->users).c_str(),
              p->policy_version.c_str(), policy::CanonicalRules(p->rules).c_str());
  if (!p->client_certs.empty()) {
    std::vector<std::string> prints;
    for (const std::string& c : p->client_certs) prints.push_back(StrCat("sha256:", c));
    std::printf("client_cert_user: %s\nclient_certs: %s\n", p->client_cert_user.c_str(),
                Join(prints).c_str());
  }
  return absl::OkStatus();
}

void AppendList(std::string& out, std::string_view key, const std::vector<std::string>& values) {
  if (values.empty()) return;
  StrAppend(&out, key, " = [");
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    json::AppendQuoted(values[i], out);  // a JSON string is a valid TOML basic string
  }
  out += "]\n";
}

Status Add(const PartnerArgs& a) {
  if (a.config.empty()) return absl::InvalidArgumentError("partner add needs --config FILE");
  std::string existing;
  if (auto text = ReadInput(a.config); text.ok()) existing = std::string(text->view());
  std::string block = "\n[[partner]]\nname = ";
  json::AppendQuoted(a.name, block);
  block += "\n";
  if (!a.identity.empty()) {
    block += "identity = ";
    json::AppendQuoted(a.identity, block);
    block += "\n";
  }
  AppendList(block, "groups", a.groups);
  AppendList(block, "users", a.users);
  AppendList(block, "client_certs", a.client_certs);
  if (!a.client_cert_user.empty()) {
    block += "client_cert_user = ";
    json::AppendQuoted(a.client_cert_user, block);
    block += "\n";
  }
  AppendList(block, "tlp", a.tlp);
  if (!a.unmarked.empty()) {
    block += "unmarked = ";
    json::AppendQuoted(a.unmarked, block);
    block += "\n";
  }
  AppendList(block, "allow_types", a.allow_types);
  AppendList(block, "deny_types", a.deny_types);
  AppendList(block, "allow_labels", a.allow_labels);
  AppendList(block, "deny_labels", a.deny_labels);
  AppendList(block, "allow_creators", a.allow_creators);
  AppendList(block, "deny_creators", a.deny_creators);
  AppendList(block, "allow_markings", a.allow_markings);
  AppendList(block, "deny_markings", a.deny_markings);
  if (a.min_confidence >= 0) StrAppend(&block, "min_confidence = ", a.min_confidence, "\n");
  if (a.require_confidence) block += "require_confidence = true\n";
  if (a.any_ends) block += "require_visible_ends = false\n";
  // Check the whole file as it would be before touching it.
  LIAISON_ASSIGN_OR_RETURN(policy::PartnerSet set,
                           policy::ParsePartners(existing + block, a.config));
  std::ofstream out(a.config, std::ios::app);
  out << block;
  out.close();
  if (!out) return absl::UnavailableError(StrCat(a.config, ": cannot write"));
  std::printf("%s %s\n", a.name.c_str(), set.Find(a.name)->policy_version.c_str());
  return absl::OkStatus();
}

Status Remove(const PartnerArgs& a) {
  if (a.config.empty()) return absl::InvalidArgumentError("partner remove needs --config FILE");
  toml::table root;
  try {
    root = toml::parse_file(a.config);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(StrCat(a.config, ": ", std::string(e.description())));
  }
  toml::array* list = root["partner"].as_array();
  bool found = false;
  if (list != nullptr) {
    for (auto it = list->begin(); it != list->end(); ++it) {
      const toml::table* t = it->as_table();
      if (t != nullptr && (*t)["name"].value_or(std::string()) == a.name) {
        list->erase(it);
        found = true;
        break;
      }
    }
  }
  if (!found) return absl::NotFoundError(StrCat("no partner named ", a.name));
  std::ostringstream text;
  text << root << "\n";
  std::ofstream out(a.config, std::ios::trunc);
  out << text.str();
  out.close();
  if (!out) return absl::UnavailableError(StrCat(a.config, ": cannot write"));
  return absl::OkStatus();
}

// What the partner would get from the collection now, page by page as a TAXII client would
// fetch it, and why each withheld version is withheld. Nothing is logged: nothing leaves.
Result<int> DryRun(const PartnerArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(a.config));
  if (!a.data_dir.empty()) config.data_dir = a.data_dir;
  const policy::Partner* p =
      config.server.partners ? config.server.partners->Find(a.name) : nullptr;
  if (p == nullptr) return absl::NotFoundError(StrCat("no partner named ", a.name));
  LIAISON_ASSIGN_OR_RETURN(auto store, OpenConfiguredStore(config));
  LIAISON_RETURN_IF_ERROR(store->GetCollection(a.collection).status());
  policy::PartnerView view(*store, a.collection, *p);
  store::Filter filter;
  if (a.all_versions) filter.versions = {store::VersionMatch::All()};
  size_t released = 0, sanitised = 0, withheld_count = 0;
  for (;;) {
    policy::ReleaseDetails details;
    std::vector<policy::WithheldVersion> withheld;
    LIAISON_ASSIGN_OR_RETURN(
        store::Page page, view.Query(policy::Endpoint::kObjects, "", filter, &details, &withheld));
    for (const policy::WithheldVersion& w : withheld) {
      ++withheld_count;
      std::printf("withhold %s %s: %s\n", w.id.c_str(), w.version.c_str(), w.reason.c_str());
    }
    for (const policy::ReleasedVersion& v : details.versions) {
      ++released;
      if (!v.removed.empty()) ++sanitised;
      if (a.quiet) continue;
      if (v.removed.empty()) {
        std::printf("release  %s %s\n", v.id.c_str(), v.version.c_str());
      } else {
        std::printf("release  %s %s sanitised: removed %s\n", v.id.c_str(), v.version.c_str(),
                    Join(v.removed).c_str());
      }
    }
    if (!page.more) break;
    filter.next = page.next;
  }
  std::printf("partner %s, policy %s: %zu released (%zu sanitised), %zu withheld\n",
              p->name.c_str(), p->policy_version.c_str(), released, sanitised, withheld_count);
  return 0;
}

}  // namespace

void RegisterPartnerCommands(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<PartnerArgs>();
  CLI::App* partner = root.add_subcommand("partner", "Partners and their release policies");
  partner->require_subcommand(1);

  CLI::App* list = partner->add_subcommand("list", "List the configured partners");
  list->add_option("--config", a->config, "TOML configuration file");
  list->callback([a, &exit_code] { exit_code = Report(List(*a)); });

  CLI::App* show = partner->add_subcommand("show", "Show a partner's rules and policy version");
  show->add_option("name", a->name, "partner name")->required();
  show->add_option("--config", a->config, "TOML configuration file");
  show->callback([a, &exit_code] { exit_code = Report(Show(*a)); });

  CLI::App* add = partner->add_subcommand("add", "Append a [[partner]] table to the config file");
  add->add_option("name", a->name, "partner name")->required();
  add->add_option("--config", a->config, "TOML configuration file")->required();
  add->add_option("--identity", a->identity, "the partner's STIX identity id");
  add->add_option("--group", a->groups, "a user group acting for the partner");
  add->add_option("--user", a->users, "a user acting for the partner");
  add->add_option("--client-cert", a->client_certs,
                  "SHA-256 fingerprint (sha256:...) of a partner server's mTLS certificate");
  add->add_option("--client-cert-user", a->client_cert_user,
                  "the --user a request over such a certificate acts as");
  add->add_option("--tlp", a->tlp, "TLP levels released: clear, green, amber");
  add->add_option("--unmarked", a->unmarked, "level assumed for objects without TLP, or withhold");
  add->add_option("--allow-type", a->allow_types, "STIX type released");
  add->add_option("--deny-type", a->deny_types, "STIX type withheld");
  add->add_option("--allow-label", a->allow_labels, "label released");
  add->add_option("--deny-label", a->deny_labels, "label withheld");
  add->add_option("--allow-creator", a->allow_creators, "identity id released");
  add->add_option("--deny-creator", a->deny_creators, "identity id withheld");
  add->add_option("--allow-marking", a->allow_markings, "marking-definition id released");
  add->add_option("--deny-marking", a->deny_markings, "marking-definition id withheld");
  add->add_option("--min-confidence", a->min_confidence, "lowest confidence released (0-100)");
  add->add_flag("--require-confidence", a->require_confidence, "withhold objects without one");
  add->add_flag("--any-ends", a->any_ends,
                "release relationships and sightings without checking their ends");
  add->callback([a, &exit_code] { exit_code = Report(Add(*a)); });

  CLI::App* remove = partner->add_subcommand(
      "remove", "Remove a partner from the config file (rewrites it; comments are lost)");
  remove->add_option("name", a->name, "partner name")->required();
  remove->add_option("--config", a->config, "TOML configuration file")->required();
  remove->callback([a, &exit_code] { exit_code = Report(Remove(*a)); });

  CLI::App* dry = partner->add_subcommand(
      "dry-run", "Show what a partner would receive from a collection, and why the rest not");
  dry->add_option("--partner", a->name, "partner name")->required();
  dry->add_option("--collection", a->collection, "collection id")->required();
  dry->add_option("--config", a->config, "TOML configuration file");
  dry->add_option("--data", a->data_dir, "data directory (default ./liaison-data)");
  dry->add_flag("--all-versions", a->all_versions, "every version, not only the latest");
  dry->add_flag("--quiet", a->quiet, "list only withheld versions and the summary");
  dry->callback([a, &exit_code] {
    auto rc = DryRun(*a);
    exit_code = rc.ok() ? *rc : Report(rc.status());
  });
}

}  // namespace liaison::app
