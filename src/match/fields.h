#pragma once

// The observable fields log readers produce, each named by the STIX object path it stands for
// (STIX 2.1 section 9.7, object paths) and the index it is looked up in. A reader maps its own
// field names (Zeek's id.resp_h, EVE's dest_ip, a config's mapping) onto these; the compiler
// maps a pattern's object paths onto the same table, so the two meet by field number.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "match/indicator_index.h"

namespace liaison::match {

enum class Field : uint16_t {
  kSrcAddress,   // network-traffic:src_ref.value
  kDstAddress,   // network-traffic:dst_ref.value
  kAddress,      // ipv4-addr:value / ipv6-addr:value (an address in no particular role)
  kSrcPort,      // network-traffic:src_port
  kDstPort,      // network-traffic:dst_port
  kProtocol,     // network-traffic:protocols[*]
  kDomain,       // domain-name:value
  kUrl,          // url:value
  kMd5,          // file:hashes.MD5
  kSha1,         // file:hashes.'SHA-1'
  kSha256,       // file:hashes.'SHA-256'
  kSha512,       // file:hashes.'SHA-512'
  kFileName,     // file:name
  kMimeType,     // file:mime_type
  kEmail,        // email-addr:value
  kUserAgent,    // network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'
  kHttpMethod,   // network-traffic:extensions.'http-request-ext'.request_method
  kX509Subject,  // x509-certificate:subject
  kX509Issuer,   // x509-certificate:issuer
  kX509Serial,   // x509-certificate:serial_number
  kX509Sha1,     // x509-certificate:hashes.'SHA-1'
  kX509Sha256,   // x509-certificate:hashes.'SHA-256'
  kJa3,          // x-ja3 (EVE tls.ja3.hash; no STIX property, kept for NDJSON mappings)
};
inline constexpr size_t kFieldCount = 23;

struct FieldInfo {
  std::string_view path;  // the canonical STIX object path
  ValueKind kind;         // the index it is looked up in
  std::string_view sco_type;
};

const FieldInfo& InfoOf(Field field);

// The field for a pattern's object path as Print writes it (`file:hashes.'SHA-256'`), also
// accepting the spellings real feeds use (`file:hashes.SHA256`, `ipv4-addr:value`); nullopt
// for paths no reader produces.
std::optional<Field> FieldForPath(std::string_view object_path);

// The field named by its short name in an NDJSON mapping ("src_ip", "domain", "sha256", ...)
// or by its STIX path.
std::optional<Field> FieldForName(std::string_view name);

// One observable value of one event. `value` points into the reader's buffers: valid until the
// reader reads the next line.
struct FieldValue {
  Field field;
  std::string_view value;
};

}  // namespace liaison::match
