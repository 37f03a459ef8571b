#pragma once

// The record of PSI runs (issue #7: "every run is recorded in the release log (who, when, mode,
// set sizes, result size) — never the items"). The responder hands one RunRecord per run, and
// per refused attempt, to a RunRecorder. The release log of src/policy is to implement this
// interface; FileRunRecorder is a stand-alone implementation that appends JSON lines.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

namespace liaison::psi {

struct RunRecord {
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point ended;
  std::string session_id;  // hex; "" for an attempt refused before a session existed
  std::string role;        // "responder" or "requester"
  std::string user;        // the authenticated user of the partner's server
  std::string partner;     // the partner (the user's group whose policy applied), or ""
  std::string mode;        // "mutual", "one-sided", "cardinality"
  std::string kind;        // item kind
  std::string list;        // the local watch-list used
  uint64_t requester_set_size = 0;
  uint64_t responder_set_size = 0;
  // What this side learnt of the intersection size; absent where it learns nothing (the
  // responder of a one-sided or cardinality run) or the run did not finish.
  std::optional<uint64_t> result_size;
  // "completed", "refused: <why>", "aborted: <why>", "expired".
  std::string outcome;
};

class RunRecorder {
 public:
  virtual ~RunRecorder() = default;
  // Durably records `record`. Thread safe. An error makes the responder refuse the run (a run
  // that cannot be logged must not happen).
  virtual Status Record(const RunRecord& record) = 0;
};

// Appends one JSON object per line to `path` (created with mode 0600 when missing) and fsyncs
// each record. Errors: the open error of the file.
Result<std::unique_ptr<RunRecorder>> OpenFileRunRecorder(const std::string& path);

// The JSON line FileRunRecorder writes (no trailing newline).
std::string RunRecordJson(const RunRecord& record);

}  // namespace liaison::psi
