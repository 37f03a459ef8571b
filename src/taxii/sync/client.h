#pragma once

// A TAXII 2.1 client (OASIS TAXII Version 2.1, sections 4 and 5) over HTTP/1.1 or HTTPS with
// Boost.Beast: discovery, API root, collections, objects (GET with filters and pagination, POST
// of envelopes) and status. It talks to any TAXII 2.1 server, not only liaison.
//
// Transport: one keep-alive connection, reopened when the server closes it. TLS 1.2+ with the
// server certificate verified against `ca_file` (or the system store) and its host name; a client
// certificate for mTLS; HTTP Basic or Bearer authentication.
//
// Errors carry the method, URL and what went wrong. Unavailable (connection refused or reset,
// timeouts, 429, 5xx) is retried up to `max_attempts` with exponential back-off and full jitter;
// other failures are returned at once: InvalidArgument for 400, Unauthenticated for 401,
// PermissionDenied for 403, NotFound for 404, FailedPrecondition for other 4xx, DataLoss for a
// response that is not valid TAXII JSON.
//
// Threads: a client is used by one thread at a time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "core/timestamp.h"

namespace liaison::taxii::sync {

struct ClientOptions {
  // Credentials: a Bearer token, or a user and password for Basic, or neither.
  std::string token;
  std::string username;
  std::string password;
  // mTLS: the PEM client certificate (chain) and key presented to the server.
  std::string client_cert_file;
  std::string client_key_file;
  // PEM CA bundle that the server certificate must chain to; empty uses the system store.
  std::string ca_file;
  // Only for tests with self-signed certificates: skips verification of the server.
  bool insecure_skip_verify = false;

  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{60'000};  // write the request and read the response
  size_t max_response_bytes = size_t{256} << 20;

  // Retries of Unavailable failures: attempt n waits a random time in [0, min(max, initial*2^n)].
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
};

// A parsed URL: scheme://host[:port]/path.
struct Url {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string path;  // starts with '/'

  // InvalidArgument for anything but an absolute http or https URL.
  static Result<Url> Parse(std::string_view text);
  std::string Origin() const;  // "https://host:port"
};

// The objects GET filters (TAXII 2.1 section 3.4), sent as query parameters.
struct ObjectsQuery {
  std::optional<Timestamp> added_after;
  std::optional<size_t> limit;
  std::string next;
  std::vector<std::string> ids;
  std::vector<std::string> types;
  std::vector<std::string> versions;       // "all", "first", "last" or timestamps
  std::vector<std::string> spec_versions;  // empty: the server's default (latest)
};

// One page of an envelope (section 3.7). Object texts are kept verbatim.
struct ObjectsPage {
  std::vector<std::string> objects;
  bool more = false;
  std::string next;
  // X-TAXII-Date-Added-First/Last (section 5.4), when the server sent them.
  std::optional<Timestamp> date_added_first;
  std::optional<Timestamp> date_added_last;
  std::string server;  // the Server response header ("liaison" for a liaison peer)
};

// One manifest record (section 5.6.1).
struct ManifestRecord {
  std::string id;
  std::string version;
  Timestamp date_added;
};

struct ManifestPage {
  std::vector<ManifestRecord> objects;
  bool more = false;
  std::string next;
  std::optional<Timestamp> date_added_last;
};

// A status resource (section 4.3.1), as far as sync needs it.
struct StatusResult {
  struct Detail {
    std::string id;
    std::string version;
    std::string message;
  };
  std::string id;
  std::string status;  // "pending" or "complete"
  int64_t total_count = 0;
  int64_t success_count = 0;
  int64_t failure_count = 0;
  int64_t pending_count = 0;
  std::vector<Detail> successes;
  std::vector<Detail> failures;
  std::vector<Detail> pendings;
  // The X-Liaison-Receipt header of the POST response (a signed receipt), when present.
  std::string receipt;
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  virtual ~Client() = default;

  // GET <url> with the TAXII Accept header; the parsed JSON body.
  virtual Result<json::Value> GetJson(std::string_view url) = 0;
  // Discovery (section 4.1): GET <server>/taxii2/.
  Result<json::Value> Discovery(std::string_view server_url) {
    return GetJson(StrJoinUrl(server_url, "taxii2/"));
  }
  // The collections of an API root (section 5.1).
  Result<json::Value> Collections(std::string_view api_root_url) {
    return GetJson(StrJoinUrl(api_root_url, "collections/"));
  }

  // GET <collection_url>objects/ with `query`.
  virtual Result<ObjectsPage> GetObjects(std::string_view collection_url,
                                         const ObjectsQuery& query) = 0;
  // GET <collection_url>manifest/ with `query`.
  virtual Result<ManifestPage> GetManifest(std::string_view collection_url,
                                           const ObjectsQuery& query) = 0;
  // POST <collection_url>objects/ with `envelope` (a TAXII envelope). `extra_headers` are sent
  // as well (e.g. the sender's identity for receipts).
  virtual Result<StatusResult> AddObjects(
      std::string_view collection_url, std::string_view envelope,
      const std::vector<std::pair<std::string, std::string>>& extra_headers = {}) = 0;
  // GET <api_root_url>status/<id>/.
  virtual Result<StatusResult> GetStatus(std::string_view api_root_url, std::string_view id) = 0;

  // "a/b" + "c/" with exactly one slash between.
  static std::string StrJoinUrl(std::string_view base, std::string_view rest);
};

// Splits a collection URL ".../<api-root>/collections/<id>/" into the API root URL (with a final
// slash) and the collection id. InvalidArgument when it has no "/collections/<id>" tail.
Result<std::pair<std::string, std::string>> SplitCollectionUrl(std::string_view url);

}  // namespace liaison::taxii::sync
