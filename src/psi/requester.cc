// The requester side of the PSI protocol (psi.h): it drives the run. Workers, each with its own
// transport, take tasks from one queue that interleaves "blind my chunk i and send it" with
// "fetch the responder's chunk j and blind it again", so that this process and the responder
// both compute at every moment and the transfers overlap the crypto of other chunks.

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "psi/internal/crypto.h"
#include "psi/internal/shuffle.h"
#include "psi/internal/wire.h"
#include "psi/psi.h"

namespace liaison::psi {
namespace {

using internal::Header;
using internal::MessageType;
using internal::Reader;
using internal::SecretScalar;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// A reply must answer the message it was sent for: same session, step and the expected type.
// Anything else is a replayed or reordered (or forged) message, and the run stops.
Status CheckReply(const Header& h, MessageType type, std::string_view session_id, uint32_t step) {
  if (h.type != type) {
    return absl::DataLossError(StrCat("PSI reply is a ", internal::MessageTypeName(h.type),
                                      ", expected ", internal::MessageTypeName(type)));
  }
  if (h.session_id != session_id)
    return absl::DataLossError("PSI reply belongs to another session");
  if (h.step != step) {
    return absl::DataLossError(
        StrCat("PSI reply is for step ", h.step, ", expected ", step, " (replayed or reordered)"));
  }
  return absl::OkStatus();
}

// A set of fixed-length digests stored contiguously, mapping each digest to its position.
class DigestIndex {
 public:
  DigestIndex(const std::string& digests, size_t length) {
    const size_t n = length ? digests.size() / length : 0;
    map_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      map_.emplace(absl::string_view(digests.data() + i * length, length),
                   static_cast<uint32_t>(i));
    }
  }
  // The position of `digest`, or -1.
  int64_t Find(std::string_view digest) const {
    auto it = map_.find(ToAbsl(digest));
    return it == map_.end() ? int64_t{-1} : int64_t{it->second};
  }

 private:
  absl::flat_hash_map<absl::string_view, uint32_t> map_;
};

class Run {
 public:
  Run(const WatchList& list, const RequestOptions& options, const TransportFactory& connect)
      : list_(list), options_(options), connect_(connect), secret_(SecretScalar::Random()) {}

  Result<RunResult> Execute() {
    if (list_.items.size() > UINT32_MAX) return absl::InvalidArgumentError("watch-list too large");
    LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Transport> first, connect_());
    LIAISON_RETURN_IF_ERROR(Hello(*first));

    // Our own items in shuffled order; the responder sees only blinded points, and the shuffle
    // keeps even their order from telling anything (a sorted list, say).
    order_.resize(list_.items.size());
    for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    internal::Shuffle(order_);
    digests_a_.resize(mode_ == Mode::kCardinality ? 0 : order_.size() * digest_len_);
    digests_b_.resize(nb_ * digest_len_);

    const size_t ka = (order_.size() + chunk_ - 1) / chunk_;
    const size_t kb = static_cast<size_t>((nb_ + chunk_ - 1) / chunk_);
    for (size_t k = 0; k < std::max(ka, kb); ++k) {
      if (k < ka) tasks_.push_back({true, k});
      if (k < kb) tasks_.push_back({false, k});
    }
    size_t workers = options_.workers;
    if (workers == 0) workers = 2 * std::max<size_t>(1, std::thread::hardware_concurrency());
    workers = std::max<size_t>(1, std::min(workers, tasks_.size()));
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<Transport>> transports(workers);
    transports[0] = std::move(first);
    for (size_t w = 0; w < workers; ++w) {
      threads.emplace_back([this, w, &transports] { Worker(transports[w]); });
    }
    for (std::thread& t : threads) t.join();
    {
      absl::MutexLock lock(&mu_);
      LIAISON_RETURN_IF_ERROR(error_);
    }
    if (!transports[0]) {
      LIAISON_ASSIGN_OR_RETURN(transports[0], connect_());
    }
    return Finish(*transports[0]);
  }

 private:
  struct Task {
    bool ours;  // true: blind and send our chunk; false: fetch and re-blind theirs
    size_t index;
  };

  Result<std::string> Exchange(Transport& t, std::string message) {
    bytes_sent_ += message.size();
    LIAISON_ASSIGN_OR_RETURN(std::string reply, t.Exchange(message));
    bytes_received_ += reply.size();
    return reply;
  }

  Status Hello(Transport& t) {
    std::string nonce(internal::kNonceBytes, '\0');
    randombytes_buf(nonce.data(), nonce.size());
    std::string msg;
    internal::AppendHeader({MessageType::kHello, "", 0}, msg);
    internal::AppendU8(static_cast<uint8_t>(options_.mode), msg);
    internal::AppendU8(static_cast<uint8_t>(list_.kind), msg);
    internal::AppendU64(list_.items.size(), msg);
    internal::AppendU32(std::max<uint32_t>(1, options_.chunk_items), msg);
    msg += nonce;
    if (options_.remote_list.size() > 0xffff)
      return absl::InvalidArgumentError("list name too long");
    internal::AppendU16(static_cast<uint16_t>(options_.remote_list.size()), msg);
    msg += options_.remote_list;
    LIAISON_ASSIGN_OR_RETURN(std::string reply, Exchange(t, std::move(msg)));
    Reader r(reply);
    auto parse = [&]() -> Status {
      LIAISON_ASSIGN_OR_RETURN(Header h, r.ReadHeader());
      if (h.type != MessageType::kAccept || h.step != 0) {
        return absl::DataLossError("PSI reply to hello is not an accept for step 0");
      }
      session_id_ = h.session_id;
      LIAISON_ASSIGN_OR_RETURN(nb_, r.U64("responder set size"));
      LIAISON_ASSIGN_OR_RETURN(uint8_t t_len, r.U8("digest length"));
      LIAISON_ASSIGN_OR_RETURN(chunk_, r.U32("chunk size"));
      LIAISON_ASSIGN_OR_RETURN(uint32_t timeout, r.U32("timeout"));
      (void)timeout;
      LIAISON_RETURN_IF_ERROR(r.End());
      digest_len_ = t_len;
      // The responder may not weaken the comparison below our own bound, nor ask for chunks
      // larger than we offered.
      if (digest_len_ < internal::DigestLength(list_.items.size(), nb_) || digest_len_ > 32) {
        return absl::DataLossError(StrCat("PSI accept: digest length ", digest_len_, " too short"));
      }
      if (chunk_ == 0 || chunk_ > std::max<uint32_t>(1, options_.chunk_items)) {
        return absl::DataLossError("PSI accept: bad chunk size");
      }
      if (nb_ > (uint64_t{1} << 32) - 1)
        return absl::DataLossError("PSI accept: responder set too large");
      return absl::OkStatus();
    };
    if (Status st = parse(); !st.ok()) {
      return st.code() == absl::StatusCode::kDataLoss ? st : absl::DataLossError(st.message());
    }
    context_ = internal::DeriveContext(session_id_, nonce, static_cast<uint8_t>(options_.mode),
                                       static_cast<uint8_t>(list_.kind));
    mode_ = options_.mode;
    return absl::OkStatus();
  }

  void Worker(std::unique_ptr<Transport>& transport) {
    while (true) {
      const size_t t = next_task_.fetch_add(1);
      if (t >= tasks_.size() || failed_.load()) return;
      Status st;
      if (!transport) {
        auto made = connect_();
        if (made.ok()) {
          transport = std::move(*made);
        } else {
          st = made.status();
        }
      }
      if (st.ok())
        st = tasks_[t].ours ? SendOurs(*transport, tasks_[t].index)
                            : FetchTheirs(*transport, tasks_[t].index);
      if (!st.ok()) {
        absl::MutexLock lock(&mu_);
        if (error_.ok()) error_ = st;
        failed_ = true;
        return;
      }
    }
  }

  Status SendOurs(Transport& t, size_t index) {
    const size_t begin = index * chunk_;
    const size_t count = std::min<size_t>(chunk_, order_.size() - begin);
    const uint32_t step = static_cast<uint32_t>(index + 1);
    std::string msg;
    internal::AppendHeader({MessageType::kBlindedChunk, session_id_, step}, msg);
    internal::AppendU32(static_cast<uint32_t>(count), msg);
    const size_t base = msg.size();
    msg.resize(base + count * internal::kPointBytes);
    for (size_t i = 0; i < count; ++i) {
      internal::HashAndBlind(
          context_, list_.items[order_[begin + i]], secret_,
          reinterpret_cast<unsigned char*>(msg.data() + base + i * internal::kPointBytes));
    }
    LIAISON_ASSIGN_OR_RETURN(std::string reply, Exchange(t, std::move(msg)));
    Reader r(reply);
    LIAISON_ASSIGN_OR_RETURN(Header h, r.ReadHeader());
    LIAISON_RETURN_IF_ERROR(CheckReply(h, MessageType::kDigestChunk, session_id_, step));
    LIAISON_ASSIGN_OR_RETURN(uint32_t n, r.U32("count"));
    const size_t expected = mode_ == Mode::kCardinality ? 0 : count;
    if (n != expected)
      return absl::DataLossError(
          StrCat("PSI digest-chunk ", step, " holds ", n, " digests, expected ", expected));
    LIAISON_ASSIGN_OR_RETURN(std::string_view digests, r.Bytes(n * digest_len_, "digests"));
    LIAISON_RETURN_IF_ERROR(r.End());
    if (n) std::memcpy(digests_a_.data() + begin * digest_len_, digests.data(), digests.size());
    return absl::OkStatus();
  }

  Status FetchTheirs(Transport& t, size_t index) {
    const size_t begin = index * chunk_;
    const size_t count = static_cast<size_t>(std::min<uint64_t>(chunk_, nb_ - begin));
    const uint32_t step = static_cast<uint32_t>(index + 1);
    std::string msg;
    internal::AppendHeader({MessageType::kFetchChunk, session_id_, step}, msg);
    LIAISON_ASSIGN_OR_RETURN(std::string reply, Exchange(t, std::move(msg)));
    Reader r(reply);
    LIAISON_ASSIGN_OR_RETURN(Header h, r.ReadHeader());
    LIAISON_RETURN_IF_ERROR(CheckReply(h, MessageType::kResponderChunk, session_id_, step));
    LIAISON_ASSIGN_OR_RETURN(uint32_t n, r.U32("count"));
    if (n != count)
      return absl::DataLossError(
          StrCat("PSI responder-chunk ", step, " holds ", n, " points, expected ", count));
    LIAISON_ASSIGN_OR_RETURN(std::string_view points,
                             r.Bytes(count * internal::kPointBytes, "points"));
    LIAISON_RETURN_IF_ERROR(r.End());
    unsigned char doubled[internal::kPointBytes];
    for (size_t i = 0; i < count; ++i) {
      const auto* p =
          reinterpret_cast<const unsigned char*>(points.data() + i * internal::kPointBytes);
      if (!internal::Blind(p, secret_, doubled)) {
        return absl::DataLossError(StrCat("PSI responder-chunk ", step, " point ", i,
                                          " is not a valid ristretto255 element"));
      }
      internal::Digest(
          context_, doubled, digest_len_,
          reinterpret_cast<unsigned char*>(digests_b_.data() + (begin + i) * digest_len_));
    }
    return absl::OkStatus();
  }

  Result<RunResult> Finish(Transport& t) {
    RunResult result;
    result.mode = mode_;
    result.session_id = Hex(session_id_);
    result.requester_set_size = list_.items.size();
    result.responder_set_size = nb_;
    std::vector<uint32_t> matched_theirs;
    if (mode_ != Mode::kCardinality) {
      // Index the smaller side, probe with the larger.
      const DigestIndex theirs(digests_b_, digest_len_);
      std::vector<uint32_t> ours;
      for (size_t i = 0; i < order_.size(); ++i) {
        const int64_t j =
            theirs.Find(std::string_view(digests_a_.data() + i * digest_len_, digest_len_));
        if (j < 0) continue;
        ours.push_back(order_[i]);
        matched_theirs.push_back(static_cast<uint32_t>(j));
      }
      std::sort(ours.begin(), ours.end());
      for (uint32_t i : ours) result.intersection.push_back(list_.items[i]);
      result.cardinality = ours.size();
      std::sort(matched_theirs.begin(), matched_theirs.end());
    }
    std::string msg;
    internal::AppendHeader({MessageType::kFinish, session_id_, internal::kFinishStep}, msg);
    if (mode_ != Mode::kMutual) matched_theirs.clear();  // only a mutual run tells the partner
    internal::AppendIndexSet(matched_theirs, nb_, msg);
    LIAISON_ASSIGN_OR_RETURN(std::string reply, Exchange(t, std::move(msg)));
    Reader r(reply);
    LIAISON_ASSIGN_OR_RETURN(Header h, r.ReadHeader());
    LIAISON_RETURN_IF_ERROR(
        CheckReply(h, MessageType::kFinished, session_id_, internal::kFinishStep));
    LIAISON_ASSIGN_OR_RETURN(uint32_t n, r.U32("count"));
    const size_t expected = mode_ == Mode::kCardinality ? order_.size() : 0;
    if (n != expected)
      return absl::DataLossError(StrCat("PSI finished holds ", n, " digests, expected ", expected));
    LIAISON_ASSIGN_OR_RETURN(std::string_view digests, r.Bytes(size_t{n} * digest_len_, "digests"));
    LIAISON_RETURN_IF_ERROR(r.End());
    if (mode_ == Mode::kCardinality) {
      const DigestIndex theirs(digests_b_, digest_len_);
      for (size_t i = 0; i < n; ++i) {
        result.cardinality += theirs.Find(digests.substr(i * digest_len_, digest_len_)) >= 0;
      }
    }
    result.bytes_sent = bytes_sent_;
    result.bytes_received = bytes_received_;
    return result;
  }

  const WatchList& list_;
  const RequestOptions& options_;
  const TransportFactory& connect_;
  SecretScalar secret_;
  Mode mode_ = Mode::kOneSided;
  std::string session_id_;
  internal::Context context_{};
  uint64_t nb_ = 0;
  uint32_t chunk_ = 1;
  size_t digest_len_ = 0;
  std::vector<uint32_t> order_;
  std::string digests_a_;  // d(H(x)^ab) by shuffled position (not in cardinality mode)
  std::string digests_b_;  // d(H(y)^ba) in the responder's order
  std::vector<Task> tasks_;
  std::atomic<size_t> next_task_{0};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> bytes_received_{0};
  absl::Mutex mu_;
  Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

Result<RunResult> RunRequester(const WatchList& list, const RequestOptions& options,
                               const TransportFactory& connect) {
  Run run(list, options, connect);
  return run.Execute();
}

}  // namespace liaison::psi
