#pragma once

// Test certificates: a throwaway self-signed certificate that TLS tests serve, present as a
// client certificate, or trust as their own CA.

#include <filesystem>
#include <string>

namespace liaison::testing {

// Writes a self-signed P-256 certificate (subjectAltName IP:127.0.0.1, as RFC 6125 requires for
// an address; CA:TRUE so that it can also be its own trust anchor) valid for an hour, and its
// private key, as PEM files. False when OpenSSL fails.
bool WriteSelfSignedCert(const std::filesystem::path& cert, const std::filesystem::path& key,
                         const std::string& common_name = "127.0.0.1");

}  // namespace liaison::testing
