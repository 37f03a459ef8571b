// STIX Cyber-observable Objects (STIX 2.1 section 6): one TypeSpec per SCO type, the sub-types
// they nest, the predefined extensions (archive-ext, ..., windows-service-ext) and the enumerations
// and vocabularies of section 10 that only SCOs use. Common SCO properties (type, id,
// spec_version, object_marking_refs, granular_markings, defanged, extensions) are in
// spec_common.cc; the tables here list only type-specific properties.
//
// Value formats the spec states as MUST (IP addresses in CIDR notation, MAC-48, CPE 2.3, ...) are
// checked by each type's `check` function and reported under rule::kType; rules that tie several
// properties together are reported under rule::kCoConstraint. Hash values are checked by the
// interpreter for every Kind::kHashes property.

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

#include "simdjson.h"
#include "stix/internal/spec.h"

namespace liaison::stix::internal {
namespace {

using Types = std::string_view;

// ---------------------------------------------------------------------------------------------
// Section 10 enumerations and vocabularies used by SCOs.

constexpr std::string_view kAccountTypes[] = {
    "facebook", "ldap",    "nis",  "openid",        "radius",         "skype",
    "tacacs",   "twitter", "unix", "windows-local", "windows-domain",
};
constexpr Vocab kAccountTypeOv = {"account-type-ov", kAccountTypes};

constexpr std::string_view kEncryptionAlgorithms[] = {"AES-256-GCM", "ChaCha20-Poly1305",
                                                      "mime-type-indicated"};
constexpr Vocab kEncryptionAlgorithmEnum = {"encryption-algorithm-enum", kEncryptionAlgorithms};

constexpr std::string_view kAddressFamilies[] = {"AF_UNSPEC",    "AF_INET",    "AF_IPX",
                                                 "AF_APPLETALK", "AF_NETBIOS", "AF_INET6",
                                                 "AF_IRDA",      "AF_BTH"};
constexpr Vocab kNetworkSocketAddressFamilyEnum = {"network-socket-address-family-enum",
                                                   kAddressFamilies};

// The spec's summary line misprints SOCK_DGRAM; the value table has it right.
constexpr std::string_view kSocketTypes[] = {"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM",
                                             "SOCK_SEQPACKET"};
constexpr Vocab kNetworkSocketTypeEnum = {"network-socket-type-enum", kSocketTypes};

constexpr std::string_view kIntegrityLevels[] = {"low", "medium", "high", "system"};
constexpr Vocab kWindowsIntegrityLevelEnum = {"windows-integrity-level-enum", kIntegrityLevels};

constexpr std::string_view kPeBinaryTypes[] = {"dll", "exe", "sys"};
constexpr Vocab kWindowsPeBinaryTypeOv = {"windows-pebinary-type-ov", kPeBinaryTypes};

constexpr std::string_view kRegistryDatatypes[] = {
    "REG_NONE",
    "REG_SZ",
    "REG_EXPAND_SZ",
    "REG_BINARY",
    "REG_DWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_DWORD_LITTLE_ENDIAN",
    "REG_LINK",
    "REG_MULTI_SZ",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTION",
    "REG_RESOURCE_REQUIREMENTS_LIST",
    "REG_QWORD",
    "REG_INVALID_TYPE",
};
constexpr Vocab kWindowsRegistryDatatypeEnum = {"windows-registry-datatype-enum",
                                                kRegistryDatatypes};

constexpr std::string_view kServiceStartTypes[] = {"SERVICE_AUTO_START", "SERVICE_BOOT_START",
                                                   "SERVICE_DEMAND_START", "SERVICE_DISABLED",
                                                   "SERVICE_SYSTEM_ALERT"};
constexpr Vocab kWindowsServiceStartTypeEnum = {"windows-service-start-type-enum",
                                                kServiceStartTypes};

constexpr std::string_view kServiceTypes[] = {"SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER",
                                              "SERVICE_WIN32_OWN_PROCESS",
                                              "SERVICE_WIN32_SHARE_PROCESS"};
constexpr Vocab kWindowsServiceTypeEnum = {"windows-service-type-enum", kServiceTypes};

constexpr std::string_view kServiceStatuses[] = {
    "SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED",  "SERVICE_RUNNING",
    "SERVICE_START_PENDING",    "SERVICE_STOP_PENDING",  "SERVICE_STOPPED",
};
constexpr Vocab kWindowsServiceStatusEnum = {"windows-service-status-enum", kServiceStatuses};

// ---------------------------------------------------------------------------------------------
// Reference targets ("The object referenced in this property MUST be of type ...").

constexpr Types kArtifact[] = {"artifact"};
constexpr Types kArtifactOrFile[] = {"artifact", "file"};
constexpr Types kAutonomousSystem[] = {"autonomous-system"};
constexpr Types kDirectory[] = {"directory"};
constexpr Types kEmailAddr[] = {"email-addr"};
constexpr Types kFile[] = {"file"};
constexpr Types kFileOrDirectory[] = {"file", "directory"};
constexpr Types kMacAddr[] = {"mac-addr"};
constexpr Types kNetworkTraffic[] = {"network-traffic"};
constexpr Types kProcess[] = {"process"};
constexpr Types kUserAccount[] = {"user-account"};
constexpr Types kResolvesTo[] = {"ipv4-addr", "ipv6-addr", "domain-name"};
constexpr Types kTrafficEndpoint[] = {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"};

// ---------------------------------------------------------------------------------------------
// Helpers for the check functions.

// Concatenates pieces of a message (absl::StrCat takes Debian's absl::string_view, not ours).
std::string Cat(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (std::string_view piece : pieces) out.append(piece);
  return out;
}

bool IsAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

// RFC 6901: "~" and "/" in a member name are escaped in a JSON pointer token.
std::string PointerToken(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Path(std::string_view property, std::string_view member) {
  return Cat({property, "/", PointerToken(member)});
}

// The member `property` of the object under check, when it is a JSON object.
bool GetObject(const CheckContext& ctx, std::string_view property, simdjson::dom::object& out) {
  return ctx.object().at_key(property).get_object().get(out) == simdjson::SUCCESS;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsDecimalDigit(char c) { return c >= '0' && c <= '9'; }

bool AllHex(std::string_view s) { return std::all_of(s.begin(), s.end(), IsHexDigit); }

// Whether the object says its content was defanged (section 3.2 "defanged"): then values such as
// "198.51.100[.]3" are expected and their format is not checked.
bool IsDefanged(const CheckContext& ctx) { return ctx.Boolean("defanged").value_or(false); }

// A decimal number without sign or leading zeros, at most `max`.
bool ParseSmallDecimal(std::string_view s, int max, int& value) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), IsDecimalDigit)) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  value = 0;
  for (char c : s) value = value * 10 + (c - '0');
  return value <= max;
}

// Dotted-quad IPv4 address; octets without leading zeros, which some parsers read as octal.
bool IsIpv4Address(std::string_view s) {
  int octets = 0;
  while (true) {
    size_t dot = s.find('.');
    int value;
    if (!ParseSmallDecimal(s.substr(0, dot), 255, value)) return false;
    ++octets;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return octets == 4;
}

// Counts the 16-bit groups of one side of an IPv6 address (RFC 4291 section 2.2); a trailing
// dotted IPv4 address counts as two groups when `allow_ipv4_tail`.
bool CountIpv6Groups(std::string_view part, bool allow_ipv4_tail, int& groups) {
  groups = 0;
  if (part.empty()) return true;
  while (true) {
    size_t colon = part.find(':');
    std::string_view group = part.substr(0, colon);
    const bool last = colon == std::string_view::npos;
    if (last && allow_ipv4_tail && group.find('.') != std::string_view::npos) {
      if (!IsIpv4Address(group)) return false;
      groups += 2;
      return true;
    }
    if (group.empty() || group.size() > 4 || !AllHex(group)) return false;
    ++groups;
    if (last) return true;
    part.remove_prefix(colon + 1);
  }
}

bool IsIpv6Address(std::string_view s) {
  size_t double_colon = s.find("::");
  int head = 0, tail = 0;
  if (double_colon == std::string_view::npos) {
    return CountIpv6Groups(s, true, head) && head == 8;
  }
  if (s.find("::", double_colon + 1) != std::string_view::npos) return false;
  return CountIpv6Groups(s.substr(0, double_colon), false, head) &&
         CountIpv6Groups(s.substr(double_colon + 2), true, tail) && head + tail <= 7;
}

// "address" or "address/prefix" (sections 6.8 and 6.9: "expressed using CIDR notation").
bool IsCidr(std::string_view s, bool ipv6) {
  size_t slash = s.find('/');
  std::string_view address = s.substr(0, slash);
  if (!(ipv6 ? IsIpv6Address(address) : IsIpv4Address(address))) return false;
  if (slash == std::string_view::npos) return true;
  int prefix;
  return ParseSmallDecimal(s.substr(slash + 1), ipv6 ? 128 : 32, prefix);
}

// Section 6.4: RFC 1034 names whose labels may also be RFC 5890 U-labels (non-ASCII bytes are
// accepted as such). Underscores are accepted: they are common in real DNS names (SRV, DKIM).
bool IsDomainName(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);  // an absolute name
  if (s.empty()) return false;
  const size_t length = s.size();
  bool ascii = true;
  while (true) {
    size_t dot = s.find('.');
    std::string_view label = s.substr(0, dot);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    bool label_ascii = true;
    for (char ch : label) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c >= 0x80) {
        label_ascii = false;
      } else if (!IsAlnum(c) && c != '-' && c != '_') {
        return false;
      }
    }
    if (label_ascii && label.size() > 63) return false;
    ascii = ascii && label_ascii;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  // RFC 1034 section 3.1 limits a name to 255 octets on the wire, 253 characters as text. The
  // limit is on the A-label form, which is not computed here for U-labels.
  return !ascii || length <= 253;
}

// Section 6.5: an RFC 5322 addr-spec ("local@domain"), without a display name.
bool IsAddrSpec(std::string_view s) {
  size_t at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  const bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
  for (std::string_view part : {local, domain}) {
    for (char ch : part) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f || c == '<' || c == '>') return false;
      if (c == ' ' && !(quoted && part.data() == local.data())) return false;
    }
  }
  return true;
}

// Section 6.14: a CPE 2.3 formatted string has 13 colon-separated components ("cpe", "2.3",
// part, vendor, product, version, update, edition, language, sw_edition, target_sw, target_hw,
// other); a backslash escapes a colon inside a component.
bool IsCpe23(std::string_view s) {
  if (!s.starts_with("cpe:2.3:")) return false;
  int components = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == ':') {
      ++components;
    }
  }
  return components == 13;
}

// The 2013-12-20 IANA character set registry names use only these characters (schema pattern of
// the official STIX JSON schemas).
bool IsCharsetName(std::string_view s) {
  if (s.size() < 2 || s.size() > 250) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsAlnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '+' || c == '_' ||
           c == ':' || c == '-';
  });
}

enum class DictionaryValues {
  kString,
  kStringList,
  // A list of strings, but a bare string is only warned about: section 6.6's own example of
  // additional_header_fields uses bare strings and the official JSON schema accepts them.
  kStringListOrString,
  kInteger,
  kIntegerOrString,
};

bool IsInteger(simdjson::dom::element value) {
  int64_t i;
  uint64_t u;
  return value.get_int64().get(i) == simdjson::SUCCESS ||
         value.get_uint64().get(u) == simdjson::SUCCESS;
}

// Checks that every value of the dictionary `property` has the JSON type its definition requires.
void CheckDictionaryValues(CheckContext& ctx, std::string_view property, DictionaryValues kind) {
  simdjson::dom::object dictionary;
  if (!GetObject(ctx, property, dictionary)) return;
  for (auto [key, value] : dictionary) {
    bool ok = false;
    std::string_view expected;
    switch (kind) {
      case DictionaryValues::kString:
        ok = value.is_string();
        expected = "a string";
        break;
      case DictionaryValues::kStringList:
      case DictionaryValues::kStringListOrString: {
        simdjson::dom::array list;
        ok = value.get_array().get(list) == simdjson::SUCCESS && list.size() > 0 &&
             std::all_of(list.begin(), list.end(),
                         [](simdjson::dom::element e) { return e.is_string(); });
        expected = "a non-empty list of strings";
        break;
      }
      case DictionaryValues::kInteger:
        ok = IsInteger(value);
        expected = "an integer";
        break;
      case DictionaryValues::kIntegerOrString:
        ok = IsInteger(value) || value.is_string();
        expected = "an integer or a string";
        break;
    }
    if (ok) continue;
    if (kind == DictionaryValues::kStringListOrString && value.is_string()) {
      ctx.Warning(Path(property, key), rule::kType,
                  Cat({"the value of ", key, " should be a list of strings"}));
      continue;
    }
    ctx.Error(Path(property, key), rule::kType,
              Cat({"the value of ", key, " in ", property, " must be ", expected}));
  }
}

// A string property whose value must satisfy `valid` (when present and a string).
template <typename Predicate>
void CheckStringFormat(CheckContext& ctx, std::string_view property, Predicate valid,
                       std::string_view expected) {
  auto value = ctx.String(property);
  if (value && !valid(*value)) {
    ctx.Error(property, rule::kType, Cat({"\"", *value, "\" is not ", expected}));
  }
}

// Predefined extensions whose properties are all optional "MUST contain at least one property
// from this extension". An empty extension is already reported by the interpreter (section 7.3),
// so only a non-empty one without any of `properties` is reported here.
void ExtensionNeedsOneOf(CheckContext& ctx, std::initializer_list<std::string_view> properties) {
  if (ctx.object().size() == 0) return;
  CheckAtLeastOne(ctx, properties);
}

// Section 6: "Dictionary keys MUST use the specification defined name ... or be the id of a STIX
// Extension object". A predefined extension is defined for one SCO type only (archive-ext for
// file, tcp-ext for network-traffic, ...); used on another type it is not a defined name there.
void CheckPredefinedExtensionsBelong(CheckContext& ctx,
                                     std::initializer_list<std::string_view> allowed) {
  simdjson::dom::object extensions;
  if (!GetObject(ctx, "extensions", extensions)) return;
  for (auto [key, value] : extensions) {
    if (FindPredefinedExtension(key) == nullptr) continue;
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string_view type = ctx.String("type").value_or("this object");
    ctx.Error(Path("extensions", key), rule::kExtension,
              Cat({key, " is not an extension defined for ", type}));
  }
}

// Section 6.12.2-6.12.5: "The corresponding protocol value for this extension is ..."; "If the
// protocol extension is present, the corresponding protocol value ... SHOULD be listed".
void CheckExtensionProtocolListed(CheckContext& ctx, std::string_view extension,
                                  std::string_view protocol) {
  simdjson::dom::object extensions;
  simdjson::dom::element ignored;
  if (!GetObject(ctx, "extensions", extensions) ||
      extensions.at_key(extension).get(ignored) != simdjson::SUCCESS) {
    return;
  }
  simdjson::dom::array protocols;
  if (ctx.object().at_key("protocols").get_array().get(protocols) != simdjson::SUCCESS) return;
  for (simdjson::dom::element p : protocols) {
    std::string_view name;
    if (p.get_string().get(name) == simdjson::SUCCESS && EqualsIgnoreCase(name, protocol)) {
      return;
    }
  }
  ctx.Warning(Path("extensions", extension), rule::kCoConstraint,
              Cat({"protocols should list \"", protocol, "\" when ", extension, " is present"}));
}

// ---------------------------------------------------------------------------------------------
// 6.1 Artifact.

void CheckArtifact(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  // "One of payload_bin or url MUST be provided"; each "MUST NOT be present if" the other is.
  CheckAtLeastOne(ctx, {"payload_bin", "url"});
  CheckMutuallyExclusive(ctx, {"payload_bin", "url"});
  // hashes: "This property MUST be present when the url property is present."
  CheckDependsOn(ctx, "url", "hashes");
  // decryption_key: "MUST NOT be present when the encryption_algorithm property is absent."
  CheckDependsOn(ctx, "decryption_key", "encryption_algorithm");
}

constexpr PropertySpec kArtifactProperties[] = {
    {.name = "mime_type", .kind = Kind::kString},
    {.name = "payload_bin", .kind = Kind::kBinary},
    {.name = "url", .kind = Kind::kUrl},
    {.name = "hashes", .kind = Kind::kHashes},
    {.name = "encryption_algorithm", .kind = Kind::kEnum, .vocab = &kEncryptionAlgorithmEnum},
    {.name = "decryption_key", .kind = Kind::kString},
};
constexpr std::string_view kArtifactId[] = {"hashes", "payload_bin"};

// 6.2 Autonomous System.

void CheckAutonomousSystem(CheckContext& ctx) { CheckPredefinedExtensionsBelong(ctx, {}); }

constexpr PropertySpec kAutonomousSystemProperties[] = {
    {.name = "number", .kind = Kind::kInteger, .required = true},
    {.name = "name", .kind = Kind::kString},
    {.name = "rir", .kind = Kind::kString},
};
constexpr std::string_view kAutonomousSystemId[] = {"number"};

// 6.3 Directory.

void CheckDirectory(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  CheckStringFormat(ctx, "path_enc", IsCharsetName, "an IANA character set name");
}

constexpr PropertySpec kDirectoryProperties[] = {
    {.name = "path", .kind = Kind::kString, .required = true},
    {.name = "path_enc", .kind = Kind::kString},
    {.name = "ctime", .kind = Kind::kTimestamp},
    {.name = "mtime", .kind = Kind::kTimestamp},
    {.name = "atime", .kind = Kind::kTimestamp},
    {.name = "contains_refs", .kind = Kind::kRef, .list = true, .ref_types = kFileOrDirectory},
};
constexpr std::string_view kDirectoryId[] = {"path"};

// 6.4 Domain Name.

void CheckDomainName(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  if (!IsDefanged(ctx)) CheckStringFormat(ctx, "value", IsDomainName, "a valid domain name");
}

constexpr PropertySpec kDomainNameProperties[] = {
    {.name = "value", .kind = Kind::kString, .required = true},
    {.name = "resolves_to_refs", .kind = Kind::kRef, .list = true, .ref_types = kResolvesTo},
};
constexpr std::string_view kValueId[] = {"value"};

// 6.5 Email Address.

void CheckEmailAddr(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  if (!IsDefanged(ctx)) {
    CheckStringFormat(ctx, "value", IsAddrSpec, "an RFC 5322 addr-spec (local@domain)");
  }
}

constexpr PropertySpec kEmailAddrProperties[] = {
    {.name = "value", .kind = Kind::kString, .required = true},
    {.name = "display_name", .kind = Kind::kString},
    {.name = "belongs_to_ref", .kind = Kind::kRef, .ref_types = kUserAccount},
};

// 6.6.2 Email MIME Component: "One of body OR body_raw_ref MUST be included" (the official
// schema reads it as exactly one).
void CheckEmailMimePart(CheckContext& ctx) {
  CheckAtLeastOne(ctx, {"body", "body_raw_ref"});
  CheckMutuallyExclusive(ctx, {"body", "body_raw_ref"});
}

constexpr PropertySpec kEmailMimePartProperties[] = {
    {.name = "body", .kind = Kind::kString},
    {.name = "body_raw_ref", .kind = Kind::kRef, .ref_types = kArtifactOrFile},
    {.name = "content_type", .kind = Kind::kString},
    {.name = "content_disposition", .kind = Kind::kString},
};
constexpr TypeSpec kEmailMimePart = {.type = "email-mime-part-type",
                                     .category = Category::kSco,
                                     .properties = kEmailMimePartProperties,
                                     .check = CheckEmailMimePart,
                                     .has_common_properties = false};

// 6.6 Email Message.

void CheckEmailMessage(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  // body "MUST NOT be used if is_multipart is true"; body_multipart "MUST NOT be used if
  // is_multipart is false".
  if (auto multipart = ctx.Boolean("is_multipart")) {
    std::string_view forbidden = *multipart ? "body" : "body_multipart";
    if (ctx.Has(forbidden)) {
      ctx.Error(forbidden, rule::kCoConstraint,
                Cat({forbidden, " must not be used when is_multipart is ",
                     *multipart ? "true" : "false"}));
    }
  }
  CheckDictionaryValues(ctx, "additional_header_fields", DictionaryValues::kStringListOrString);
  // additional_header_fields holds header fields "except for" those with their own property.
  simdjson::dom::object headers;
  if (GetObject(ctx, "additional_header_fields", headers)) {
    static constexpr std::string_view kOwnProperty[] = {
        "Date", "Received", "Content-Type", "From", "Sender", "To", "Cc", "Bcc", "Subject"};
    for (auto [key, value] : headers) {
      for (std::string_view field : kOwnProperty) {
        if (EqualsIgnoreCase(key, field)) {
          ctx.Warning(Path("additional_header_fields", key), rule::kCoConstraint,
                      Cat({"the ", field,
                           " header has its own property and should not be repeated "
                           "in additional_header_fields"}));
        }
      }
    }
  }
}

constexpr PropertySpec kEmailMessageProperties[] = {
    {.name = "is_multipart", .kind = Kind::kBoolean, .required = true},
    {.name = "date", .kind = Kind::kTimestamp},
    {.name = "content_type", .kind = Kind::kString},
    {.name = "from_ref", .kind = Kind::kRef, .ref_types = kEmailAddr},
    {.name = "sender_ref", .kind = Kind::kRef, .ref_types = kEmailAddr},
    {.name = "to_refs", .kind = Kind::kRef, .list = true, .ref_types = kEmailAddr},
    {.name = "cc_refs", .kind = Kind::kRef, .list = true, .ref_types = kEmailAddr},
    {.name = "bcc_refs", .kind = Kind::kRef, .list = true, .ref_types = kEmailAddr},
    {.name = "message_id", .kind = Kind::kString},
    {.name = "subject", .kind = Kind::kString},
    {.name = "received_lines", .kind = Kind::kString, .list = true},
    {.name = "additional_header_fields", .kind = Kind::kDictionary},
    {.name = "body", .kind = Kind::kString},
    {.name = "body_multipart", .kind = Kind::kObject, .list = true, .nested = &kEmailMimePart},
    {.name = "raw_email_ref", .kind = Kind::kRef, .ref_types = kArtifact},
};
constexpr std::string_view kEmailMessageId[] = {"from_ref", "subject", "body"};

// ---------------------------------------------------------------------------------------------
// 6.7 File and its extensions.

// 6.7.2 Archive File Extension.
constexpr PropertySpec kArchiveExtProperties[] = {
    {.name = "contains_refs",
     .kind = Kind::kRef,
     .required = true,
     .list = true,
     .ref_types = kFileOrDirectory},
    {.name = "comment", .kind = Kind::kString},
};
constexpr TypeSpec kArchiveExt = {.type = "archive-ext",
                                  .category = Category::kSco,
                                  .properties = kArchiveExtProperties,
                                  .has_common_properties = false};

// 6.7.3 NTFS File Extension and its Alternate Data Stream type.
constexpr PropertySpec kAlternateDataStreamProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "hashes", .kind = Kind::kHashes},
    {.name = "size", .kind = Kind::kInteger, .min = 0},
};
constexpr TypeSpec kAlternateDataStream = {.type = "alternate-data-stream-type",
                                           .category = Category::kSco,
                                           .properties = kAlternateDataStreamProperties,
                                           .has_common_properties = false};

// "An object using the NTFS File Extension MUST contain at least one property from this
// extension."
void CheckNtfsExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"sid", "alternate_data_streams"});
}

constexpr PropertySpec kNtfsExtProperties[] = {
    {.name = "sid", .kind = Kind::kString},
    {.name = "alternate_data_streams",
     .kind = Kind::kObject,
     .list = true,
     .nested = &kAlternateDataStream},
};
constexpr TypeSpec kNtfsExt = {.type = "ntfs-ext",
                               .category = Category::kSco,
                               .properties = kNtfsExtProperties,
                               .check = CheckNtfsExt,
                               .has_common_properties = false};

// 6.7.4 PDF File Extension: at least one property; document_info_dict values are strings.
void CheckPdfExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"});
  CheckDictionaryValues(ctx, "document_info_dict", DictionaryValues::kString);
}

constexpr PropertySpec kPdfExtProperties[] = {
    {.name = "version", .kind = Kind::kString},
    {.name = "is_optimized", .kind = Kind::kBoolean},
    {.name = "document_info_dict", .kind = Kind::kDictionary},
    {.name = "pdfid0", .kind = Kind::kString},
    {.name = "pdfid1", .kind = Kind::kString},
};
constexpr TypeSpec kPdfExt = {.type = "pdf-ext",
                              .category = Category::kSco,
                              .properties = kPdfExtProperties,
                              .check = CheckPdfExt,
                              .has_common_properties = false};

// 6.7.5 Raster Image File Extension: at least one property; each EXIF value "MUST be either an
// integer ... or a string".
void CheckRasterImageExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"image_height", "image_width", "bits_per_pixel", "exif_tags"});
  CheckDictionaryValues(ctx, "exif_tags", DictionaryValues::kIntegerOrString);
}

constexpr PropertySpec kRasterImageExtProperties[] = {
    {.name = "image_height", .kind = Kind::kInteger},
    {.name = "image_width", .kind = Kind::kInteger},
    {.name = "bits_per_pixel", .kind = Kind::kInteger},
    {.name = "exif_tags", .kind = Kind::kDictionary},
};
constexpr TypeSpec kRasterImageExt = {.type = "raster-image-ext",
                                      .category = Category::kSco,
                                      .properties = kRasterImageExtProperties,
                                      .check = CheckRasterImageExt,
                                      .has_common_properties = false};

// 6.7.6 Windows PE Optional Header: "MUST contain at least one property from this type".
constexpr PropertySpec kPeOptionalHeaderProperties[] = {
    {.name = "magic_hex", .kind = Kind::kHex},
    {.name = "major_linker_version", .kind = Kind::kInteger},
    {.name = "minor_linker_version", .kind = Kind::kInteger},
    {.name = "size_of_code", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_initialized_data", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_uninitialized_data", .kind = Kind::kInteger, .min = 0},
    {.name = "address_of_entry_point", .kind = Kind::kInteger},
    {.name = "base_of_code", .kind = Kind::kInteger},
    {.name = "base_of_data", .kind = Kind::kInteger},
    {.name = "image_base", .kind = Kind::kInteger},
    {.name = "section_alignment", .kind = Kind::kInteger},
    {.name = "file_alignment", .kind = Kind::kInteger},
    {.name = "major_os_version", .kind = Kind::kInteger},
    {.name = "minor_os_version", .kind = Kind::kInteger},
    {.name = "major_image_version", .kind = Kind::kInteger},
    {.name = "minor_image_version", .kind = Kind::kInteger},
    {.name = "major_subsystem_version", .kind = Kind::kInteger},
    {.name = "minor_subsystem_version", .kind = Kind::kInteger},
    {.name = "win32_version_value_hex", .kind = Kind::kHex},
    {.name = "size_of_image", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_headers", .kind = Kind::kInteger, .min = 0},
    {.name = "checksum_hex", .kind = Kind::kHex},
    {.name = "subsystem_hex", .kind = Kind::kHex},
    {.name = "dll_characteristics_hex", .kind = Kind::kHex},
    {.name = "size_of_stack_reserve", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_stack_commit", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_heap_reserve", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_heap_commit", .kind = Kind::kInteger, .min = 0},
    {.name = "loader_flags_hex", .kind = Kind::kHex},
    {.name = "number_of_rva_and_sizes", .kind = Kind::kInteger},
    {.name = "hashes", .kind = Kind::kHashes},
};

void CheckPeOptionalHeader(CheckContext& ctx) {
  if (ctx.object().size() == 0) {
    ctx.Error("", rule::kCoConstraint, "the optional header needs at least one property");
  }
}

constexpr TypeSpec kPeOptionalHeader = {.type = "windows-pe-optional-header-type",
                                        .category = Category::kSco,
                                        .properties = kPeOptionalHeaderProperties,
                                        .check = CheckPeOptionalHeader,
                                        .has_common_properties = false};

// 6.7.6 Windows PE Section.
constexpr PropertySpec kPeSectionProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "size", .kind = Kind::kInteger, .min = 0},
    {.name = "entropy", .kind = Kind::kFloat},
    {.name = "hashes", .kind = Kind::kHashes},
};
constexpr TypeSpec kPeSection = {.type = "windows-pe-section-type",
                                 .category = Category::kSco,
                                 .properties = kPeSectionProperties,
                                 .has_common_properties = false};

// 6.7.6 Windows PE Binary File Extension: "MUST contain at least one property other than the
// required pe_type property"; time_date_stamp "MUST be precise to the second".
void CheckWindowsPeBinaryExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(
      ctx, {"imphash", "machine_hex", "number_of_sections", "time_date_stamp",
            "pointer_to_symbol_table_hex", "number_of_symbols", "size_of_optional_header",
            "characteristics_hex", "file_header_hashes", "optional_header", "sections"});
  if (auto stamp = ctx.String("time_date_stamp");
      stamp && stamp->find('.') != std::string_view::npos) {
    ctx.Error("time_date_stamp", rule::kTimestamp,
              "time_date_stamp must be precise to the second (no fractional seconds)");
  }
}

constexpr PropertySpec kWindowsPeBinaryExtProperties[] = {
    {.name = "pe_type",
     .kind = Kind::kOpenVocab,
     .required = true,
     .vocab = &kWindowsPeBinaryTypeOv},
    {.name = "imphash", .kind = Kind::kString},
    {.name = "machine_hex", .kind = Kind::kHex},
    {.name = "number_of_sections", .kind = Kind::kInteger, .min = 0},
    {.name = "time_date_stamp", .kind = Kind::kTimestamp},
    {.name = "pointer_to_symbol_table_hex", .kind = Kind::kHex},
    {.name = "number_of_symbols", .kind = Kind::kInteger, .min = 0},
    {.name = "size_of_optional_header", .kind = Kind::kInteger, .min = 0},
    {.name = "characteristics_hex", .kind = Kind::kHex},
    {.name = "file_header_hashes", .kind = Kind::kHashes},
    {.name = "optional_header", .kind = Kind::kObject, .nested = &kPeOptionalHeader},
    {.name = "sections", .kind = Kind::kObject, .list = true, .nested = &kPeSection},
};
constexpr TypeSpec kWindowsPeBinaryExt = {.type = "windows-pebinary-ext",
                                          .category = Category::kSco,
                                          .properties = kWindowsPeBinaryExtProperties,
                                          .check = CheckWindowsPeBinaryExt,
                                          .has_common_properties = false};

// 6.7 File: "MUST contain at least one of hashes or name".
void CheckFile(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(
      ctx, {"archive-ext", "ntfs-ext", "pdf-ext", "raster-image-ext", "windows-pebinary-ext"});
  CheckAtLeastOne(ctx, {"hashes", "name"});
  CheckStringFormat(ctx, "name_enc", IsCharsetName, "an IANA character set name");
  // contains_refs: "references to other Cyber-observable Objects". Custom types are unknown
  // here and accepted; a standard type of another category is not an SCO.
  simdjson::dom::array refs;
  if (ctx.object().at_key("contains_refs").get_array().get(refs) == simdjson::SUCCESS) {
    size_t index = 0;
    for (simdjson::dom::element ref : refs) {
      std::string_view id;
      if (ref.get_string().get(id) == simdjson::SUCCESS) {
        size_t sep = id.find("--");
        const TypeSpec* target =
            sep == std::string_view::npos ? nullptr : FindTypeInDocument(id.substr(0, sep));
        if (target != nullptr && target->category != Category::kSco) {
          ctx.Error(Cat({"contains_refs/", std::to_string(index)}), rule::kRefType,
                    Cat({"contains_refs must reference cyber-observable objects, not ",
                         id.substr(0, sep)}));
        }
      }
      ++index;
    }
  }
}

constexpr PropertySpec kFileProperties[] = {
    {.name = "hashes", .kind = Kind::kHashes},
    {.name = "size", .kind = Kind::kInteger, .min = 0},
    {.name = "name", .kind = Kind::kString},
    {.name = "name_enc", .kind = Kind::kString},
    {.name = "magic_number_hex", .kind = Kind::kHex},
    {.name = "mime_type", .kind = Kind::kString},
    {.name = "ctime", .kind = Kind::kTimestamp},
    {.name = "mtime", .kind = Kind::kTimestamp},
    {.name = "atime", .kind = Kind::kTimestamp},
    {.name = "parent_directory_ref", .kind = Kind::kRef, .ref_types = kDirectory},
    {.name = "contains_refs", .kind = Kind::kRef, .list = true},
    {.name = "content_ref", .kind = Kind::kRef, .ref_types = kArtifact},
};
constexpr std::string_view kFileId[] = {"hashes", "name", "extensions", "parent_directory_ref"};

// ---------------------------------------------------------------------------------------------
// 6.8 IPv4 Address and 6.9 IPv6 Address: "one or more ... addresses expressed using CIDR
// notation".

void CheckIpv4Addr(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  if (IsDefanged(ctx)) return;
  CheckStringFormat(
      ctx, "value", [](std::string_view v) { return IsCidr(v, false); },
      "an IPv4 address or CIDR block");
}

void CheckIpv6Addr(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  if (IsDefanged(ctx)) return;
  CheckStringFormat(
      ctx, "value", [](std::string_view v) { return IsCidr(v, true); },
      "an IPv6 address or CIDR block");
}

constexpr PropertySpec kIpv4AddrProperties[] = {
    {.name = "value", .kind = Kind::kString, .required = true},
    {.name = "resolves_to_refs", .kind = Kind::kRef, .list = true, .ref_types = kMacAddr},
    {.name = "belongs_to_refs", .kind = Kind::kRef, .list = true, .ref_types = kAutonomousSystem},
};
constexpr PropertySpec kIpv6AddrProperties[] = {
    {.name = "value", .kind = Kind::kString, .required = true},
    {.name = "resolves_to_refs", .kind = Kind::kRef, .list = true, .ref_types = kMacAddr},
    {.name = "belongs_to_refs", .kind = Kind::kRef, .list = true, .ref_types = kAutonomousSystem},
};

// 6.10 MAC Address: "a single colon-delimited, lowercase MAC-48 address, which MUST include
// leading zeros for each octet".
bool IsMac48(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = i % 3 == 2 ? c == ':' : (IsDecimalDigit(c) || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

void CheckMacAddr(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  if (IsDefanged(ctx)) return;
  CheckStringFormat(ctx, "value", IsMac48,
                    "a lower-case, colon-delimited MAC-48 address such as 00:00:ab:cd:ef:01");
}

constexpr PropertySpec kMacAddrProperties[] = {
    {.name = "value", .kind = Kind::kString, .required = true},
};

// 6.11 Mutex.

void CheckMutex(CheckContext& ctx) { CheckPredefinedExtensionsBelong(ctx, {}); }

constexpr PropertySpec kMutexProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
};
constexpr std::string_view kNameId[] = {"name"};

// ---------------------------------------------------------------------------------------------
// 6.12 Network Traffic and its extensions.

// 6.12.2 HTTP Request Extension: request_header values are lists of strings ("MUST always be a
// list of type string to support when a header field is repeated").
void CheckHttpRequestExt(CheckContext& ctx) {
  CheckDictionaryValues(ctx, "request_header", DictionaryValues::kStringList);
}

constexpr PropertySpec kHttpRequestExtProperties[] = {
    {.name = "request_method", .kind = Kind::kString, .required = true},
    {.name = "request_value", .kind = Kind::kString, .required = true},
    {.name = "request_version", .kind = Kind::kString},
    {.name = "request_header", .kind = Kind::kDictionary},
    {.name = "message_body_length", .kind = Kind::kInteger, .min = 0},
    {.name = "message_body_data_ref", .kind = Kind::kRef, .ref_types = kArtifact},
};
constexpr TypeSpec kHttpRequestExt = {.type = "http-request-ext",
                                      .category = Category::kSco,
                                      .properties = kHttpRequestExtProperties,
                                      .check = CheckHttpRequestExt,
                                      .has_common_properties = false};

// 6.12.3 ICMP Extension: the ICMP type and code are one byte each. Values that are not hex at all
// are reported by the table (Kind::kHex).
void CheckIcmpExt(CheckContext& ctx) {
  for (std::string_view property : {"icmp_type_hex", "icmp_code_hex"}) {
    auto value = ctx.String(property);
    if (value && value->size() % 2 == 0 && AllHex(*value) && value->size() != 2) {
      ctx.Error(property, rule::kType,
                Cat({property, " must be one byte (two hex digits), not \"", *value, "\""}));
    }
  }
}

constexpr PropertySpec kIcmpExtProperties[] = {
    {.name = "icmp_type_hex", .kind = Kind::kHex, .required = true},
    {.name = "icmp_code_hex", .kind = Kind::kHex, .required = true},
};
constexpr TypeSpec kIcmpExt = {.type = "icmp-ext",
                               .category = Category::kSco,
                               .properties = kIcmpExtProperties,
                               .check = CheckIcmpExt,
                               .has_common_properties = false};

// 6.12.4 Network Socket Extension: "Each dictionary value MUST be an integer" in options.
void CheckSocketExt(CheckContext& ctx) {
  CheckDictionaryValues(ctx, "options", DictionaryValues::kInteger);
}

constexpr PropertySpec kSocketExtProperties[] = {
    {.name = "address_family",
     .kind = Kind::kEnum,
     .required = true,
     .vocab = &kNetworkSocketAddressFamilyEnum},
    {.name = "is_blocking", .kind = Kind::kBoolean},
    {.name = "is_listening", .kind = Kind::kBoolean},
    {.name = "options", .kind = Kind::kDictionary},
    {.name = "socket_type", .kind = Kind::kEnum, .vocab = &kNetworkSocketTypeEnum},
    {.name = "socket_descriptor", .kind = Kind::kInteger, .min = 0},
    {.name = "socket_handle", .kind = Kind::kInteger},
};
constexpr TypeSpec kSocketExt = {.type = "socket-ext",
                                 .category = Category::kSco,
                                 .properties = kSocketExtProperties,
                                 .check = CheckSocketExt,
                                 .has_common_properties = false};

// 6.12.5 TCP Extension: "MUST contain at least one property from this extension".
void CheckTcpExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"src_flags_hex", "dst_flags_hex"});
}

constexpr PropertySpec kTcpExtProperties[] = {
    {.name = "src_flags_hex", .kind = Kind::kHex},
    {.name = "dst_flags_hex", .kind = Kind::kHex},
};
constexpr TypeSpec kTcpExt = {.type = "tcp-ext",
                              .category = Category::kSco,
                              .properties = kTcpExtProperties,
                              .check = CheckTcpExt,
                              .has_common_properties = false};

// 6.12 Network Traffic: "MUST contain the protocols property and at least one of the src_ref or
// dst_ref properties"; end "MUST NOT be included" when is_active is true, and is not before
// start.
void CheckNetworkTraffic(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {"http-request-ext", "icmp-ext", "socket-ext", "tcp-ext"});
  CheckAtLeastOne(ctx, {"src_ref", "dst_ref"});
  if (ctx.Boolean("is_active").value_or(false) && ctx.Has("end")) {
    ctx.Error("end", rule::kCoConstraint, "end must not be present when is_active is true");
  }
  CheckNotBefore(ctx, "start", "end");
  CheckDictionaryValues(ctx, "ipfix", DictionaryValues::kIntegerOrString);
  CheckExtensionProtocolListed(ctx, "http-request-ext", "http");
  CheckExtensionProtocolListed(ctx, "icmp-ext", "icmp");
  CheckExtensionProtocolListed(ctx, "tcp-ext", "tcp");
}

constexpr PropertySpec kNetworkTrafficProperties[] = {
    {.name = "start", .kind = Kind::kTimestamp},
    {.name = "end", .kind = Kind::kTimestamp},
    {.name = "is_active", .kind = Kind::kBoolean},
    {.name = "src_ref", .kind = Kind::kRef, .ref_types = kTrafficEndpoint},
    {.name = "dst_ref", .kind = Kind::kRef, .ref_types = kTrafficEndpoint},
    {.name = "src_port", .kind = Kind::kInteger, .min = 0, .max = 65535},
    {.name = "dst_port", .kind = Kind::kInteger, .min = 0, .max = 65535},
    {.name = "protocols", .kind = Kind::kString, .required = true, .list = true},
    {.name = "src_byte_count", .kind = Kind::kInteger, .min = 0},
    {.name = "dst_byte_count", .kind = Kind::kInteger, .min = 0},
    {.name = "src_packets", .kind = Kind::kInteger, .min = 0},
    {.name = "dst_packets", .kind = Kind::kInteger, .min = 0},
    {.name = "ipfix", .kind = Kind::kDictionary},
    {.name = "src_payload_ref", .kind = Kind::kRef, .ref_types = kArtifact},
    {.name = "dst_payload_ref", .kind = Kind::kRef, .ref_types = kArtifact},
    {.name = "encapsulates_refs", .kind = Kind::kRef, .list = true, .ref_types = kNetworkTraffic},
    {.name = "encapsulated_by_ref", .kind = Kind::kRef, .ref_types = kNetworkTraffic},
};
constexpr std::string_view kNetworkTrafficId[] = {
    "start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"};

// ---------------------------------------------------------------------------------------------
// 6.13 Process and its extensions.

// 6.13.2 Windows Process Extension: at least one property; priority "SHOULD be a string that ends
// in _CLASS".
void CheckWindowsProcessExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"aslr_enabled", "dep_enabled", "priority", "owner_sid", "windows_title",
                            "window_title", "startup_info", "integrity_level"});
  if (auto priority = ctx.String("priority"); priority && !priority->ends_with("_CLASS")) {
    ctx.Warning("priority", rule::kType,
                Cat({"priority \"", *priority, "\" should end in _CLASS"}));
  }
}

constexpr PropertySpec kWindowsProcessExtProperties[] = {
    {.name = "aslr_enabled", .kind = Kind::kBoolean},
    {.name = "dep_enabled", .kind = Kind::kBoolean},
    {.name = "priority", .kind = Kind::kString},
    {.name = "owner_sid", .kind = Kind::kString},
    // The spec's table spells it windows_title; the official JSON schema and the OASIS python
    // library use window_title. Both are accepted.
    {.name = "windows_title", .kind = Kind::kString},
    {.name = "window_title", .kind = Kind::kString},
    {.name = "startup_info", .kind = Kind::kDictionary},
    {.name = "integrity_level", .kind = Kind::kEnum, .vocab = &kWindowsIntegrityLevelEnum},
};
constexpr TypeSpec kWindowsProcessExt = {.type = "windows-process-ext",
                                         .category = Category::kSco,
                                         .properties = kWindowsProcessExtProperties,
                                         .check = CheckWindowsProcessExt,
                                         .has_common_properties = false};

// 6.13.3 Windows Service Extension: "at least one of the properties defined below MUST be
// included".
void CheckWindowsServiceExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"service_name", "descriptions", "display_name", "group_name",
                            "start_type", "service_dll_refs", "service_type", "service_status"});
}

constexpr PropertySpec kWindowsServiceExtProperties[] = {
    {.name = "service_name", .kind = Kind::kString},
    {.name = "descriptions", .kind = Kind::kString, .list = true},
    {.name = "display_name", .kind = Kind::kString},
    {.name = "group_name", .kind = Kind::kString},
    {.name = "start_type", .kind = Kind::kEnum, .vocab = &kWindowsServiceStartTypeEnum},
    {.name = "service_dll_refs", .kind = Kind::kRef, .list = true, .ref_types = kFile},
    {.name = "service_type", .kind = Kind::kEnum, .vocab = &kWindowsServiceTypeEnum},
    {.name = "service_status", .kind = Kind::kEnum, .vocab = &kWindowsServiceStatusEnum},
};
constexpr TypeSpec kWindowsServiceExt = {.type = "windows-service-ext",
                                         .category = Category::kSco,
                                         .properties = kWindowsServiceExtProperties,
                                         .check = CheckWindowsServiceExt,
                                         .has_common_properties = false};

// 6.13 Process: "MUST contain at least one property (other than type) from this object (or one
// of its extensions)". environment_variables values are strings.
void CheckProcess(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {"windows-process-ext", "windows-service-ext"});
  CheckAtLeastOne(ctx, {"is_hidden", "pid", "created_time", "cwd", "command_line",
                        "environment_variables", "opened_connection_refs", "creator_user_ref",
                        "image_ref", "parent_ref", "child_refs", "extensions"});
  CheckDictionaryValues(ctx, "environment_variables", DictionaryValues::kString);
}

constexpr PropertySpec kProcessProperties[] = {
    {.name = "is_hidden", .kind = Kind::kBoolean},
    {.name = "pid", .kind = Kind::kInteger},
    {.name = "created_time", .kind = Kind::kTimestamp},
    {.name = "cwd", .kind = Kind::kString},
    {.name = "command_line", .kind = Kind::kString},
    {.name = "environment_variables", .kind = Kind::kDictionary},
    {.name = "opened_connection_refs",
     .kind = Kind::kRef,
     .list = true,
     .ref_types = kNetworkTraffic},
    {.name = "creator_user_ref", .kind = Kind::kRef, .ref_types = kUserAccount},
    {.name = "image_ref", .kind = Kind::kRef, .ref_types = kFile},
    {.name = "parent_ref", .kind = Kind::kRef, .ref_types = kProcess},
    {.name = "child_refs", .kind = Kind::kRef, .list = true, .ref_types = kProcess},
};

// ---------------------------------------------------------------------------------------------
// 6.14 Software: cpe "MUST be a CPE v2.3 entry".

void CheckSoftware(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  CheckStringFormat(ctx, "cpe", IsCpe23, "a CPE 2.3 formatted string (cpe:2.3:...)");
}

constexpr PropertySpec kSoftwareProperties[] = {
    {.name = "name", .kind = Kind::kString, .required = true},
    {.name = "cpe", .kind = Kind::kString},
    {.name = "swid", .kind = Kind::kString},
    {.name = "languages", .kind = Kind::kLanguageTag, .list = true},
    {.name = "vendor", .kind = Kind::kString},
    {.name = "version", .kind = Kind::kString},
};
constexpr std::string_view kSoftwareId[] = {"name", "cpe", "swid", "vendor", "version"};

// 6.15 URL.

void CheckUrl(CheckContext& ctx) { CheckPredefinedExtensionsBelong(ctx, {}); }

constexpr PropertySpec kUrlProperties[] = {
    {.name = "value", .kind = Kind::kUrl, .required = true},
};

// ---------------------------------------------------------------------------------------------
// 6.16 User Account and the UNIX Account Extension.

// 6.16.2: "MUST contain at least one property from this extension".
void CheckUnixAccountExt(CheckContext& ctx) {
  ExtensionNeedsOneOf(ctx, {"gid", "groups", "home_dir", "shell"});
}

constexpr PropertySpec kUnixAccountExtProperties[] = {
    {.name = "gid", .kind = Kind::kInteger},
    {.name = "groups", .kind = Kind::kString, .list = true},
    {.name = "home_dir", .kind = Kind::kString},
    {.name = "shell", .kind = Kind::kString},
};
constexpr TypeSpec kUnixAccountExt = {.type = "unix-account-ext",
                                      .category = Category::kSco,
                                      .properties = kUnixAccountExtProperties,
                                      .check = CheckUnixAccountExt,
                                      .has_common_properties = false};

// 6.16: "at least one of the properties defined below MUST be included" (the list includes
// extensions).
void CheckUserAccount(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {"unix-account-ext"});
  CheckAtLeastOne(ctx, {"extensions", "user_id", "credential", "account_login", "account_type",
                        "display_name", "is_service_account", "is_privileged", "can_escalate_privs",
                        "is_disabled", "account_created", "account_expires",
                        "credential_last_changed", "account_first_login", "account_last_login"});
}

constexpr PropertySpec kUserAccountProperties[] = {
    {.name = "user_id", .kind = Kind::kString},
    {.name = "credential", .kind = Kind::kString},
    {.name = "account_login", .kind = Kind::kString},
    {.name = "account_type", .kind = Kind::kOpenVocab, .vocab = &kAccountTypeOv},
    {.name = "display_name", .kind = Kind::kString},
    {.name = "is_service_account", .kind = Kind::kBoolean},
    {.name = "is_privileged", .kind = Kind::kBoolean},
    {.name = "can_escalate_privs", .kind = Kind::kBoolean},
    {.name = "is_disabled", .kind = Kind::kBoolean},
    {.name = "account_created", .kind = Kind::kTimestamp},
    {.name = "account_expires", .kind = Kind::kTimestamp},
    {.name = "credential_last_changed", .kind = Kind::kTimestamp},
    {.name = "account_first_login", .kind = Kind::kTimestamp},
    {.name = "account_last_login", .kind = Kind::kTimestamp},
};
constexpr std::string_view kUserAccountId[] = {"account_type", "user_id", "account_login"};

// ---------------------------------------------------------------------------------------------
// 6.17 Windows Registry Key and the Windows Registry Value type.

// 6.17.2: "at least one of the properties defined below MUST be included".
void CheckWindowsRegistryValue(CheckContext& ctx) {
  CheckAtLeastOne(ctx, {"name", "data", "data_type"});
}

constexpr PropertySpec kWindowsRegistryValueProperties[] = {
    {.name = "name", .kind = Kind::kString},
    {.name = "data", .kind = Kind::kString},
    {.name = "data_type", .kind = Kind::kEnum, .vocab = &kWindowsRegistryDatatypeEnum},
};
constexpr TypeSpec kWindowsRegistryValue = {.type = "windows-registry-value-type",
                                            .category = Category::kSco,
                                            .properties = kWindowsRegistryValueProperties,
                                            .check = CheckWindowsRegistryValue,
                                            .has_common_properties = false};

// 6.17: at least one property; "The hive portion of the key MUST be fully expanded and not
// truncated; e.g., HKEY_LOCAL_MACHINE must be used instead of HKLM".
void CheckWindowsRegistryKey(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  CheckAtLeastOne(ctx, {"key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"});
  auto key = ctx.String("key");
  if (!key) return;
  std::string_view hive = key->substr(0, key->find('\\'));
  for (std::string_view abbreviation : {"HKLM", "HKCU", "HKCR", "HKU", "HKCC"}) {
    if (EqualsIgnoreCase(hive, abbreviation)) {
      ctx.Error("key", rule::kType,
                Cat({"the hive \"", hive,
                     "\" must be written in full (e.g. HKEY_LOCAL_MACHINE, not HKLM)"}));
    }
  }
}

constexpr PropertySpec kWindowsRegistryKeyProperties[] = {
    {.name = "key", .kind = Kind::kString},
    {.name = "values", .kind = Kind::kObject, .list = true, .nested = &kWindowsRegistryValue},
    {.name = "modified_time", .kind = Kind::kTimestamp},
    {.name = "creator_user_ref", .kind = Kind::kRef, .ref_types = kUserAccount},
    {.name = "number_of_subkeys", .kind = Kind::kInteger},
};
constexpr std::string_view kWindowsRegistryKeyId[] = {"key", "values"};

// ---------------------------------------------------------------------------------------------
// 6.18 X.509 Certificate and the X.509 v3 Extensions type.

constexpr PropertySpec kX509V3ExtensionsProperties[] = {
    {.name = "basic_constraints", .kind = Kind::kString},
    {.name = "name_constraints", .kind = Kind::kString},
    {.name = "policy_constraints", .kind = Kind::kString},
    {.name = "key_usage", .kind = Kind::kString},
    {.name = "extended_key_usage", .kind = Kind::kString},
    {.name = "subject_key_identifier", .kind = Kind::kString},
    {.name = "authority_key_identifier", .kind = Kind::kString},
    {.name = "subject_alternative_name", .kind = Kind::kString},
    {.name = "issuer_alternative_name", .kind = Kind::kString},
    {.name = "subject_directory_attributes", .kind = Kind::kString},
    {.name = "crl_distribution_points", .kind = Kind::kString},
    {.name = "inhibit_any_policy", .kind = Kind::kString},
    {.name = "private_key_usage_period_not_before", .kind = Kind::kTimestamp},
    {.name = "private_key_usage_period_not_after", .kind = Kind::kTimestamp},
    {.name = "certificate_policies", .kind = Kind::kString},
    {.name = "policy_mappings", .kind = Kind::kString},
};

// 6.18.2: "MUST contain at least one property from this type".
void CheckX509V3Extensions(CheckContext& ctx) {
  if (ctx.object().size() == 0) {
    ctx.Error("", rule::kCoConstraint, "x509_v3_extensions needs at least one property");
  }
}

constexpr TypeSpec kX509V3Extensions = {.type = "x509-v3-extensions-type",
                                        .category = Category::kSco,
                                        .properties = kX509V3ExtensionsProperties,
                                        .check = CheckX509V3Extensions,
                                        .has_common_properties = false};

// 6.18: "MUST contain at least one object specific property (other than type)".
void CheckX509Certificate(CheckContext& ctx) {
  CheckPredefinedExtensionsBelong(ctx, {});
  CheckAtLeastOne(
      ctx, {"is_self_signed", "hashes", "version", "serial_number", "signature_algorithm", "issuer",
            "validity_not_before", "validity_not_after", "subject", "subject_public_key_algorithm",
            "subject_public_key_modulus", "subject_public_key_exponent", "x509_v3_extensions"});
}

constexpr PropertySpec kX509CertificateProperties[] = {
    {.name = "is_self_signed", .kind = Kind::kBoolean},
    {.name = "hashes", .kind = Kind::kHashes},
    {.name = "version", .kind = Kind::kString},
    {.name = "serial_number", .kind = Kind::kString},
    {.name = "signature_algorithm", .kind = Kind::kString},
    {.name = "issuer", .kind = Kind::kString},
    {.name = "validity_not_before", .kind = Kind::kTimestamp},
    {.name = "validity_not_after", .kind = Kind::kTimestamp},
    {.name = "subject", .kind = Kind::kString},
    {.name = "subject_public_key_algorithm", .kind = Kind::kString},
    {.name = "subject_public_key_modulus", .kind = Kind::kString},
    {.name = "subject_public_key_exponent", .kind = Kind::kInteger},
    {.name = "x509_v3_extensions", .kind = Kind::kObject, .nested = &kX509V3Extensions},
};
constexpr std::string_view kX509CertificateId[] = {"hashes", "serial_number"};

// ---------------------------------------------------------------------------------------------
// The tables.

constexpr TypeSpec Sco(std::string_view type, std::span<const PropertySpec> properties,
                       void (*check)(CheckContext&), std::span<const std::string_view> id) {
  return TypeSpec{.type = type,
                  .category = Category::kSco,
                  .properties = properties,
                  .check = check,
                  .id_contributing = id};
}

constexpr TypeSpec kScoTypes[] = {
    Sco("artifact", kArtifactProperties, CheckArtifact, kArtifactId),
    Sco("autonomous-system", kAutonomousSystemProperties, CheckAutonomousSystem,
        kAutonomousSystemId),
    Sco("directory", kDirectoryProperties, CheckDirectory, kDirectoryId),
    Sco("domain-name", kDomainNameProperties, CheckDomainName, kValueId),
    Sco("email-addr", kEmailAddrProperties, CheckEmailAddr, kValueId),
    Sco("email-message", kEmailMessageProperties, CheckEmailMessage, kEmailMessageId),
    Sco("file", kFileProperties, CheckFile, kFileId),
    Sco("ipv4-addr", kIpv4AddrProperties, CheckIpv4Addr, kValueId),
    Sco("ipv6-addr", kIpv6AddrProperties, CheckIpv6Addr, kValueId),
    Sco("mac-addr", kMacAddrProperties, CheckMacAddr, kValueId),
    Sco("mutex", kMutexProperties, CheckMutex, kNameId),
    Sco("network-traffic", kNetworkTrafficProperties, CheckNetworkTraffic, kNetworkTrafficId),
    // 6.13: "Since all properties on this object are optional, please use a UUIDv4".
    Sco("process", kProcessProperties, CheckProcess, {}),
    Sco("software", kSoftwareProperties, CheckSoftware, kSoftwareId),
    Sco("url", kUrlProperties, CheckUrl, kValueId),
    Sco("user-account", kUserAccountProperties, CheckUserAccount, kUserAccountId),
    Sco("windows-registry-key", kWindowsRegistryKeyProperties, CheckWindowsRegistryKey,
        kWindowsRegistryKeyId),
    Sco("x509-certificate", kX509CertificateProperties, CheckX509Certificate, kX509CertificateId),
};

// By SCO type: file (5), network-traffic (4), process (2), user-account (1).
constexpr const TypeSpec* kPredefinedExtensions[] = {
    &kArchiveExt,        &kNtfsExt,       &kPdfExt,    &kRasterImageExt, &kWindowsPeBinaryExt,
    &kHttpRequestExt,    &kIcmpExt,       &kSocketExt, &kTcpExt,         &kWindowsProcessExt,
    &kWindowsServiceExt, &kUnixAccountExt};

}  // namespace

std::span<const TypeSpec> ScoTypes() { return kScoTypes; }

const TypeSpec* FindPredefinedExtension(std::string_view name) {
  for (const TypeSpec* spec : kPredefinedExtensions) {
    if (spec->type == name) return spec;
  }
  return nullptr;
}

}  // namespace liaison::stix::internal
