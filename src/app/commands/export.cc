// `liaison export`: what a partner's release policy lets it receive from a collection, written to
// a file for exchange outside TAXII (issue #6: "the policy applies everywhere data leaves: TAXII
// GET, sync push, exports"). Objects go out exactly as the TAXII objects endpoint would serve
// them to the partner (withheld versions absent, sanitised ones rewritten), and each page is
// appended to the release log before it is written, so the log never misses what left.
//
//   liaison export --config liaison.toml --partner cert-x --collection ID --out cert-x.ndjson
//
// Exit 0 success, 1 unknown partner or collection or a bad option value, 2 usage, 3 I/O or store
// failure (the output file is then removed; the log may list pages that were not delivered,
// never the reverse).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/taxii_config.h"
#include "core/private_file.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "policy/partner_view.h"
#include "policy/release_log.h"

namespace liaison::app {
namespace {

struct ExportArgs {
  std::string config;
  std::string data_dir;
  std::string partner;
  std::string collection;
  std::string out;
  std::string format = "ndjson";
  std::string added_after;
  std::vector<std::string> types;
  bool all_versions = false;
};

struct ExportStats {
  size_t objects = 0;
  size_t sanitised = 0;
  size_t pages = 0;
};

Result<ExportStats> Export(const ExportArgs& a) {
  if (a.format != "ndjson" && a.format != "bundle") {
    return absl::InvalidArgumentError(
        StrCat("--format must be ndjson or bundle, not \"", a.format, "\""));
  }
  store::Filter filter;
  if (!a.added_after.empty()) {
    auto t = Timestamp::Parse(a.added_after);
    if (!t.ok()) return absl::InvalidArgumentError(StrCat("--added-after: ", t.status().message()));
    filter.added_after = *t;
  }
  filter.types = a.types;
  if (a.all_versions) filter.versions = {store::VersionMatch::All()};

  LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(a.config));
  if (!a.data_dir.empty()) config.data_dir = a.data_dir;
  const policy::Partner* partner =
      config.server.partners ? config.server.partners->Find(a.partner) : nullptr;
  if (partner == nullptr) return absl::NotFoundError(StrCat("no partner named ", a.partner));
  LIAISON_ASSIGN_OR_RETURN(auto store, OpenConfiguredStore(config));
  LIAISON_RETURN_IF_ERROR(store->GetCollection(a.collection).status());

  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<PrivateFileWriter> out, PrivateFileWriter::Open(a.out));
  const bool bundle = a.format == "bundle";
  if (bundle) {
    LIAISON_RETURN_IF_ERROR(out->Write(StrCat("{\"type\":\"bundle\",\"id\":\"bundle--",
                                              Uuid::V4().ToString(), "\",\"objects\":[")));
  }
  policy::PartnerView view(*store, a.collection, *partner);
  policy::ReleaseLog log(*store);
  ExportStats stats;
  std::string text;
  for (;;) {
    policy::ReleaseDetails details;
    LIAISON_ASSIGN_OR_RETURN(store::Page page,
                             view.Query(policy::Endpoint::kObjects, "", filter, &details));
    if (!page.records.empty()) {
      // The log first: a page is on record before a byte of it is written.
      details.collection = a.collection;
      details.endpoint = "export";
      LIAISON_RETURN_IF_ERROR(
          log.AppendRelease(partner->name, partner->policy_version, details).status());
      text.clear();
      for (const store::ObjectRecord& record : page.records) {
        if (bundle && stats.objects > 0) text += ',';
        text += record.json;
        if (!bundle) text += '\n';
        ++stats.objects;
      }
      for (const policy::ReleasedVersion& v : details.versions)
        stats.sanitised += !v.removed.empty();
      LIAISON_RETURN_IF_ERROR(out->Write(text));
      ++stats.pages;
    }
    if (!page.more) break;
    filter.next = page.next;
  }
  if (bundle) LIAISON_RETURN_IF_ERROR(out->Write("]}\n"));
  LIAISON_RETURN_IF_ERROR(out->Commit());
  return stats;
}

}  // namespace

void RegisterExportCommand(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = root.add_subcommand(
      "export", "Write what a partner's release policy releases from a collection (logged)");
  cmd->add_option("--partner", a->partner, "partner name ([[partner]] in --config)")->required();
  cmd->add_option("--collection", a->collection, "collection id")->required();
  cmd->add_option("--out", a->out, "output file ('-' for stdout)")->required();
  cmd->add_option("--format", a->format, "ndjson (default, one object a line) or bundle");
  cmd->add_option("--added-after", a->added_after, "only versions added after this timestamp");
  cmd->add_option("--type", a->types, "only objects of this STIX type (repeatable)");
  cmd->add_flag("--all-versions", a->all_versions, "every released version, not only the latest");
  cmd->add_option("--config", a->config, "TOML configuration file");
  cmd->add_option("--data", a->data_dir, "data directory (default ./liaison-data)");
  cmd->callback([a, &exit_code] {
    auto stats = Export(*a);
    if (!stats.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(stats.status().message()).c_str());
      const auto code = stats.status().code();
      exit_code =
          code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ? 1 : 3;
      return;
    }
    std::fprintf(stderr,
                 "exported %zu objects (%zu sanitised) for partner %s in %zu logged pages\n",
                 stats->objects, stats->sanitised, a->partner.c_str(), stats->pages);
    exit_code = 0;
  });
}

}  // namespace liaison::app
