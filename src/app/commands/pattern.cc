// `liaison pattern check PATTERN|-` and `liaison pattern eval --pattern P FILE...`.
//
// check: prints "ok" for a valid pattern, else one "offset N: error: ..." line per problem
// (warnings likewise, unless --no-warnings); with "-" it reads one pattern a line from stdin and
// prefixes each output line with "line L: ". Exit 0 when every pattern is valid, 1 otherwise.
//
// eval: reads bundles or observed-data (files, .gz, or "-" for stdin) as one input and prints
// "matched" with the observed-data bound to each observation expression, or "no match".
// Exit 0 matched, 1 no match or invalid pattern, 2 usage, 3 I/O or evaluation failure.

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands/commands.h"
#include "core/file.h"
#include "core/json.h"
#include "pattern/check.h"
#include "pattern/evaluate.h"
#include "pattern/observations.h"
#include "pattern/parse.h"
#include "pattern/print.h"

namespace liaison::app {
namespace {

constexpr int kOk = 0;
constexpr int kBadInput = 1;
constexpr int kRuntime = 3;

struct CheckArgs {
  std::string pattern;
  bool no_warnings = false;
};

struct EvalArgs {
  std::string pattern;
  std::vector<std::string> files;
  bool json = false;
};

// Checks one pattern, printing its findings with `prefix`; returns whether it is valid.
bool CheckOne(const std::string& text, const std::string& prefix, bool warnings) {
  auto pattern = pattern::Parse(text);
  if (!pattern.ok()) {
    std::string message(pattern.status().message());  // "offset N: ..."
    const size_t colon = message.find(": ");
    if (message.rfind("offset ", 0) == 0 && colon != std::string::npos) {
      message = message.substr(0, colon) + ": error: " + message.substr(colon + 2);
    } else {
      message = "error: " + message;
    }
    std::printf("%s%s\n", prefix.c_str(), message.c_str());
    return false;
  }
  pattern::CheckOptions options;
  options.warnings = warnings;
  const std::vector<pattern::Finding> findings = pattern::Check(*pattern, options);
  for (const pattern::Finding& f : findings) {
    std::printf("%soffset %zu: %s: %s [%s]\n", prefix.c_str(), f.offset,
                f.severity == pattern::Severity::kError ? "error" : "warning", f.message.c_str(),
                f.rule.c_str());
  }
  const bool valid = !pattern::HasErrors(findings);
  if (valid) std::printf("%sok\n", prefix.c_str());
  return valid;
}

int RunCheck(const CheckArgs& args) {
  if (args.pattern != "-") return CheckOne(args.pattern, "", !args.no_warnings) ? kOk : kBadInput;
  bool all_valid = true;
  std::string line;
  size_t number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    all_valid &= CheckOne(line, "line " + std::to_string(number) + ": ", !args.no_warnings);
  }
  return all_valid ? kOk : kBadInput;
}

int RunEval(const EvalArgs& args) {
  auto compiled = pattern::CompiledPattern::Compile(args.pattern);
  if (!compiled.ok()) {
    std::fprintf(stderr, "pattern: %s\n", std::string(compiled.status().message()).c_str());
    return kBadInput;
  }
  std::vector<Buffer> buffers;
  std::vector<std::string_view> documents;
  for (const std::string& path : args.files) {
    auto buffer = ReadInput(path);
    if (!buffer.ok()) {
      std::fprintf(stderr, "%s: %s\n", path == "-" ? "<stdin>" : path.c_str(),
                   std::string(buffer.status().message()).c_str());
      return kRuntime;
    }
    buffers.push_back(std::move(*buffer));
  }
  for (const Buffer& b : buffers) documents.push_back(b.view());
  auto observations = pattern::ObservationSet::FromJson(documents);
  if (!observations.ok()) {
    std::fprintf(stderr, "%s\n", std::string(observations.status().message()).c_str());
    return kRuntime;
  }
  auto result = compiled->Evaluate(*observations);
  if (!result.ok()) {
    std::fprintf(stderr, "evaluation failed: %s\n", std::string(result.status().message()).c_str());
    return kRuntime;
  }
  const std::vector<const pattern::ObservationExpression*> leaves =
      pattern::Observations(compiled->pattern());
  if (args.json) {
    json::Array bindings;
    for (const pattern::Binding& b : result->bindings) {
      bindings.push_back(
          json::Object{{"observation", static_cast<int64_t>(b.observation)},
                       {"observation_expression", pattern::Print(*leaves[b.observation])},
                       {"observed_data", b.observed_data_id},
                       {"count", b.count}});
    }
    json::Object out{{"pattern", pattern::Print(compiled->pattern())},
                     {"matched", result->matched},
                     {"observed_data_count", static_cast<int64_t>(observations->size())},
                     {"bindings", std::move(bindings)}};
    std::printf("%s\n", json::Serialize(json::Value(std::move(out))).c_str());
  } else if (result->matched) {
    std::printf("matched\n");
    for (const pattern::Binding& b : result->bindings) {
      std::printf("  observation %zu %s: %s%s\n", b.observation,
                  pattern::Print(*leaves[b.observation]).c_str(), b.observed_data_id.c_str(),
                  b.count > 1 ? (" x" + std::to_string(b.count)).c_str() : "");
    }
  } else {
    std::printf("no match (%zu observed-data)\n", observations->size());
  }
  return result->matched ? kOk : kBadInput;
}

}  // namespace

void RegisterPatternCommand(CLI::App& root, int& exit_code) {
  CLI::App* command = root.add_subcommand("pattern", "Check or evaluate STIX patterns");
  command->require_subcommand(1);

  auto check_args = std::make_shared<CheckArgs>();
  CLI::App* check = command->add_subcommand(
      "check", "Check patterns against the STIX 2.1 grammar and rules; prints ok or the problems");
  check
      ->add_option("PATTERN", check_args->pattern,
                   "the pattern, or - for one pattern a line on stdin")
      ->required();
  check->add_flag("--no-warnings", check_args->no_warnings, "report errors only");
  check->callback([check_args, &exit_code] { exit_code = RunCheck(*check_args); });

  auto eval_args = std::make_shared<EvalArgs>();
  CLI::App* eval = command->add_subcommand(
      "eval", "Evaluate a pattern against observed-data (bundles or objects, .gz, - for stdin)");
  eval->add_option("--pattern,-p", eval_args->pattern, "the pattern")->required();
  eval->add_option("FILE", eval_args->files, "STIX JSON inputs, read together")->required();
  eval->add_flag("--json", eval_args->json, "print the result as JSON");
  eval->callback([eval_args, &exit_code] { exit_code = RunEval(*eval_args); });
}

}  // namespace liaison::app
