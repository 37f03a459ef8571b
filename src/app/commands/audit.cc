// `liaison audit verify|show`: the hash-chained release log (policy/release_log.h).

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/taxii_config.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "policy/release_log.h"

namespace liaison::app {
namespace {

struct AuditArgs {
  std::string config;
  std::string data_dir;
  std::string partner;
  std::string since;
  std::string head;
  bool json = false;
};

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return st.code() == absl::StatusCode::kInvalidArgument || st.code() == absl::StatusCode::kNotFound
             ? 1
             : 3;
}

Result<std::unique_ptr<store::Store>> Open(const AuditArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(a.config));
  if (!a.data_dir.empty()) config.data_dir = a.data_dir;
  return OpenConfiguredStore(config);
}

// 0 when the chain verifies (and ends at --head when given), 1 when it does not.
Result<int> Verify(const AuditArgs& a) {
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a));
  policy::ReleaseLog log(*store);
  LIAISON_ASSIGN_OR_RETURN(policy::VerifyResult v, log.Verify());
  if (!v.ok) {
    std::printf("audit log BROKEN at entry %lld: %s (%lld entries read)\n",
                static_cast<long long>(v.first_bad), v.problem.c_str(),
                static_cast<long long>(v.entries));
    return 1;
  }
  if (!a.head.empty() && a.head != v.head) {
    // Every entry chains, but the log does not end where it ended when --head was noted: entries
    // were cut off the end (or the head belongs to another log).
    std::printf("audit log chain intact (%lld entries) but its head %s is not the expected %s\n",
                static_cast<long long>(v.entries), v.head.c_str(), a.head.c_str());
    return 1;
  }
  std::printf("audit log ok: %lld entries, head %s\n", static_cast<long long>(v.entries),
              v.head.empty() ? "-" : v.head.c_str());
  return 0;
}

Status Show(const AuditArgs& a) {
  std::optional<Timestamp> since;
  if (!a.since.empty()) {
    auto t = Timestamp::ParseRfc3339(a.since);
    if (!t.ok()) return absl::InvalidArgumentError(StrCat("--since: ", t.status().message()));
    since = *t;
  }
  LIAISON_ASSIGN_OR_RETURN(auto store, Open(a));
  policy::ReleaseLog log(*store);
  std::optional<std::string> partner;
  if (!a.partner.empty()) partner = a.partner;
  LIAISON_ASSIGN_OR_RETURN(auto entries, log.Read(partner, since));
  for (const store::AuditRecord& e : entries) {
    if (a.json) {
      json::Value details = json::Parse(e.details).value_or(json::Value(e.details));
      std::printf("%s\n", json::Serialize(json::Object{{"seq", e.seq},
                                                       {"time", e.time.ToString(6)},
                                                       {"kind", e.kind},
                                                       {"partner", e.partner},
                                                       {"policy_version", e.policy_version},
                                                       {"details", std::move(details)},
                                                       {"hash", e.hash}})
                              .c_str());
      continue;
    }
    auto details = json::Parse(e.details);
    const json::Value* versions = details.ok() ? details->Find("versions") : nullptr;
    if (e.kind != "release" || versions == nullptr || !versions->is_array()) {
      std::printf("%lld %s %s %s %s\n", static_cast<long long>(e.seq), e.time.ToString(6).c_str(),
                  e.kind.c_str(), e.partner.c_str(), e.details.c_str());
      continue;
    }
    const json::Value* coll = details->Find("collection");
    const json::Value* endpoint = details->Find("endpoint");
    for (const json::Value& v : versions->as_array()) {
      const json::Value* id = v.Find("id");
      const json::Value* version = v.Find("version");
      const json::Value* removed = v.Find("removed");
      std::string how = "as-is";
      if (removed != nullptr && removed->is_array()) {
        how = "sanitised:";
        for (const json::Value& r : removed->as_array()) {
          if (r.is_string()) StrAppend(&how, " ", r.as_string());
        }
      }
      std::printf("%lld %s %s %s %s %s %s %s policy=%s\n", static_cast<long long>(e.seq),
                  e.time.ToString(6).c_str(), e.partner.c_str(),
                  coll && coll->is_string() ? coll->as_string().c_str() : "-",
                  endpoint && endpoint->is_string() ? endpoint->as_string().c_str() : "-",
                  id && id->is_string() ? id->as_string().c_str() : "-",
                  version && version->is_string() ? version->as_string().c_str() : "-", how.c_str(),
                  e.policy_version.c_str());
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterAuditCommands(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<AuditArgs>();
  CLI::App* audit = root.add_subcommand("audit", "The tamper-evident release log");
  audit->require_subcommand(1);

  CLI::App* verify = audit->add_subcommand(
      "verify", "Check the hash chain: any change, deletion or reordering is reported");
  verify->add_option("--config", a->config, "TOML configuration file");
  verify->add_option("--data", a->data_dir, "data directory (default ./liaison-data)");
  verify->add_option("--head", a->head, "the head hash noted earlier: detects a cut-off tail");
  verify->callback([a, &exit_code] {
    auto rc = Verify(*a);
    exit_code = rc.ok() ? *rc : Report(rc.status());
  });

  CLI::App* show = audit->add_subcommand("show", "What was released to whom, and when");
  show->add_option("--partner", a->partner, "only this partner");
  show->add_option("--since", a->since, "only entries at or after this RFC 3339 time");
  show->add_flag("--json", a->json, "one JSON entry per line");
  show->add_option("--config", a->config, "TOML configuration file");
  show->add_option("--data", a->data_dir, "data directory (default ./liaison-data)");
  show->callback([a, &exit_code] { exit_code = Report(Show(*a)); });
}

}  // namespace liaison::app
