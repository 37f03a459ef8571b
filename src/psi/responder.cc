// The responder side of the PSI protocol (psi.h), and its per-partner policy.
//
// Invariants of a session (guarded by Session::mu):
//  - each requester chunk i is accepted at most once (`got_a[i]` is set before the work starts,
//    so a concurrent replay of the same step is refused, not computed twice);
//  - each responder chunk j is served at most once (`sent_b[j]`);
//  - Finish is accepted only once every chunk of both directions is done, and closes the
//    session, so anything after it finds no session;
//  - the secret scalar lives in the session and is zeroed when the last reference goes.

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "psi/internal/crypto.h"
#include "psi/internal/shuffle.h"
#include "psi/internal/wire.h"
#include "psi/psi.h"

namespace liaison::psi {
namespace {

using internal::Context;
using internal::Header;
using internal::MessageType;
using internal::Reader;
using internal::SecretScalar;
using Clock = std::chrono::system_clock;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Behind a load balancer, a request of a session that reaches another node than the one that
// answered its Hello is unknown there too: the message says so for the operator.
constexpr char kNoSuchSession[] =
    "no such PSI session (unknown, finished or expired; with several server nodes, every request "
    "of a run must reach the node that answered its hello)";

Status RateLimited(std::string_view why, int64_t retry_after_seconds) {
  Status st = absl::ResourceExhaustedError(ToAbsl(why));
  st.SetPayload(ToAbsl(kRetryAfterPayload),
                absl::Cord(std::to_string(std::max<int64_t>(1, retry_after_seconds))));
  return st;
}

struct Session {
  explicit Session(SecretScalar s) : secret(std::move(s)) {}

  std::string id;
  std::string user;
  std::string partner;
  Mode mode = Mode::kOneSided;
  ItemKind kind = ItemKind::kId;
  const ResponderList* list = nullptr;
  SecretScalar secret;
  Context context{};
  uint64_t na = 0;
  uint32_t chunk = 0;
  size_t digest_len = 0;
  std::vector<uint32_t> order;  // the responder's items in shuffled order
  Clock::time_point started;

  absl::Mutex mu;
  std::vector<bool> got_a ABSL_GUARDED_BY(mu);
  std::vector<bool> sent_b ABSL_GUARDED_BY(mu);
  size_t done_a ABSL_GUARDED_BY(mu) = 0;  // chunks whose work has completed
  size_t done_b ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu) = false;
  std::chrono::steady_clock::time_point last_activity ABSL_GUARDED_BY(mu);
  // Cardinality mode: d(H(x)^ab) for every requester item, by position (na * digest_len).
  std::string digests;

  size_t chunks_a() const { return static_cast<size_t>((na + chunk - 1) / chunk); }
  size_t chunks_b() const { return (order.size() + chunk - 1) / chunk; }
};

struct PartnerState {
  std::deque<Clock::time_point> starts;  // runs started within the period
  bool running = false;
};

class ResponderImpl : public Responder {
 public:
  ResponderImpl(ResponderOptions options, RunRecorder& recorder)
      : options_(std::move(options)), recorder_(recorder) {}

  Result<std::string> Handle(const Caller& caller, std::string_view message) override {
    Reader reader(message);
    LIAISON_ASSIGN_OR_RETURN(Header header, reader.ReadHeader());
    switch (header.type) {
      case MessageType::kHello:
        return Hello(caller, header, reader);
      case MessageType::kBlindedChunk:
      case MessageType::kFetchChunk:
      case MessageType::kFinish:
        return SessionStep(caller, header, reader);
      default:
        return absl::InvalidArgumentError(StrCat(
            "a responder does not accept ", internal::MessageTypeName(header.type), " messages"));
    }
  }

  void ExpireSessions() override {
    std::vector<std::shared_ptr<Session>> expired;
    {
      absl::MutexLock lock(&mu_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        Session& s = *it->second;
        bool stale;
        {
          absl::MutexLock session_lock(&s.mu);
          stale = now - s.last_activity > options_.session_timeout;
          if (stale) s.closed = true;
        }
        if (stale) {
          partners_[s.partner].running = false;
          expired.push_back(it->second);
          sessions_.erase(it++);
        } else {
          ++it;
        }
      }
    }
    for (const auto& s : expired) Record(*s, std::nullopt, "expired").IgnoreError();
  }

  size_t open_sessions() const override {
    absl::MutexLock lock(&mu_);
    return sessions_.size();
  }

  Status Validate() const {
    for (size_t i = 0; i < options_.lists.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (options_.lists[i].name == options_.lists[j].name) {
          return absl::InvalidArgumentError(
              StrCat("psi: duplicate list name \"", options_.lists[i].name, "\""));
        }
      }
    }
    for (const PartnerPolicy& p : options_.partners) {
      for (const std::string& name : p.lists) {
        if (FindList(name) == nullptr) {
          return absl::InvalidArgumentError(
              StrCat("psi: partner \"", p.partner, "\" names an unknown list \"", name, "\""));
        }
      }
      if (p.min_set_size > p.max_set_size) {
        return absl::InvalidArgumentError(
            StrCat("psi: partner \"", p.partner, "\": min_set_size > max_set_size"));
      }
    }
    if (options_.max_chunk_items == 0)
      return absl::InvalidArgumentError("psi: max_chunk_items must be positive");
    return absl::OkStatus();
  }

 private:
  const ResponderList* FindList(std::string_view name) const {
    for (const ResponderList& l : options_.lists) {
      if (l.name == name) return &l;
    }
    return nullptr;
  }

  Status Record(const Session& s, std::optional<uint64_t> result_size, std::string outcome) {
    RunRecord r;
    r.started = s.started;
    r.ended = options_.clock();
    r.session_id = Hex(s.id);
    r.role = "responder";
    r.user = s.user;
    r.partner = s.partner;
    r.mode = std::string(ModeName(s.mode));
    r.kind = std::string(ItemKindName(s.kind));
    r.list = s.list->name;
    r.requester_set_size = s.na;
    r.responder_set_size = s.order.size();
    r.result_size = result_size;
    r.outcome = std::move(outcome);
    return recorder_.Record(r);
  }

  // Records a refusal and returns `why` (or the recorder's error, which also refuses).
  Status Refuse(const Caller& caller, std::string_view partner, Mode mode, ItemKind kind,
                std::string_view list, uint64_t na, Status why) {
    RunRecord r;
    r.started = r.ended = options_.clock();
    r.role = "responder";
    r.user = caller.user;
    r.partner = std::string(partner);
    r.mode = std::string(ModeName(mode));
    r.kind = std::string(ItemKindName(kind));
    r.list = std::string(list);
    r.requester_set_size = na;
    r.outcome = StrCat("refused: ", why.message());
    LIAISON_RETURN_IF_ERROR(recorder_.Record(r));
    return why;
  }

  // The refusal for a partner whose `runs` runs started within the period (the oldest and the
  // latest given) leave no room for one more at `now`: the cool-down, then the quota. OK when
  // there is room.
  static Status RunLimit(const PartnerPolicy& policy, Clock::time_point now, size_t runs,
                         Clock::time_point oldest, Clock::time_point latest) {
    using std::chrono::duration_cast;
    using std::chrono::seconds;
    if (runs > 0 && now - latest < policy.cooldown) {
      const int64_t wait = duration_cast<seconds>(policy.cooldown - (now - latest)).count();
      return RateLimited(StrCat("cool-down: the next run is allowed ", wait, " s from now"), wait);
    }
    if (runs >= policy.max_runs) {
      return RateLimited(StrCat("this partner has used its ", policy.max_runs, " runs per ",
                                policy.period.count(), " s"),
                         duration_cast<seconds>(policy.period - (now - oldest)).count());
    }
    return absl::OkStatus();
  }

  // The run counted where every responder sharing options_.shared_runs sees it (several nodes
  // on one database; one node across restarts), or the refusal its counts give. A count that
  // cannot be read refuses the run: a limit that cannot be checked is not lifted.
  Status SharedRunLimit(const PartnerPolicy& policy, Clock::time_point now) {
    auto shared = options_.shared_runs(policy, now);
    if (!shared.ok()) {
      return absl::UnavailableError(
          StrCat("the partner's PSI runs cannot be counted: ", shared.status().message()));
    }
    if (shared->admitted) return absl::OkStatus();
    Status limit = RunLimit(policy, now, shared->runs, shared->oldest.value_or(now),
                            shared->latest.value_or(now));
    // Refused by a rule this responder does not know (an older node's setting): say so.
    return limit.ok() ? RateLimited("this partner's PSI runs are at their limit", 60) : limit;
  }

  Result<std::string> Hello(const Caller& caller, const Header& header, Reader& reader) {
    if (header.step != 0) return absl::InvalidArgumentError("hello must be step 0");
    if (header.session_id != std::string(internal::kSessionIdBytes, '\0')) {
      return absl::InvalidArgumentError("hello must not name a session");
    }
    LIAISON_ASSIGN_OR_RETURN(uint8_t mode_byte, reader.U8("mode"));
    LIAISON_ASSIGN_OR_RETURN(uint8_t kind_byte, reader.U8("kind"));
    LIAISON_ASSIGN_OR_RETURN(uint64_t na, reader.U64("set size"));
    LIAISON_ASSIGN_OR_RETURN(uint32_t chunk, reader.U32("chunk size"));
    LIAISON_ASSIGN_OR_RETURN(std::string_view nonce, reader.Bytes(internal::kNonceBytes, "nonce"));
    LIAISON_ASSIGN_OR_RETURN(uint16_t name_len, reader.U16("list name length"));
    LIAISON_ASSIGN_OR_RETURN(std::string_view list_name, reader.Bytes(name_len, "list name"));
    LIAISON_RETURN_IF_ERROR(reader.End());
    if (mode_byte < 1 || mode_byte > 3)
      return absl::InvalidArgumentError(StrCat("unknown PSI mode ", mode_byte));
    if (kind_byte < 1 || kind_byte > 6)
      return absl::InvalidArgumentError(StrCat("unknown item kind ", kind_byte));
    if (chunk == 0) return absl::InvalidArgumentError("chunk size must be positive");
    const Mode mode = static_cast<Mode>(mode_byte);
    const ItemKind kind = static_cast<ItemKind>(kind_byte);

    ExpireSessions();

    // The policy of the first configured partner among the caller's groups.
    const PartnerPolicy* policy = nullptr;
    for (const PartnerPolicy& p : options_.partners) {
      if (std::find(caller.groups.begin(), caller.groups.end(), p.partner) != caller.groups.end()) {
        policy = &p;
        break;
      }
    }
    auto refuse = [&](Status why) {
      return Refuse(caller, policy ? policy->partner : "", mode, kind, list_name, na,
                    std::move(why));
    };
    if (policy == nullptr) {
      return refuse(absl::PermissionDeniedError("no PSI policy for any group of this user"));
    }
    if (std::find(policy->modes.begin(), policy->modes.end(), mode) == policy->modes.end()) {
      return refuse(absl::PermissionDeniedError(
          StrCat("mode ", ModeName(mode), " is not allowed for this partner")));
    }
    const ResponderList* list = nullptr;
    if (list_name.empty()) {
      for (const std::string& name : policy->lists) {
        const ResponderList* l = FindList(name);
        if (l->list.kind != kind) continue;
        if (list != nullptr) {
          return refuse(absl::InvalidArgumentError(
              StrCat("several ", ItemKindName(kind), " lists are open to this partner; name one")));
        }
        list = l;
      }
      if (list == nullptr) {
        return refuse(absl::PermissionDeniedError(
            StrCat("no ", ItemKindName(kind), " list is open to this partner")));
      }
    } else {
      if (std::find(policy->lists.begin(), policy->lists.end(), list_name) != policy->lists.end()) {
        list = FindList(list_name);
      }
      // Unknown and forbidden lists get the same answer, so names do not leak.
      if (list == nullptr)
        return refuse(absl::PermissionDeniedError("no such list open to this partner"));
      if (list->list.kind != kind) {
        return refuse(absl::InvalidArgumentError(StrCat("list \"", list_name, "\" holds ",
                                                        ItemKindName(list->list.kind),
                                                        " items, not ", ItemKindName(kind))));
      }
    }
    if (na < policy->min_set_size) {
      return refuse(absl::OutOfRangeError(StrCat(
          "set of ", na, " items is below this partner's minimum of ", policy->min_set_size)));
    }
    if (na > policy->max_set_size) {
      return refuse(absl::OutOfRangeError(StrCat(
          "set of ", na, " items is above this partner's maximum of ", policy->max_set_size)));
    }

    const auto now = options_.clock();
    auto session = std::make_shared<Session>(SecretScalar::Random());
    // This responder's own counts first; the partner's place is then held (running, and one
    // session slot) while the shared count is asked, outside the lock.
    Status refused;
    {
      absl::MutexLock lock(&mu_);
      PartnerState& state = partners_[policy->partner];
      while (!state.starts.empty() && now - state.starts.front() >= policy->period)
        state.starts.pop_front();
      if (state.running) {
        refused = RateLimited("a PSI session with this partner is already open", 10);
      } else if (sessions_.size() + opening_ >= options_.max_sessions) {
        refused = RateLimited("too many PSI sessions are open; try again later", 30);
      } else {
        const bool none = state.starts.empty();
        refused = RunLimit(*policy, now, state.starts.size(), none ? now : state.starts.front(),
                           none ? now : state.starts.back());
      }
      if (refused.ok()) {
        state.running = true;
        ++opening_;
      }
    }
    if (!refused.ok()) return refuse(std::move(refused));
    if (options_.shared_runs) refused = SharedRunLimit(*policy, now);
    {
      absl::MutexLock lock(&mu_);
      --opening_;
      PartnerState& state = partners_[policy->partner];
      if (refused.ok()) {
        state.starts.push_back(now);
        session->id.resize(internal::kSessionIdBytes);
        do {
          randombytes_buf(session->id.data(), session->id.size());
        } while (sessions_.contains(session->id));
        sessions_[session->id] = session;
      } else {
        state.running = false;
      }
    }
    if (!refused.ok()) return refuse(std::move(refused));

    Session& s = *session;
    s.user = caller.user;
    s.partner = policy->partner;
    s.mode = mode;
    s.kind = kind;
    s.list = list;
    s.na = na;
    s.chunk = std::min(chunk, options_.max_chunk_items);
    s.digest_len = internal::DigestLength(na, list->list.items.size());
    s.context = internal::DeriveContext(s.id, nonce, mode_byte, kind_byte);
    s.started = now;
    s.order.resize(list->list.items.size());
    for (uint32_t i = 0; i < s.order.size(); ++i) s.order[i] = i;
    internal::Shuffle(s.order);
    {
      absl::MutexLock lock(&s.mu);
      s.got_a.assign(s.chunks_a(), false);
      s.sent_b.assign(s.chunks_b(), false);
      s.last_activity = std::chrono::steady_clock::now();
    }
    if (mode == Mode::kCardinality) s.digests.resize(na * s.digest_len);

    std::string out;
    internal::AppendHeader({MessageType::kAccept, s.id, 0}, out);
    internal::AppendU64(s.order.size(), out);
    internal::AppendU8(static_cast<uint8_t>(s.digest_len), out);
    internal::AppendU32(s.chunk, out);
    internal::AppendU32(static_cast<uint32_t>(options_.session_timeout.count()), out);
    return out;
  }

  Result<std::shared_ptr<Session>> FindSession(const Caller& caller, const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    // A session of another user is reported like a missing one.
    if (it == sessions_.end() || it->second->user != caller.user) {
      return absl::NotFoundError(kNoSuchSession);
    }
    return it->second;
  }

  // Ends a session: removes it and frees the partner for its next run.
  void Close(Session& s) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(s.id);
    partners_[s.partner].running = false;
  }

  Status Abort(Session& s, const Status& why) {
    {
      absl::MutexLock lock(&s.mu);
      if (s.closed) return why;
      s.closed = true;
    }
    Close(s);
    Record(s, std::nullopt, StrCat("aborted: ", why.message())).IgnoreError();
    return why;
  }

  Result<std::string> SessionStep(const Caller& caller, const Header& header, Reader& reader) {
    LIAISON_ASSIGN_OR_RETURN(std::shared_ptr<Session> session,
                             FindSession(caller, header.session_id));
    Session& s = *session;
    switch (header.type) {
      case MessageType::kBlindedChunk:
        return BlindedChunk(s, header, reader);
      case MessageType::kFetchChunk:
        return FetchChunk(s, header, reader);
      default:
        return Finish(s, header, reader);
    }
  }

  // Claims step `step` (1-based chunk index) of `claimed`; refuses replays and closed sessions.
  Result<size_t> Claim(Session& s, std::vector<bool>& claimed, uint32_t step, std::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.closed) return absl::NotFoundError(kNoSuchSession);
    if (step == 0 || step > claimed.size()) {
      return absl::InvalidArgumentError(
          StrCat(what, " step ", step, " is out of range 1..", claimed.size()));
    }
    if (claimed[step - 1]) {
      return absl::AlreadyExistsError(
          StrCat(what, " step ", step, " was already received (replayed message)"));
    }
    claimed[step - 1] = true;
    s.last_activity = std::chrono::steady_clock::now();
    return static_cast<size_t>(step - 1);
  }

  Result<std::string> BlindedChunk(Session& s, const Header& header, Reader& reader) {
    size_t index;
    {
      absl::MutexLock lock(&s.mu);
      LIAISON_ASSIGN_OR_RETURN(index, Claim(s, s.got_a, header.step, "blinded-chunk"));
    }
    const uint64_t begin = uint64_t{index} * s.chunk;
    const size_t count = static_cast<size_t>(std::min<uint64_t>(s.chunk, s.na - begin));
    auto n = reader.U32("count");
    if (!n.ok()) return Abort(s, n.status());
    if (*n != count) {
      return Abort(s, absl::InvalidArgumentError(StrCat("blinded-chunk ", header.step, " holds ",
                                                        *n, " points, expected ", count)));
    }
    auto points = reader.Bytes(count * internal::kPointBytes, "points");
    if (!points.ok()) return Abort(s, points.status());
    if (Status st = reader.End(); !st.ok()) return Abort(s, st);

    std::string out;
    const bool return_digests = s.mode != Mode::kCardinality;
    internal::AppendHeader({MessageType::kDigestChunk, s.id, header.step}, out);
    internal::AppendU32(return_digests ? static_cast<uint32_t>(count) : 0, out);
    const size_t base = out.size();
    if (return_digests) out.resize(base + count * s.digest_len);
    unsigned char doubled[internal::kPointBytes];
    for (size_t i = 0; i < count; ++i) {
      const auto* p =
          reinterpret_cast<const unsigned char*>(points->data() + i * internal::kPointBytes);
      if (!internal::Blind(p, s.secret, doubled)) {
        return Abort(s,
                     absl::InvalidArgumentError(StrCat("blinded-chunk ", header.step, " point ", i,
                                                       " is not a valid ristretto255 element")));
      }
      unsigned char* dst =
          return_digests
              ? reinterpret_cast<unsigned char*>(out.data() + base + i * s.digest_len)
              : reinterpret_cast<unsigned char*>(s.digests.data() + (begin + i) * s.digest_len);
      internal::Digest(s.context, doubled, s.digest_len, dst);
    }
    absl::MutexLock lock(&s.mu);
    ++s.done_a;
    return out;
  }

  Result<std::string> FetchChunk(Session& s, const Header& header, Reader& reader) {
    if (Status st = reader.End(); !st.ok()) return Abort(s, st);
    size_t index;
    {
      absl::MutexLock lock(&s.mu);
      LIAISON_ASSIGN_OR_RETURN(index, Claim(s, s.sent_b, header.step, "fetch-chunk"));
    }
    const size_t begin = index * s.chunk;
    const size_t count = std::min<size_t>(s.chunk, s.order.size() - begin);
    std::string out;
    internal::AppendHeader({MessageType::kResponderChunk, s.id, header.step}, out);
    internal::AppendU32(static_cast<uint32_t>(count), out);
    const size_t base = out.size();
    out.resize(base + count * internal::kPointBytes);
    for (size_t i = 0; i < count; ++i) {
      internal::HashAndBlind(
          s.context, s.list->list.items[s.order[begin + i]], s.secret,
          reinterpret_cast<unsigned char*>(out.data() + base + i * internal::kPointBytes));
    }
    absl::MutexLock lock(&s.mu);
    ++s.done_b;
    return out;
  }

  Result<std::string> Finish(Session& s, const Header& header, Reader& reader) {
    if (header.step != internal::kFinishStep) {
      return Abort(s, absl::InvalidArgumentError("finish must carry the final step number"));
    }
    {
      absl::MutexLock lock(&s.mu);
      if (s.closed) return absl::NotFoundError(kNoSuchSession);
      if (s.done_a != s.got_a.size() || s.done_b != s.sent_b.size()) {
        // Not aborted: a reordered finish is the requester's bug, the refusal says so.
        return absl::FailedPreconditionError(
            StrCat("finish before every chunk was exchanged (", s.done_a, "/", s.got_a.size(),
                   " blinded, ", s.done_b, "/", s.sent_b.size(), " fetched): reordered message"));
      }
    }
    auto indices = internal::ReadIndexSet(reader, s.order.size());
    if (!indices.ok()) {
      return Abort(s, absl::InvalidArgumentError(StrCat("finish: ", indices.status().message())));
    }
    std::vector<std::string> matched;
    std::optional<uint64_t> result_size;
    if (s.mode == Mode::kMutual) {
      matched.reserve(indices->size());
      for (uint32_t idx : *indices) matched.push_back(s.list->list.items[s.order[idx]]);
      result_size = matched.size();
    } else if (!indices->empty()) {
      return Abort(s, absl::InvalidArgumentError("finish: only a mutual run returns indices"));
    }
    if (Status st = reader.End(); !st.ok()) return Abort(s, st);
    {
      absl::MutexLock lock(&s.mu);
      if (s.closed) return absl::NotFoundError(kNoSuchSession);
      s.closed = true;
    }
    Close(s);
    if (!matched.empty() && !options_.results_dir.empty()) {
      std::sort(matched.begin(), matched.end());
      if (Status st = WriteResults(s, matched); !st.ok()) {
        Record(s, result_size, StrCat("aborted: ", st.message())).IgnoreError();
        return st;
      }
    }
    std::string out;
    internal::AppendHeader({MessageType::kFinished, s.id, internal::kFinishStep}, out);
    if (s.mode == Mode::kCardinality) {
      // Shuffle the digests so the requester can count matches but not map them to its items.
      std::vector<uint32_t> perm(s.na);
      for (uint32_t i = 0; i < perm.size(); ++i) perm[i] = i;
      internal::Shuffle(perm);
      internal::AppendU32(static_cast<uint32_t>(s.na), out);
      out.reserve(out.size() + s.digests.size());
      for (uint32_t i : perm) out.append(s.digests, size_t{i} * s.digest_len, s.digest_len);
    } else {
      internal::AppendU32(0, out);
    }
    LIAISON_RETURN_IF_ERROR(Record(s, result_size, "completed"));
    return out;
  }

  Status WriteResults(const Session& s, const std::vector<std::string>& items) {
    const std::string path = StrCat(options_.results_dir, "/psi-", Hex(s.id), ".txt");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
    std::string text = StrCat("# liaison psi ", ModeName(s.mode), " with ", s.partner, " (", s.user,
                              "), list ", s.list->name, "\n");
    for (const std::string& item : items) StrAppend(&text, item, "\n");
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return absl::UnavailableError(StrCat(path, ": write failed"));
    return absl::OkStatus();
  }

  const ResponderOptions options_;
  RunRecorder& recorder_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, PartnerState> partners_ ABSL_GUARDED_BY(mu_);
  size_t opening_ ABSL_GUARDED_BY(mu_) = 0;  // Hellos admitted here, waiting for shared_runs
};

}  // namespace

Result<Mode> ParseMode(std::string_view name) {
  if (name == "mutual") return Mode::kMutual;
  if (name == "one-sided") return Mode::kOneSided;
  if (name == "cardinality") return Mode::kCardinality;
  return absl::InvalidArgumentError(
      StrCat("unknown PSI mode \"", name, "\" (expected mutual, one-sided or cardinality)"));
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kMutual:
      return "mutual";
    case Mode::kOneSided:
      return "one-sided";
    case Mode::kCardinality:
      return "cardinality";
  }
  return "unknown";
}

Result<std::unique_ptr<Responder>> Responder::Create(ResponderOptions options,
                                                     RunRecorder& recorder) {
  auto r = std::make_unique<ResponderImpl>(std::move(options), recorder);
  LIAISON_RETURN_IF_ERROR(r->Validate());
  return std::unique_ptr<Responder>(std::move(r));
}

}  // namespace liaison::psi
