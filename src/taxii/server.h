#pragma once

// The TAXII 2.1 server (OASIS TAXII Version 2.1, sections 4 and 5) over HTTP/1.1 or HTTPS, on a
// store::Store. docs/taxii.md describes the endpoints, authentication, limits and DELETE
// semantics.
//
// Threads: Start() returns once the listening socket is bound; requests are served by
// `options.threads` threads until Stop() or destruction. Store calls block the serving thread,
// so `threads` bounds the number of requests in flight.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "policy/partner.h"
#include "stix/validate.h"
#include "store/store.h"

namespace liaison::taxii {

// Told about each POST's objects before and after they are stored. Sync (docs/sync.md) uses it to
// answer a peer with a signed receipt (X-Liaison-Receipt), logged in the same commit as the
// objects it acknowledges, and to remember which peer sent which versions. Called on the
// server's threads, concurrently: thread safe.
class PostObserver {
 public:
  struct Incoming {
    std::string_view user;        // the authenticated caller
    std::string_view sender_key;  // its X-Liaison-Sender-Key header ("" when absent)
    std::string_view collection;
    std::string_view status_id;
    std::span<const stix::Object> objects;  // the valid objects, as passed to Store::Add
  };
  struct Prepared {
    // Audit entries stored with the objects (Store::AddWithAudit), with their chain function.
    std::vector<store::AuditRecord> audit;
    store::AuditChainFn chain;
    std::vector<std::pair<std::string, std::string>> headers;  // added to the 202 response
    std::function<void()> after_add;  // run once the objects are durable (may be empty)
  };
  virtual ~PostObserver() = default;
  // Before the objects are stored (only when some are valid); nothing of it is used if the
  // store fails.
  virtual Prepared BeforeAdd(const Incoming& incoming) = 0;
  // After they are durable.
  virtual void OnObjectsAdded(const Incoming& incoming, const store::AddResult& result) = 0;
};

// One API root (TAXII 2.1 section 4.2). `name` is its URL path segment: "/<name>/".
struct ApiRootOptions {
  std::string name;
  std::string title;
  std::string description;
  // The largest request body this root accepts (its API root resource advertises it); 0 means
  // ServerOptions::max_content_length.
  size_t max_content_length = 0;
};

// One served request, for the access log. Views are valid only during the callback.
struct RequestLogEntry {
  std::string_view method;
  std::string_view target;          // path and query as received
  std::string_view user;            // "" when the request was not authenticated
  std::string_view remote_address;  // the peer's IP address
  int status = 0;
  size_t bytes = 0;                       // response body bytes (0 for HEAD)
  std::chrono::microseconds duration{0};  // from the end of the header to the end of the write
};

// liaison's own endpoints beside TAXII (issue #7: private set intersection). A request whose
// first path segment is `prefix` is authenticated exactly like a TAXII request and then handed
// to `handle`, which owns the rest of the path and the media types. `handle` is called from the
// serving threads concurrently and must be thread safe.
struct ExtraRequest {
  std::string_view method;
  std::vector<std::string> path;  // decoded segments after the prefix
  std::string_view content_type;
  std::string_view body;
  std::string user;                 // the authenticated user
  std::vector<std::string> groups;  // its groups (partners)
  bool is_admin = false;
};
struct ExtraResponse {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
struct ExtraEndpoint {
  std::string prefix;
  std::function<ExtraResponse(const ExtraRequest&)> handle;
};

struct ServerOptions {
  // Where to listen. Port 0 picks a free port (see Server::port()).
  std::string address = "127.0.0.1";
  uint16_t port = 6543;
  size_t threads = 4;
  // Requests that write (POST and DELETE) are handled on a pool of this many threads of their
  // own, not on the serving thread that read them: a write waits for its commit's fsync, and a
  // serving thread blocked there would hold up every other connection bound to it (reads
  // included). The pool bounds how many writes are in the store at once, and so how many
  // group-commit together. 0: writes are handled on the serving threads like reads.
  size_t write_threads = 16;

  // TLS: PEM certificate chain and private key. Both empty means plain HTTP, which is refused on
  // any address but loopback unless `insecure` is set.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool insecure = false;

  // Discovery (TAXII 2.1 section 4.1).
  std::string title = "liaison";
  std::string description = "liaison TAXII 2.1 server";
  std::string contact;
  // The API roots served; the first is the default. Collections name theirs in
  // store::Collection::api_root.
  std::vector<ApiRootOptions> api_roots = {{"api", "liaison", "default API root"}};

  // Limits. max_content_length is advertised in every API root and enforced with 413 before
  // the body is read.
  size_t max_content_length = size_t{10} << 20;
  size_t max_header_bytes = size_t{16} << 10;
  size_t max_connections = 512;
  std::chrono::milliseconds request_timeout{30'000};  // to receive one whole request
  std::chrono::milliseconds idle_timeout{60'000};     // between keep-alive requests

  // Authentication: after `free_auth_failures` failures from one client address, each further
  // failed attempt is answered only after a delay that doubles up to `max_auth_delay`.
  size_t free_auth_failures = 5;
  std::chrono::milliseconds base_auth_delay{250};
  std::chrono::milliseconds max_auth_delay{8'000};
  // How long a successful Basic login is remembered, so that Argon2id runs once per client and
  // not once per request.
  std::chrono::seconds credential_cache_ttl{300};

  // Checks the pattern of every posted indicator with pattern_type "stix" (stix/validate.h);
  // an indicator whose pattern it refuses is a failure in the status. `liaison serve` passes
  // the pattern module's parser and checker; unset, patterns are not checked.
  stix::PatternChecker check_stix_pattern;

  // Called once per answered request from a serving thread (concurrently from several); must
  // be thread safe and quick. Unset: no access log.
  std::function<void(const RequestLogEntry&)> request_log;
  // Partners (issue #6, docs/policy.md): a user acting for a partner sees the object endpoints
  // through that partner's release policy, and every release is appended to the release log.
  // Null or empty: no partners, everyone sees what their permissions allow.
  std::shared_ptr<const policy::PartnerSet> partners;
  // mTLS: when set, clients must present a certificate that chains to this PEM CA bundle (the
  // handshake fails otherwise). Authentication is still by token or password.
  std::string tls_client_ca_file;
  // Sync's hook on stored POSTs (see PostObserver); may be null.
  std::shared_ptr<PostObserver> post_observer;
  // Non-TAXII endpoints behind the same authentication (see ExtraEndpoint).
  std::vector<ExtraEndpoint> extra_endpoints;
};

// The max_content_length that applies to a request target: its API root's (the first path
// segment), else the server's.
size_t MaxContentLengthFor(const ServerOptions& options, std::string_view target);

class Server {
 public:
  // Binds and starts serving. `store` must outlive the server. Errors: InvalidArgument for bad
  // options, FailedPrecondition for plain HTTP on a non-loopback address without `insecure`,
  // Unavailable when the address cannot be bound, NotFound/InvalidArgument for TLS files.
  static Result<std::unique_ptr<Server>> Start(store::Store& store, ServerOptions options);

  virtual ~Server() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and joins the serving threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace liaison::taxii
