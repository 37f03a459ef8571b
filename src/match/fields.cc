#include "match/fields.h"

#include <array>
#include <string>

namespace liaison::match {
namespace {

struct Row {
  FieldInfo info;
  std::string_view short_name;
};

// In Field's order.
constexpr std::array<Row, kFieldCount> kRows = {{
    {{"network-traffic:src_ref.value", ValueKind::kIpv4, "network-traffic"}, "src_ip"},
    {{"network-traffic:dst_ref.value", ValueKind::kIpv4, "network-traffic"}, "dst_ip"},
    {{"ipv4-addr:value", ValueKind::kIpv4, "ipv4-addr"}, "ip"},
    {{"network-traffic:src_port", ValueKind::kOther, "network-traffic"}, "src_port"},
    {{"network-traffic:dst_port", ValueKind::kOther, "network-traffic"}, "dst_port"},
    {{"network-traffic:protocols[*]", ValueKind::kOther, "network-traffic"}, "protocol"},
    {{"domain-name:value", ValueKind::kDomain, "domain-name"}, "domain"},
    {{"url:value", ValueKind::kUrl, "url"}, "url"},
    {{"file:hashes.MD5", ValueKind::kMd5, "file"}, "md5"},
    {{"file:hashes.'SHA-1'", ValueKind::kSha1, "file"}, "sha1"},
    {{"file:hashes.'SHA-256'", ValueKind::kSha256, "file"}, "sha256"},
    {{"file:hashes.'SHA-512'", ValueKind::kSha512, "file"}, "sha512"},
    {{"file:name", ValueKind::kOther, "file"}, "file_name"},
    {{"file:mime_type", ValueKind::kOther, "file"}, "mime_type"},
    {{"email-addr:value", ValueKind::kEmail, "email-addr"}, "email"},
    {{"network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
      ValueKind::kOther, "network-traffic"},
     "user_agent"},
    {{"network-traffic:extensions.'http-request-ext'.request_method", ValueKind::kOther,
      "network-traffic"},
     "http_method"},
    {{"x509-certificate:subject", ValueKind::kOther, "x509-certificate"}, "x509_subject"},
    {{"x509-certificate:issuer", ValueKind::kOther, "x509-certificate"}, "x509_issuer"},
    {{"x509-certificate:serial_number", ValueKind::kOther, "x509-certificate"}, "x509_serial"},
    {{"x509-certificate:hashes.'SHA-1'", ValueKind::kOther, "x509-certificate"}, "x509_sha1"},
    {{"x509-certificate:hashes.'SHA-256'", ValueKind::kOther, "x509-certificate"}, "x509_sha256"},
    {{"x-ja3:value", ValueKind::kOther, "x-ja3"}, "ja3"},
}};

// Removes quotes and, for hash names, case and hyphens: `file:hashes.'SHA-256'`,
// `file:hashes.SHA256` and `file:hashes.sha-256` all become `file:hashes.SHA256`.
std::string Canonical(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c != '\'') out.push_back(c);
  }
  const size_t h = out.find(":hashes.");
  if (h != std::string::npos) {
    std::string name;
    for (size_t i = h + 8; i < out.size(); ++i) {
      const char c = out[i];
      if (c == '-') continue;
      name.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    }
    out.resize(h + 8);
    out += name;
  }
  return out;
}

}  // namespace

const FieldInfo& InfoOf(Field field) { return kRows[static_cast<size_t>(field)].info; }

std::optional<Field> FieldForPath(std::string_view object_path) {
  const std::string want = Canonical(object_path);
  if (want == "ipv6-addr:value") return Field::kAddress;
  for (size_t i = 0; i < kRows.size(); ++i) {
    if (Canonical(kRows[i].info.path) == want) return static_cast<Field>(i);
  }
  return std::nullopt;
}

std::optional<Field> FieldForName(std::string_view name) {
  for (size_t i = 0; i < kRows.size(); ++i) {
    if (kRows[i].short_name == name) return static_cast<Field>(i);
  }
  return FieldForPath(name);
}

}  // namespace liaison::match
