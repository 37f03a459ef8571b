#include "store/filter.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/absl_compat.h"

namespace liaison::store {
namespace {

// Cursor wire format (before base64url): "c1\n<date_added micros>\n<id>\n<version key>\n<check>"
// where <check> is the FNV-1a 64 hash of everything before it, in hex. The hash is not a secret:
// it only turns a truncated or hand-edited token into a clear error instead of a silently wrong
// position. A forged but well-formed cursor can only move the caller's own position in a
// collection it is already allowed to read.
constexpr std::string_view kCursorTag = "c1";
constexpr size_t kMaxCursorChars = 1024;
constexpr size_t kMaxIdChars = 512;

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Hex64(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kDigits[v & 15];
    v >>= 4;
  }
  return out;
}

Status BadCursor(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("next: not a cursor issued by this server (", ToAbsl(why), ")"));
}

// A version ordering where "no version" sorts before every timestamp.
bool VersionLess(const std::optional<Timestamp>& a, const std::optional<Timestamp>& b) {
  if (!a) return b.has_value();
  if (!b) return false;
  return *a < *b;
}

bool MatchesAt(const VersionRecord& r, Timestamp at) {
  // An object without modified/created has one version; TAXII identifies it by date_added.
  return r.version ? *r.version == at : r.date_added == at;
}

// Steps 1-3 of filter.h, shared by queries and deletes.
std::vector<bool> Select(std::span<const VersionRecord> records,
                         const std::optional<Timestamp>& added_after,
                         std::span<const VersionMatch> versions,
                         std::span<const std::string> spec_versions, bool all_versions_default,
                         bool latest_spec_default) {
  const size_t n = records.size();
  std::vector<bool> pass(n, false);
  // Step 1: base filters that can differ between versions of one id.
  for (size_t i = 0; i < n; ++i) {
    const VersionRecord& r = records[i];
    if (added_after && !(r.date_added > *added_after)) continue;
    if (!spec_versions.empty() && std::find(spec_versions.begin(), spec_versions.end(),
                                            r.spec_version) == spec_versions.end()) {
      continue;
    }
    pass[i] = true;
  }
  // Step 2: version selection among the survivors.
  std::optional<size_t> first, last;
  for (size_t i = 0; i < n; ++i) {
    if (!pass[i]) continue;
    if (!first || VersionLess(records[i].version, records[*first].version)) first = i;
    if (!last || VersionLess(records[*last].version, records[i].version)) last = i;
  }
  const VersionMatch kDefaultQuery = VersionMatch::Last();
  const VersionMatch kDefaultDelete = VersionMatch::All();
  if (versions.empty()) {
    versions =
        std::span<const VersionMatch>(all_versions_default ? &kDefaultDelete : &kDefaultQuery, 1);
  }
  std::vector<bool> selected(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (!pass[i]) continue;
    for (const VersionMatch& m : versions) {
      bool hit = false;
      switch (m.kind) {
        case VersionMatch::Kind::kAll:
          hit = true;
          break;
        case VersionMatch::Kind::kFirst:
          hit = first == i;
          break;
        case VersionMatch::Kind::kLast:
          hit = last == i;
          break;
        case VersionMatch::Kind::kAt:
          hit = MatchesAt(records[i], m.at);
          break;
      }
      if (hit) {
        selected[i] = true;
        break;
      }
    }
  }
  // Step 3: without match[spec_version], the latest spec version among the selected versions.
  if (spec_versions.empty() && latest_spec_default) {
    std::string_view best;
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      if (!selected[i]) continue;
      if (!any || CompareSpecVersions(records[i].spec_version, best) > 0) {
        best = records[i].spec_version;
        any = true;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (selected[i] && CompareSpecVersions(records[i].spec_version, best) != 0) {
        selected[i] = false;
      }
    }
  }
  return selected;
}

}  // namespace

Status ValidateFilter(const Filter& filter) {
  if (filter.limit && *filter.limit == 0) {
    return absl::InvalidArgumentError("limit: must be a positive integer");
  }
  auto too_many = [](std::string_view name, size_t n) -> Status {
    if (n <= kMaxFilterValues) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(name), ": more than ", kMaxFilterValues, " values"));
  };
  Status s = too_many("match[id]", filter.ids.size());
  if (s.ok()) s = too_many("match[type]", filter.types.size());
  if (s.ok()) s = too_many("match[version]", filter.versions.size());
  if (s.ok()) s = too_many("match[spec_version]", filter.spec_versions.size());
  return s;
}

std::string EncodeCursor(const Cursor& cursor) {
  std::string payload = absl::StrCat(ToAbsl(kCursorTag), "\n", ToUnixMicros(cursor.date_added),
                                     "\n", cursor.id, "\n", VersionKey(cursor.version), "\n");
  payload += Hex64(Fnv1a64(payload));
  return absl::WebSafeBase64Escape(payload);
}

Result<Cursor> DecodeCursor(std::string_view text) {
  if (text.empty()) return BadCursor("empty");
  if (text.size() > kMaxCursorChars) return BadCursor("too long");
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return BadCursor("not base64url");
  }
  std::string payload;
  if (!absl::WebSafeBase64Unescape(ToAbsl(text), &payload)) return BadCursor("not base64url");
  // Only the canonical spelling: base64 has unused bits in its last character, and two spellings
  // of one cursor would make "edited" undetectable there.
  if (absl::WebSafeBase64Escape(payload) != ToAbsl(text)) return BadCursor("not canonical");
  const size_t check_at = payload.rfind('\n');
  if (check_at == std::string::npos) return BadCursor("truncated");
  const std::string_view body = std::string_view(payload).substr(0, check_at + 1);
  const std::string_view check = std::string_view(payload).substr(check_at + 1);
  if (check != Hex64(Fnv1a64(body))) return BadCursor("checksum mismatch");
  std::vector<std::string_view> parts;
  for (absl::string_view p : absl::StrSplit(ToAbsl(body.substr(0, body.size() - 1)), '\n')) {
    parts.push_back(ToStd(p));
  }
  if (parts.size() != 4 || parts[0] != kCursorTag) return BadCursor("unknown format");
  int64_t micros = 0;
  const auto [end, ec] =
      std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), micros);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || micros < 0) {
    return BadCursor("bad date_added");
  }
  const std::string_view id = parts[2];
  if (id.empty() || id.size() > kMaxIdChars || id.find("--") == std::string_view::npos) {
    return BadCursor("bad id");
  }
  auto version = ParseVersionKey(parts[3]);
  if (!version.ok()) return BadCursor("bad version");
  return Cursor{FromUnixMicros(micros), std::string(id), *version};
}

std::vector<bool> SelectVersions(std::span<const VersionRecord> records, const Filter& filter) {
  return Select(records, filter.added_after, filter.versions, filter.spec_versions,
                /*all_versions_default=*/false, /*latest_spec_default=*/true);
}

std::vector<bool> SelectVersionsForDelete(std::span<const VersionRecord> records,
                                          const DeleteFilter& filter) {
  return Select(records, std::nullopt, filter.versions, filter.spec_versions,
                /*all_versions_default=*/true, /*latest_spec_default=*/false);
}

int CompareSpecVersions(std::string_view a, std::string_view b) {
  // Compare dotted numeric components; a non-numeric component falls back to text order so that
  // the ordering stays total for whatever a producer put there.
  while (!a.empty() || !b.empty()) {
    const size_t ea = std::min(a.find('.'), a.size());
    const size_t eb = std::min(b.find('.'), b.size());
    const std::string_view ca = a.substr(0, ea), cb = b.substr(0, eb);
    uint64_t na = 0, nb = 0;
    const auto ra = std::from_chars(ca.data(), ca.data() + ca.size(), na);
    const auto rb = std::from_chars(cb.data(), cb.data() + cb.size(), nb);
    const bool numeric = !ca.empty() && !cb.empty() && ra.ec == std::errc() &&
                         rb.ec == std::errc() && ra.ptr == ca.data() + ca.size() &&
                         rb.ptr == cb.data() + cb.size();
    if (numeric) {
      if (na != nb) return na < nb ? -1 : 1;
    } else if (int c = ca.compare(cb); c != 0) {
      return c < 0 ? -1 : 1;
    }
    a = ea < a.size() ? a.substr(ea + 1) : std::string_view();
    b = eb < b.size() ? b.substr(eb + 1) : std::string_view();
  }
  return 0;
}

std::string VersionKey(const std::optional<Timestamp>& version) {
  if (!version) return std::string();
  return version->ToString(9);
}

Result<std::optional<Timestamp>> ParseVersionKey(std::string_view key) {
  if (key.empty()) return std::optional<Timestamp>();
  if (key.size() != 30) return absl::InvalidArgumentError("version key: wrong length");
  auto t = Timestamp::Parse(key);
  if (!t.ok()) return t.status();
  return std::optional<Timestamp>(*t);
}

int64_t ToUnixMicros(Timestamp t) { return t.unix_seconds() * 1'000'000 + t.nanos() / 1000; }

Timestamp FromUnixMicros(int64_t micros) {
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  return Timestamp::FromUnixNanos(seconds, static_cast<int32_t>(rest * 1000));
}

}  // namespace liaison::store
