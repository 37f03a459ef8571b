#include "psi/normalize.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <phonenumbers/phonenumberutil.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "core/file.h"
#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison::psi {
namespace {

std::string_view TrimAscii(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

void AsciiLower(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

Result<std::string> NormalizeDomain(std::string_view text) {
  std::string input(text);
  if (!input.empty() && input.back() == '.') input.pop_back();  // the root label is implied
  if (input.empty()) return absl::InvalidArgumentError("empty domain name");
  if (!IsValidUtf8(input)) return absl::InvalidArgumentError("domain name is not valid UTF-8");
  if (input.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("domain name contains a NUL byte");
  }
  // UTS #46 non-transitional processing (IDNA2008 as browsers apply it): maps case and
  // compatibility forms, NFC first, then converts U-labels to A-labels.
  char* out = nullptr;
  const int rc =
      idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input.c_str()),
                     reinterpret_cast<uint8_t**>(&out), IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    return absl::InvalidArgumentError(
        StrCat("not a valid domain name (IDNA: ", idn2_strerror(rc), ")"));
  }
  std::string result(out);
  idn2_free(out);
  AsciiLower(result);
  // RFC 1035 section 2.3.4: at most 253 characters of text without the final dot, no empty label.
  if (result.size() > 253)
    return absl::InvalidArgumentError("domain name longer than 253 characters");
  if (result.empty() || result.front() == '.' || result.find("..") != std::string::npos) {
    return absl::InvalidArgumentError("domain name has an empty label");
  }
  for (char c : result) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '@' || c == '/' || c == '\\') {
      return absl::InvalidArgumentError(
          "domain name contains a character not allowed in a host name");
    }
  }
  return result;
}

Result<std::string> NormalizeEmail(std::string_view text) {
  const size_t at = text.rfind('@');
  if (at == std::string_view::npos) return absl::InvalidArgumentError("e-mail address without '@'");
  std::string local(text.substr(0, at));
  if (local.empty()) return absl::InvalidArgumentError("e-mail address with an empty local part");
  if (local.size() > 64) {
    return absl::InvalidArgumentError(
        "e-mail local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
  }
  if (!IsValidUtf8(local))
    return absl::InvalidArgumentError("e-mail local part is not valid UTF-8");
  for (char c : local) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return absl::InvalidArgumentError("e-mail local part contains a control character");
    }
  }
  auto domain = NormalizeDomain(text.substr(at + 1));
  if (!domain.ok())
    return absl::InvalidArgumentError(StrCat("e-mail domain: ", domain.status().message()));
  // RFC 5321 section 2.4: the local part is case sensitive in principle, so it is kept exact.
  // Google documents that Gmail ignores dots and case and delivers "name+tag" to "name", and that
  // googlemail.com is the same mailbox namespace; only there are the aliases folded.
  if (*domain == "gmail.com" || *domain == "googlemail.com") {
    *domain = "gmail.com";
    if (size_t plus = local.find('+'); plus != std::string::npos) local.resize(plus);
    std::string folded;
    for (char c : local) {
      if (c != '.') folded += c;
    }
    AsciiLower(folded);
    if (folded.empty())
      return absl::InvalidArgumentError("gmail address with an empty mailbox name");
    local = std::move(folded);
  }
  return StrCat(local, "@", *domain);
}

Result<std::string> NormalizePhone(std::string_view text, const NormalizeOptions& options) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("phone number is not valid UTF-8");
  // "ZZ" is libphonenumber's unknown region: only numbers in international format parse.
  const std::string region = options.default_region.empty() ? "ZZ" : options.default_region;
  PhoneNumber number;
  if (util->Parse(std::string(text), region, &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
    return absl::InvalidArgumentError(
        options.default_region.empty()
            ? "not a phone number in international format (+<country code><number>)"
            : "not a phone number");
  }
  if (!util->IsPossibleNumber(number)) {
    return absl::InvalidArgumentError("not a possible phone number for its country code");
  }
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

Result<std::string> NormalizeIp(std::string_view text) {
  const std::string input(text);
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, input.c_str(), bytes) == 1) {
    inet_ntop(AF_INET, bytes, out, sizeof out);
    return std::string(out);
  }
  if (inet_pton(AF_INET6, input.c_str(), bytes) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, bytes)) {  // RFC 4291 2.5.5.2: the same IPv4 host
      inet_ntop(AF_INET, bytes + 12, out, sizeof out);
    } else {
      inet_ntop(AF_INET6, bytes, out, sizeof out);  // glibc follows RFC 5952 section 4
    }
    return std::string(out);
  }
  return absl::InvalidArgumentError("not an IPv4 or IPv6 address");
}

Result<std::string> NormalizeHash(std::string_view text) {
  switch (text.size()) {
    case 32:
    case 40:
    case 56:
    case 64:
    case 96:
    case 128:
      break;
    default:
      return absl::InvalidArgumentError(
          "a hash must have 32, 40, 56, 64, 96 or 128 hex digits (MD5 to SHA-512)");
  }
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError("a hash must be hexadecimal");
    }
  }
  return out;
}

Result<std::string> NormalizeId(std::string_view text) {
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("identifier is not valid UTF-8");
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) return absl::InternalError("ICU NFC normaliser unavailable");
  icu::UnicodeString normalized =
      nfc->normalize(icu::UnicodeString::fromUTF8(
                         icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))),
                     err);
  if (U_FAILURE(err)) return absl::InvalidArgumentError("identifier cannot be normalised to NFC");
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

}  // namespace

Result<ItemKind> ParseItemKind(std::string_view name) {
  if (name == "email") return ItemKind::kEmail;
  if (name == "phone") return ItemKind::kPhone;
  if (name == "domain") return ItemKind::kDomain;
  if (name == "ip") return ItemKind::kIp;
  if (name == "hash") return ItemKind::kHash;
  if (name == "id") return ItemKind::kId;
  return absl::InvalidArgumentError(
      StrCat("unknown item kind \"", name, "\" (expected email, phone, domain, ip, hash or id)"));
}

std::string_view ItemKindName(ItemKind kind) {
  switch (kind) {
    case ItemKind::kEmail:
      return "email";
    case ItemKind::kPhone:
      return "phone";
    case ItemKind::kDomain:
      return "domain";
    case ItemKind::kIp:
      return "ip";
    case ItemKind::kHash:
      return "hash";
    case ItemKind::kId:
      return "id";
  }
  return "unknown";
}

Result<std::string> Normalize(ItemKind kind, std::string_view text,
                              const NormalizeOptions& options) {
  text = TrimAscii(text);
  if (text.empty()) return absl::InvalidArgumentError("empty item");
  if (text.size() > kMaxItemBytes) return absl::InvalidArgumentError("item longer than 1024 bytes");
  Result<std::string> out = absl::InvalidArgumentError("unknown item kind");
  switch (kind) {
    case ItemKind::kEmail:
      out = NormalizeEmail(text);
      break;
    case ItemKind::kPhone:
      out = NormalizePhone(text, options);
      break;
    case ItemKind::kDomain:
      out = NormalizeDomain(text);
      break;
    case ItemKind::kIp:
      out = NormalizeIp(text);
      break;
    case ItemKind::kHash:
      out = NormalizeHash(text);
      break;
    case ItemKind::kId:
      out = NormalizeId(text);
      break;
  }
  if (out.ok() && out->size() > kMaxItemBytes) {
    return absl::InvalidArgumentError("item longer than 1024 bytes once normalised");
  }
  return out;
}

Result<WatchList> ParseWatchList(std::string_view text, ItemKind kind, std::string_view name,
                                 const NormalizeOptions& options, size_t max_items) {
  WatchList list;
  list.kind = kind;
  absl::flat_hash_set<std::string> seen;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const std::string_view trimmed = TrimAscii(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    auto item = Normalize(kind, trimmed, options);
    if (!item.ok()) {
      return absl::InvalidArgumentError(StrCat(name, ":", line_no, ": ", item.status().message()));
    }
    if (seen.insert(*item).second) {
      if (list.items.size() >= max_items) {
        return absl::ResourceExhaustedError(StrCat(name, ": more than ", max_items, " items"));
      }
      list.items.push_back(std::move(*item));
    }
  }
  return list;
}

Result<WatchList> LoadWatchList(const std::string& path, ItemKind kind,
                                const NormalizeOptions& options, size_t max_items) {
  LIAISON_ASSIGN_OR_RETURN(Buffer buffer, ReadInput(path));
  return ParseWatchList(buffer.view(), kind, path, options, max_items);
}

}  // namespace liaison::psi
