#pragma once

// Validation of STIX 2.1 content against the MUST rules of the specification (errors) and its
// SHOULD rules (warnings), with a JSON pointer and a rule name on every finding.
//
// Accepts what arrives in practice: a bundle, a single object, a TAXII envelope, or NDJSON (one
// object a line). STIX 2.0 content is recognised and reported as such (see upgrade.h).

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "stix/object.h"

namespace liaison::stix {

enum class Severity { kError, kWarning };

struct Finding {
  Severity severity = Severity::kError;
  std::string pointer;  // JSON pointer into the input, e.g. "/objects/12/valid_from"
  std::string message;  // lower case, no final period
  std::string rule;     // stable rule name, e.g. "timestamp" (docs/validation.md lists them)
  size_t line = 0;      // 1-based position of the pointed-to value; 0 when unknown
  size_t column = 0;
};

enum class InputForm { kUnknown, kBundle, kEnvelope, kObject, kNdjson };

// Checks the text of a STIX pattern (an indicator whose pattern_type is "stix", STIX 2.1
// section 9). Returns "" when the pattern is valid, else why not (lower case, naming the byte
// offset in the pattern). The pattern module provides one (pattern/parse.h, pattern/check.h);
// it is passed in so that stix does not depend on pattern (STYLE.md section 2).
using PatternChecker = std::function<std::string(std::string_view pattern)>;

struct ValidateOptions {
  size_t max_depth = 100;              // JSON nesting; deeper input is an error
  size_t max_string_bytes = 64 << 20;  // longest string value accepted
  size_t max_findings = 1000;          // findings kept per input (all are counted)
  bool check_sco_ids = false;          // report SCOs whose id is not the deterministic one
  bool warnings = true;                // report SHOULD-level findings
  // When set, an indicator with pattern_type "stix" whose pattern this refuses is an error
  // (rule "pattern"). Unset: patterns are checked only for being strings.
  PatternChecker check_pattern;
};

struct Report {
  InputForm form = InputForm::kUnknown;
  std::vector<Finding> findings;  // in input order, at most options.max_findings
  size_t objects = 0;             // STIX objects seen
  size_t errors = 0;              // all errors, including those past max_findings
  size_t warnings = 0;
  bool stix20 = false;  // the input is STIX 2.0 content (use `liaison upgrade`)

  bool ok() const { return errors == 0; }
};

// Bytes that must be readable past the end of an input passed with `padded` = true. Callers that
// can over-allocate their buffer save a copy of the whole input.
inline constexpr size_t kInputPadding = 64;

// A reusable validator. Not thread safe: use one per thread. Reusing one amortises the parser's
// buffers over many inputs.
class Validator {
 public:
  explicit Validator(ValidateOptions options = {});
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Validates a whole input. Positions (line, column) are filled in for every finding.
  Report Validate(std::string_view text, bool padded = false);

  // Validates one object's JSON text, e.g. an element of a TAXII envelope, appending findings
  // with pointers prefixed by `pointer` (such as "/objects/3"). Positions are relative to `json`.
  void ValidateObject(std::string_view json, std::string_view pointer, Report& report);
  // The same, and sets *object to what ParseObject(json) returns, extracted from the same parse
  // (a TAXII POST needs both: parsing each object once saves ~8 % of its CPU). *object is left
  // empty when `json` is not well-formed JSON (ParseObject then fails with a parse error).
  void ValidateObject(std::string_view json, std::string_view pointer, Report& report,
                      std::optional<Result<Object>>* object);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: validates one object's JSON text with default options.
Report ValidateObjectText(std::string_view json);

}  // namespace liaison::stix
