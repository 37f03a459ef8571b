// `liaison import`: STIX bundles, TAXII envelopes, single objects and NDJSON, plain or gzip, into
// one collection.
//
// Why it is fast: each file is read once into memory (core/file.h), split into per-object views
// without building a tree (stix::SplitObjects), validated per object with one reused Validator,
// and written in batches of thousands of objects per store transaction (one fsync each). The
// store commits batch N on a second thread while batch N+1 is validated, so on two cores the
// validator and SQLite overlap.

#include "app/commands/import.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "app/commands/taxii_config.h"
#include "core/file.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "stix/object.h"
#include "stix/parse.h"
#include "stix/upgrade.h"
#include "stix/validate.h"

namespace liaison::app {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Whether an object is STIX 2.0 content: spec_version "2.0", or no spec_version on a type that
// is not an SCO (STIX 2.1 section 3.2: spec_version is required on SDOs, SROs and meta objects,
// so a 2.0 producer is the only one that omits it). A 2.0 bundle's own spec_version does not
// matter: its objects carry none, which this catches.
bool IsStix20(const stix::Object& object) {
  if (object.spec_version == "2.0") return true;
  return object.spec_version.empty() &&
         stix::CategoryOfType(object.type) != stix::ObjectCategory::kSco;
}

// The first error of a report as "pointer: message (rule)".
std::string FirstError(const stix::Report& report) {
  for (const stix::Finding& f : report.findings) {
    if (f.severity == stix::Severity::kError) {
      return StrCat(f.pointer.empty() ? "/" : f.pointer, ": ", f.message, " (", f.rule, ")");
    }
  }
  return "invalid STIX object";
}

class Importer {
 public:
  Importer(store::Store& store, std::string_view collection, const ImportOptions& options)
      : store_(store), collection_(collection), options_(options), start_(Clock::now()) {}

  Status ImportFile(const std::string& path) {
    const std::string name = path == "-" ? "<stdin>" : path;
    ++summary_.files;
    current_file_ = name;
    auto buffer = ReadInput(path);
    if (!buffer.ok()) {
      ++summary_.bad_files;
      Log(StrCat(name, ": error: ", buffer.status().message()));
      return absl::OkStatus();
    }
    auto split = stix::SplitObjects(buffer->view());
    if (!split.ok()) {
      ++summary_.bad_files;
      Log(StrCat(name, ": error: ", split.status().message()));
      return absl::OkStatus();
    }
    for (const stix::ObjectText& text : split->objects) {
      LIAISON_RETURN_IF_ERROR(AddText(name, text));
    }
    return absl::OkStatus();
  }

  Result<ImportSummary> Finish() {
    LIAISON_RETURN_IF_ERROR(Flush());
    LIAISON_RETURN_IF_ERROR(Wait());
    summary_.seconds = Seconds(Clock::now() - start_);
    if (options_.progress && options_.log != nullptr) {
      std::fprintf(options_.log, "\r\033[K");  // erase the progress line
      std::fflush(options_.log);
    }
    return summary_;
  }

 private:
  // Where an object is, for messages: "file:line" plus its pointer in a bundle or envelope.
  static std::string Where(const std::string& file, const stix::ObjectText& text) {
    return text.pointer.empty() ? StrCat(file, ":", text.line)
                                : StrCat(file, ":", text.line, ": ", text.pointer);
  }

  Status AddText(const std::string& file, const stix::ObjectText& text) {
    auto object = stix::ParseObject(text.json);
    if (object.ok() && options_.upgrade && IsStix20(*object)) {
      auto tree = json::Parse(text.json);
      Result<stix::UpgradeResult> upgraded =
          tree.ok() ? stix::UpgradeObject(*tree) : Result<stix::UpgradeResult>(tree.status());
      if (!upgraded.ok()) {
        Reject(file, text, StrCat("cannot upgrade from STIX 2.0: ", upgraded.status().message()));
        return absl::OkStatus();
      }
      ++summary_.upgraded;
      for (const json::Value& v : upgraded->objects) {
        const std::string json = json::Serialize(v);
        LIAISON_RETURN_IF_ERROR(AddValidated(file, text, json, stix::ParseObject(json)));
      }
      return absl::OkStatus();
    }
    return AddValidated(file, text, text.json, std::move(object));
  }

  Status AddValidated(const std::string& file, const stix::ObjectText& text, std::string_view json,
                      Result<stix::Object> object) {
    ++summary_.objects;
    stix::Report report;
    validator_.ValidateObject(json, "", report);
    if (!object.ok()) {
      Reject(file, text, std::string(object.status().message()));
      return absl::OkStatus();
    }
    if (report.errors > 0) {
      Reject(file, text, FirstError(report));
      return absl::OkStatus();
    }
    object->json = std::string(json);
    batch_.push_back(std::move(*object));
    if (batch_.size() >= options_.batch_size) LIAISON_RETURN_IF_ERROR(Flush());
    MaybeProgress();
    return absl::OkStatus();
  }

  void Reject(const std::string& file, const stix::ObjectText& text, std::string_view reason) {
    ++summary_.invalid;
    if (summary_.invalid <= options_.max_reported) {
      Log(StrCat(Where(file, text), ": invalid: ", reason));
    } else if (summary_.invalid == options_.max_reported + 1) {
      Log("(further invalid objects are counted, not listed)");
    }
  }

  // Hands the batch to the store on another thread, after the previous one has committed.
  Status Flush() {
    if (batch_.empty()) return absl::OkStatus();
    LIAISON_RETURN_IF_ERROR(Wait());
    auto objects = std::make_shared<std::vector<stix::Object>>(std::move(batch_));
    batch_.clear();
    batch_.reserve(options_.batch_size);
    inflight_ = std::async(std::launch::async, [this, objects]() -> Result<store::AddResult> {
      return store_.Add(collection_, *objects);
    });
    return absl::OkStatus();
  }

  Status Wait() {
    if (!inflight_.valid()) return absl::OkStatus();
    Result<store::AddResult> r = inflight_.get();
    if (!r.ok()) return r.status();
    summary_.added += r->added;
    summary_.duplicates += r->duplicates;
    return absl::OkStatus();
  }

  void MaybeProgress() {
    if (!options_.progress || options_.log == nullptr) return;
    const auto now = Clock::now();
    if (now - last_progress_ < std::chrono::milliseconds(250)) return;
    last_progress_ = now;
    const double s = Seconds(now - start_);
    std::fprintf(options_.log, "\r\033[K%s: %zu objects, %zu invalid, %.0f objects/s",
                 current_file_.c_str(), summary_.objects, summary_.invalid,
                 s > 0 ? static_cast<double>(summary_.objects) / s : 0.0);
    std::fflush(options_.log);
  }

  void Log(std::string_view line) {
    if (options_.log == nullptr) return;
    if (options_.progress) std::fprintf(options_.log, "\r\033[K");
    std::fprintf(options_.log, "%.*s\n", static_cast<int>(line.size()), line.data());
  }

  store::Store& store_;
  const std::string collection_;
  const ImportOptions& options_;
  const Clock::time_point start_;
  Clock::time_point last_progress_{};
  std::string current_file_;
  stix::Validator validator_;
  std::vector<stix::Object> batch_;
  std::future<Result<store::AddResult>> inflight_;
  ImportSummary summary_;
};

struct ImportArgs {
  std::vector<std::string> files;
  std::string collection;
  std::string config;
  std::string data_dir;
  size_t batch_size = 5000;
  bool no_upgrade = false;
  bool quiet = false;
};

int RunImport(const ImportArgs& args) {
  auto config = LoadTaxiiConfig(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (!args.data_dir.empty()) config->data_dir = args.data_dir;
  auto store = OpenConfiguredStore(*config);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", config->data_dir.c_str(),
                 std::string(store.status().message()).c_str());
    return 3;
  }
  auto collection = FindCollection(**store, args.collection);
  if (!collection.ok()) {
    std::fprintf(stderr, "error: --collection: %s\n",
                 std::string(collection.status().message()).c_str());
    return absl::IsNotFound(collection.status()) || absl::IsInvalidArgument(collection.status())
               ? 2
               : 3;
  }
  ImportOptions options;
  options.batch_size = std::max<size_t>(1, args.batch_size);
  options.upgrade = !args.no_upgrade;
  options.progress = !args.quiet && isatty(STDERR_FILENO) == 1;
  auto summary = ImportFiles(**store, collection->id, args.files, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(summary.status().message()).c_str());
    return 3;
  }
  const ImportSummary& s = *summary;
  if (!args.quiet) {
    std::fprintf(stderr,
                 "imported %zu file%s into %s: %zu objects (%zu added, %zu duplicates, %zu "
                 "upgraded from STIX 2.0), %zu invalid, %zu unreadable file%s; %.2f s, %.0f "
                 "objects/s\n",
                 s.files, s.files == 1 ? "" : "s", collection->id.c_str(), s.objects, s.added,
                 s.duplicates, s.upgraded, s.invalid, s.bad_files, s.bad_files == 1 ? "" : "s",
                 s.seconds, s.seconds > 0 ? static_cast<double>(s.objects) / s.seconds : 0.0);
  }
  return s.invalid > 0 || s.bad_files > 0 ? 1 : 0;
}

}  // namespace

Result<store::Collection> FindCollection(store::Store& store, std::string_view name) {
  if (auto c = store.GetCollection(name); c.ok() || !absl::IsNotFound(c.status())) return c;
  LIAISON_ASSIGN_OR_RETURN(std::vector<store::Collection> all, store.ListCollections());
  for (const store::Collection& c : all) {
    if (!c.alias.empty() && c.alias == name) return c;
  }
  const store::Collection* found = nullptr;
  for (const store::Collection& c : all) {
    if (c.title != name) continue;
    if (found != nullptr) {
      return absl::InvalidArgumentError(
          StrCat("several collections are titled \"", name, "\"; give the id"));
    }
    found = &c;
  }
  if (found == nullptr) {
    return absl::NotFoundError(StrCat("no collection with id, alias or title \"", name, "\""));
  }
  return *found;
}

Result<ImportSummary> ImportFiles(store::Store& store, std::string_view collection,
                                  const std::vector<std::string>& files,
                                  const ImportOptions& options) {
  Importer importer(store, collection, options);
  for (const std::string& file : files) {
    if (Status st = importer.ImportFile(file); !st.ok()) {
      (void)importer.Finish();  // let the batch in flight finish before returning
      return st;
    }
  }
  return importer.Finish();
}

void RegisterImportCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = root.add_subcommand(
      "import",
      "Load STIX bundles, envelopes, objects or NDJSON (plain or gzip) into a collection");
  cmd->add_option("files", args->files, "input files (- for stdin)")->required();
  cmd->add_option("--collection", args->collection, "collection id, alias or title")->required();
  cmd->add_option("--config", args->config, "TOML configuration file");
  cmd->add_option("--data", args->data_dir, "data directory (default ./liaison-data)");
  cmd->add_option("--batch", args->batch_size, "objects per transaction (default 5000)");
  cmd->add_flag("--no-upgrade", args->no_upgrade,
                "reject STIX 2.0 objects instead of upgrading them to 2.1");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress and no summary");
  cmd->callback([args, &exit_code] { exit_code = RunImport(*args); });
}

}  // namespace liaison::app
