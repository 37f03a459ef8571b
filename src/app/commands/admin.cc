// Administration of the server's store: `liaison user add|grant|list`, `liaison token create`
// and `liaison collection add|list`. They open the store named by --config (or --data), which
// may be in use by a running `liaison serve`.

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/taxii_config.h"
#include "core/status_macros.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "taxii/auth.h"

namespace liaison::app {
namespace {

struct StoreArgs {
  std::string config;
  std::string data_dir;
};

void AddStoreOptions(CLI::App* cmd, StoreArgs& args) {
  cmd->add_option("--config", args.config, "TOML configuration file");
  cmd->add_option("--data", args.data_dir, "data directory (default ./liaison-data)");
}

Result<std::unique_ptr<store::Store>> Open(const StoreArgs& args) {
  LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(args.config));
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  return OpenConfiguredStore(config);
}

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return st.code() == absl::StatusCode::kInvalidArgument ||
                 st.code() == absl::StatusCode::kNotFound ||
                 st.code() == absl::StatusCode::kAlreadyExists
             ? 1
             : 3;
}

struct UserArgs {
  StoreArgs store;
  std::string name;
  bool password_stdin = false;
  bool admin = false;
  std::vector<std::string> groups;
  std::string collection;
  bool read = false;
  bool write = false;
  std::string description;
};

Status UserAdd(const UserArgs& a) {
  std::string password;
  if (a.password_stdin) {
    std::getline(std::cin, password);
  } else {
    password = taxii::NewApiToken().substr(4, 24);
  }
  if (password.empty()) return absl::InvalidArgumentError("empty password");
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  LIAISON_ASSIGN_OR_RETURN(std::string hash, taxii::HashPassword(password));
  LIAISON_RETURN_IF_ERROR(store->CreateUser({a.name, hash, a.admin, a.groups}));
  if (!a.password_stdin) std::printf("%s\n", password.c_str());  // shown once
  return absl::OkStatus();
}

Status UserGrant(const UserArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  // "group:NAME" grants to a group, anything else to a user.
  store::Principal who = a.name.rfind("group:", 0) == 0
                             ? store::Principal::GroupNamed(a.name.substr(6))
                             : store::Principal::UserNamed(a.name);
  return store->SetPermission(a.collection, who, {a.read, a.write});
}

Status UserList(const UserArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  LIAISON_ASSIGN_OR_RETURN(auto users, store->ListUsers());
  for (const store::User& u : users) {
    std::string groups;
    for (const std::string& g : u.groups) groups += (groups.empty() ? "" : ",") + g;
    std::printf("%s%s%s%s\n", u.name.c_str(), u.is_admin ? " admin" : "",
                groups.empty() ? "" : " groups=", groups.c_str());
  }
  return absl::OkStatus();
}

Status TokenCreate(const UserArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  const std::string token = taxii::NewApiToken();
  LIAISON_RETURN_IF_ERROR(
      store->AddToken({taxii::HashApiToken(token), a.name, a.description, Timestamp::Now(), {}}));
  std::printf("%s\n", token.c_str());  // shown once: the store keeps only its SHA-256
  return absl::OkStatus();
}

struct CollectionArgs {
  StoreArgs store;
  std::string id;
  std::string api_root = "api";
  std::string title;
  std::string description;
  std::string alias;
};

Status CollectionAdd(const CollectionArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  store::Collection c;
  c.id = a.id.empty() ? Uuid::V4().ToString() : a.id;
  c.api_root = a.api_root;
  c.title = a.title;
  c.description = a.description;
  c.alias = a.alias;
  LIAISON_RETURN_IF_ERROR(store->CreateCollection(c));
  std::printf("%s\n", c.id.c_str());
  return absl::OkStatus();
}

Status CollectionList(const CollectionArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a.store));
  LIAISON_ASSIGN_OR_RETURN(auto collections, store->ListCollections());
  for (const store::Collection& c : collections) {
    std::printf("%s /%s/ %s\n", c.id.c_str(), c.api_root.c_str(), c.title.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterAdminCommands(CLI::App& root, int& exit_code) {
  auto ua = std::make_shared<UserArgs>();
  CLI::App* user = root.add_subcommand("user", "Manage the server's users and permissions");
  user->require_subcommand(1);
  CLI::App* add = user->add_subcommand("add", "Create a user (prints a generated password)");
  add->add_option("name", ua->name, "user name")->required();
  add->add_flag("--password-stdin", ua->password_stdin, "read the password from stdin");
  add->add_flag("--admin", ua->admin, "may read and write every collection");
  add->add_option("--group", ua->groups, "a group (partner organisation) the user belongs to");
  AddStoreOptions(add, ua->store);
  add->callback([ua, &exit_code] { exit_code = Report(UserAdd(*ua)); });
  CLI::App* grant = user->add_subcommand("grant", "Set a user's (or group:NAME's) permission");
  grant->add_option("name", ua->name, "user name, or group:NAME")->required();
  grant->add_option("collection", ua->collection, "collection id")->required();
  grant->add_flag("--read", ua->read, "can_read");
  grant->add_flag("--write", ua->write, "can_write");
  AddStoreOptions(grant, ua->store);
  grant->callback([ua, &exit_code] { exit_code = Report(UserGrant(*ua)); });
  CLI::App* list = user->add_subcommand("list", "List users");
  AddStoreOptions(list, ua->store);
  list->callback([ua, &exit_code] { exit_code = Report(UserList(*ua)); });

  CLI::App* token = root.add_subcommand("token", "Manage API tokens");
  token->require_subcommand(1);
  CLI::App* create = token->add_subcommand("create", "Create a Bearer token (printed once)");
  create->add_option("name", ua->name, "user name")->required();
  create->add_option("--description", ua->description, "what the token is for");
  AddStoreOptions(create, ua->store);
  create->callback([ua, &exit_code] { exit_code = Report(TokenCreate(*ua)); });

  auto ca = std::make_shared<CollectionArgs>();
  CLI::App* collection = root.add_subcommand("collection", "Manage collections");
  collection->require_subcommand(1);
  CLI::App* cadd = collection->add_subcommand("add", "Create a collection (prints its id)");
  cadd->add_option("--id", ca->id, "collection id (default: a new UUID)");
  cadd->add_option("--api-root", ca->api_root, "API root name (default api)");
  cadd->add_option("--title", ca->title, "title")->required();
  cadd->add_option("--description", ca->description, "description");
  cadd->add_option("--alias", ca->alias, "alias");
  AddStoreOptions(cadd, ca->store);
  cadd->callback([ca, &exit_code] { exit_code = Report(CollectionAdd(*ca)); });
  CLI::App* clist = collection->add_subcommand("list", "List collections");
  AddStoreOptions(clist, ca->store);
  clist->callback([ca, &exit_code] { exit_code = Report(CollectionList(*ca)); });
}

}  // namespace liaison::app
