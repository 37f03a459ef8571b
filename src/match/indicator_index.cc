#include "match/indicator_index.h"

#include <arpa/inet.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/strings.h"
#include "match/internal/flat_key_set.h"

namespace liaison::match {
namespace internal {

HashKey RandomHashKey() {
  HashKey key;
  uint64_t words[2];
  // getrandom blocks only before the kernel's pool is initialised; it never returns short for
  // 16 bytes. On failure keep the fixed key: slower under attack, never wrong.
  if (getrandom(words, sizeof(words), 0) == static_cast<ssize_t>(sizeof(words))) {
    key.k0 ^= words[0];
    key.k1 ^= words[1];
  }
  return key;
}

}  // namespace internal

namespace {

using internal::FlatKeySet;

constexpr uint32_t kSingle = 0x80000000u;  // posting head: one indicator inline
constexpr uint32_t kEnd = 0xffffffffu;
constexpr uint32_t kNone = 0xffffffffu;

// Posting chains shared by all tables: (indicator, next) pairs.
struct Postings {
  std::vector<uint32_t> indicator;
  std::vector<uint32_t> next;

  uint32_t Push(uint32_t head, uint32_t x) {
    if (head == kEnd) return kSingle | x;
    if (head & kSingle) {
      const uint32_t y = head & ~kSingle;
      if (y == x) return head;
      indicator.push_back(y);
      next.push_back(kEnd);
      head = static_cast<uint32_t>(indicator.size() - 1);
    } else if (indicator[head] == x) {
      return head;
    }
    indicator.push_back(x);
    next.push_back(head);
    return static_cast<uint32_t>(indicator.size() - 1);
  }

  template <typename Fn>
  void ForEach(uint32_t head, Fn&& fn) const {
    if (head == kEnd) return;
    if (head & kSingle) {
      fn(head & ~kSingle);
      return;
    }
    for (uint32_t p = head; p != kEnd; p = next[p]) fn(indicator[p]);
  }
};

bool ParseIpv4(std::string_view s, uint32_t& out) {
  uint32_t v = 0;
  int parts = 0;
  size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    uint32_t part = 0;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      part = part * 10 + (s[i] - '0');
      if (part > 255 || i - start >= 3) return false;
      ++i;
    }
    if (i - start > 1 && s[start] == '0') return false;  // no octal-looking leading zeros
    v = (v << 8) | part;
    if (++parts == 4) break;
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
  if (i != s.size()) return false;
  out = v;
  return true;
}

bool ParseIpv6(std::string_view s, unsigned __int128& out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (s.size() >= sizeof(buf)) return false;
  // A scope (fe80::1%eth0) names an interface, not part of the address.
  if (size_t pct = s.find('%'); pct != std::string_view::npos) s = s.substr(0, pct);
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  uint8_t bytes[16];
  if (inet_pton(AF_INET6, buf, bytes) != 1) return false;
  unsigned __int128 v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  out = v;
  return true;
}

// Splits "addr/len"; len defaults to the full width.
bool SplitCidr(std::string_view s, int width, std::string_view& addr, int& len) {
  const size_t slash = s.find('/');
  len = width;
  addr = s;
  if (slash == std::string_view::npos) return true;
  addr = s.substr(0, slash);
  std::string_view l = s.substr(slash + 1);
  if (l.empty() || l.size() > 3) return false;
  len = 0;
  for (char c : l) {
    if (c < '0' || c > '9') return false;
    len = len * 10 + (c - '0');
  }
  return len <= width;
}

// Address blocks of one family. Blocks are laminar (two CIDRs are nested or disjoint), which
// the lookup relies on: with nodes sorted by (start, wider first) and each node's parent the
// nearest enclosing block, the last node starting at or before an address either contains it
// or has among its ancestors every block that does.
template <typename T, int kWidth>
class PrefixTable {
 public:
  struct Node {
    T start;
    T last;
    uint32_t head;
    uint32_t parent;
    uint8_t len;
  };

  void Add(T addr, int len, uint32_t indicator) {
    const T mask = len == 0 ? T(0) : (~T(0)) << (kWidth - len);
    pending_.push_back({static_cast<T>(addr & mask), static_cast<uint8_t>(len), indicator});
  }
  void Reserve(size_t n) { pending_.reserve(pending_.size() + n); }

  void Finish(Postings& postings) {
    // Nodes of an earlier Finish are merged back in as pending entries would be.
    for (const Node& n : nodes_) {
      postings.ForEach(n.head, [&](uint32_t ind) { pending_.push_back({n.start, n.len, ind}); });
    }
    std::sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
      if (a.start != b.start) return a.start < b.start;
      return a.len < b.len;
    });
    std::vector<Node> merged;
    merged.reserve(pending_.size());
    std::vector<uint32_t> stack;
    for (const Pending& p : pending_) {
      if (!merged.empty() && merged.back().start == p.start && merged.back().len == p.len) {
        merged.back().head = postings.Push(merged.back().head, p.indicator);
        continue;
      }
      const T span =
          p.len == 0 ? ~T(0) : (p.len == kWidth ? T(0) : ((T(1) << (kWidth - p.len)) - 1));
      Node n{p.start, static_cast<T>(p.start + span), postings.Push(kEnd, p.indicator), kNone,
             p.len};
      while (!stack.empty() && merged[stack.back()].last < n.start) stack.pop_back();
      if (!stack.empty()) n.parent = stack.back();
      merged.push_back(n);
      stack.push_back(static_cast<uint32_t>(merged.size() - 1));
    }
    nodes_ = std::move(merged);
    std::vector<Pending>().swap(pending_);
    // A parent precedes its children, so one forward pass gives each node its root's end.
    spans_.resize(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      spans_[i] = Span{n.start, n.parent == kNone ? n.last : spans_[n.parent].reach};
    }
    if constexpr (kWidth == 32) {
      // Which /24s some block touches: 2 MiB, one bit each.
      bits24_.Assign(size_t{1} << 18);
      for (const Node& n : nodes_) {
        uint64_t b = n.start >> 8;
        const uint64_t end = (static_cast<uint64_t>(n.last) >> 8) + 1;
        for (; b < end && (b & 63) != 0; ++b) bits24_[b >> 6] |= uint64_t{1} << (b & 63);
        for (; b + 64 <= end; b += 64) bits24_[b >> 6] = ~uint64_t{0};  // whole words
        for (; b < end; ++b) bits24_[b >> 6] |= uint64_t{1} << (b & 63);
      }
      top_.assign(65537, 0);
      size_t j = 0;
      for (uint32_t hi = 0; hi <= 65536; ++hi) {
        const uint64_t bound = static_cast<uint64_t>(hi) << 16;
        while (j < nodes_.size() && static_cast<uint64_t>(nodes_[j].start) < bound) ++j;
        top_[hi] = static_cast<uint32_t>(j);
      }
    }
  }

  template <typename Fn>
  void Lookup(T addr, Fn&& fn) const {
    if (nodes_.empty()) return;
    size_t lo = 0;
    size_t hi = nodes_.size();
    if constexpr (kWidth == 32) {
      if (!Touched24(addr)) return;
      lo = top_[addr >> 16];
      hi = top_[(addr >> 16) + 1];
    }
    auto it = std::upper_bound(spans_.begin() + lo, spans_.begin() + hi, addr,
                               [](T a, const Span& n) { return a < n.start; });
    size_t pos = static_cast<size_t>(it - spans_.begin());
    if (pos == 0) return;
    uint32_t c = static_cast<uint32_t>(pos - 1);
    // The usual miss ends here, in the compact array: not even the outermost block around the
    // candidate reaches the address.
    if (spans_[c].reach < addr) return;
    while (c != kNone && nodes_[c].last < addr) c = nodes_[c].parent;
    for (; c != kNone; c = nodes_[c].parent) fn(c, nodes_[c].head);
  }

  // The line of bits24_ a Lookup of `addr` tests first: for most addresses, in no listed /24,
  // the only line it reads. (Prefetching the search's lines for every address as well cost
  // more than it saved: a prefetch holds a miss buffer until its line arrives. SearchLines
  // gives them later, only for addresses whose bit is set.) nullptr when there is nothing to
  // load.
  const void* FirstLine(T addr) const {
    if constexpr (kWidth == 32) {
      if (!nodes_.empty()) return bits24_.data() + (addr >> 14);
    }
    return nullptr;
  }

  // The lines of spans_ the search for `addr` reads (its ends and its first midpoint), when
  // the /24 bit (FirstLine, fetched by now) says there is a search; see AddSecondLines.
  template <typename Add>
  void SearchLines(T addr, Add&& add) const {
    if constexpr (kWidth == 32) {
      if (nodes_.empty() || !Touched24(addr)) return;
      const size_t lo = top_[addr >> 16];
      const size_t hi = top_[(addr >> 16) + 1];
      add(spans_.data() + (lo > 0 ? lo - 1 : 0));
      add(spans_.data() + (lo + hi) / 2 - ((lo + hi) / 2 == nodes_.size() ? 1 : 0));
      if (hi > 0) add(spans_.data() + hi - 1);
    }
  }

  bool Touched24(uint32_t addr) const { return (bits24_[addr >> 14] >> ((addr >> 8) & 63)) & 1; }

  const Node& node(uint32_t i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size() + pending_.size(); }
  size_t MemoryBytes() const {
    return nodes_.capacity() * sizeof(Node) + spans_.capacity() * sizeof(Span) +
           pending_.capacity() * sizeof(Pending) + top_.capacity() * 4 + bits24_.size() * 8;
  }

 private:
  struct Pending {
    T start;
    uint8_t len;
    uint32_t indicator;
  };
  std::vector<Pending> pending_;
  std::vector<Node> nodes_;
  // Per node: its start, and the end of its outermost enclosing block (its own end when it has
  // none). Lookups binary-search this compact copy and touch nodes_ only for a hit.
  struct Span {
    T start;
    T reach;
  };
  std::vector<Span> spans_;
  std::vector<uint32_t> top_;  // IPv4: first node whose start >= hi << 16
  // IPv4: bit n set when some block overlaps the /24 n. The matcher prefetches and tests this
  // one line first; a clear bit (most addresses: 1 M random blocks touch 7 % of the /24s)
  // means no block contains the address and the search is never started.
  internal::SlotArray bits24_;  // one huge page: random reads do not miss the TLB
};

// Hex digit values, 0x10 and up for everything else: one load a digit and one test for the
// whole string, where a chain of range compares per digit cost 12 % of loading 10 M hashes.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xf0;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

// Decodes exactly 2 * n hex digits into `out`.
bool DecodeHex(std::string_view hex, size_t n, char* out) {
  if (hex.size() != 2 * n) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(hex.data());
  uint8_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t a = kHexValue[s[2 * i]];
    const uint8_t b = kHexValue[s[2 * i + 1]];
    bad |= a | b;
    out[i] = static_cast<char>((a << 4) | (b & 0x0f));
  }
  return (bad & 0xf0) == 0;
}

size_t HashLength(ValueKind kind) {
  switch (kind) {
    case ValueKind::kMd5:
      return 16;
    case ValueKind::kSha1:
      return 20;
    case ValueKind::kSha256:
      return 32;
    case ValueKind::kSha512:
      return 64;
    default:
      return 0;
  }
}

constexpr size_t kMaxDomain = 253 + 1;  // RFC 1035 plus a trailing dot

// Lower-cases into `buf` and drops one trailing dot. Returns the length, 0 when unusable.
size_t NormalizeDomain(std::string_view in, char* buf) {
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.empty() || in.size() > kMaxDomain) return 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    buf[i] = c;
  }
  return in.size();
}

}  // namespace

std::string_view ValueKindName(ValueKind kind) {
  static constexpr std::string_view kNames[] = {"ipv4", "ipv6",   "domain", "url",   "md5",
                                                "sha1", "sha256", "sha512", "email", "other"};
  return kNames[static_cast<size_t>(kind)];
}

bool NormalizeUrl(std::string_view url, std::string& out) {
  out.clear();
  if (size_t p = url.find("://"); p != std::string_view::npos && p < 16) {
    url.remove_prefix(p + 3);
    while (!url.empty() && url.front() == '/') url.remove_prefix(1);
  } else if (url.rfind("//", 0) == 0) {
    url.remove_prefix(2);  // scheme-relative
  }
  if (size_t hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  size_t end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.empty()) return false;
  if (authority.back() != ']') {  // not a bare [v6] literal: maybe a port
    if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      std::string_view port = authority.substr(colon + 1);
      if (port == "80" || port == "443" || port.empty()) authority = authority.substr(0, colon);
    }
  }
  if (!authority.empty() && authority.back() == '.') authority.remove_suffix(1);
  if (authority.empty()) return false;
  out.reserve(authority.size() + rest.size() + 1);
  for (char c : authority) out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  if (rest.empty() || rest.front() == '?') out.push_back('/');
  out.append(rest);
  return true;
}

struct IndicatorIndex::Impl {
  IndexOptions options;
  Postings postings;
  PrefixTable<uint32_t, 32> v4;
  PrefixTable<unsigned __int128, 128> v6;
  FlatKeySet<0> domains;
  // Bit n set when some stored domain has n labels (n < 64): a lookup tries only the parent
  // names of a length that exists, so "com" is never probed when no TLD is listed.
  uint64_t domain_labels = 0;
  FlatKeySet<0> urls;
  FlatKeySet<16> md5;
  FlatKeySet<20> sha1;
  FlatKeySet<32> sha256;
  FlatKeySet<64> sha512;
  FlatKeySet<0> emails;
  FlatKeySet<0> other;  // key: 2 bytes of field number, then the literal

  // Calls probe(name) for each name a domain lookup of `name` (normalised) tries: the name
  // and, with subdomain matching, its parents, each only when some stored domain has its
  // number of labels. The names are suffixes of `name`.
  template <typename Probe>
  void ForEachDomainProbe(std::string_view d, Probe&& probe) const {
    size_t labels = 1 + std::count(d.begin(), d.end(), '.');
    while (true) {
      if ((domain_labels >> std::min<size_t>(labels, 63)) & 1) probe(d);
      if (!options.subdomains) return;
      --labels;
      const size_t dot = d.find('.');
      if (dot == std::string_view::npos) return;
      d.remove_prefix(dot + 1);
    }
  }

  template <typename Fn>
  auto WithHashTable(ValueKind kind, Fn&& fn) {
    switch (kind) {
      case ValueKind::kMd5:
        return fn(md5);
      case ValueKind::kSha1:
        return fn(sha1);
      case ValueKind::kSha256:
        return fn(sha256);
      default:
        return fn(sha512);
    }
  }
  template <typename Fn>
  auto WithHashTable(ValueKind kind, Fn&& fn) const {
    return const_cast<Impl*>(this)->WithHashTable(kind, fn);
  }

  template <typename Set>
  static void Emit(const Set& set, const Postings& postings, uint32_t entry, ValueKind kind,
                   std::vector<IndexHit>& out) {
    postings.ForEach(set.payload(entry), [&](uint32_t ind) {
      out.push_back(IndexHit{ind, kind, entry});
    });
  }
};

IndicatorIndex::IndicatorIndex(const IndexOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
IndicatorIndex::IndicatorIndex(IndicatorIndex&&) noexcept = default;
IndicatorIndex& IndicatorIndex::operator=(IndicatorIndex&&) noexcept = default;
IndicatorIndex::~IndicatorIndex() = default;

const IndexOptions& IndicatorIndex::options() const { return impl_->options; }

void IndicatorIndex::Reserve(ValueKind kind, size_t n, size_t key_bytes) {
  Impl& m = *impl_;
  switch (kind) {
    case ValueKind::kIpv4:
      m.v4.Reserve(n);
      return;
    case ValueKind::kIpv6:
      m.v6.Reserve(n);
      return;
    case ValueKind::kDomain:
      m.domains.Reserve(m.domains.size() + n);
      m.domains.ReserveBytes(key_bytes);
      return;
    case ValueKind::kUrl:
      m.urls.Reserve(m.urls.size() + n);
      m.urls.ReserveBytes(key_bytes);
      return;
    case ValueKind::kEmail:
      m.emails.Reserve(m.emails.size() + n);
      return;
    case ValueKind::kOther:
      m.other.Reserve(m.other.size() + n);
      return;
    default:
      m.WithHashTable(kind, [&](auto& t) { t.Reserve(t.size() + n); });
  }
}

Status IndicatorIndex::Add(ValueKind kind, std::string_view value, uint32_t indicator,
                           uint16_t field) {
  Impl& m = *impl_;
  switch (kind) {
    case ValueKind::kIpv4:
    case ValueKind::kIpv6: {
      std::string_view addr;
      int len = 0;
      if (value.find(':') == std::string_view::npos) {
        uint32_t v;
        if (!SplitCidr(value, 32, addr, len) || !ParseIpv4(addr, v)) break;
        m.v4.Add(v, len, indicator);
      } else {
        unsigned __int128 v;
        if (!SplitCidr(value, 128, addr, len) || !ParseIpv6(addr, v)) break;
        m.v6.Add(v, len, indicator);
      }
      return absl::OkStatus();
    }
    case ValueKind::kDomain: {
      char buf[kMaxDomain];
      const size_t n = NormalizeDomain(value, buf);
      if (n == 0) break;
      m.domains.Append({buf, n}, kSingle | indicator);
      const size_t labels = 1 + std::count(buf, buf + n, '.');
      m.domain_labels |= uint64_t{1} << std::min<size_t>(labels, 63);
      return absl::OkStatus();
    }
    case ValueKind::kUrl: {
      std::string norm;
      if (!NormalizeUrl(value, norm) || norm.size() > m.urls.kMaxKeyLen) break;
      m.urls.Append(norm, kSingle | indicator);
      return absl::OkStatus();
    }
    case ValueKind::kEmail: {
      char buf[kMaxDomain + 64 + 2];
      if (value.empty() || value.size() > sizeof(buf) ||
          value.find('@') == std::string_view::npos) {
        break;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
      }
      m.emails.Append({buf, value.size()}, kSingle | indicator);
      return absl::OkStatus();
    }
    case ValueKind::kOther: {
      if (value.size() + 2 > m.other.kMaxKeyLen) break;
      std::string key(2, '\0');
      key[0] = static_cast<char>(field >> 8);
      key[1] = static_cast<char>(field & 0xff);
      key.append(value);
      m.other.Append(key, kSingle | indicator);
      return absl::OkStatus();
    }
    default: {
      char bytes[64];
      const size_t n = HashLength(kind);
      if (!DecodeHex(value, n, bytes)) break;
      m.WithHashTable(kind, [&](auto& t) { t.Append({bytes, n}, kSingle | indicator); });
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      StrCat("not a valid ", ValueKindName(kind), " value: '", value.substr(0, 80), "'"));
}

void IndicatorIndex::Finish() {
  Impl& m = *impl_;
  // Values were appended to the tables' arenas as they came; now they get their slots, and a
  // value added again (by another indicator, or twice in a feed) hands its indicator to the
  // first entry's posting.
  internal::LoadScratch scratch;
  auto flush = [&](auto& t) {
    t.FlushPending(scratch, [&](uint32_t kept, uint32_t orphan) {
      m.postings.ForEach(t.payload(orphan), [&](uint32_t ind) {
        t.payload(kept) = m.postings.Push(t.payload(kept), ind);
      });
      t.payload(orphan) = kEnd;
    });
  };
  flush(m.domains);
  flush(m.urls);
  flush(m.md5);
  flush(m.sha1);
  flush(m.sha256);
  flush(m.sha512);
  flush(m.emails);
  flush(m.other);
  impl_->v4.Finish(impl_->postings);
  impl_->v6.Finish(impl_->postings);
}

void IndicatorIndex::Lookup(ValueKind kind, std::string_view value, std::vector<IndexHit>& out,
                            uint16_t field) const {
  thread_local PreparedLookups prepared;
  prepared.Clear();
  Lookup(prepared, Prepare(kind, value, field, prepared), out);
}

size_t IndicatorIndex::Prepare(ValueKind kind, std::string_view value, uint16_t field,
                               PreparedLookups& prepared, std::vector<const void*>* lines) const {
  const Impl& m = *impl_;
  using Value = PreparedLookups::Value;
  const size_t index = prepared.values_.size();
  Value& v = prepared.values_.emplace_back(
      Value{kind, false, field, static_cast<uint32_t>(prepared.probes_.size()), 0, 0, 0});
  auto line = [&](const void* p) {
    if (lines != nullptr && p != nullptr) lines->push_back(p);
  };
  // Appends `key` (already in keys_ at `offset`) as a probe of table `t`.
  auto probe = [&](const auto& t, size_t offset, size_t size) {
    const uint64_t h = t.Hash({prepared.keys_.data() + offset, size});
    prepared.probes_.push_back({h, static_cast<uint32_t>(offset), static_cast<uint32_t>(size)});
    ++v.probe_count;
    return h;
  };
  std::string& keys = prepared.keys_;
  switch (kind) {
    case ValueKind::kIpv4:
    case ValueKind::kIpv6:
      if (value.find(':') == std::string_view::npos) {
        v.kind = ValueKind::kIpv4;
        v.valid = ParseIpv4(value, v.v4);
        if (v.valid) line(m.v4.FirstLine(v.v4));
      } else {
        v.kind = ValueKind::kIpv6;  // IPv6 tables are small in practice: nothing to prefetch
        v.valid = ParseIpv6(value, v.v6);
      }
      break;
    case ValueKind::kDomain: {
      if (m.domains.size() == 0) break;
      char buf[kMaxDomain];
      const size_t n = NormalizeDomain(value, buf);
      if (n == 0) break;
      const size_t base = keys.size();
      keys.append(buf, n);
      const std::string_view name(keys.data() + base, n);
      // Offsets, not views: keys_ may grow (and move) while the probes are appended.
      m.ForEachDomainProbe(name, [&](std::string_view d) {
        const size_t offset = base + static_cast<size_t>(d.data() - name.data());
        line(m.domains.SlotLine(probe(m.domains, offset, d.size())));
      });
      break;
    }
    case ValueKind::kUrl: {
      if (m.urls.size() == 0) break;
      thread_local std::string norm;
      if (!NormalizeUrl(value, norm)) break;
      const size_t base = keys.size();
      keys.append(norm);
      line(m.urls.SlotLine(probe(m.urls, base, norm.size())));
      break;
    }
    case ValueKind::kEmail: {  // small tables in practice: nothing to prefetch
      if (m.emails.size() == 0 || value.size() > kMaxDomain + 64 + 2) break;
      const size_t base = keys.size();
      for (char c : value) keys.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
      probe(m.emails, base, value.size());
      break;
    }
    case ValueKind::kOther: {  // small tables in practice: nothing to prefetch
      if (m.other.size() == 0 || value.size() + 2 > 512) break;
      const size_t base = keys.size();
      keys.push_back(static_cast<char>(field >> 8));
      keys.push_back(static_cast<char>(field & 0xff));
      keys.append(value);
      probe(m.other, base, value.size() + 2);
      break;
    }
    default: {
      const size_t n = HashLength(kind);
      m.WithHashTable(kind, [&](const auto& t) {
        if (t.size() == 0) return;
        const size_t base = keys.size();
        keys.resize(base + n);
        if (!DecodeHex(value, n, keys.data() + base)) {
          keys.resize(base);
          return;
        }
        line(t.SlotLine(probe(t, base, n)));
      });
      break;
    }
  }
  return index;
}

void IndicatorIndex::AddSecondLines(const PreparedLookups& prepared,
                                    std::vector<const void*>& lines) const {
  const Impl& m = *impl_;
  for (const PreparedLookups::Value& v : prepared.values_) {
    if (v.kind == ValueKind::kIpv4 && v.valid) {
      m.v4.SearchLines(v.v4, [&](const void* p) { lines.push_back(p); });
    }
  }
}

void IndicatorIndex::Lookup(const PreparedLookups& prepared, size_t i,
                            std::vector<IndexHit>& out) const {
  const Impl& m = *impl_;
  const PreparedLookups::Value& v = prepared.values_[i];
  if (v.kind == ValueKind::kIpv4) {
    if (!v.valid) return;
    m.v4.Lookup(v.v4, [&](uint32_t node, uint32_t head) {
      m.postings.ForEach(head, [&](uint32_t ind) {
        out.push_back(IndexHit{ind, ValueKind::kIpv4, node});
      });
    });
    return;
  }
  if (v.kind == ValueKind::kIpv6) {
    if (!v.valid) return;
    m.v6.Lookup(v.v6, [&](uint32_t node, uint32_t head) {
      m.postings.ForEach(head, [&](uint32_t ind) {
        out.push_back(IndexHit{ind, ValueKind::kIpv6, node});
      });
    });
    return;
  }
  auto find = [&](const auto& t) {
    for (uint32_t p = v.first_probe; p < v.first_probe + v.probe_count; ++p) {
      const PreparedLookups::Probe& probe = prepared.probes_[p];
      const uint32_t e =
          t.FindHashed({prepared.keys_.data() + probe.offset, probe.size}, probe.hash);
      if (e != t.kNotFound) Impl::Emit(t, m.postings, e, v.kind, out);
    }
  };
  switch (v.kind) {
    case ValueKind::kDomain:
      return find(m.domains);
    case ValueKind::kUrl:
      return find(m.urls);
    case ValueKind::kEmail:
      return find(m.emails);
    case ValueKind::kOther:
      return find(m.other);
    default:
      return m.WithHashTable(v.kind, find);
  }
}

std::string IndicatorIndex::EntryText(const IndexHit& hit) const {
  const Impl& m = *impl_;
  switch (hit.kind) {
    case ValueKind::kIpv4: {
      const auto& n = m.v4.node(hit.entry);
      std::string s = StrCat(n.start >> 24, ".", (n.start >> 16) & 255, ".", (n.start >> 8) & 255,
                             ".", n.start & 255);
      if (n.len != 32) StrAppend(&s, "/", n.len);
      return s;
    }
    case ValueKind::kIpv6: {
      const auto& n = m.v6.node(hit.entry);
      uint8_t bytes[16];
      for (int i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(n.start >> (8 * (15 - i)));
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, bytes, buf, sizeof(buf));
      std::string s(buf);
      if (n.len != 128) StrAppend(&s, "/", n.len);
      return s;
    }
    case ValueKind::kDomain:
      return std::string(m.domains.Key(hit.entry));
    case ValueKind::kUrl:
      return std::string(m.urls.Key(hit.entry));
    case ValueKind::kEmail:
      return std::string(m.emails.Key(hit.entry));
    case ValueKind::kOther:
      return std::string(m.other.Key(hit.entry).substr(2));
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      return m.WithHashTable(hit.kind, [&](const auto& t) {
        std::string s;
        for (unsigned char c : t.Key(hit.entry)) {
          s.push_back(kHex[c >> 4]);
          s.push_back(kHex[c & 15]);
        }
        return s;
      });
    }
  }
}

size_t IndicatorIndex::size(ValueKind kind) const {
  const Impl& m = *impl_;
  switch (kind) {
    case ValueKind::kIpv4:
      return m.v4.size();
    case ValueKind::kIpv6:
      return m.v6.size();
    case ValueKind::kDomain:
      return m.domains.size();
    case ValueKind::kUrl:
      return m.urls.size();
    case ValueKind::kEmail:
      return m.emails.size();
    case ValueKind::kOther:
      return m.other.size();
    default:
      return m.WithHashTable(kind, [](const auto& t) { return t.size(); });
  }
}

size_t IndicatorIndex::MemoryBytes() const {
  const Impl& m = *impl_;
  return m.v4.MemoryBytes() + m.v6.MemoryBytes() + m.domains.MemoryBytes() + m.urls.MemoryBytes() +
         m.md5.MemoryBytes() + m.sha1.MemoryBytes() + m.sha256.MemoryBytes() +
         m.sha512.MemoryBytes() + m.emails.MemoryBytes() + m.other.MemoryBytes() +
         m.postings.indicator.capacity() * 8;
}

}  // namespace liaison::match
