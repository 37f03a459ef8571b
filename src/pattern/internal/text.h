#pragma once

// Text helpers for patterns: UTF-8 validation and decoding, NFC (ICU), and the binary
// encodings STIX uses (base64 for *_bin properties and b'' constants, hex for *_hex and h'').

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace liaison::pattern::internal {

// The offset of the first byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF are invalid), or npos when `text` is valid.
size_t InvalidUtf8Offset(std::string_view text);

// Decodes the code point at `pos` of valid UTF-8 and advances `pos` past it.
char32_t NextCodePoint(std::string_view text, size_t& pos);

bool IsAscii(std::string_view text);

// `text` (valid UTF-8) in Unicode Normalization Form C. Returns a view of `text` itself when
// it is already normalised (always so for ASCII), else of `storage`.
std::string_view Nfc(std::string_view text, std::string& storage);

// Section 9.2: a string whose code points are all below U+0100 may be compared as binary, one
// octet per code point. Returns nullopt when some code point is U+0100 or above.
std::optional<std::string> Utf8ToOctets(std::string_view text);
// The inverse: each octet becomes the code point of the same value, UTF-8 encoded.
std::string OctetsToUtf8(std::string_view octets);

// RFC 4648 base64 (padding required, line feeds ignored); nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view text);
// Pairs of hex digits, either case; nullopt when malformed.
std::optional<std::string> DecodeHex(std::string_view text);

}  // namespace liaison::pattern::internal
