#pragma once

// STIX 2.0 -> 2.1 upgrade (`liaison upgrade`), so that the many 2.0 feeds still in use can be
// validated, stored and shared as 2.1.
//
// The rules follow the differences the STIX 2.1 specification makes from 2.0; docs/upgrade.md
// lists each with the clause it comes from and the choices made where the specification leaves
// one (malware is_family, 2.0 labels that only repeat the object's type). In short: every object
// gains spec_version "2.1" and the bundle loses its own; indicator gains pattern_type "stix";
// the `labels` of indicator, malware, report, threat-actor and tool become their `*_types`;
// malware gains is_family; observed-data's 2.0 cyber observable container becomes SCOs with
// deterministic ids plus `object_refs`; SCO properties 2.1 renamed are renamed; the TLP marking
// definitions become their 2.1 form (same ids). Objects already 2.1 pass through unchanged.
//
// The upgrade works on the core/json.h tree: it is not a hot path. Nothing here validates the
// result: run stix::Validator on the output for that.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace liaison::stix {

struct UpgradeOptions {
  // STIX 2.1 requires malware `is_family` (section "Malware"); 2.0 had none. 2.0 malware
  // objects in circulation overwhelmingly describe families (all of ATT&CK's do, and MITRE's own
  // 2.1 release sets true), so true is the default; set false for feeds of malware instances.
  bool malware_is_family = true;
  // Maximum JSON nesting accepted in the input.
  size_t max_depth = 256;
};

// What an upgrade did, for the summary `liaison upgrade` prints.
struct UpgradeReport {
  size_t objects = 0;       // objects read
  size_t upgraded = 0;      // STIX 2.0 objects rewritten as 2.1
  size_t unchanged = 0;     // objects already 2.1, passed through as they were
  size_t scos_created = 0;  // SCOs made from observed-data containers (after de-duplication)
  // Count of each kind of change, keyed by a short description such as
  // "indicator: labels -> indicator_types". Keys are stable; docs/upgrade.md lists them.
  std::map<std::string, size_t> changes;
  // Content STIX 2.1 cannot carry (dropped), or that needs a human look. Each starts with a JSON
  // pointer into the input, or "line N" for NDJSON.
  std::vector<std::string> warnings;

  void Merge(const UpgradeReport& other);
};

struct UpgradeResult {
  // The 2.1 objects: the SCOs made from an observed-data container first (so references point
  // backwards), then the upgraded object. One object for every other input.
  std::vector<json::Value> objects;
  UpgradeReport report;
};

// Upgrades one object. A missing spec_version means 2.0 (STIX 2.1: the implicit value
// for objects other than SCOs, section "Common Properties"), except on an SCO type, which only
// exists as a top-level object in 2.1. An object whose spec_version is "2.1" comes back unchanged.
// Errors: InvalidArgument when `object` is not a JSON object with a string `type`, names another
// spec_version, or has an observed-data container that is not a dictionary of objects.
Result<UpgradeResult> UpgradeObject(const json::Value& object, const UpgradeOptions& options = {});

// The upgraded content of a whole input, before it is written out.
struct UpgradedContent {
  enum class Form { kBundle, kEnvelope, kObject, kNdjson };
  Form form = Form::kObject;
  std::vector<std::string> objects;  // compact JSON texts; already-2.1 objects verbatim
  std::string bundle_id;             // kBundle: the input bundle's id
  bool more = false;                 // kEnvelope: the input's `more` and `next`
  std::string next;
  UpgradeReport report;
};

// Upgrades a bundle, a TAXII envelope, a single object or NDJSON (one object a line).
// Errors: InvalidArgument for malformed JSON or a malformed object, prefixed with where it is
// (a JSON pointer such as "/objects/12", or "line 7" for NDJSON).
Result<UpgradedContent> UpgradeContent(std::string_view text, const UpgradeOptions& options = {});

// Writes upgraded content in the form it came in: a bundle for a bundle (same id, no
// spec_version), NDJSON for NDJSON, an envelope for an envelope, an object for an object. A
// single object that became several (an observed-data with its SCOs) is written as a bundle.
std::string WriteUpgradedContent(const UpgradedContent& content);

// UpgradeContent + WriteUpgradedContent. `report`, when given, receives what was done.
Result<std::string> UpgradeInput(std::string_view text, const UpgradeOptions& options = {},
                                 UpgradeReport* report = nullptr);

// Rewrites the object paths of a STIX 2.0 pattern whose properties STIX 2.1 renamed (for
// example `file:created` -> `file:ctime`, hash name `ssdeep` -> `SSDEEP`); string literals are
// left alone. Paths to properties 2.1 removed are appended to `removed` (e.g. "process:name").
// Returns the number of rewrites made.
int UpgradePatternPaths(std::string& pattern, std::vector<std::string>* removed = nullptr);

}  // namespace liaison::stix
