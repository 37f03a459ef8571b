// The sync engine. docs/sync.md has the design; the invariants are in sync.h.
//
// Cursor state, per (peer, local collection), in the store's sync state:
//   pull/<peer>/<collection>  {"after": <peer date_added high-water>, "next": <peer cursor>}
//   push/<peer>/<collection>  {"after": <local date_added high-water>}
//   pushfail/<peer>/<collection>  [{"id", "version", "message"}...]  (retried each round)
//   peerkey/<peer>            the peer's receipt key, first seen (trust on first use)
//
// Pull order per page: fetch -> validate -> Store::Add (durable) -> AddReceivedRange -> save
// cursor. A crash between any two steps re-reads the page next round; the store reports its
// versions as duplicates, so nothing is stored twice. Push order per batch: read local page ->
// filter -> POST -> status complete -> record failures -> save cursor; a crash re-sends the batch
// and the peer reports duplicates.

#include "taxii/sync/sync.h"

#include <algorithm>
#include <future>
#include <random>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "stix/object.h"
#include "stix/serialize.h"
#include "stix/validate.h"
#include "store/filter.h"

namespace liaison::taxii::sync {
namespace {

constexpr std::chrono::seconds kDefaultOverlap{300};
constexpr size_t kMaxRecordedFailures = 10'000;

std::string PullKey(const PeerConfig& p) {
  return StrCat("pull/", p.name, "/", p.local_collection);
}
std::string PushKey(const PeerConfig& p) {
  return StrCat("push/", p.name, "/", p.local_collection);
}
std::string FailKey(const PeerConfig& p) {
  return StrCat("pushfail/", p.name, "/", p.local_collection);
}
// Versions withheld because something they reference was invisible (docs/sync.md, "Ends that
// become visible"): re-decided at the start of every round.
std::string WaitKey(const PeerConfig& p) {
  return StrCat("pushwait/", p.name, "/", p.local_collection);
}

struct PullCursor {
  std::optional<Timestamp> after;
  std::string next;
};

Result<PullCursor> LoadPullCursor(store::Store& store, const PeerConfig& peer) {
  PullCursor c;
  LIAISON_ASSIGN_OR_RETURN(auto text, store.GetSyncState(PullKey(peer)));
  if (!text) return c;
  auto v = json::Parse(*text);
  if (!v.ok() || !v->is_object()) return absl::DataLossError(StrCat(PullKey(peer), ": corrupt"));
  if (const json::Value* a = v->Find("after"); a && a->is_string()) {
    auto t = Timestamp::Parse(a->as_string());
    if (!t.ok()) return absl::DataLossError(StrCat(PullKey(peer), ": corrupt after"));
    c.after = *t;
  }
  if (const json::Value* n = v->Find("next"); n && n->is_string()) c.next = n->as_string();
  return c;
}

Status SavePullCursor(store::Store& store, const PeerConfig& peer, const PullCursor& c,
                      const std::optional<std::pair<Timestamp, Timestamp>>& range) {
  json::Object o;
  if (c.after) o.emplace_back("after", c.after->ToString(9));
  if (!c.next.empty()) o.emplace_back("next", c.next);
  std::optional<store::ReceivedRange> received;
  if (range)
    received = store::ReceivedRange{peer.local_collection, peer.name, range->first, range->second};
  return store.PutSyncState(PullKey(peer), json::Serialize(o), received);
}

struct Failure {
  std::string id;
  std::string version;  // DigestVersion form; "" for an object without one
  std::string message;
};

Result<std::vector<Failure>> LoadFailures(store::Store& store, const std::string& key) {
  std::vector<Failure> out;
  LIAISON_ASSIGN_OR_RETURN(auto text, store.GetSyncState(key));
  if (!text || text->empty()) return out;
  auto v = json::Parse(*text);
  if (!v.ok() || !v->is_array()) return absl::DataLossError(StrCat(key, ": corrupt"));
  for (const json::Value& f : v->as_array()) {
    Failure failure;
    if (const json::Value* x = f.Find("id"); x && x->is_string()) failure.id = x->as_string();
    if (const json::Value* x = f.Find("version"); x && x->is_string())
      failure.version = x->as_string();
    if (const json::Value* x = f.Find("message"); x && x->is_string())
      failure.message = x->as_string();
    out.push_back(std::move(failure));
  }
  return out;
}

Result<std::vector<Failure>> LoadFailures(store::Store& store, const PeerConfig& peer) {
  return LoadFailures(store, FailKey(peer));
}

Status SaveFailures(store::Store& store, const std::string& key, std::vector<Failure> failures) {
  if (failures.size() > kMaxRecordedFailures) {
    // Bounded: the oldest are dropped (and logged by count in the round's stats).
    failures.erase(failures.begin(), failures.end() - kMaxRecordedFailures);
  }
  json::Array a;
  for (const Failure& f : failures) {
    a.push_back(json::Object{{"id", f.id}, {"version", f.version}, {"message", f.message}});
  }
  return store.PutSyncState(key, json::Serialize(a));
}

Status SaveFailures(store::Store& store, const PeerConfig& peer, std::vector<Failure> failures) {
  return SaveFailures(store, FailKey(peer), std::move(failures));
}

bool InRanges(const std::vector<std::pair<Timestamp, Timestamp>>& ranges, Timestamp t) {
  // Ranges are sorted and disjoint.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), t,
                             [](Timestamp x, const auto& r) { return x < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return t <= it->second;
}

// The filter that selects every stored version of every spec version, in date_added order.
store::Filter EverythingFilter() {
  store::Filter f;
  f.versions = {store::VersionMatch::All()};
  f.spec_versions = {"2.0", "2.1"};
  return f;
}

// The local range of versions that one Add stored (AddResult outcomes of kind kAdded).
std::optional<std::pair<Timestamp, Timestamp>> AddedRange(const store::AddResult& result) {
  std::optional<std::pair<Timestamp, Timestamp>> range;
  for (const store::AddOutcome& o : result.outcomes) {
    if (o.kind != store::AddOutcome::Kind::kAdded) continue;
    if (!range) {
      range.emplace(o.date_added, o.date_added);
    } else {
      range->first = std::min(range->first, o.date_added);
      range->second = std::max(range->second, o.date_added);
    }
  }
  return range;
}

class ReceiptObserver final : public PostObserver {
 public:
  ReceiptObserver(store::Store& store, const EngineOptions& options, std::vector<PeerConfig> peers,
                  std::function<Status(const ReceiptRecord&)> record)
      : store_(store),
        signer_(options.signer),
        server_name_(options.server_name),
        entry_(options.receipt_entry),
        chain_(options.receipt_chain),
        peers_(std::move(peers)),
        record_(std::move(record)) {}

  Prepared BeforeAdd(const Incoming& incoming) override {
    Prepared prepared;
    if (signer_ == nullptr) return prepared;
    Receipt r;
    r.receiver_name = server_name_;
    r.sender = std::string(incoming.user);
    r.sender_key = std::string(incoming.sender_key.substr(0, 100));
    r.collection = std::string(incoming.collection);
    r.status_id = std::string(incoming.status_id);
    r.time = Timestamp::Now();
    // Views of the posted ids (no copies); the version strings live in `versions`.
    std::vector<std::string> versions;
    versions.reserve(incoming.objects.size());
    std::vector<std::pair<std::string_view, std::string_view>> keys;
    keys.reserve(incoming.objects.size());
    for (const stix::Object& o : incoming.objects) versions.push_back(DigestVersion(o.version()));
    for (size_t i = 0; i < incoming.objects.size(); ++i) {
      keys.emplace_back(incoming.objects[i].id, versions[i]);
    }
    r.count = static_cast<int64_t>(incoming.objects.size());
    r.digest = ReceiptDigestViews(std::move(keys));
    r.SignWith(*signer_);
    prepared.headers.emplace_back("X-Liaison-Receipt", r.ToHeader());
    ReceiptRecord rec{ReceiptRecord::Kind::kReceived, PeerOf(incoming.user), std::move(r), true};
    if (entry_ && chain_) {
      // An entry that cannot be made (it never fails for a receipt we signed) is not worth
      // failing the POST for: the receipt went out in the header either way.
      if (auto entry = entry_(rec); entry.ok()) {
        prepared.audit.push_back(*std::move(entry));
        prepared.chain = chain_;
      }
    } else {
      prepared.after_add = [this, rec = std::move(rec)] { (void)record_(rec); };
    }
    return prepared;
  }

  void OnObjectsAdded(const Incoming& incoming, const store::AddResult& result) override {
    const std::string peer = PeerOf(incoming.user);
    if (peer.empty()) return;
    if (auto range = AddedRange(result)) {
      // Failing to record only means these versions may be offered back to the peer, which
      // will report them as duplicates: not worth failing the POST, whose objects are stored.
      (void)store_.AddReceivedRange(incoming.collection, peer, range->first, range->second);
    }
  }

 private:
  // The configured peer whose inbound_user posted ("" for none).
  std::string PeerOf(std::string_view user) const {
    std::string peer;
    for (const PeerConfig& p : peers_) {
      if (!p.inbound_user.empty() && p.inbound_user == user) peer = p.name;
    }
    return peer;
  }

  store::Store& store_;
  const Signer* signer_;
  const std::string server_name_;
  const std::function<Result<store::AuditRecord>(const ReceiptRecord&)> entry_;
  const store::AuditChainFn chain_;
  const std::vector<PeerConfig> peers_;
  std::function<Status(const ReceiptRecord&)> record_;
};

}  // namespace

RoundStats& RoundStats::operator+=(const RoundStats& o) {
  pulled_pages += o.pulled_pages;
  pulled_added += o.pulled_added;
  pulled_duplicates += o.pulled_duplicates;
  pulled_invalid += o.pulled_invalid;
  deleted += o.deleted;
  pushed += o.pushed;
  push_withheld += o.push_withheld;
  push_not_returned += o.push_not_returned;
  push_failed += o.push_failed;
  receipts += o.receipts;
  bad_receipts += o.bad_receipts;
  push_restarts += o.push_restarts;
  push_reoffered += o.push_reoffered;
  return *this;
}

Result<Direction> ParseDirection(std::string_view text) {
  if (text == "pull") return Direction::kPull;
  if (text == "push") return Direction::kPush;
  if (text == "both") return Direction::kBoth;
  return absl::InvalidArgumentError(
      StrCat("direction: expected pull, push or both, got \"", text, "\""));
}

Engine::Engine(store::Store& store, EngineOptions options)
    : store_(store), options_(std::move(options)) {}

Status Engine::Record(const ReceiptRecord& record) {
  if (options_.recorder) return options_.recorder(record);
  const std::string key =
      StrCat("receipt/", record.peer.empty() ? record.receipt.sender : record.peer, "/",
             record.kind == ReceiptRecord::Kind::kSent ? "sent/" : "received/",
             record.receipt.time.ToString(6), "/", record.receipt.digest.substr(0, 16));
  json::Object o{{"verified", record.verified}, {"receipt", record.receipt.ToJson()}};
  return store_.PutSyncState(key, json::Serialize(o));
}

std::shared_ptr<PostObserver> Engine::MakePostObserver(std::vector<PeerConfig> peers) {
  return std::make_shared<ReceiptObserver>(store_, options_, std::move(peers),
                                           [this](const ReceiptRecord& r) { return Record(r); });
}

Status Engine::CheckStop() const {
  if (stop_ != nullptr && (*stop_)()) return absl::CancelledError("sync stopped");
  return absl::OkStatus();
}

Result<RoundStats> Engine::RunRound(const PeerConfig& peer) {
  RoundStats stats;
  if (peer.direction != Direction::kPush) {
    LIAISON_ASSIGN_OR_RETURN(RoundStats s, Pull(peer));
    stats += s;
  }
  if (peer.direction != Direction::kPull) {
    LIAISON_ASSIGN_OR_RETURN(RoundStats s, Push(peer));
    stats += s;
  }
  return stats;
}

Result<RoundStats> Engine::Pull(const PeerConfig& peer) {
  RoundStats stats;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Create(peer.client));
  LIAISON_ASSIGN_OR_RETURN(PullCursor cursor, LoadPullCursor(store_, peer));
  const size_t page_size = std::max<size_t>(1, peer.page_size);

  ObjectsQuery query;
  query.limit = page_size;
  query.versions = {"all"};
  query.spec_versions = {"2.0", "2.1"};
  // The overlap is decided once we know whether the peer is a liaison server; a resumed `next`
  // is tried first and dropped if the peer no longer honours it (servers may expire them).
  std::optional<std::chrono::seconds> overlap = peer.overlap;
  auto set_added_after = [&](const std::string& server) {
    if (!overlap) {
      overlap = server.rfind("liaison", 0) == 0 ? std::chrono::seconds(0) : kDefaultOverlap;
    }
    query.added_after.reset();
    if (cursor.after) {
      // Re-read `overlap` before the high-water mark: a server that assigns date_added before its
      // commit may still show versions dated earlier than what we saw (docs/sync.md).
      const int64_t micros = store::ToUnixMicros(*cursor.after) - overlap->count() * 1'000'000;
      query.added_after = store::FromUnixMicros(std::max<int64_t>(micros, 0));
    }
  };
  if (!cursor.next.empty()) {
    query.next = cursor.next;
    if (cursor.after) query.added_after = cursor.after;
  }

  // The first request learns the peer's kind and may fall back from a stale `next`.
  if (query.next.empty()) {
    if (!overlap && cursor.after) {
      ObjectsQuery probe = query;
      probe.limit = 1;
      probe.added_after = cursor.after;
      LIAISON_ASSIGN_OR_RETURN(ObjectsPage p, client->GetObjects(peer.collection_url, probe));
      set_added_after(p.server);
    } else {
      set_added_after("");
    }
  }
  Result<ObjectsPage> page = client->GetObjects(peer.collection_url, query);
  if (!page.ok() && !query.next.empty() &&
      (absl::IsInvalidArgument(page.status()) || absl::IsNotFound(page.status()))) {
    // A saved `next` the peer no longer accepts: fall back to added_after.
    query.next.clear();
    cursor.next.clear();
    set_added_after("");
    page = client->GetObjects(peer.collection_url, query);
  }

  thread_local stix::Validator validator;
  while (true) {
    if (!page.ok()) return page.status();
    ++stats.pulled_pages;
    // Fetch the next page while this one is validated and committed: the peer's query and the
    // transfer overlap the local fsyncs. The client is used by that task alone meanwhile.
    std::future<Result<ObjectsPage>> ahead;
    if (page->more) {
      if (page->next.empty()) {
        // "more" without "next": continue by added_after alone (needs the date headers).
        if (!page->date_added_last) {
          return absl::DataLossError(StrCat(
              "peer ", peer.name, ": more=true with neither next nor X-TAXII-Date-Added-Last"));
        }
        query.added_after = page->date_added_last;
        query.next.clear();
      } else {
        query.next = page->next;
      }
      ahead = std::async(std::launch::async, [&client, &peer, q = query] {
        return client->GetObjects(peer.collection_url, q);
      });
    }

    std::vector<stix::Object> valid;
    valid.reserve(page->objects.size());
    for (std::string& text : page->objects) {
      stix::Report report;
      validator.ValidateObject(text, "", report);
      auto object = stix::ParseObject(text);
      if (report.errors > 0 || !object.ok()) {
        ++stats.pulled_invalid;
        continue;
      }
      object->json = std::move(text);
      valid.push_back(std::move(*object));
    }
    std::optional<std::pair<Timestamp, Timestamp>> range;
    if (!valid.empty()) {
      LIAISON_ASSIGN_OR_RETURN(store::AddResult added, store_.Add(peer.local_collection, valid));
      stats.pulled_added += added.added;
      stats.pulled_duplicates += added.duplicates;
      range = AddedRange(added);
    }
    // Only now, with the page durable, does the cursor move (with the range, in one commit).
    if (page->date_added_last && (!cursor.after || *cursor.after < *page->date_added_last)) {
      cursor.after = page->date_added_last;
    }
    cursor.next = page->more ? page->next : "";
    LIAISON_RETURN_IF_ERROR(SavePullCursor(store_, peer, cursor, range));
    if (!page->more) break;
    LIAISON_RETURN_IF_ERROR(CheckStop());
    page = ahead.get();
  }
  if (peer.propagate_deletions) {
    LIAISON_RETURN_IF_ERROR(DeleteVanished(peer, *client, stats));
  }
  return stats;
}

// Deletion detection: TAXII has no feed of deletions, so compare. The peer's manifest (every
// version) is read into memory; every local version that came from this peer (its date_added is
// in a received range) and that the peer no longer lists is deleted. Objects without a version
// are matched by id alone (the peer reports their date_added as version, which differs here).
Status Engine::DeleteVanished(const PeerConfig& peer, Client& client, RoundStats& stats) {
  absl::flat_hash_map<std::string, absl::flat_hash_set<int64_t>> remote;
  ObjectsQuery q;
  q.versions = {"all"};
  q.spec_versions = {"2.0", "2.1"};
  q.limit = std::max<size_t>(1, peer.page_size);
  while (true) {
    LIAISON_ASSIGN_OR_RETURN(ManifestPage page, client.GetManifest(peer.collection_url, q));
    for (const ManifestRecord& r : page.objects) {
      auto& versions = remote[r.id];
      if (auto t = Timestamp::ParseRfc3339(r.version); t.ok()) {
        versions.insert(store::ToUnixMicros(*t));
      }
    }
    if (!page.more) break;
    if (!page.next.empty()) {
      q.next = page.next;
    } else if (page.date_added_last) {
      q.added_after = page.date_added_last;
    } else {
      return absl::DataLossError(StrCat("peer ", peer.name, ": manifest paging without a cursor"));
    }
  }
  LIAISON_ASSIGN_OR_RETURN(
      auto ranges,
      store_.ReceivedRanges(peer.local_collection, peer.name, Timestamp::FromUnixNanos(0, 0),
                            Timestamp::FromUnixNanos(int64_t{1} << 40, 0)));
  if (ranges.empty()) return absl::OkStatus();
  store::Filter f = EverythingFilter();
  f.added_after = store::FromUnixMicros(store::ToUnixMicros(ranges.front().first) - 1);
  std::vector<std::pair<std::string, std::optional<Timestamp>>> doomed;
  while (true) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.QueryManifest(peer.local_collection, f));
    for (const store::ObjectRecord& r : page.records) {
      if (!InRanges(ranges, r.date_added)) continue;
      auto it = remote.find(r.id);
      bool present = it != remote.end();
      if (present && r.version) present = it->second.contains(store::ToUnixMicros(*r.version));
      if (!present) doomed.emplace_back(r.id, r.version);
    }
    if (!page.more) break;
    f.next = page.next;
  }
  for (const auto& [id, version] : doomed) {
    store::DeleteFilter del;
    if (version) del.versions = {store::VersionMatch::At(*version)};
    auto n = store_.DeleteObject(peer.local_collection, id, del);
    if (!n.ok() && !absl::IsNotFound(n.status())) return n.status();
    if (n.ok()) stats.deleted += *n;
  }
  return absl::OkStatus();
}

Result<RoundStats> Engine::Push(const PeerConfig& peer) {
  RoundStats stats;
  LIAISON_ASSIGN_OR_RETURN(auto split, SplitCollectionUrl(peer.collection_url));
  const std::string& api_root = split.first;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Create(peer.client));
  std::vector<std::pair<std::string, std::string>> headers;
  if (options_.signer) headers.emplace_back("X-Liaison-Sender-Key", options_.signer->public_key());

  LIAISON_ASSIGN_OR_RETURN(auto pinned, store_.GetSyncState(StrCat("peerkey/", peer.name)));
  std::string peer_key = !peer.receipt_key.empty() ? peer.receipt_key : pinned.value_or("");

  // Withheld versions that a later version of something they reference may release
  // (EngineOptions::withheld_for_ends); send() appends to it.
  std::vector<Failure> waiting;
  bool waiting_changed = false;

  // Sends one batch; returns the failures the peer reported.
  auto send = [&](const std::vector<store::ObjectRecord>& records,
                  std::vector<Failure>& failures) -> Status {
    std::vector<std::string> texts;
    std::vector<std::pair<std::string, std::string>> keys;
    texts.reserve(records.size());
    for (const store::ObjectRecord& rec : records) {
      std::optional<std::string> text = rec.json;
      if (options_.release) {
        LIAISON_ASSIGN_OR_RETURN(text, options_.release(peer.name, rec));
      }
      if (!text) {
        ++stats.push_withheld;
        if (options_.withheld_for_ends) {
          LIAISON_ASSIGN_OR_RETURN(bool wait, options_.withheld_for_ends(peer.name, rec));
          if (wait) {
            waiting.push_back(
                {rec.id, rec.version ? rec.version->ToString() : std::string(), "ends"});
            waiting_changed = true;
          }
        }
        continue;
      }
      texts.push_back(std::move(*text));
      keys.emplace_back(rec.id, DigestVersion(rec.version));
    }
    if (texts.empty()) return absl::OkStatus();
    const std::string envelope =
        stix::SerializeEnvelope(std::span<const std::string>(texts), false);
    LIAISON_ASSIGN_OR_RETURN(StatusResult status,
                             client->AddObjects(peer.collection_url, envelope, headers));
    const std::string receipt_header = status.receipt;
    const auto deadline = std::chrono::steady_clock::now() + options_.status_wait;
    std::chrono::milliseconds wait{50};
    while (status.status != "complete") {
      if (std::chrono::steady_clock::now() > deadline) {
        return absl::UnavailableError(StrCat("peer ", peer.name, ": status ", status.id,
                                             " still pending after ", options_.status_wait.count(),
                                             " ms"));
      }
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(2000));
      LIAISON_ASSIGN_OR_RETURN(status, client->GetStatus(api_root, status.id));
    }
    absl::flat_hash_set<std::string> failed_ids;
    for (const StatusResult::Detail& d : status.failures) {
      failures.push_back({d.id, d.version, d.message});
      failed_ids.insert(d.id);
    }
    stats.push_failed += status.failures.size();
    stats.pushed += texts.size() - std::min(texts.size(), status.failures.size());
    if (receipt_header.empty()) {
      // Only liaison peers issue receipts; other TAXII servers never do.
      return absl::OkStatus();
    }
    // The receipt must be signed by the peer's key and cover exactly what it accepted.
    ReceiptRecord record;
    record.kind = ReceiptRecord::Kind::kSent;
    record.peer = peer.name;
    auto receipt = Receipt::FromHeader(receipt_header);
    if (!receipt.ok()) {
      ++stats.bad_receipts;
      return absl::OkStatus();
    }
    record.receipt = std::move(*receipt);
    std::vector<std::pair<std::string, std::string>> accepted;
    for (auto& k : keys) {
      if (!failed_ids.contains(k.first)) accepted.push_back(k);
    }
    bool key_ok = true;
    if (peer_key.empty()) {
      // Trust on first use: pin the key the peer signed with.
      peer_key = record.receipt.receiver_key;
      LIAISON_RETURN_IF_ERROR(store_.PutSyncState(StrCat("peerkey/", peer.name), peer_key));
    } else {
      key_ok = record.receipt.receiver_key == peer_key;
    }
    record.verified = key_ok && record.receipt.SignatureValid() &&
                      record.receipt.digest == ReceiptDigest(std::move(accepted)) &&
                      record.receipt.status_id == status.id;
    ++(record.verified ? stats.receipts : stats.bad_receipts);
    return Record(record);
  };

  // Retry what failed in earlier rounds, by (id, version), before new versions.
  LIAISON_ASSIGN_OR_RETURN(std::vector<Failure> old_failures, LoadFailures(store_, peer));
  std::vector<Failure> failures;
  if (!old_failures.empty()) {
    std::vector<store::ObjectRecord> retry;
    for (const Failure& f : old_failures) {
      store::Filter filter = EverythingFilter();
      if (!f.version.empty()) {
        auto t = Timestamp::Parse(f.version);
        if (t.ok()) filter.versions = {store::VersionMatch::At(*t)};
      }
      auto page = store_.GetObject(peer.local_collection, f.id, filter);
      if (!page.ok()) continue;  // deleted meanwhile: nothing left to send
      for (auto& rec : page->records) retry.push_back(std::move(rec));
    }
    for (size_t i = 0; i < retry.size(); i += peer.batch_size) {
      std::vector<store::ObjectRecord> batch(
          retry.begin() + i, retry.begin() + std::min(retry.size(), i + peer.batch_size));
      LIAISON_RETURN_IF_ERROR(send(batch, failures));
    }
    LIAISON_RETURN_IF_ERROR(SaveFailures(store_, peer, failures));
  }

  // The push cursor is "<date_added> <release version>": the version of the release filter
  // under which everything up to date_added was decided. Under another version, versions
  // withheld then may be released now: start over (docs/sync.md, "Policy changes"). A cursor
  // without a version (written before versions were recorded) is kept as it is.
  const std::string version =
      options_.release_version ? options_.release_version(peer.name) : std::string();
  std::optional<Timestamp> after;
  LIAISON_ASSIGN_OR_RETURN(auto saved, store_.GetSyncState(PushKey(peer)));
  if (saved) {
    const size_t space = saved->find(' ');
    auto t = Timestamp::Parse(std::string_view(*saved).substr(0, space));
    if (!t.ok()) return absl::DataLossError(StrCat(PushKey(peer), ": corrupt"));
    after = *t;
    if (space != std::string::npos && std::string_view(*saved).substr(space + 1) != version) {
      after.reset();
      ++stats.push_restarts;
    }
  }

  // Versions withheld earlier because an object they reference was invisible are decided again
  // under the current policy before new versions (docs/sync.md, "Ends that become visible"):
  // released ones are sent, those still waiting on an end stay, the rest are forgotten. After a
  // restart the new pass decides everything again, so the list starts empty.
  if (options_.withheld_for_ends) {
    LIAISON_ASSIGN_OR_RETURN(std::vector<Failure> old_waiting, LoadFailures(store_, WaitKey(peer)));
    if (!old_waiting.empty()) waiting_changed = true;
    if (!after) old_waiting.clear();
    std::vector<store::ObjectRecord> again;
    for (const Failure& w : old_waiting) {
      store::Filter f = EverythingFilter();
      if (!w.version.empty()) {
        auto t = Timestamp::Parse(w.version);
        if (t.ok()) f.versions = {store::VersionMatch::At(*t)};
      }
      auto page = store_.GetObject(peer.local_collection, w.id, f);
      if (!page.ok()) continue;  // deleted meanwhile
      for (auto& rec : page->records) again.push_back(std::move(rec));
    }
    for (size_t i = 0; i < again.size(); i += peer.batch_size) {
      std::vector<store::ObjectRecord> batch(
          again.begin() + i, again.begin() + std::min(again.size(), i + peer.batch_size));
      LIAISON_RETURN_IF_ERROR(send(batch, failures));
    }
    stats.push_reoffered += again.size();
    LIAISON_RETURN_IF_ERROR(SaveFailures(store_, peer, failures));
    LIAISON_RETURN_IF_ERROR(SaveFailures(store_, WaitKey(peer), waiting));
    waiting_changed = false;
  }

  store::Filter filter = EverythingFilter();
  filter.limit = std::max<size_t>(1, peer.batch_size);
  while (true) {
    filter.added_after = after;
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.Query(peer.local_collection, filter));
    if (page.records.empty()) break;
    LIAISON_ASSIGN_OR_RETURN(
        auto ranges, store_.ReceivedRanges(peer.local_collection, peer.name, *page.date_added_first,
                                           *page.date_added_last));
    std::vector<store::ObjectRecord> batch;
    batch.reserve(page.records.size());
    for (store::ObjectRecord& rec : page.records) {
      if (InRanges(ranges, rec.date_added)) {
        ++stats.push_not_returned;  // it came from this peer
        continue;
      }
      batch.push_back(std::move(rec));
    }
    std::vector<Failure> new_failures;
    LIAISON_RETURN_IF_ERROR(send(batch, new_failures));
    if (!new_failures.empty()) {
      for (Failure& f : new_failures) failures.push_back(std::move(f));
      LIAISON_RETURN_IF_ERROR(SaveFailures(store_, peer, failures));
    }
    // Before the cursor passes them: a crash must not lose a waiting version.
    if (waiting_changed) {
      LIAISON_RETURN_IF_ERROR(SaveFailures(store_, WaitKey(peer), waiting));
      waiting_changed = false;
    }
    after = page.date_added_last;
    LIAISON_RETURN_IF_ERROR(
        store_.PutSyncState(PushKey(peer), StrCat(after->ToString(9), " ", version)));
    if (!page.more) break;
    LIAISON_RETURN_IF_ERROR(CheckStop());
  }
  return stats;
}

void Engine::RunScheduled(const std::vector<PeerConfig>& peers, const std::function<bool()>& stop,
                          const std::function<void(std::string_view)>& log) {
  using Clock = std::chrono::steady_clock;
  stop_ = &stop;
  std::vector<Clock::time_point> due(peers.size(), Clock::now());
  while (!stop()) {
    for (size_t i = 0; i < peers.size() && !stop(); ++i) {
      if (Clock::now() < due[i]) continue;
      auto stats = RunRound(peers[i]);
      if (!stats.ok()) {
        log(StrCat("sync with ", peers[i].name, " failed: ", ToStd(stats.status().message())));
      } else if (stats->pulled_added + stats->pushed + stats->deleted + stats->push_failed > 0) {
        log(StrCat("sync with ", peers[i].name, ": pulled ", stats->pulled_added, " new, pushed ",
                   stats->pushed, ", withheld ", stats->push_withheld, ", failed ",
                   stats->push_failed, ", deleted ", stats->deleted));
      }
      due[i] = Clock::now() + std::max(peers[i].interval, std::chrono::seconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop_ = nullptr;
}

}  // namespace liaison::taxii::sync
