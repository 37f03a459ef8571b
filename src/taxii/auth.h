#pragma once

// Credentials for the TAXII server: Argon2id password hashes (libsodium's crypto_pwhash_str) and
// API tokens, of which the store keeps only a SHA-256 hash. Used by the server to authenticate
// requests and by `liaison user` / `liaison token` to create credentials.

#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison::taxii {

// How expensive a password hash is. kInteractive is libsodium's interactive preset (64 MiB, a
// fraction of a second); kMinimum is for tests only.
enum class PasswordCost { kInteractive, kModerate, kMinimum };

// Returns the encoded Argon2id string ("$argon2id$v=19$m=...") for the store's User record.
// ResourceExhausted when the memory for the hash cannot be allocated.
Result<std::string> HashPassword(std::string_view password,
                                 PasswordCost cost = PasswordCost::kInteractive);

// True when `password` matches `encoded_hash`. Runs in time independent of where the two differ
// (libsodium recomputes the hash and compares in constant time). False for a malformed hash.
bool VerifyPassword(std::string_view password, std::string_view encoded_hash);

// A fresh API token secret: "lsn_" followed by 43 base64url characters (256 random bits).
std::string NewApiToken();

// The lower-case hex SHA-256 of a token secret, as stored in store::ApiToken::token_hash.
std::string HashApiToken(std::string_view token);

// Constant-time equality of two strings of the same length (false when lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace liaison::taxii
