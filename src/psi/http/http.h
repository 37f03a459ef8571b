#pragma once

// PSI over liaison's HTTPS channel (issue #7): the responder as an extra endpoint of the TAXII
// server, behind its authentication, and an HTTP(S) client transport for the requester.
//
//   POST /liaison/psi/v1   Content-Type: application/octet-stream   body: one PSI message
//
// answers 200 with the reply message, or a TAXII error message resource (TAXII 2.1 section
// 3.6.1) whose error_code is the canonical status name: 400 malformed, 403 no policy / mode /
// list / set size outside the policy, 404 unknown session, 409 replayed or reordered step, 429
// rate limit or cool-down (with Retry-After).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "psi/psi.h"
#include "taxii/server.h"

namespace liaison::psi {

inline constexpr std::string_view kPsiPathPrefix = "liaison";
inline constexpr std::string_view kPsiPath = "/liaison/psi/v1";

// The endpoint to add to taxii::ServerOptions::extra_endpoints. It keeps `responder` alive.
taxii::ExtraEndpoint MakePsiEndpoint(std::shared_ptr<Responder> responder);

struct HttpPeer {
  // "https://host:port" or "http://host:port", optionally with a path prefix.
  std::string url;
  // Basic credentials, or a Bearer token (token wins when both are set).
  std::string user;
  std::string password;
  std::string token;
  // PEM CA bundle that signs the peer's certificate; "" uses the system's trust store.
  std::string ca_file;
  // mTLS: the PEM client certificate (chain) and key presented to the peer; both or neither.
  std::string client_cert_file;
  std::string client_key_file;
  std::chrono::milliseconds timeout{120'000};  // per exchange
  // When set, every HTTP byte written and read (headers and bodies, before TLS) is added here,
  // so benchmarks can report the traffic per item.
  std::shared_ptr<std::atomic<uint64_t>> wire_bytes;
};

// A factory of transports to `peer`, one keep-alive connection each. InvalidArgument for a bad
// URL, NotFound for a missing CA file. Transport errors are Unavailable; the responder's
// refusals come back with their original status code and description.
Result<TransportFactory> MakeHttpTransportFactory(const HttpPeer& peer);

}  // namespace liaison::psi
