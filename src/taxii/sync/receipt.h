#pragma once

// Signed receipts (issue #6): a liaison server that receives objects from a peer answers with an
// Ed25519-signed statement of what it received, so neither side can later deny the exchange.
//
// A receipt names both servers (the receiver by its public signing key and title, the sender by
// the user it authenticated as and the public key it announced), the collection, the status
// resource, the time, how many object versions were received and a SHA-256 digest over their
// sorted "id|version" lines. The signature covers the RFC 8785 canonical JSON of every other
// member. docs/sync.md shows an example.
//
// Each server has one signing key, created on first start as <data_dir>/sync_ed25519.key (mode
// 0600, base64 of libsodium's 64-byte Ed25519 secret key). The secret is zeroed when dropped.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"

namespace liaison::taxii::sync {

class Signer {
 public:
  // Loads <dir>/sync_ed25519.key, creating it (and `dir`) when missing. FailedPrecondition when
  // the file is readable by group or others; DataLoss when it is not a key.
  static Result<std::unique_ptr<Signer>> LoadOrCreate(const std::filesystem::path& dir);
  // A fresh key that lives only in memory (tests).
  static std::unique_ptr<Signer> Ephemeral();

  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // base64 (standard alphabet, padded) of the 32-byte public key.
  const std::string& public_key() const { return public_key_b64_; }
  // base64 of the 64-byte detached signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  Signer() = default;
  unsigned char secret_[64] = {};
  std::string public_key_b64_;
};

// True when `signature_b64` is a valid Ed25519 signature of `message` by `public_key_b64`.
bool VerifySignature(std::string_view public_key_b64, std::string_view message,
                     std::string_view signature_b64);

struct Receipt {
  std::string receiver_key;   // base64 Ed25519 public key of the receiving server
  std::string receiver_name;  // its title
  std::string sender;         // the user the sender authenticated as on the receiver
  std::string sender_key;     // the public key the sender announced (X-Liaison-Sender-Key)
  std::string collection;     // the receiving collection's id
  std::string status_id;      // the status resource of the POST
  Timestamp time;
  int64_t count = 0;      // object versions received (added or already present)
  std::string digest;     // ReceiptDigest of those versions
  std::string signature;  // base64 Ed25519 over Payload()

  // The signed bytes: RFC 8785 canonical JSON of every member but the signature.
  std::string Payload() const;
  // The whole receipt as JSON (what both sides keep).
  std::string ToJson() const;
  // The X-Liaison-Receipt header value: base64 of ToJson().
  std::string ToHeader() const;
  static Result<Receipt> FromJson(std::string_view json);
  // InvalidArgument when the header is not a receipt.
  static Result<Receipt> FromHeader(std::string_view header);

  // Signs with `signer`, setting receiver_key and signature.
  void SignWith(const Signer& signer);
  // True when the signature is valid for receiver_key.
  bool SignatureValid() const;
};

// The version string used in digests: `modified`/`created` as a STIX timestamp, "" when none.
std::string DigestVersion(const std::optional<Timestamp>& version);

// Hex SHA-256 over the sorted, de-duplicated lines "id|version\n".
std::string ReceiptDigest(std::vector<std::pair<std::string, std::string>> id_versions);
// The same digest over views (id, DigestVersion), which need only outlive the call.
std::string ReceiptDigestViews(std::vector<std::pair<std::string_view, std::string_view>> keys);

}  // namespace liaison::taxii::sync
