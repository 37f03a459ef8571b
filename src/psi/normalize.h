#pragma once

// Item normalisation for private set intersection (docs/psi.md, "Normalisation"). Two parties
// find an item in common only when both spell it the same way, so every item is reduced to one
// canonical byte string per kind before it is hashed to the group. The rules are deliberately
// conservative: an equivalence is applied only where the owner of the namespace defines it
// (DNS case-insensitivity, a mail provider's documented aliasing, E.164), never by guesswork.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace liaison::psi {

enum class ItemKind : unsigned char {
  kEmail = 1,
  kPhone = 2,
  kDomain = 3,
  kIp = 4,
  kHash = 5,
  kId = 6,
};

// "email", "phone", "domain", "ip", "hash", "id". InvalidArgument for any other name.
Result<ItemKind> ParseItemKind(std::string_view name);
std::string_view ItemKindName(ItemKind kind);

struct NormalizeOptions {
  // ISO 3166-1 alpha-2 region for phone numbers written without a leading "+" (national
  // format), e.g. "FR". Empty: such numbers are refused.
  std::string default_region;
};

// The longest item accepted, in bytes, before and after normalisation.
inline constexpr size_t kMaxItemBytes = 1024;

// Returns the canonical form of `text` (surrounding ASCII white space is ignored), or
// InvalidArgument saying why the text is not an item of this kind:
//   email  local@domain; domain as for kDomain; local part exact, except for gmail.com and
//          googlemail.com where Google documents that case and dots do not matter and "+tag"
//          is an alias (the domain becomes gmail.com).
//   phone  E.164 ("+33123456789") via libphonenumber; must be a possible number.
//   domain lower case, IDNA2008 / UTS #46 non-transitional A-labels (libidn2), no final dot.
//   ip     canonical text of RFC 5952 (IPv6) or dotted quad; an IPv4-mapped IPv6 address
//          becomes the IPv4 address.
//   hash   lower-case hex of 32, 40, 56, 64, 96 or 128 digits (MD5 .. SHA-512).
//   id     valid UTF-8 in Unicode Normalization Form C (ICU).
// Thread safe.
Result<std::string> Normalize(ItemKind kind, std::string_view text,
                              const NormalizeOptions& options = {});

// A watch-list: normalised, de-duplicated items of one kind, in first-seen order.
struct WatchList {
  ItemKind kind = ItemKind::kId;
  std::vector<std::string> items;
};

// Parses a watch-list text: one item per line; blank lines and lines starting with '#' are
// skipped; CRLF is accepted. The first bad line is an InvalidArgument error
// "<name>:<line>: <why>". `max_items` bounds memory (ResourceExhausted beyond).
Result<WatchList> ParseWatchList(std::string_view text, ItemKind kind, std::string_view name,
                                 const NormalizeOptions& options = {},
                                 size_t max_items = size_t{1} << 24);

// Reads and parses a watch-list file (see ParseWatchList).
Result<WatchList> LoadWatchList(const std::string& path, ItemKind kind,
                                const NormalizeOptions& options = {},
                                size_t max_items = size_t{1} << 24);

}  // namespace liaison::psi
