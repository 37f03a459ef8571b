#include "psi/internal/wire.h"

#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison::psi::internal {
namespace {
constexpr std::string_view kMagic = "LPSI";
}  // namespace

void AppendU8(uint8_t v, std::string& out) { out.push_back(static_cast<char>(v)); }
void AppendU16(uint16_t v, std::string& out) {
  AppendU8(static_cast<uint8_t>(v >> 8), out);
  AppendU8(static_cast<uint8_t>(v), out);
}
void AppendU32(uint32_t v, std::string& out) {
  AppendU16(static_cast<uint16_t>(v >> 16), out);
  AppendU16(static_cast<uint16_t>(v), out);
}
void AppendU64(uint64_t v, std::string& out) {
  AppendU32(static_cast<uint32_t>(v >> 32), out);
  AppendU32(static_cast<uint32_t>(v), out);
}

void AppendHeader(const Header& header, std::string& out) {
  out += kMagic;
  AppendU8(kWireVersion, out);
  AppendU8(static_cast<uint8_t>(header.type), out);
  std::string id = header.session_id;
  id.resize(kSessionIdBytes, '\0');
  out += id;
  AppendU32(header.step, out);
}

Result<std::string_view> Reader::Bytes(size_t n, std::string_view field) {
  if (rest_.size() < n) {
    return absl::InvalidArgumentError(
        StrCat("truncated PSI message: ", field, " needs ", n, " bytes, ", rest_.size(), " left"));
  }
  std::string_view out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

Result<uint8_t> Reader::U8(std::string_view field) {
  LIAISON_ASSIGN_OR_RETURN(std::string_view b, Bytes(1, field));
  return static_cast<uint8_t>(b[0]);
}
Result<uint16_t> Reader::U16(std::string_view field) {
  LIAISON_ASSIGN_OR_RETURN(std::string_view b, Bytes(2, field));
  return static_cast<uint16_t>((static_cast<uint8_t>(b[0]) << 8) | static_cast<uint8_t>(b[1]));
}
Result<uint32_t> Reader::U32(std::string_view field) {
  LIAISON_ASSIGN_OR_RETURN(std::string_view b, Bytes(4, field));
  uint32_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}
Result<uint64_t> Reader::U64(std::string_view field) {
  LIAISON_ASSIGN_OR_RETURN(std::string_view b, Bytes(8, field));
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

Result<Header> Reader::ReadHeader() {
  if (rest_.size() < kHeaderBytes) {
    return absl::InvalidArgumentError(
        StrCat("not a PSI message: ", rest_.size(), " bytes, the header alone has ", kHeaderBytes));
  }
  LIAISON_ASSIGN_OR_RETURN(std::string_view magic, Bytes(4, "magic"));
  if (magic != kMagic) return absl::InvalidArgumentError("not a PSI message: bad magic");
  LIAISON_ASSIGN_OR_RETURN(uint8_t version, U8("version"));
  if (version != kWireVersion) {
    return absl::InvalidArgumentError(
        StrCat("unsupported PSI wire version ", version, " (this side speaks ", kWireVersion, ")"));
  }
  LIAISON_ASSIGN_OR_RETURN(uint8_t type, U8("type"));
  if (type < 1 || type > 8) {
    return absl::InvalidArgumentError(StrCat("unknown PSI message type ", type));
  }
  Header h;
  h.type = static_cast<MessageType>(type);
  LIAISON_ASSIGN_OR_RETURN(std::string_view id, Bytes(kSessionIdBytes, "session id"));
  h.session_id = std::string(id);
  LIAISON_ASSIGN_OR_RETURN(h.step, U32("step"));
  return h;
}

Status Reader::End() const {
  if (!rest_.empty()) {
    return absl::InvalidArgumentError(StrCat("PSI message has ", rest_.size(), " trailing bytes"));
  }
  return absl::OkStatus();
}

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "hello";
    case MessageType::kAccept:
      return "accept";
    case MessageType::kBlindedChunk:
      return "blinded-chunk";
    case MessageType::kDigestChunk:
      return "digest-chunk";
    case MessageType::kFetchChunk:
      return "fetch-chunk";
    case MessageType::kResponderChunk:
      return "responder-chunk";
    case MessageType::kFinish:
      return "finish";
    case MessageType::kFinished:
      return "finished";
  }
  return "unknown";
}

}  // namespace liaison::psi::internal
