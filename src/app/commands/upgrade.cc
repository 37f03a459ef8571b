// `liaison upgrade FILE... [-o OUT]`: STIX 2.0 -> 2.1 (docs/upgrade.md).
//
// One input is written in the form it came in (bundle, envelope, object, NDJSON). Several inputs
// are merged into one bundle, or into NDJSON when every input is NDJSON, unless -o names a
// directory: then each input is written there under its own name. The summary of what changed
// goes to stderr, so stdout carries only STIX.

#include "stix/upgrade.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "core/file.h"
#include "stix/serialize.h"

namespace liaison::app {
namespace {

struct UpgradeArgs {
  std::vector<std::string> files;
  std::string output = "-";
  bool malware_instances = false;
  bool quiet = false;
  size_t max_warnings = 20;
  size_t max_bytes = size_t{1} << 30;
};

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;

std::string DisplayName(const std::string& path) { return path == "-" ? "<stdin>" : path; }

// Writes `text` (plus a final newline when it lacks one) to `path`, "-" being stdout.
bool WriteOutput(const std::string& path, const std::string& text) {
  const bool newline = text.empty() || text.back() != '\n';
  if (path == "-") {
    const bool ok = std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
                    (!newline || std::fputc('\n', stdout) != EOF) && std::fflush(stdout) == 0;
    if (!ok) std::fprintf(stderr, "<stdout>: error: write failed\n");
    return ok;
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "%s: error: cannot open for writing: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
            (!newline || std::fputc('\n', f) != EOF);
  ok = std::fclose(f) == 0 && ok;
  if (!ok) std::fprintf(stderr, "%s: error: write failed\n", path.c_str());
  return ok;
}

void PrintSummary(const std::string& name, const stix::UpgradeReport& report,
                  const UpgradeArgs& args) {
  if (args.quiet) return;
  std::fprintf(stderr, "%s: %zu object(s): %zu upgraded to 2.1, %zu already 2.1", name.c_str(),
               report.objects, report.upgraded, report.unchanged);
  if (report.scos_created > 0) std::fprintf(stderr, ", %zu SCO(s) created", report.scos_created);
  std::fputc('\n', stderr);
  for (const auto& [change, count] : report.changes) {
    std::fprintf(stderr, "  %8zu  %s\n", count, change.c_str());
  }
  const size_t shown = std::min(report.warnings.size(), args.max_warnings);
  for (size_t i = 0; i < shown; ++i) {
    std::fprintf(stderr, "%s: warning: %s\n", name.c_str(), report.warnings[i].c_str());
  }
  if (shown < report.warnings.size()) {
    std::fprintf(stderr, "%s: %zu more warning(s) not shown\n", name.c_str(),
                 report.warnings.size() - shown);
  }
}

// Reads and upgrades one input; prints its error and returns the exit status on failure.
int UpgradeFile(const std::string& path, const UpgradeArgs& args, stix::UpgradedContent& content) {
  ReadOptions read_options;
  read_options.max_bytes = args.max_bytes;
  auto buffer = ReadInput(path, read_options);
  if (!buffer.ok()) {
    // ReadInput's messages already start with the path.
    std::fprintf(stderr, "error: %s\n", std::string(buffer.status().message()).c_str());
    return kExitRuntime;
  }
  stix::UpgradeOptions options;
  options.malware_is_family = !args.malware_instances;
  auto upgraded = stix::UpgradeContent(buffer->view(), options);
  if (!upgraded.ok()) {
    std::fprintf(stderr, "%s: error: %s\n", DisplayName(path).c_str(),
                 std::string(upgraded.status().message()).c_str());
    return kExitBadInput;
  }
  content = *std::move(upgraded);
  PrintSummary(DisplayName(path), content.report, args);
  return kExitOk;
}

int RunUpgrade(const UpgradeArgs& args) {
  std::error_code ec;
  const bool to_directory = args.output != "-" && std::filesystem::is_directory(args.output, ec);

  if (to_directory) {
    // One output per input, under the input's name without ".gz".
    int status = kExitOk;
    for (const std::string& path : args.files) {
      if (path == "-") {
        std::fprintf(stderr, "<stdin>: error: has no name to write under %s\n",
                     args.output.c_str());
        return kExitUsage;
      }
      std::filesystem::path name = std::filesystem::path(path).filename();
      if (name.extension() == ".gz") name.replace_extension();
      const std::filesystem::path target = std::filesystem::path(args.output) / name;
      if (std::filesystem::equivalent(target, path, ec)) {
        std::fprintf(stderr, "%s: error: the output would overwrite the input\n", path.c_str());
        status = std::max(status, kExitUsage);
        continue;
      }
      stix::UpgradedContent content;
      if (int rc = UpgradeFile(path, args, content); rc != kExitOk) {
        status = std::max(status, rc);
        continue;
      }
      if (!WriteOutput(target.string(), stix::WriteUpgradedContent(content))) {
        status = std::max(status, kExitRuntime);
      }
    }
    return status;
  }

  std::vector<stix::UpgradedContent> contents(args.files.size());
  int status = kExitOk;
  for (size_t i = 0; i < args.files.size(); ++i) {
    status = std::max(status, UpgradeFile(args.files[i], args, contents[i]));
  }
  if (status != kExitOk) return status;  // nothing is written from a partial merge

  std::string text;
  if (contents.size() == 1) {
    text = stix::WriteUpgradedContent(contents[0]);
  } else {
    bool all_ndjson = true;
    std::vector<std::string> objects;
    for (stix::UpgradedContent& c : contents) {
      all_ndjson = all_ndjson && c.form == stix::UpgradedContent::Form::kNdjson;
      for (std::string& o : c.objects) objects.push_back(std::move(o));
    }
    text = all_ndjson ? stix::SerializeNdjson(objects) : stix::SerializeBundle(objects);
  }
  return WriteOutput(args.output, text) ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterUpgradeCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<UpgradeArgs>();
  CLI::App* cmd = root.add_subcommand(
      "upgrade",
      "Convert STIX 2.0 bundles, objects, envelopes or NDJSON to STIX 2.1 (.gz ok, - for stdin)");
  cmd->add_option("files", args->files, "Files to upgrade")->required();
  cmd->add_option("-o,--output", args->output,
                  "Where to write: a file, - for stdout (the default), or an existing directory "
                  "to write one file per input");
  cmd->add_flag("--malware-instances", args->malware_instances,
                "Set is_family false on upgraded malware (the default is true: 2.0 malware "
                "objects usually describe families)");
  cmd->add_flag("-q,--quiet", args->quiet, "Print no summary on stderr");
  cmd->add_option("--max-warnings", args->max_warnings, "Warnings shown per file");
  cmd->add_option("--max-bytes", args->max_bytes, "Largest input accepted (after gunzip)");
  cmd->callback([args, &exit_code] { exit_code = RunUpgrade(*args); });
}

}  // namespace liaison::app
