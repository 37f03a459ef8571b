#include "pattern/internal/ip.h"

#include <algorithm>
#include <cctype>

namespace liaison::pattern::internal {
namespace {

bool ParseDecimal(std::string_view s, int max, int& out) {
  if (s.empty() || s.size() > 3) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

bool ParseIpv4(std::string_view s, uint8_t* out) {
  for (int part = 0; part < 4; ++part) {
    size_t dot = part < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return false;
    int v;
    if (!ParseDecimal(s.substr(0, dot), 255, v)) return false;
    out[part] = static_cast<uint8_t>(v);
    s.remove_prefix(part < 3 ? dot + 1 : dot);
  }
  return s.empty();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4291 section 2.2 text forms.
bool ParseIpv6(std::string_view s, uint8_t* out) {
  uint16_t groups[8] = {};
  int count = 0;
  int gap = -1;  // index in `groups` where "::" stands
  size_t i = 0;
  if (s.substr(0, 2) == "::") {
    gap = 0;
    i = 2;
    if (s.size() == 2) {
      std::fill(out, out + 16, 0);
      return true;
    }
  } else if (!s.empty() && s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    if (count == 8) return false;
    // An embedded IPv4 address may end the text (at most 6 groups before it).
    size_t end = s.find(':', i);
    std::string_view token = s.substr(i, end == std::string_view::npos ? end : end - i);
    if (token.find('.') != std::string_view::npos) {
      if (end != std::string_view::npos || count > 6) return false;
      uint8_t v4[4];
      if (!ParseIpv4(token, v4)) return false;
      groups[count++] = static_cast<uint16_t>(v4[0] << 8 | v4[1]);
      groups[count++] = static_cast<uint16_t>(v4[2] << 8 | v4[3]);
      i = s.size();
      break;
    }
    if (token.empty() || token.size() > 4) return false;
    uint16_t v = 0;
    for (char c : token) {
      int d = HexDigit(c);
      if (d < 0) return false;
      v = static_cast<uint16_t>(v << 4 | d);
    }
    groups[count++] = v;
    if (end == std::string_view::npos) {
      i = s.size();
      break;
    }
    i = end + 1;
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return false;  // only one "::"
      gap = count;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // a trailing single ':'
    }
  }
  if (gap < 0 && count != 8) return false;
  if (gap >= 0 && count > 7) return false;
  uint16_t full[8] = {};
  if (gap < 0) {
    std::copy(groups, groups + 8, full);
  } else {
    const int tail = count - gap;
    std::copy(groups, groups + gap, full);
    std::copy(groups + gap, groups + count, full + 8 - tail);
  }
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(full[k] & 0xFF);
  }
  return true;
}

unsigned __int128 Mask(int prefix) {
  return prefix == 0 ? 0 : ~static_cast<unsigned __int128>(0) << (128 - prefix);
}

unsigned __int128 Bits(const uint8_t* bytes, int count) {
  unsigned __int128 v = 0;
  for (int i = 0; i < 16; ++i) v = v << 8 | (i < count ? bytes[i] : 0);
  return v;
}

}  // namespace

std::optional<IpNetwork> ParseIpNetwork(std::string_view text) {
  IpNetwork n;
  uint8_t bytes[16] = {};
  std::string_view address = text;
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    if (!ParseDecimal(text.substr(slash + 1), 128, prefix)) return std::nullopt;
  }
  if (address.find(':') != std::string_view::npos) {
    n.v6 = true;
    if (!ParseIpv6(address, bytes)) return std::nullopt;
    n.prefix = prefix < 0 ? 128 : prefix;
  } else {
    if (!ParseIpv4(address, bytes)) return std::nullopt;
    if (prefix > 32) return std::nullopt;
    n.prefix = prefix < 0 ? 32 : prefix;
  }
  n.bits = Bits(bytes, n.v6 ? 16 : 4) & Mask(n.prefix);
  return n;
}

bool NetworkContains(const IpNetwork& outer, const IpNetwork& inner) {
  return outer.v6 == inner.v6 && outer.prefix <= inner.prefix &&
         ((inner.bits ^ outer.bits) & Mask(outer.prefix)) == 0;
}

}  // namespace liaison::pattern::internal
