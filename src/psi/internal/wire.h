#pragma once

// The binary messages of the PSI protocol (docs/psi.md, "Wire format"). Every message starts
// with the same 26-byte header:
//
//   "LPSI" | version (1) | type (1) | session id (16) | step (4, big endian)
//
// followed by a type-specific payload. Integers are big endian. Decoding checks every length
// against the bytes present and returns InvalidArgument naming the field; it never reads past
// the input.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison::psi::internal {

inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kSessionIdBytes = 16;
inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kHeaderBytes = 4 + 1 + 1 + kSessionIdBytes + 4;
// The step of the Finish message (and its reply): after every chunk.
inline constexpr uint32_t kFinishStep = 0xffffffffu;

enum class MessageType : uint8_t {
  kHello = 1,           // requester -> responder: mode, kind, sizes, nonce, list name
  kAccept = 2,          // responder -> requester: session id, responder size, digest length
  kBlindedChunk = 3,    // requester -> responder: H(x)^a for one chunk (step = 1 + index)
  kDigestChunk = 4,     // reply: digests of H(x)^ab in the same order (empty in cardinality)
  kFetchChunk = 5,      // requester -> responder: asks for chunk `step - 1` of H(y)^b
  kResponderChunk = 6,  // reply: H(y)^b for that chunk, in the responder's shuffled order
  kFinish = 7,          // requester -> responder: mutual: indices of matched responder items
  kFinished = 8,        // reply: cardinality: all digests of H(x)^ab, shuffled
};

struct Header {
  MessageType type = MessageType::kHello;
  std::string session_id;  // kSessionIdBytes; all zero in Hello
  uint32_t step = 0;
};

// Appends the header to `out`.
void AppendHeader(const Header& header, std::string& out);
void AppendU8(uint8_t v, std::string& out);
void AppendU16(uint16_t v, std::string& out);
void AppendU32(uint32_t v, std::string& out);
void AppendU64(uint64_t v, std::string& out);

// Reads a message sequentially; every Read* fails once the input is exhausted.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  Result<Header> ReadHeader();
  Result<uint8_t> U8(std::string_view field);
  Result<uint16_t> U16(std::string_view field);
  Result<uint32_t> U32(std::string_view field);
  Result<uint64_t> U64(std::string_view field);
  Result<std::string_view> Bytes(size_t n, std::string_view field);
  // InvalidArgument when bytes remain.
  Status End() const;
  size_t remaining() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

std::string_view MessageTypeName(MessageType type);

}  // namespace liaison::psi::internal
