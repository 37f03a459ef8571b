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
#include <vector>

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

// The Finish payload: the increasing indices of the matched items in the responder's shuffled
// list of `n` items, as `count (u32) | encoding (u8) | data`, encoding 0 being `count` u32
// indices and encoding 1 a bitmap of n bits (bit i of byte i / 8, least significant first).
// The shorter one is written, so a mutual Finish stays under n / 8 bytes and fits the server's
// body limit whatever the intersection's size (4 bytes an index would not: 2.6 million
// matches already fill 10 MiB).
void AppendIndexSet(const std::vector<uint32_t>& sorted, uint64_t n, std::string& out);
// Reads it back: InvalidArgument for an unknown encoding, indices out of range or not
// increasing, a bitmap of the wrong length, with bits set beyond n or whose population differs
// from count.
Result<std::vector<uint32_t>> ReadIndexSet(Reader& reader, uint64_t n);

}  // namespace liaison::psi::internal
