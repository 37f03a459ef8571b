// Every STIX 2.1 file nobody on the project wrote (../shared/data/stix and the OASIS schema
// examples) validates with zero errors, except for the real specification violations listed in
// kKnownViolations with the clause they break. STIX 2.0 files are checked by upgrade_test.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "core/file.h"
#include "core/json.h"
#include "stix/validate.h"
#include "testing/shared_data.h"

namespace liaison::stix {
namespace {

struct KnownViolation {
  std::string_view file;     // path relative to ../shared/data
  std::string_view pointer;  // the finding's JSON pointer
  std::string_view rule;
  std::string_view clause;  // why this is a real violation of STIX 2.1
};

// Real violations in third-party data. Each entry names the clause of STIX 2.1 it breaks.
constexpr std::string_view kNotUrl =
    "STIX 2.1 section 6.15 (url): value MUST conform to RFC 3986; a defanged host is not a URL";
constexpr std::string_view kEmptyList =
    "STIX 2.1 section 2.10 (list): lists MUST NOT be empty (the OASIS schemas say minItems 1)";
constexpr std::string_view kFileTypes =
    "STIX 2.1 section 6.7 (file): hashes is of type hashes (a dictionary), size an integer";
constexpr std::string_view kNull =
    "STIX 2.1 section 3.1: a property that has no value MUST be omitted, not set to null";
constexpr std::string_view kMillis =
    "STIX 2.1 section 3.2 (created): the timestamp MUST be precise to the nearest millisecond";

constexpr KnownViolation kKnownViolations[] = {
    {"stix/attack-flow-corpus/corpus/cisa-iranian-apt.json", "/objects/45/value", "property-type",
     kNotUrl},
    {"stix/attack-flow-corpus/corpus/cisa-iranian-apt.json", "/objects/46/value", "property-type",
     kNotUrl},
    {"stix/attack-flow-corpus/corpus/hancitor-dll.json", "/objects/46/value", "property-type",
     kNotUrl},
    {"stix/attack-flow-corpus/corpus/mac-malware-steals-crypto.json", "/objects/2/start_refs",
     "empty-list", kEmptyList},
    {"stix/attack-flow-corpus/corpus/mac-malware-steals-crypto.json", "/objects/22/capabilities",
     "empty-list", kEmptyList},
    {"stix/attack-flow-corpus/corpus/notpetya.json", "/objects/2/start_refs", "empty-list",
     kEmptyList},
    {"stix/attack-flow-corpus/corpus/uber-breach.json", "/objects/2/start_refs", "empty-list",
     kEmptyList},
    {"stix/attack-flow-corpus/corpus/swift-heist.json", "/objects/6/aliases", "empty-list",
     kEmptyList},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/7/hashes", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/7/size", "property-type", kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/16/hashes", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/16/size", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/43/hashes", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/43/size", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/53/hashes", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/53/size", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/55/hashes", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/shamoon.json", "/objects/55/size", "property-type",
     kFileTypes},
    {"stix/attack-flow-corpus/corpus/uber-breach.json",
     "/objects/2/external_references/0/description", "property-type", kNull},
    {"stix/attack-flow-corpus/corpus/uber-breach.json",
     "/objects/2/external_references/1/description", "property-type", kNull},
    {"stix/attack-flow-corpus/corpus/uber-breach.json",
     "/objects/2/external_references/2/description", "property-type", kNull},
    {"stix/attack-flow-corpus/corpus/uber-breach.json",
     "/objects/2/external_references/3/description", "property-type", kNull},
    // NDJSON pointers are relative to the line's object.
    {"stix/capec/capec-3.9.stix21-objects.ndjson.gz", "/external_references/3/url", "property-type",
     kNotUrl},
    {"stix/capec/capec-3.9.stix21-objects.ndjson.gz", "/external_references/4/url", "property-type",
     kNotUrl},
    {"stix/cti-python-stix2/v21/marking-definition/"
     "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168.json",
     "/objects/0/created", "timestamp", kMillis},
};

bool IsKnown(const std::string& file, const Finding& f) {
  for (const KnownViolation& k : kKnownViolations) {
    if (k.file == file && k.pointer == f.pointer && k.rule == f.rule) return true;
  }
  return false;
}

// STIX content is NDJSON of objects, or JSON whose top-level object has a string "type" (a
// bundle or one object). MISP events, JSON schemas and mapping tables are not STIX.
bool LooksLikeStix(const std::filesystem::path& path, std::string_view text) {
  if (path.string().ends_with(".ndjson.gz")) return true;
  auto tree = json::Parse(text);
  if (!tree.ok() || !tree->is_object()) return false;
  const json::Value* type = tree->Find("type");
  return type != nullptr && type->is_string() && tree->Find("$schema") == nullptr;
}

TEST(RealData, EveryStix21FileValidatesWithoutErrors) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::filesystem::path data = shared / "data";
  std::vector<std::filesystem::path> files =
      testing::FilesUnder(data / "stix", {".json", ".ndjson.gz", ".json.gz"});
  for (const auto& f : testing::FilesUnder(data / "stix2-json-schemas" / "examples", {".json"})) {
    files.push_back(f);
  }
  ASSERT_GT(files.size(), 50u);

  Validator validator;
  size_t validated = 0, objects = 0, stix20 = 0;
  for (const auto& path : files) {
    const std::string relative = std::filesystem::relative(path, data).string();
    auto buffer = ReadInput(path.string());
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    if (!LooksLikeStix(path, buffer->view())) continue;
    Report report = validator.Validate(buffer->view(), true);
    if (report.stix20) {
      ++stix20;
      continue;
    }
    ++validated;
    objects += report.objects;
    for (const Finding& f : report.findings) {
      if (f.severity != Severity::kError || IsKnown(relative, f)) continue;
      ADD_FAILURE() << relative << ":" << f.line << ":" << f.column << ": " << f.pointer << ": "
                    << f.message << " [" << f.rule << "]";
    }
    EXPECT_LE(report.errors, report.findings.size()) << relative << ": errors past max_findings";
  }
  // The data set is known: these counts catch a filter that silently skips files.
  EXPECT_GE(validated, 55u);
  EXPECT_GE(objects, 7000u);
  EXPECT_GE(stix20, 10u);
  std::printf(
      "validated %zu STIX 2.1 files (%zu objects); %zu STIX 2.0 files left to upgrade_test\n",
      validated, objects, stix20);
}

}  // namespace
}  // namespace liaison::stix
