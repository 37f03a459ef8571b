#pragma once

// IPv4 and IPv6 addresses and CIDR blocks for ISSUBSET / ISSUPERSET (STIX 2.1 section 9.6.1).
// An address is the block of one address (/32 or /128); host bits below the prefix are ignored,
// as in '11.22.41.123/20', which is the block 11.22.32.0/20.

#include <cstdint>
#include <optional>
#include <string_view>

namespace liaison::pattern::internal {

struct IpNetwork {
  bool v6 = false;
  // The address, most significant bit first, left-aligned (an IPv4 address fills the top 32
  // bits), with the bits past the prefix cleared.
  unsigned __int128 bits = 0;
  int prefix = 0;  // 0..32 or 0..128

  friend bool operator==(const IpNetwork&, const IpNetwork&) = default;
};

// Parses "a.b.c.d", "a.b.c.d/n", an RFC 4291 IPv6 text form (with "::" and an embedded IPv4
// tail), optionally "/n". Host bits are cleared. nullopt for anything else.
std::optional<IpNetwork> ParseIpNetwork(std::string_view text);

// Whether `outer` contains every address of `inner` (same family only).
bool NetworkContains(const IpNetwork& outer, const IpNetwork& inner);

}  // namespace liaison::pattern::internal
