#pragma once

// Private set intersection between two liaison servers (issue #7; docs/psi.md has the protocol,
// its semi-honest security model and what each side learns).
//
// ECDH-PSI over ristretto255: both parties hash their normalised items to the group with a
// per-session context, blind them with a per-run secret scalar, exchange them shuffled, blind
// the other's points again and compare digests of the double-blinded points:
//
//   requester (secret a)                              responder (secret b)
//   Hello(mode, kind, |X|, nonce)          ->
//                                          <-         Accept(session id, |Y|, digest length)
//   BlindedChunk_i: H(x)^a                 ->
//                                          <-         DigestChunk_i: d(H(x)^ab) (one-sided,
//                                                     mutual; same order)
//   FetchChunk_j                           ->
//                                          <-         ResponderChunk_j: H(y)^b, y shuffled
//   Finish(mutual: indices j of matches)   ->
//                                          <-         Finished(cardinality: all d(H(x)^ab),
//                                                     shuffled)
//
// Chunks may be exchanged in any order and concurrently (several connections), each exactly
// once; the requester drives the run, so the responder is a pure request handler and can sit
// behind any request/response transport (the TAXII server's HTTPS, or a direct call in tests).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "psi/normalize.h"
#include "psi/run_log.h"

namespace liaison::psi {

enum class Mode : uint8_t {
  kMutual = 1,       // both parties learn the intersection
  kOneSided = 2,     // only the requester learns the intersection
  kCardinality = 3,  // only the requester learns the size of the intersection
};

// "mutual", "one-sided", "cardinality".
Result<Mode> ParseMode(std::string_view name);
std::string_view ModeName(Mode mode);

// One request/response exchange with the responder. Implementations: the HTTPS client of
// psi/http/transport.h, and direct calls in tests. Not thread safe; the requester makes one per
// worker thread.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one protocol message and returns the responder's reply message, or its error (the
  // responder's Status, carried over HTTP as a TAXII error message).
  virtual Result<std::string> Exchange(std::string_view message) = 0;
};
using TransportFactory = std::function<Result<std::unique_ptr<Transport>>()>;

struct RequestOptions {
  Mode mode = Mode::kOneSided;
  // The responder's watch-list; "" lets the responder pick the only one of the kind that the
  // partner may use.
  std::string remote_list;
  // Worker threads, each with its own transport (0: twice the hardware threads, so that local
  // crypto and the responder's run at the same time).
  size_t workers = 0;
  // Items per chunk message (the responder may lower it).
  uint32_t chunk_items = 4096;
};

struct RunResult {
  Mode mode = Mode::kOneSided;
  std::string session_id;  // hex
  uint64_t requester_set_size = 0;
  uint64_t responder_set_size = 0;
  // The size of the intersection (all modes).
  uint64_t cardinality = 0;
  // The requester's items in the intersection (mutual, one-sided), in list order.
  std::vector<std::string> intersection;
  // Protocol bytes sent and received (message bodies, without transport framing).
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

// Runs one session as the requester with `list` (normalised, de-duplicated: see WatchList).
// Errors: the responder's refusal (PermissionDenied, ResourceExhausted for rate limits,
// InvalidArgument), Unavailable for transport failures, DataLoss for a reply that breaks the
// protocol (wrong session, step or size: a replayed or reordered message).
Result<RunResult> RunRequester(const WatchList& list, const RequestOptions& options,
                               const TransportFactory& connect);

// Abuse resistance (issue #7): PSI reveals membership by design, so a partner could probe with
// crafted small sets. Each partner (a group of the authenticated user) gets a policy.
struct PartnerPolicy {
  std::string partner;             // group name
  std::vector<std::string> lists;  // the watch-lists it may intersect with; empty: none
  std::vector<Mode> modes = {Mode::kMutual, Mode::kOneSided, Mode::kCardinality};
  uint64_t min_set_size = 100;       // requester's set below this: refused
  uint64_t max_set_size = 1u << 22;  // requester's set above this: refused
  size_t max_runs = 10;              // runs started per `period`
  std::chrono::seconds period{86400};
  std::chrono::seconds cooldown{60};  // between the start of two runs
};

// A partner's runs as counted where every responder of the same server sees them (the store's
// Store::AdmitUse: several nodes on one database, or one node across restarts).
struct SharedRuns {
  bool admitted = false;  // this run was counted
  size_t runs = 0;        // the partner's runs started within the period before this one
  std::optional<std::chrono::system_clock::time_point> oldest;  // the oldest of them
  std::optional<std::chrono::system_clock::time_point> latest;  // the latest of them
};

struct ResponderList {
  std::string name;
  WatchList list;
};

struct ResponderOptions {
  std::vector<ResponderList> lists;
  std::vector<PartnerPolicy> partners;
  size_t max_sessions = 8;                    // concurrently open sessions, all partners together
  std::chrono::seconds session_timeout{600};  // since the last message
  uint32_t max_chunk_items = 65536;
  // Where the responder's results of mutual runs are written (one file per run, mode 0600);
  // "" keeps only the record.
  std::string results_dir;
  // Called for a Hello that this responder's own counts admit, before its session opens: counts
  // the run where every responder sharing it sees it, or does not when the partner's runs counted
  // there reach `max_runs` within `period` or the latest lies within `cooldown` (the refusal then
  // says which, as for the responder's own counts). An error refuses the run (Unavailable).
  // Unset: this responder's own counts alone (one process; a restart forgets them).
  std::function<Result<SharedRuns>(const PartnerPolicy& policy,
                                   std::chrono::system_clock::time_point now)>
      shared_runs;
  // The clock for rate limits and records (tests inject one).
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
};

// The authenticated caller, as the transport established it.
struct Caller {
  std::string user;
  std::vector<std::string> groups;
};

class Responder {
 public:
  // `recorder` outlives the responder. InvalidArgument for a policy naming an unknown list or
  // duplicate names.
  static Result<std::unique_ptr<Responder>> Create(ResponderOptions options, RunRecorder& recorder);
  virtual ~Responder() = default;

  // Handles one protocol message from `caller` and returns the reply. Thread safe; chunks of
  // one session may be handled concurrently. Errors: InvalidArgument (malformed message),
  // NotFound (unknown or expired session, or a session of another user), AlreadyExists (a
  // replayed step), FailedPrecondition (a step out of order), PermissionDenied (no policy, mode
  // or list not allowed), ResourceExhausted (rate limit, cool-down, too many sessions; the
  // status payload "retry-after" holds the seconds to wait), OutOfRange (set size outside the
  // policy).
  virtual Result<std::string> Handle(const Caller& caller, std::string_view message) = 0;

  // Closes sessions idle for longer than the timeout (also done on every Hello).
  virtual void ExpireSessions() = 0;
  virtual size_t open_sessions() const = 0;
};

// The status payload URL under which a ResourceExhausted refusal carries its Retry-After.
inline constexpr std::string_view kRetryAfterPayload = "liaison.psi/retry-after";

}  // namespace liaison::psi
