#pragma once

// Sync with peers (issue #6, DESIGN.md data flow 3): pull new object versions from a peer's
// TAXII collection into a local collection, and push what the release policy allows from a local
// collection to a peer's collection. Works against any TAXII 2.1 server; between two liaison
// servers it also exchanges signed receipts. docs/sync.md explains the cursors and why they
// cannot miss or repeat anything.
//
// Invariants:
//  * Idempotent: an (id, version) already stored is a duplicate, not a new version, so re-running
//    a round adds nothing, and rings of servers (A -> B -> C -> A) stop once everyone has a
//    version: a duplicate gets no new date_added, so no push cursor ever sees it again.
//  * Resumable: a cursor is saved only after what it covers is durable (pulled objects committed
//    locally; pushed objects acknowledged by the peer's status resource).
//  * Never back to the source: versions received from a peer (by pull, or pushed to us by it) are
//    not pushed to that peer.
//
// Threads: an Engine may run rounds for different peers concurrently; the rounds of one peer
// must not overlap (RunScheduled and `liaison sync` run them one after the other).

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
#include "store/store.h"
#include "taxii/server.h"
#include "taxii/sync/client.h"
#include "taxii/sync/receipt.h"

namespace liaison::taxii::sync {

enum class Direction { kPull, kPush, kBoth };

// One [[peer]] of the configuration.
struct PeerConfig {
  std::string name;            // unique; names the cursors
  std::string collection_url;  // the peer's collection: <api-root-url>collections/<id>/
  ClientOptions client;        // credentials, TLS, timeouts, retries
  Direction direction = Direction::kPull;
  std::string local_collection;        // the local collection id pulled into / pushed from
  std::chrono::seconds interval{300};  // how often `liaison serve` runs a round
  size_t page_size = 1000;             // pull: the limit asked of the peer
  size_t batch_size = 500;             // push: objects per POST
  // Pull: how far before its high-water mark each round re-reads, for servers whose date_added
  // is not commit-ordered. nullopt: none for liaison peers (Server: liaison), else 5 minutes.
  std::optional<std::chrono::seconds> overlap;
  // Pull: after each round, compare the peer's manifest with what we received from it and delete
  // what it no longer has (O(collection): off by default).
  bool propagate_deletions = false;
  // The local user this peer authenticates as when it pushes to us (receipts and origin).
  std::string inbound_user;
  // The peer's receipt signing key (base64). Empty: trust the first key seen (kept in the store).
  std::string receipt_key;
};

struct RoundStats {
  size_t pulled_pages = 0;
  size_t pulled_added = 0;
  size_t pulled_duplicates = 0;
  size_t pulled_invalid = 0;     // objects that failed STIX validation (not stored)
  size_t deleted = 0;            // versions deleted because the peer no longer has them
  size_t pushed = 0;             // versions the peer acknowledged (added or duplicate)
  size_t push_withheld = 0;      // versions the release filter withheld
  size_t push_not_returned = 0;  // versions skipped because they came from this peer
  size_t push_failed = 0;        // versions the peer refused (recorded, retried next round)
  size_t receipts = 0;           // valid receipts received
  size_t bad_receipts = 0;       // receipts malformed, badly signed or not matching what was sent
  size_t push_restarts = 0;      // pushes started over because the release version changed
  size_t push_reoffered = 0;     // versions withheld for invisible ends, decided again

  RoundStats& operator+=(const RoundStats& o);
};

// What leaves for a peer: the JSON text to send, or nullopt to withhold the version. The policy
// module supplies it (release rules, sanitising); the default sends every version as stored.
using ReleaseFilter = std::function<Result<std::optional<std::string>>(
    std::string_view peer, const store::ObjectRecord& record)>;

// A receipt one side keeps: sent (we pushed, the peer signed) or received (the peer pushed, we
// signed). The release log records them; the default keeps them in the store's sync state.
struct ReceiptRecord {
  enum class Kind { kSent, kReceived };
  Kind kind = Kind::kSent;
  std::string peer;  // the peer's name ("" when a pushing user maps to no configured peer)
  Receipt receipt;
  bool verified = false;  // signature valid and digest matching what was sent
};
using ReceiptRecorder = std::function<Status(const ReceiptRecord&)>;

struct EngineOptions {
  ReleaseFilter release;     // null: allow all
  ReceiptRecorder recorder;  // null: keep receipts in the store (key "receipt/<peer>/...")
  // A received receipt (a POST to this server) as an audit entry, logged in the same commit as
  // the objects it acknowledges (Store::AddWithAudit, with `receipt_chain`). Null: `recorder`
  // records it once the objects are stored.
  std::function<Result<store::AuditRecord>(const ReceiptRecord&)> receipt_entry;
  store::AuditChainFn receipt_chain;
  // This server's signing key (receipts it issues) and name; may be null (no receipts issued,
  // none announced).
  const Signer* signer = nullptr;
  std::string server_name = "liaison";
  // How long to poll a pending status resource before leaving the batch for the next round.
  std::chrono::milliseconds status_wait{30'000};
  // An opaque version of what `release` lets out to a peer (the partner's policy version). The
  // push cursor remembers the version it advanced under; when the version changes, the next
  // push starts over from the beginning of the collection, so versions withheld before reach
  // the peer once the policy releases them (those it already has come back as duplicates).
  // Null: the version never changes.
  std::function<std::string(std::string_view peer)> release_version;
  // Whether a version `release` just withheld may be released later under the same release
  // version, because what withholds it is that an object it references is not visible to the
  // peer now (a relationship whose end is withheld, docs/policy.md rule 6). Such versions are
  // remembered (`pushwait/<peer>/<collection>`, at most 10,000, the oldest dropped first) and
  // decided again at the start of every round, so they reach the peer once the end gets a
  // visible version. Null: withheld versions are only re-offered after a release version change.
  std::function<Result<bool>(std::string_view peer, const store::ObjectRecord& record)>
      withheld_for_ends;
};

class Engine {
 public:
  // `store` outlives the engine; so does options.signer.
  Engine(store::Store& store, EngineOptions options);

  // One round with `peer`: pull then push, as its direction says. Errors stop the round with the
  // cursors at the last durable point; the stats so far are lost with it (logged by the caller).
  Result<RoundStats> RunRound(const PeerConfig& peer);
  Result<RoundStats> Pull(const PeerConfig& peer);
  Result<RoundStats> Push(const PeerConfig& peer);

  // The receipt hook for the local TAXII server (ServerOptions::post_observer): signs a receipt
  // for each POST, records it, and records the origin range when the caller is a peer's
  // inbound_user. `peers` is copied.
  std::shared_ptr<PostObserver> MakePostObserver(std::vector<PeerConfig> peers);

  // Runs rounds for every peer on its interval until `stop` returns true (checked every 200 ms
  // and between pages, so a long round stops early too).
  // Errors are reported through `log` and retried at the next interval.
  void RunScheduled(const std::vector<PeerConfig>& peers, const std::function<bool()>& stop,
                    const std::function<void(std::string_view)>& log);

 private:
  Status Record(const ReceiptRecord& record);
  Status DeleteVanished(const PeerConfig& peer, Client& client, RoundStats& stats);

  // Cancelled between pages and batches when it says so (RunScheduled's stop); the cursors stay
  // at the last durable point.
  Status CheckStop() const;

  store::Store& store_;
  EngineOptions options_;
  const std::function<bool()>* stop_ = nullptr;  // set only while RunScheduled runs
};

// Parses "pull", "push" or "both".
Result<Direction> ParseDirection(std::string_view text);

}  // namespace liaison::taxii::sync
