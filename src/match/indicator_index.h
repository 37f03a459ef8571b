#pragma once

// The exact-match indexes of `liaison match`: every indicator whose pattern reduces to
// `=` / `IN` comparisons on a well-known property lands here rather than in the pattern engine.
//
//   addresses  IPv4 and IPv6 addresses and CIDR blocks; a lookup reports every block that
//              contains the address (the longest prefix first, then its enclosing blocks)
//   domains    lower-cased, without a trailing dot; a lookup of a.b.example.com also reports
//              b.example.com and example.com when IndexOptions::subdomains is set
//   URLs       normalised by NormalizeUrl (scheme dropped, host lower-cased, default port and
//              fragment removed) so that Zeek's host + uri meets a feed's full URL
//   hashes     MD5, SHA-1, SHA-256, SHA-512 stored as bytes, looked up from hex of any case
//   e-mail     lower-cased addresses
//   other      any other (property, literal) pair a log reader produces, e.g. a port
//
// Each value carries its indicators as a posting: one indicator inline, or a chain. Values from
// plain lists carry kListIndicator: their STIX id is derived from the value (compiler.h).
// Memory per value: the key bytes, 8 bytes of slot (at load <= 3/4), 4 of posting, plus 8 of
// offset for variable-length keys; 21M values fit in about 1 GB (docs/match.md).
//
// Building is single-threaded; after Finish(), lookups are const and safe from many threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace liaison::match {

enum class ValueKind : uint8_t {
  kIpv4,
  kIpv6,
  kDomain,
  kUrl,
  kMd5,
  kSha1,
  kSha256,
  kSha512,
  kEmail,
  kOther,
};
inline constexpr size_t kValueKindCount = 10;
std::string_view ValueKindName(ValueKind kind);

// The indicator number of values loaded from plain lists.
inline constexpr uint32_t kListIndicator = 0x7ffffffeu;  // (0x7fffffff | single) is "none"

struct IndexOptions {
  bool subdomains = true;  // a domain indicator also fires on its subdomains
};

// One hit: which indicator, and which stored value (entry) it came through, so that the
// caller can name the value (EntryText) without keeping the log's bytes.
struct IndexHit {
  uint32_t indicator = 0;
  ValueKind kind = ValueKind::kOther;
  uint32_t entry = 0;
};

// Normalises a URL for matching: drops the scheme and user info, lower-cases the host, drops
// :80 / :443 and the fragment, and gives an empty path as "/". Returns false when nothing like
// a host is there.
bool NormalizeUrl(std::string_view url, std::string& out);

class IndicatorIndex;

// Values made ready for lookups in an IndicatorIndex: each parsed, normalised and hashed once,
// for a prefetch pass and then the lookups (the matcher prepares a batch of events, prefetches
// what their lookups read, and looks them up a batch later). Valid for the index that
// prepared them, while it is not changed. Reused across batches, it stops allocating once it
// has grown to its working size.
class PreparedLookups {
 public:
  void Clear() {
    values_.clear();
    probes_.clear();
    keys_.clear();
  }
  size_t size() const { return values_.size(); }

 private:
  friend class IndicatorIndex;
  // One name to find in a hash table: its bytes in keys_ and the table's hash of them.
  struct Probe {
    uint64_t hash;
    uint32_t offset;
    uint32_t size;
  };
  struct Value {
    ValueKind kind;
    bool valid;  // an address that parsed (address kinds)
    uint16_t field;
    uint32_t first_probe;  // into probes_
    uint32_t probe_count;
    uint32_t v4;
    unsigned __int128 v6;
  };
  std::vector<Value> values_;
  std::vector<Probe> probes_;
  std::string keys_;
};

class IndicatorIndex {
 public:
  explicit IndicatorIndex(const IndexOptions& options = {});
  IndicatorIndex(IndicatorIndex&&) noexcept;
  IndicatorIndex& operator=(IndicatorIndex&&) noexcept;
  ~IndicatorIndex();

  // Room for `n` more values of `kind` (avoids rehashing while loading millions).
  void Reserve(ValueKind kind, size_t n, size_t key_bytes = 0);

  // Adds `value` of `kind` for `indicator`. kIpv4/kIpv6 accept an address or a CIDR block;
  // kOther takes `field` (a log field number, fields.h) with the literal text. InvalidArgument
  // when the value is not of its kind (a 63-digit SHA-256, 10.0.0.300, an empty domain).
  Status Add(ValueKind kind, std::string_view value, uint32_t indicator, uint16_t field = 0);

  // Places the values added since the last Finish in their tables and sorts the address
  // blocks. Call after the last Add and before lookups: Lookup does not see values added
  // after the last Finish.
  void Finish();

  // Looks `value` up as `kind` (an address kind is decided by the text: IPv6 has a colon) and
  // appends the hits to `out`. Malformed values give no hits. Never allocates once `out` has
  // grown to its working size.
  void Lookup(ValueKind kind, std::string_view value, std::vector<IndexHit>& out,
              uint16_t field = 0) const;

  // Lookup in two steps. Prepare appends `value` (as Lookup takes it) to `prepared` and returns
  // its number there; with `lines`, it also appends the cache lines its lookup reads first (the
  // hash slot of each name it probes, the /24 bit of an IPv4 address) without touching them.
  // The matcher collects them for a batch of events and prefetches them back to back, so that
  // their misses overlap (docs/match.md, "Batched lookups"). Lookup(prepared, i, out) appends
  // the hits of value i, as Lookup(kind, value, out, field) would.
  size_t Prepare(ValueKind kind, std::string_view value, uint16_t field, PreparedLookups& prepared,
                 std::vector<const void*>* lines = nullptr) const;
  void Lookup(const PreparedLookups& prepared, size_t i, std::vector<IndexHit>& out) const;
  // A second stage of prefetching, once the lines Prepare gave have arrived: appends the lines
  // the lookups of `prepared` read next (for an IPv4 address in a listed /24, the binary
  // search's), decided by reading the first ones.
  void AddSecondLines(const PreparedLookups& prepared, std::vector<const void*>& lines) const;

  // The stored value of a hit, as text ("10.0.0.0/8", "example.com", the hash in lower-case
  // hex).
  std::string EntryText(const IndexHit& hit) const;

  size_t size(ValueKind kind) const;
  size_t MemoryBytes() const;
  const IndexOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::match
