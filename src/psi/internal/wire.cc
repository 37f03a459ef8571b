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

void AppendIndexSet(const std::vector<uint32_t>& sorted, uint64_t n, std::string& out) {
  AppendU32(static_cast<uint32_t>(sorted.size()), out);
  const uint64_t bitmap_bytes = (n + 7) / 8;
  if (bitmap_bytes < uint64_t{4} * sorted.size()) {
    AppendU8(1, out);
    const size_t base = out.size();
    out.resize(base + bitmap_bytes, '\0');
    for (uint32_t i : sorted) out[base + i / 8] |= static_cast<char>(1u << (i % 8));
    return;
  }
  AppendU8(0, out);
  for (uint32_t i : sorted) AppendU32(i, out);
}

Result<std::vector<uint32_t>> ReadIndexSet(Reader& reader, uint64_t n) {
  LIAISON_ASSIGN_OR_RETURN(uint32_t count, reader.U32("count"));
  LIAISON_ASSIGN_OR_RETURN(uint8_t encoding, reader.U8("index encoding"));
  if (count > n) {
    return absl::InvalidArgumentError(StrCat("index set of ", count, " in a list of ", n));
  }
  std::vector<uint32_t> out;
  out.reserve(count);
  if (encoding == 0) {
    for (uint32_t k = 0; k < count; ++k) {
      LIAISON_ASSIGN_OR_RETURN(uint32_t i, reader.U32("index"));
      if (i >= n || (!out.empty() && i <= out.back())) {
        return absl::InvalidArgumentError("indices must be increasing and in range");
      }
      out.push_back(i);
    }
    return out;
  }
  if (encoding != 1) {
    return absl::InvalidArgumentError(StrCat("unknown index encoding ", int{encoding}));
  }
  LIAISON_ASSIGN_OR_RETURN(std::string_view bits, reader.Bytes((n + 7) / 8, "index bitmap"));
  for (size_t byte = 0; byte < bits.size(); ++byte) {
    uint8_t b = static_cast<uint8_t>(bits[byte]);
    while (b != 0) {
      const uint64_t i = byte * 8 + static_cast<unsigned>(__builtin_ctz(b));
      if (i >= n) return absl::InvalidArgumentError("index bitmap sets bits beyond the list");
      if (out.size() == count) {
        return absl::InvalidArgumentError("index bitmap holds more indices than its count");
      }
      out.push_back(static_cast<uint32_t>(i));
      b &= static_cast<uint8_t>(b - 1);
    }
  }
  if (out.size() != count) {
    return absl::InvalidArgumentError("index bitmap holds fewer indices than its count");
  }
  return out;
}

}  // namespace liaison::psi::internal
