#pragma once

// The TAXII 2.1 request handler, independent of the HTTP transport: routing, content
// negotiation, authentication, permissions, filters and the JSON resources. server.cc feeds it
// requests parsed by Beast; it could equally be driven directly.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "policy/partner_view.h"
#include "store/store.h"
#include "taxii/server.h"

namespace liaison::taxii::server {

inline constexpr std::string_view kTaxiiMediaType = "application/taxii+json;version=2.1";

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received
  std::string host;    // Host header ("" when absent)
  bool tls = false;
  bool has_accept = false;
  std::string accept;
  bool has_content_type = false;
  std::string content_type;
  std::string authorization;
  std::string remote_address;  // the peer's IP address, for throttling failed logins
  // Lower-case hex SHA-256 of the client certificate's DER, when the connection is mTLS and the
  // certificate was verified against `[tls] client_ca` ("" otherwise): the request may then be
  // authenticated as the partner that declared it (policy::PartnerSet::ForCertificate).
  std::string client_cert_sha256;
  std::string sender_key;  // X-Liaison-Sender-Key, a liaison peer's public key (sync)
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // "" for no body
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Answer only after this delay (failed-login throttling); the connection's thread is not held.
  std::chrono::milliseconds delay{0};
  // The authenticated user, for the access log ("" when none).
  std::string user;
};

// A TAXII error message resource (TAXII 2.1 section 3.6.1) with the TAXII media type.
HttpResponse ErrorResponse(int status, std::string_view title, std::string_view description);

class Handler {
 public:
  // `store` outlives the handler.
  Handler(store::Store& store, const ServerOptions& options);

  // Thread safe.
  HttpResponse Handle(const HttpRequest& request);

  struct Caller;
  struct Route;

 private:
  struct Throttle {
    size_t failures = 0;
    std::chrono::steady_clock::time_point last;
  };
  struct CachedLogin {
    std::string password_hash;  // the stored hash the login was verified against
    std::chrono::steady_clock::time_point expires;
  };

  // Returns the caller, or a 401 response.
  Result<Caller> Authenticate(const HttpRequest& request, HttpResponse& denied);
  std::chrono::milliseconds RecordFailure(const std::string& address);
  void RecordSuccess(const std::string& address);

  HttpResponse Dispatch(const HttpRequest& request, const Caller& caller, const Route& route);
  HttpResponse Discovery(const HttpRequest& request);
  HttpResponse ApiRootInfo(const ApiRootOptions& root);
  HttpResponse GetStatus(const Route& route, const Caller& caller);
  HttpResponse Collections(const Route& route, const Caller& caller);
  HttpResponse CollectionInfo(const Route& route, const Caller& caller);
  HttpResponse GetObjects(const HttpRequest& request, const Route& route, const Caller& caller);
  HttpResponse AddObjects(const HttpRequest& request, const Route& route, const Caller& caller);
  HttpResponse DeleteObject(const Route& route, const Caller& caller);
  // The collection `route` names and what `caller` may do on it. False with `error` set when the
  // request ends here: 404 for an absent collection or one the caller may neither read nor write
  // (TAXII 2.1 section 5.2), 503 when the store cannot answer.
  bool FindCollection(const Route& route, const Caller& caller,
                      std::optional<store::Collection>& collection,
                      std::optional<store::Permission>& permission, HttpResponse& error);

  store::Store& store_;
  const ServerOptions& options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Throttle> throttle_ ABSL_GUARDED_BY(mu_);
  // Keyed by a keyed BLAKE2b hash of "user:password" (the key is random per process), so the
  // cache never holds a password.
  absl::flat_hash_map<std::string, CachedLogin> logins_ ABSL_GUARDED_BY(mu_);
  unsigned char cache_key_[32];
  // Tells this handler's per-thread validators from those of an earlier handler (AddObjects).
  uint64_t generation_ = 0;
  // Partners' relationship-end visibility across requests (policy/partner_view.h).
  policy::VisibilityCache visibility_;
};

}  // namespace liaison::taxii::server
