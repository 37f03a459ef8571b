// `liaison validate FILE...`: STIX 2.1 validation with one line per finding.

#include "stix/validate.h"

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "core/file.h"
#include "core/json.h"
#include "core/strings.h"

namespace liaison::app {
namespace {

struct ValidateArgs {
  std::vector<std::string> files;
  std::string format = "text";
  bool no_warnings = false;
  bool check_sco_ids = false;
  size_t max_depth = 100;
  size_t max_string_bytes = 64 << 20;
  size_t max_bytes = size_t{1} << 30;
};

std::string_view FormName(stix::InputForm form) {
  switch (form) {
    case stix::InputForm::kBundle:
      return "bundle";
    case stix::InputForm::kEnvelope:
      return "envelope";
    case stix::InputForm::kObject:
      return "object";
    case stix::InputForm::kNdjson:
      return "ndjson";
    case stix::InputForm::kUnknown:
      break;
  }
  return "unknown";
}

int RunValidate(const ValidateArgs& args) {
  stix::ValidateOptions options;
  options.max_depth = args.max_depth;
  options.max_string_bytes = args.max_string_bytes;
  options.warnings = !args.no_warnings;
  options.check_sco_ids = args.check_sco_ids;
  stix::Validator validator(options);
  ReadOptions read_options;
  read_options.max_bytes = args.max_bytes;

  const bool as_json = args.format == "json";
  size_t total_errors = 0, total_warnings = 0, total_objects = 0, io_failures = 0;
  json::Array file_reports;
  for (const std::string& path : args.files) {
    const std::string name = path == "-" ? "<stdin>" : path;
    auto buffer = ReadInput(path, read_options);
    if (!buffer.ok()) {
      std::fprintf(stderr, "%s: error: %s\n", name.c_str(),
                   std::string(buffer.status().message()).c_str());
      ++io_failures;
      if (as_json) {
        file_reports.push_back(
            json::Object{{"file", name}, {"io_error", std::string(buffer.status().message())}});
      }
      continue;
    }
    stix::Report report = validator.Validate(buffer->view(), /*padded=*/true);
    total_errors += report.errors;
    total_warnings += report.warnings;
    total_objects += report.objects;
    if (as_json) {
      json::Array findings;
      for (const stix::Finding& f : report.findings) {
        findings.push_back(
            json::Object{{"severity", f.severity == stix::Severity::kError ? "error" : "warning"},
                         {"line", static_cast<int64_t>(f.line)},
                         {"column", static_cast<int64_t>(f.column)},
                         {"pointer", f.pointer},
                         {"rule", f.rule},
                         {"message", f.message}});
      }
      file_reports.push_back(json::Object{{"file", name},
                                          {"form", std::string(FormName(report.form))},
                                          {"objects", static_cast<int64_t>(report.objects)},
                                          {"errors", static_cast<int64_t>(report.errors)},
                                          {"warnings", static_cast<int64_t>(report.warnings)},
                                          {"stix20", report.stix20},
                                          {"findings", std::move(findings)}});
      continue;
    }
    for (const stix::Finding& f : report.findings) {
      std::string line =
          StrCat(name, ":", f.line, ":", f.column, ": ",
                 f.severity == stix::Severity::kError ? "error" : "warning", ": ",
                 f.pointer.empty() ? "/" : f.pointer, ": ", f.message, " [", f.rule, "]");
      std::printf("%s\n", line.c_str());
    }
    const size_t shown = report.findings.size();
    if (shown < report.errors + report.warnings) {
      std::printf("%s: %zu more findings not shown\n", name.c_str(),
                  report.errors + report.warnings - shown);
    }
    if (report.stix20) {
      std::fprintf(stderr,
                   "%s: this is STIX 2.0 content; `liaison upgrade %s` converts it to 2.1\n",
                   name.c_str(), name.c_str());
    }
  }
  if (as_json) {
    json::Value summary = json::Object{{"files", std::move(file_reports)},
                                       {"objects", static_cast<int64_t>(total_objects)},
                                       {"errors", static_cast<int64_t>(total_errors)},
                                       {"warnings", static_cast<int64_t>(total_warnings)},
                                       {"valid", total_errors == 0 && io_failures == 0}};
    std::printf("%s\n", json::Serialize(summary).c_str());
  } else {
    std::fflush(stdout);  // the findings (stdout) come before the summary (stderr) on a terminal
    std::fprintf(stderr, "%zu file(s), %zu object(s): %zu error(s), %zu warning(s)%s\n",
                 args.files.size(), total_objects, total_errors, total_warnings,
                 io_failures ? StrCat(", ", io_failures, " unreadable").c_str() : "");
  }
  if (io_failures > 0) return 3;
  return total_errors > 0 ? 1 : 0;
}

}  // namespace

void RegisterValidateCommand(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = root.add_subcommand(
      "validate",
      "Validate STIX 2.1 bundles, objects, TAXII envelopes or NDJSON (.gz ok, - for stdin)");
  cmd->add_option("files", args->files, "Files to validate")->required();
  cmd->add_option("--format", args->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--no-warnings", args->no_warnings, "Report errors only");
  cmd->add_flag("--check-sco-ids", args->check_sco_ids,
                "Warn about SCOs whose id is not the deterministic UUIDv5 of their properties");
  cmd->add_option("--max-depth", args->max_depth, "Deepest JSON nesting accepted")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-string-bytes", args->max_string_bytes, "Longest string value accepted");
  cmd->add_option("--max-bytes", args->max_bytes, "Largest input accepted (after gunzip)");
  cmd->callback([args, &exit_code] { exit_code = RunValidate(*args); });
}

}  // namespace liaison::app
