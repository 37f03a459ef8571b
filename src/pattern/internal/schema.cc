#include "pattern/internal/schema.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace liaison::pattern::internal {
namespace {

using K = ValueKind;

constexpr PropertySchema P(std::string_view name, ValueKind kind, bool list = false) {
  return PropertySchema{name, kind, list, nullptr, {}};
}
constexpr PropertySchema Obj(std::string_view name, const ObjectSchema* object, bool list = false) {
  return PropertySchema{name, K::kObject, list, object, {}};
}
constexpr PropertySchema Ref(std::string_view name, std::span<const std::string_view> targets,
                             bool list = false) {
  return PropertySchema{name, K::kRef, list, nullptr, targets};
}

// Reference targets (STIX 2.1 section 6, the "MUST be of type" clauses).
constexpr std::string_view kFileOrDirectory[] = {"file", "directory"};
constexpr std::string_view kAddressOrDomain[] = {"ipv4-addr", "ipv6-addr", "domain-name"};
constexpr std::string_view kUserAccount[] = {"user-account"};
constexpr std::string_view kEmailAddr[] = {"email-addr"};
constexpr std::string_view kArtifact[] = {"artifact"};
constexpr std::string_view kArtifactOrFile[] = {"artifact", "file"};
constexpr std::string_view kDirectory[] = {"directory"};
constexpr std::string_view kMacAddr[] = {"mac-addr"};
constexpr std::string_view kAutonomousSystem[] = {"autonomous-system"};
constexpr std::string_view kEndpoint[] = {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"};
constexpr std::string_view kNetworkTraffic[] = {"network-traffic"};
constexpr std::string_view kFile[] = {"file"};
constexpr std::string_view kProcess[] = {"process"};

// Properties every SCO may carry (section 3.2 / 6.1).
#define LIAISON_SCO_COMMON                                                                      \
  P("type", K::kString), P("id", K::kString), P("spec_version", K::kString),                    \
      P("object_marking_refs", K::kString, true), P("granular_markings", K::kDictionary, true), \
      P("defanged", K::kBoolean), P("extensions", K::kExtensions)

// ---- nested object types ----

constexpr PropertySchema kMimePartProps[] = {
    P("body", K::kString), Ref("body_raw_ref", kArtifactOrFile), P("content_type", K::kString),
    P("content_disposition", K::kString)};
constexpr ObjectSchema kMimePart{"mime-part-type", kMimePartProps};

constexpr PropertySchema kRegistryValueProps[] = {P("name", K::kString), P("data", K::kString),
                                                  P("data_type", K::kString)};
constexpr ObjectSchema kRegistryValue{"windows-registry-value-type", kRegistryValueProps};

constexpr PropertySchema kX509ExtensionsProps[] = {
    P("basic_constraints", K::kString),
    P("name_constraints", K::kString),
    P("policy_constraints", K::kString),
    P("key_usage", K::kString),
    P("extended_key_usage", K::kString),
    P("subject_key_identifier", K::kString),
    P("authority_key_identifier", K::kString),
    P("subject_alternative_name", K::kString),
    P("issuer_alternative_name", K::kString),
    P("subject_directory_attributes", K::kString),
    P("crl_distribution_points", K::kString),
    P("inhibit_any_policy", K::kString),
    P("private_key_usage_period_not_before", K::kTimestamp),
    P("private_key_usage_period_not_after", K::kTimestamp),
    P("certificate_policies", K::kString),
    P("policy_mappings", K::kString)};
constexpr ObjectSchema kX509Extensions{"x509-v3-extensions-type", kX509ExtensionsProps};

constexpr PropertySchema kAlternateDataStreamProps[] = {
    P("name", K::kString), P("hashes", K::kHashes), P("size", K::kInteger)};
constexpr ObjectSchema kAlternateDataStream{"alternate-data-stream-type",
                                            kAlternateDataStreamProps};

constexpr PropertySchema kPeOptionalHeaderProps[] = {P("magic_hex", K::kHex),
                                                     P("major_linker_version", K::kInteger),
                                                     P("minor_linker_version", K::kInteger),
                                                     P("size_of_code", K::kInteger),
                                                     P("size_of_initialized_data", K::kInteger),
                                                     P("size_of_uninitialized_data", K::kInteger),
                                                     P("address_of_entry_point", K::kInteger),
                                                     P("base_of_code", K::kInteger),
                                                     P("base_of_data", K::kInteger),
                                                     P("image_base", K::kInteger),
                                                     P("section_alignment", K::kInteger),
                                                     P("file_alignment", K::kInteger),
                                                     P("major_os_version", K::kInteger),
                                                     P("minor_os_version", K::kInteger),
                                                     P("major_image_version", K::kInteger),
                                                     P("minor_image_version", K::kInteger),
                                                     P("major_subsystem_version", K::kInteger),
                                                     P("minor_subsystem_version", K::kInteger),
                                                     P("win32_version_value_hex", K::kHex),
                                                     P("size_of_image", K::kInteger),
                                                     P("size_of_headers", K::kInteger),
                                                     P("checksum_hex", K::kHex),
                                                     P("subsystem_hex", K::kHex),
                                                     P("dll_characteristics_hex", K::kHex),
                                                     P("size_of_stack_reserve", K::kInteger),
                                                     P("size_of_stack_commit", K::kInteger),
                                                     P("size_of_heap_reserve", K::kInteger),
                                                     P("size_of_heap_commit", K::kInteger),
                                                     P("loader_flags_hex", K::kHex),
                                                     P("number_of_rva_and_sizes", K::kInteger),
                                                     P("hashes", K::kHashes)};
constexpr ObjectSchema kPeOptionalHeader{"windows-pe-optional-header-type", kPeOptionalHeaderProps};

constexpr PropertySchema kPeSectionProps[] = {P("name", K::kString), P("size", K::kInteger),
                                              P("entropy", K::kFloat), P("hashes", K::kHashes)};
constexpr ObjectSchema kPeSection{"windows-pe-section-type", kPeSectionProps};

// ---- predefined extensions (section 6, "Extensions") ----

constexpr PropertySchema kArchiveExtProps[] = {Ref("contains_refs", kFileOrDirectory, true),
                                               P("comment", K::kString)};
constexpr PropertySchema kNtfsExtProps[] = {
    P("sid", K::kString), Obj("alternate_data_streams", &kAlternateDataStream, true)};
constexpr PropertySchema kPdfExtProps[] = {P("version", K::kString), P("is_optimized", K::kBoolean),
                                           P("document_info_dict", K::kDictionary),
                                           P("pdfid0", K::kString), P("pdfid1", K::kString)};
constexpr PropertySchema kRasterImageExtProps[] = {
    P("image_height", K::kInteger), P("image_width", K::kInteger), P("bits_per_pixel", K::kInteger),
    P("exif_tags", K::kDictionary)};
constexpr PropertySchema kPeBinaryExtProps[] = {P("pe_type", K::kString),
                                                P("imphash", K::kString),
                                                P("machine_hex", K::kHex),
                                                P("number_of_sections", K::kInteger),
                                                P("time_date_stamp", K::kTimestamp),
                                                P("pointer_to_symbol_table_hex", K::kHex),
                                                P("number_of_symbols", K::kInteger),
                                                P("size_of_optional_header", K::kInteger),
                                                P("characteristics_hex", K::kHex),
                                                P("file_header_hashes", K::kHashes),
                                                Obj("optional_header", &kPeOptionalHeader),
                                                Obj("sections", &kPeSection, true)};
constexpr PropertySchema kHttpRequestExtProps[] = {
    P("request_method", K::kString),       P("request_value", K::kString),
    P("request_version", K::kString),      P("request_header", K::kDictionary),
    P("message_body_length", K::kInteger), Ref("message_body_data_ref", kArtifact)};
constexpr PropertySchema kIcmpExtProps[] = {P("icmp_type_hex", K::kHex),
                                            P("icmp_code_hex", K::kHex)};
constexpr PropertySchema kSocketExtProps[] = {
    P("address_family", K::kString), P("is_blocking", K::kBoolean),
    P("is_listening", K::kBoolean),  P("options", K::kDictionary),
    P("socket_type", K::kString),    P("socket_descriptor", K::kInteger),
    P("socket_handle", K::kInteger)};
constexpr PropertySchema kTcpExtProps[] = {P("src_flags_hex", K::kHex),
                                           P("dst_flags_hex", K::kHex)};
constexpr PropertySchema kWindowsProcessExtProps[] = {
    P("aslr_enabled", K::kBoolean),  P("dep_enabled", K::kBoolean),
    P("priority", K::kString),       P("owner_sid", K::kString),
    P("window_title", K::kString),   P("startup_info", K::kDictionary),
    P("integrity_level", K::kString)};
constexpr PropertySchema kWindowsServiceExtProps[] = {
    P("service_name", K::kString), P("descriptions", K::kString, true),
    P("display_name", K::kString), P("group_name", K::kString),
    P("start_type", K::kString),   Ref("service_dll_refs", kFile, true),
    P("service_type", K::kString), P("service_status", K::kString)};
constexpr PropertySchema kUnixAccountExtProps[] = {
    P("gid", K::kInteger), P("groups", K::kString, true), P("home_dir", K::kString),
    P("shell", K::kString)};

struct ExtensionEntry {
  std::string_view sco_type;
  ObjectSchema schema;
};
constexpr ExtensionEntry kExtensions[] = {
    {"file", {"archive-ext", kArchiveExtProps}},
    {"file", {"ntfs-ext", kNtfsExtProps}},
    {"file", {"pdf-ext", kPdfExtProps}},
    {"file", {"raster-image-ext", kRasterImageExtProps}},
    {"file", {"windows-pebinary-ext", kPeBinaryExtProps}},
    {"network-traffic", {"http-request-ext", kHttpRequestExtProps}},
    {"network-traffic", {"icmp-ext", kIcmpExtProps}},
    {"network-traffic", {"socket-ext", kSocketExtProps}},
    {"network-traffic", {"tcp-ext", kTcpExtProps}},
    {"process", {"windows-process-ext", kWindowsProcessExtProps}},
    {"process", {"windows-service-ext", kWindowsServiceExtProps}},
    {"user-account", {"unix-account-ext", kUnixAccountExtProps}},
};

// ---- the SCO types (section 6.1 - 6.18) ----

constexpr PropertySchema kArtifactProps[] = {LIAISON_SCO_COMMON,
                                             P("mime_type", K::kString),
                                             P("payload_bin", K::kBinary),
                                             P("url", K::kString),
                                             P("hashes", K::kHashes),
                                             P("encryption_algorithm", K::kString),
                                             P("decryption_key", K::kString)};
constexpr PropertySchema kAutonomousSystemProps[] = {LIAISON_SCO_COMMON, P("number", K::kInteger),
                                                     P("name", K::kString), P("rir", K::kString)};
constexpr PropertySchema kDirectoryProps[] = {LIAISON_SCO_COMMON,
                                              P("path", K::kString),
                                              P("path_enc", K::kString),
                                              P("ctime", K::kTimestamp),
                                              P("mtime", K::kTimestamp),
                                              P("atime", K::kTimestamp),
                                              Ref("contains_refs", kFileOrDirectory, true)};
constexpr PropertySchema kDomainNameProps[] = {LIAISON_SCO_COMMON, P("value", K::kString),
                                               Ref("resolves_to_refs", kAddressOrDomain, true)};
constexpr PropertySchema kEmailAddrProps[] = {LIAISON_SCO_COMMON, P("value", K::kString),
                                              P("display_name", K::kString),
                                              Ref("belongs_to_ref", kUserAccount)};
constexpr PropertySchema kEmailMessageProps[] = {LIAISON_SCO_COMMON,
                                                 P("is_multipart", K::kBoolean),
                                                 P("date", K::kTimestamp),
                                                 P("content_type", K::kString),
                                                 Ref("from_ref", kEmailAddr),
                                                 Ref("sender_ref", kEmailAddr),
                                                 Ref("to_refs", kEmailAddr, true),
                                                 Ref("cc_refs", kEmailAddr, true),
                                                 Ref("bcc_refs", kEmailAddr, true),
                                                 P("message_id", K::kString),
                                                 P("subject", K::kString),
                                                 P("received_lines", K::kString, true),
                                                 P("additional_header_fields", K::kDictionary),
                                                 P("body", K::kString),
                                                 Obj("body_multipart", &kMimePart, true),
                                                 Ref("raw_email_ref", kArtifact)};
constexpr PropertySchema kFileProps[] = {LIAISON_SCO_COMMON,
                                         P("hashes", K::kHashes),
                                         P("size", K::kInteger),
                                         P("name", K::kString),
                                         P("name_enc", K::kString),
                                         P("magic_number_hex", K::kHex),
                                         P("mime_type", K::kString),
                                         P("ctime", K::kTimestamp),
                                         P("mtime", K::kTimestamp),
                                         P("atime", K::kTimestamp),
                                         Ref("parent_directory_ref", kDirectory),
                                         Ref("contains_refs", {}, true),
                                         Ref("content_ref", kArtifact)};
constexpr PropertySchema kIpv4AddrProps[] = {LIAISON_SCO_COMMON, P("value", K::kString),
                                             Ref("resolves_to_refs", kMacAddr, true),
                                             Ref("belongs_to_refs", kAutonomousSystem, true)};
constexpr PropertySchema kIpv6AddrProps[] = {LIAISON_SCO_COMMON, P("value", K::kString),
                                             Ref("resolves_to_refs", kMacAddr, true),
                                             Ref("belongs_to_refs", kAutonomousSystem, true)};
constexpr PropertySchema kMacAddrProps[] = {LIAISON_SCO_COMMON, P("value", K::kString)};
constexpr PropertySchema kMutexProps[] = {LIAISON_SCO_COMMON, P("name", K::kString)};
constexpr PropertySchema kNetworkTrafficProps[] = {LIAISON_SCO_COMMON,
                                                   P("start", K::kTimestamp),
                                                   P("end", K::kTimestamp),
                                                   P("is_active", K::kBoolean),
                                                   Ref("src_ref", kEndpoint),
                                                   Ref("dst_ref", kEndpoint),
                                                   P("src_port", K::kInteger),
                                                   P("dst_port", K::kInteger),
                                                   P("protocols", K::kString, true),
                                                   P("src_byte_count", K::kInteger),
                                                   P("dst_byte_count", K::kInteger),
                                                   P("src_packets", K::kInteger),
                                                   P("dst_packets", K::kInteger),
                                                   P("ipfix", K::kDictionary),
                                                   Ref("src_payload_ref", kArtifact),
                                                   Ref("dst_payload_ref", kArtifact),
                                                   Ref("encapsulates_refs", kNetworkTraffic, true),
                                                   Ref("encapsulated_by_ref", kNetworkTraffic)};
constexpr PropertySchema kProcessProps[] = {LIAISON_SCO_COMMON,
                                            P("is_hidden", K::kBoolean),
                                            P("pid", K::kInteger),
                                            P("created_time", K::kTimestamp),
                                            P("cwd", K::kString),
                                            P("command_line", K::kString),
                                            P("environment_variables", K::kDictionary),
                                            Ref("opened_connection_refs", kNetworkTraffic, true),
                                            Ref("creator_user_ref", kUserAccount),
                                            Ref("image_ref", kFile),
                                            Ref("parent_ref", kProcess),
                                            Ref("child_refs", kProcess, true)};
constexpr PropertySchema kSoftwareProps[] = {LIAISON_SCO_COMMON,
                                             P("name", K::kString),
                                             P("cpe", K::kString),
                                             P("swid", K::kString),
                                             P("languages", K::kString, true),
                                             P("vendor", K::kString),
                                             P("version", K::kString)};
constexpr PropertySchema kUrlProps[] = {LIAISON_SCO_COMMON, P("value", K::kString)};
constexpr PropertySchema kUserAccountProps[] = {LIAISON_SCO_COMMON,
                                                P("user_id", K::kString),
                                                P("credential", K::kString),
                                                P("account_login", K::kString),
                                                P("account_type", K::kString),
                                                P("display_name", K::kString),
                                                P("is_service_account", K::kBoolean),
                                                P("is_privileged", K::kBoolean),
                                                P("can_escalate_privs", K::kBoolean),
                                                P("is_disabled", K::kBoolean),
                                                P("account_created", K::kTimestamp),
                                                P("account_expires", K::kTimestamp),
                                                P("credential_last_changed", K::kTimestamp),
                                                P("account_first_login", K::kTimestamp),
                                                P("account_last_login", K::kTimestamp)};
constexpr PropertySchema kRegistryKeyProps[] = {LIAISON_SCO_COMMON,
                                                P("key", K::kString),
                                                Obj("values", &kRegistryValue, true),
                                                P("modified_time", K::kTimestamp),
                                                Ref("creator_user_ref", kUserAccount),
                                                P("number_of_subkeys", K::kInteger)};
constexpr PropertySchema kX509CertificateProps[] = {LIAISON_SCO_COMMON,
                                                    P("is_self_signed", K::kBoolean),
                                                    P("hashes", K::kHashes),
                                                    P("version", K::kString),
                                                    P("serial_number", K::kString),
                                                    P("signature_algorithm", K::kString),
                                                    P("issuer", K::kString),
                                                    P("validity_not_before", K::kTimestamp),
                                                    P("validity_not_after", K::kTimestamp),
                                                    P("subject", K::kString),
                                                    P("subject_public_key_algorithm", K::kString),
                                                    P("subject_public_key_modulus", K::kString),
                                                    P("subject_public_key_exponent", K::kInteger),
                                                    Obj("x509_v3_extensions", &kX509Extensions)};

#undef LIAISON_SCO_COMMON

constexpr ObjectSchema kScoTypes[] = {
    {"artifact", kArtifactProps},
    {"autonomous-system", kAutonomousSystemProps},
    {"directory", kDirectoryProps},
    {"domain-name", kDomainNameProps},
    {"email-addr", kEmailAddrProps},
    {"email-message", kEmailMessageProps},
    {"file", kFileProps},
    {"ipv4-addr", kIpv4AddrProps},
    {"ipv6-addr", kIpv6AddrProps},
    {"mac-addr", kMacAddrProps},
    {"mutex", kMutexProps},
    {"network-traffic", kNetworkTrafficProps},
    {"process", kProcessProps},
    {"software", kSoftwareProps},
    {"url", kUrlProps},
    {"user-account", kUserAccountProps},
    {"windows-registry-key", kRegistryKeyProps},
    {"x509-certificate", kX509CertificateProps},
};

constexpr std::string_view kNonObservableTypes[] = {
    // SDOs (section 4)
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
    "indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis",
    "note", "observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability",
    // SROs (section 5)
    "relationship", "sighting",
    // meta objects (section 7) and the bundle (section 8)
    "language-content", "marking-definition", "extension-definition", "bundle"};

std::string NormalizeAlgorithm(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c != '-' && c != '_')
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

bool AllHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

const PropertySchema* ObjectSchema::Find(std::string_view property) const {
  for (const PropertySchema& p : properties) {
    if (p.name == property) return &p;
  }
  return nullptr;
}

const ObjectSchema* FindScoType(std::string_view type) {
  for (const ObjectSchema& s : kScoTypes) {
    if (s.name == type) return &s;
  }
  return nullptr;
}

const ObjectSchema* FindExtension(std::string_view type, std::string_view name) {
  for (const ExtensionEntry& e : kExtensions) {
    if (e.sco_type == type && e.schema.name == name) return &e.schema;
  }
  return nullptr;
}

bool IsPredefinedExtension(std::string_view name) {
  for (const ExtensionEntry& e : kExtensions) {
    if (e.schema.name == name) return true;
  }
  return false;
}

bool IsNonObservableType(std::string_view type) {
  for (std::string_view t : kNonObservableTypes) {
    if (t == type) return true;
  }
  return false;
}

bool IsValidCustomTypeName(std::string_view type) {
  if (type.size() < 3 || type.size() > 250) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    if (c == '-' && i > 0 && type[i - 1] == '-') return false;
  }
  return true;
}

bool IsValidCustomPropertyName(std::string_view name) {
  if (name.size() < 3 || name.size() > 250) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsValidHashValue(std::string_view algorithm, std::string_view value,
                      std::string_view* canonical_name) {
  struct HashForm {
    std::string_view key;   // normalised: upper case, no '-' or '_'
    std::string_view name;  // as the vocabulary spells it
    size_t hex_digits;      // 0: not a fixed-length hex digest
  };
  static constexpr HashForm kForms[] = {
      {"MD5", "MD5", 32},
      {"SHA1", "SHA-1", 40},
      {"SHA224", "SHA-224", 56},
      {"SHA256", "SHA-256", 64},
      {"SHA384", "SHA-384", 96},
      {"SHA512", "SHA-512", 128},
      {"SHA3224", "SHA3-224", 56},
      {"SHA3256", "SHA3-256", 64},
      {"SHA3384", "SHA3-384", 96},
      {"SHA3512", "SHA3-512", 128},
      {"RIPEMD160", "RIPEMD-160", 40},
      {"WHIRLPOOL", "WHIRLPOOL", 128},
      {"SSDEEP", "SSDEEP", 0},
      {"TLSH", "TLSH", 0},
  };
  const std::string key = NormalizeAlgorithm(algorithm);
  for (const HashForm& f : kForms) {
    if (key != f.key) continue;
    if (canonical_name != nullptr) *canonical_name = f.name;
    if (f.hex_digits > 0) return value.size() == f.hex_digits && AllHex(value);
    if (f.key == "TLSH") {
      // 70 hex digits, optionally after the version prefix "T1".
      std::string_view v = value;
      if (v.size() == 72 && (v[0] == 'T' || v[0] == 't') && v[1] == '1') v.remove_prefix(2);
      return v.size() == 70 && AllHex(v);
    }
    // SSDEEP: blocksize:hash:hash, base64 characters in the hashes.
    const size_t first = value.find(':');
    const size_t second = first == std::string_view::npos ? first : value.find(':', first + 1);
    if (first == 0 || second == std::string_view::npos || value.size() > 256) return false;
    for (size_t i = 0; i < first; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(value[i]))) return false;
    }
    for (size_t i = first + 1; i < value.size(); ++i) {
      const char c = value[i];
      if (i == second) continue;
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == ',' ||
            c == '"' || c == '.')) {
        return false;
      }
    }
    return true;
  }
  return true;
}

}  // namespace liaison::pattern::internal
