#include "taxii/server/handler.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "policy/partner_view.h"
#include "policy/release_log.h"
#include "stix/object.h"
#include "stix/parse.h"
#include "stix/serialize.h"
#include "stix/validate.h"
#include "store/filter.h"
#include "taxii/auth.h"

namespace liaison::taxii::server {

struct Handler::Caller {
  std::string user;
  bool is_admin = false;
  std::vector<std::string> groups;  // decides the partner the user acts for (docs/policy.md)
};

struct Handler::Route {
  enum class Kind {
    kHealth,
    kDiscovery,
    kApiRoot,
    kStatus,
    kCollections,
    kCollection,
    kObjects,
    kObject,
    kVersions,
    kManifest,
    kNotFound,
  };
  Kind kind = Kind::kNotFound;
  const ApiRootOptions* root = nullptr;
  std::string status_id;
  std::string collection_id;
  std::string object_id;
  std::vector<std::pair<std::string, std::string>> query;
};

namespace {

using Kind = Handler::Route::Kind;
constexpr std::string_view kJsonMediaType = "application/json";

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(s, out);
  return out;
}

HttpResponse JsonResponse(int status, const json::Value& value) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::string(kTaxiiMediaType);
  r.body = json::Serialize(value);
  return r;
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse StoreError(const absl::Status& status) {
  const int code = HttpStatusOf(status);
  if (code == 500) {
    // Internal details stay in the server's log, not in the response.
    return ErrorResponse(500, "Internal error", "the server failed to process the request");
  }
  std::string_view title = code == 400   ? "Bad request"
                           : code == 404 ? "Not found"
                           : code == 503 ? "Service unavailable"
                                         : "Request failed";
  return ErrorResponse(code, title, ToStd(status.message()));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding. '+' is kept as is: TAXII filter values never contain spaces, while a
// timestamp offset such as "+01:00" sent unencoded must survive.
Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return absl::InvalidArgumentError("malformed percent-encoding");
    const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("malformed percent-encoding");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Splits the target into path segments (decoded) and query parameters. The trailing slash that
// every TAXII URL ends with is optional here.
Status ParseTarget(std::string_view target, std::vector<std::string>& segments,
                   std::vector<std::pair<std::string, std::string>>& query) {
  std::string_view path = target, query_text;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query_text = target.substr(q + 1);
  }
  if (path.empty() || path[0] != '/') return absl::InvalidArgumentError("bad request target");
  for (absl::string_view piece : absl::StrSplit(ToAbsl(path.substr(1)), '/')) {
    if (piece.empty()) continue;
    LIAISON_ASSIGN_OR_RETURN(std::string segment, PercentDecode(ToStd(piece)));
    segments.push_back(std::move(segment));
  }
  if (!query_text.empty()) {
    for (absl::string_view pair : absl::StrSplit(ToAbsl(query_text), '&')) {
      if (pair.empty()) continue;
      std::string_view p = ToStd(pair);
      size_t eq = p.find('=');
      std::string_view key = p.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : p.substr(eq + 1);
      LIAISON_ASSIGN_OR_RETURN(std::string k, PercentDecode(key));
      LIAISON_ASSIGN_OR_RETURN(std::string v, PercentDecode(value));
      query.emplace_back(std::move(k), std::move(v));
    }
  }
  return absl::OkStatus();
}

// TAXII 2.1 section 1.6.8 "Content Negotiation": a client asks for
// "application/taxii+json;version=2.1"; a media range without a version means the latest
// version this server supports. Wildcards are accepted as well.
bool AcceptsTaxii(std::string_view accept) {
  for (absl::string_view range_text : absl::StrSplit(ToAbsl(accept), ',')) {
    std::vector<std::string> parts = absl::StrSplit(range_text, ';');
    if (parts.empty()) continue;
    std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
    std::string version;
    bool refused = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string param(absl::StripAsciiWhitespace(parts[i]));
      size_t eq = param.find('=');
      if (eq == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(param.substr(0, eq)));
      std::string value(absl::StripAsciiWhitespace(param.substr(eq + 1)));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (name == "version") version = value;
      if (name == "q") {
        double q = 1;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
        if (ec == std::errc() && q <= 0) refused = true;
      }
    }
    if (refused) continue;
    if (type == "*/*" || type == "application/*") return true;
    if (type == "application/taxii+json" && (version.empty() || version == "2.1")) return true;
  }
  return false;
}

// Content-Type of a POST: the TAXII media type, with version 2.1 or none.
bool IsTaxiiContentType(std::string_view content_type) {
  std::vector<std::string> parts = absl::StrSplit(ToAbsl(content_type), ';');
  if (parts.empty()) return false;
  if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0])) != "application/taxii+json") {
    return false;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string param(absl::StripAsciiWhitespace(parts[i]));
    size_t eq = param.find('=');
    if (eq == std::string::npos) continue;
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(param.substr(0, eq)));
    std::string value(absl::StripAsciiWhitespace(param.substr(eq + 1)));
    if (name == "version" && value != "2.1" && value != "\"2.1\"") return false;
  }
  return true;
}

// Which query parameters an endpoint takes (TAXII 2.1 section 3.5 and each endpoint's table).
enum FilterParam : unsigned {
  kAddedAfter = 1,
  kLimit = 2,
  kNext = 4,
  kMatchId = 8,
  kMatchType = 16,
  kMatchVersion = 32,
  kMatchSpecVersion = 64,
};

Status AppendList(std::string_view param, std::string_view value, std::vector<std::string>& out) {
  for (absl::string_view item : absl::StrSplit(ToAbsl(value), ',')) {
    std::string_view v = ToStd(absl::StripAsciiWhitespace(item));
    if (v.empty()) return absl::InvalidArgumentError(StrCat(param, ": empty value"));
    out.emplace_back(v);
  }
  return absl::OkStatus();
}

Status AppendVersions(std::string_view value, std::vector<store::VersionMatch>& out) {
  for (absl::string_view item : absl::StrSplit(ToAbsl(value), ',')) {
    std::string_view v = ToStd(absl::StripAsciiWhitespace(item));
    if (v == "last") {
      out.push_back(store::VersionMatch::Last());
    } else if (v == "first") {
      out.push_back(store::VersionMatch::First());
    } else if (v == "all") {
      out.push_back(store::VersionMatch::All());
    } else {
      auto t = Timestamp::ParseRfc3339(v);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            StrCat("match[version]: expected last, first, all or a timestamp, got \"", v, "\""));
      }
      out.push_back(store::VersionMatch::At(*t));
    }
    if (out.size() > store::kMaxFilterValues) {
      return absl::InvalidArgumentError("match[version]: too many values");
    }
  }
  return absl::OkStatus();
}

// Maps the query onto a store filter. Parameters the endpoint does not take, and unknown ones,
// are ignored (section 3.5: a server may ignore filters it does not support).
Status ParseFilter(const std::vector<std::pair<std::string, std::string>>& query, unsigned allowed,
                   store::Filter& filter) {
  for (const auto& [key, value] : query) {
    if (key == "added_after" && (allowed & kAddedAfter)) {
      auto t = Timestamp::ParseRfc3339(value);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            StrCat("added_after: not an RFC 3339 timestamp: \"", value, "\""));
      }
      filter.added_after = *t;
    } else if (key == "limit" && (allowed & kLimit)) {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ptr != value.data() + value.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        return absl::InvalidArgumentError(
            StrCat("limit: expected a positive integer, got \"", value, "\""));
      }
      if (ec == std::errc::result_out_of_range) n = UINT64_MAX;
      if (n == 0) return absl::InvalidArgumentError("limit: must be at least 1");
      filter.limit = static_cast<size_t>(std::min<uint64_t>(n, SIZE_MAX));
    } else if (key == "next" && (allowed & kNext)) {
      filter.next = value;
    } else if (key == "match[id]" && (allowed & kMatchId)) {
      LIAISON_RETURN_IF_ERROR(AppendList(key, value, filter.ids));
    } else if (key == "match[type]" && (allowed & kMatchType)) {
      LIAISON_RETURN_IF_ERROR(AppendList(key, value, filter.types));
    } else if (key == "match[version]" && (allowed & kMatchVersion)) {
      LIAISON_RETURN_IF_ERROR(AppendVersions(value, filter.versions));
    } else if (key == "match[spec_version]" && (allowed & kMatchSpecVersion)) {
      LIAISON_RETURN_IF_ERROR(AppendList(key, value, filter.spec_versions));
    }
  }
  return store::ValidateFilter(filter);
}

std::string FormatDateAdded(Timestamp t) { return t.ToString(6); }

// X-TAXII-Date-Added-First/Last (TAXII 2.1 sections 5.4, 5.5, 5.6, 5.8) go on every 200
// response of these endpoints. An empty page has no first or last object; it gets the position
// the client is at (the cursor's, else added_after, else the epoch), so a client that polls
// with added_after = the last header value neither misses nor repeats anything.
void AddDateHeaders(const store::Page& page, const store::Filter& filter, HttpResponse& r) {
  Timestamp first, last;
  if (page.date_added_first && page.date_added_last) {
    first = *page.date_added_first;
    last = *page.date_added_last;
  } else {
    Timestamp at;
    if (!filter.next.empty()) {
      if (auto cursor = store::DecodeCursor(filter.next); cursor.ok()) at = cursor->date_added;
    } else if (filter.added_after) {
      at = *filter.added_after;
    }
    first = last = at;
  }
  r.headers.emplace_back("X-TAXII-Date-Added-First", FormatDateAdded(first));
  r.headers.emplace_back("X-TAXII-Date-Added-Last", FormatDateAdded(last));
}

std::string VersionString(const store::ObjectRecord& record) {
  // Section 3.3.1 "version": an object without modified or created is identified by its
  // date_added, as in the manifest.
  return record.version ? record.version->ToString() : FormatDateAdded(record.date_added);
}

// Section 4.3.1 status resource, written directly as text (a POST of 100 objects answers with
// 100 details; building a json::Value tree first cost ~3 % of the POST).
HttpResponse StatusResponse(int status, const store::StatusResource& s) {
  std::string o = R"({"id":)";
  o.reserve(192 + 112 * (s.successes.size() + s.failures.size() + s.pendings.size()));
  json::AppendQuoted(s.id, o);
  o += R"(,"status":)";
  json::AppendQuoted(s.status, o);
  o += R"(,"request_timestamp":)";
  json::AppendQuoted(s.request_timestamp.ToString(6), o);
  StrAppend(&o, R"(,"total_count":)", s.total_count, R"(,"success_count":)", s.success_count,
            R"(,"failure_count":)", s.failure_count, R"(,"pending_count":)", s.pending_count);
  auto details = [&](std::string_view name, const std::vector<store::StatusDetail>& list) {
    if (list.empty()) return;  // section 4.3.1: the lists, when present, are not empty
    StrAppend(&o, ",\"", name, "\":[");
    for (size_t i = 0; i < list.size(); ++i) {
      const store::StatusDetail& d = list[i];
      o += i == 0 ? R"({"id":)" : R"(,{"id":)";
      json::AppendQuoted(d.id, o);
      o += R"(,"version":)";
      json::AppendQuoted(d.version, o);
      if (!d.message.empty()) {
        o += R"(,"message":)";
        json::AppendQuoted(d.message, o);
      }
      o += '}';
    }
    o += ']';
  };
  details("successes", s.successes);
  details("failures", s.failures);
  details("pendings", s.pendings);
  o += '}';
  HttpResponse r;
  r.status = status;
  r.content_type = std::string(kTaxiiMediaType);
  r.body = std::move(o);
  return r;
}

// Parses "Basic <base64(user:password)>".
bool DecodeBasic(std::string_view credentials, std::string& user, std::string& password) {
  std::string decoded(credentials.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                        credentials.data(), credentials.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  decoded.resize(len);
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  user = decoded.substr(0, colon);
  password = decoded.substr(colon + 1);
  sodium_memzero(decoded.data(), decoded.size());
  return true;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         absl::EqualsIgnoreCase(ToAbsl(s.substr(0, prefix.size())), ToAbsl(prefix));
}

}  // namespace

HttpResponse ErrorResponse(int status, std::string_view title, std::string_view description) {
  json::Object o{{"title", std::string(title)}};
  if (!description.empty()) o.emplace_back("description", std::string(description));
  o.emplace_back("http_status", std::to_string(status));
  return JsonResponse(status, o);
}

Handler::Handler(store::Store& store, const ServerOptions& options)
    : store_(store), options_(options) {
  static std::atomic<uint64_t> generations{0};
  generation_ = ++generations;
  if (sodium_init() < 0) std::abort();  // cannot authenticate anyone without it
  randombytes_buf(cache_key_, sizeof cache_key_);
}

std::chrono::milliseconds Handler::RecordFailure(const std::string& address) {
  const auto now = std::chrono::steady_clock::now();
  absl::MutexLock lock(&mu_);
  // Bounded memory under a flood of addresses: forgetting counts only makes throttling lenient.
  if (throttle_.size() > 100'000) throttle_.clear();
  Throttle& t = throttle_[address];
  if (now - t.last > std::chrono::minutes(15)) t.failures = 0;
  t.last = now;
  ++t.failures;
  if (t.failures <= options_.free_auth_failures) return std::chrono::milliseconds(0);
  const size_t excess = std::min<size_t>(t.failures - options_.free_auth_failures - 1, 20);
  auto delay = options_.base_auth_delay * (int64_t{1} << excess);
  return std::min(delay, options_.max_auth_delay);
}

void Handler::RecordSuccess(const std::string& address) {
  absl::MutexLock lock(&mu_);
  throttle_.erase(address);
}

Result<Handler::Caller> Handler::Authenticate(const HttpRequest& request, HttpResponse& denied) {
  auto deny = [&](std::string_view why) -> Status {
    denied = ErrorResponse(401, "Unauthorized", why);
    // RFC 7235 section 4.1: a 401 names the schemes the server accepts.
    denied.headers.emplace_back("WWW-Authenticate", "Basic realm=\"liaison\", charset=\"UTF-8\"");
    denied.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"liaison\"");
    if (!request.authorization.empty()) denied.delay = RecordFailure(request.remote_address);
    return absl::UnauthenticatedError(ToAbsl(why));
  };
  // A store that cannot answer is our failure, not the client's: 503, and no failure counted.
  auto unavailable = [&](const Status& st) -> Status {
    denied = ErrorResponse(503, "Service unavailable", "credentials cannot be checked now");
    return st;
  };
  std::string_view auth = request.authorization;
  if (auth.empty() && !request.client_cert_sha256.empty() && options_.partners) {
    // A partner server over mTLS: the TLS handshake proved the key of a certificate our CA
    // signed, and the partner's configuration names that certificate (docs/policy.md).
    if (const policy::Partner* p = options_.partners->ForCertificate(request.client_cert_sha256)) {
      auto user = store_.GetUser(p->client_cert_user);
      if (!user.ok() && !absl::IsNotFound(user.status())) return unavailable(user.status());
      // An admin is never a partner's principal: the certificate would bypass the policy.
      if (!user.ok() || user->is_admin) {
        return deny("the client certificate's user does not exist or may not act for a partner");
      }
      return Caller{user->name, user->is_admin, user->groups};
    }
  }
  if (auth.empty()) return deny("authentication is required");

  if (StartsWithNoCase(auth, "Bearer ")) {
    std::string_view token = ToStd(absl::StripAsciiWhitespace(ToAbsl(auth.substr(7))));
    const std::string hash = HashApiToken(token);
    auto found = store_.FindToken(hash);
    if (!found.ok() && !absl::IsNotFound(found.status())) return unavailable(found.status());
    if (!found.ok() || !ConstantTimeEquals(found->token_hash, hash)) {
      return deny("invalid credentials");
    }
    if (found->expires && *found->expires < Timestamp::Now()) return deny("the token has expired");
    auto user = store_.GetUser(found->user);
    if (!user.ok() && !absl::IsNotFound(user.status())) return unavailable(user.status());
    if (!user.ok()) return deny("invalid credentials");
    RecordSuccess(request.remote_address);
    return Caller{user->name, user->is_admin, user->groups};
  }
  if (StartsWithNoCase(auth, "Basic ")) {
    std::string name, password;
    if (!DecodeBasic(ToStd(absl::StripAsciiWhitespace(ToAbsl(auth.substr(6)))), name, password)) {
      return deny("malformed Basic credentials");
    }
    auto user = store_.GetUser(name);
    if (!user.ok() && !absl::IsNotFound(user.status())) return unavailable(user.status());
    if (!user.ok()) {
      // Verify against a dummy hash anyway, so that the response time does not tell whether
      // the user exists; the failure throttle bounds what such probes cost us.
      static const std::string dummy = HashPassword("liaison-dummy").value_or("");
      VerifyPassword(password, dummy);
      sodium_memzero(password.data(), password.size());
      return deny("invalid credentials");
    }
    unsigned char key[crypto_generichash_BYTES];
    std::string material = StrCat(name, std::string_view("\0", 1), password);
    crypto_generichash(key, sizeof key, reinterpret_cast<const unsigned char*>(material.data()),
                       material.size(), cache_key_, sizeof cache_key_);
    sodium_memzero(material.data(), material.size());  // it holds the password
    const std::string cache_key(reinterpret_cast<const char*>(key), sizeof key);
    const auto now = std::chrono::steady_clock::now();
    bool cached = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = logins_.find(cache_key);
      cached = it != logins_.end() && it->second.expires > now &&
               it->second.password_hash == user->password_hash;
    }
    if (!cached) {
      const bool ok = VerifyPassword(password, user->password_hash);
      sodium_memzero(password.data(), password.size());
      if (!ok) return deny("invalid credentials");
      absl::MutexLock lock(&mu_);
      if (logins_.size() > 10'000) logins_.clear();
      logins_[cache_key] = {user->password_hash, now + options_.credential_cache_ttl};
    }
    sodium_memzero(password.data(), password.size());
    RecordSuccess(request.remote_address);
    return Caller{user->name, user->is_admin, user->groups};
  }
  return deny("unsupported authentication scheme (use Basic or Bearer)");
}

HttpResponse Handler::Handle(const HttpRequest& request) {
  Route route;
  std::vector<std::string> seg;
  if (Status st = ParseTarget(request.target, seg, route.query); !st.ok()) {
    return ErrorResponse(400, "Bad request", ToStd(st.message()));
  }
  if (seg.size() == 1 && seg[0] == "health") {
    HttpResponse r;
    r.content_type = std::string(kJsonMediaType);
    r.body = R"({"status":"ok"})";
    return r;
  }

  // A GET's reads (credentials, collection, permissions, page) share one snapshot: one read
  // transaction per request instead of one per read. Only for GET and HEAD, which write
  // nothing that a later read of theirs must see (a partner's release log entry is written
  // last).
  std::unique_ptr<store::Store::ReadScope> pinned;
  if (request.method == "GET" || request.method == "HEAD") pinned = store_.PinReads();

  HttpResponse denied;
  auto caller = Authenticate(request, denied);
  if (!caller.ok()) return denied;
  // A certificate a partner declared is that partner's: credentials of a user acting for
  // another partner (or for none) are refused over it, so a token stolen from one partner
  // cannot be replayed over another partner's mTLS connection. Admins are the operator's own.
  if (!request.client_cert_sha256.empty() && options_.partners && !caller->is_admin) {
    const policy::Partner* declared = options_.partners->ForCertificate(request.client_cert_sha256);
    store::User who;
    who.name = caller->user;
    who.groups = caller->groups;
    if (declared != nullptr && options_.partners->ForUser(who) != declared) {
      HttpResponse r =
          ErrorResponse(401, "Unauthorized", "the client certificate belongs to another partner");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"liaison\"");
      return r;
    }
  }
  // Every answer after a successful login names the user in the access log, refusals included.
  auto as_caller = [&](HttpResponse r) {
    r.user = caller->user;
    return r;
  };

  // --- liaison's own endpoints (issue #7, PSI): same authentication, their own media types.
  for (const ExtraEndpoint& extra : options_.extra_endpoints) {
    if (seg.empty() || seg[0] != extra.prefix) continue;
    ExtraRequest x;
    x.method = request.method;
    x.path.assign(seg.begin() + 1, seg.end());
    x.content_type = request.content_type;
    x.body = request.body;
    x.user = caller->user;
    x.is_admin = caller->is_admin;
    if (auto user = store_.GetUser(caller->user); user.ok()) x.groups = user->groups;
    ExtraResponse out = extra.handle(x);
    HttpResponse r;
    r.status = out.status;
    r.content_type = std::move(out.content_type);
    r.headers = std::move(out.headers);
    r.body = std::move(out.body);
    return as_caller(std::move(r));
  }
  // --- end of liaison's own endpoints.

  // Routing (TAXII 2.1 section 1.6.4 lists the endpoints).
  if (seg.size() == 1 && seg[0] == "taxii2") {
    route.kind = Kind::kDiscovery;
  } else if (!seg.empty()) {
    for (const ApiRootOptions& root : options_.api_roots) {
      if (root.name == seg[0]) route.root = &root;
    }
    if (route.root != nullptr) {
      const size_t n = seg.size();
      if (n == 1) {
        route.kind = Kind::kApiRoot;
      } else if (n == 3 && seg[1] == "status") {
        route.kind = Kind::kStatus;
        route.status_id = seg[2];
      } else if (seg[1] == "collections") {
        if (n >= 3) route.collection_id = seg[2];
        if (n >= 5) route.object_id = seg[4];
        if (n == 2) {
          route.kind = Kind::kCollections;
        } else if (n == 3) {
          route.kind = Kind::kCollection;
        } else if (n == 4 && seg[3] == "objects") {
          route.kind = Kind::kObjects;
        } else if (n == 4 && seg[3] == "manifest") {
          route.kind = Kind::kManifest;
        } else if (n == 5 && seg[3] == "objects") {
          route.kind = Kind::kObject;
        } else if (n == 6 && seg[3] == "objects" && seg[5] == "versions") {
          route.kind = Kind::kVersions;
        }
      }
    }
  }
  if (route.kind == Kind::kNotFound) {
    return as_caller(ErrorResponse(404, "Not found", "no such TAXII endpoint"));
  }

  std::string_view allow = "GET, HEAD";
  if (route.kind == Kind::kObjects) allow = "GET, HEAD, POST";
  if (route.kind == Kind::kObject) allow = "GET, HEAD, DELETE";
  const bool method_ok = request.method == "GET" || request.method == "HEAD" ||
                         (request.method == "POST" && route.kind == Kind::kObjects) ||
                         (request.method == "DELETE" && route.kind == Kind::kObject);
  if (!method_ok) {
    HttpResponse r = ErrorResponse(405, "Method not allowed",
                                   StrCat(request.method, " is not allowed on this endpoint"));
    r.headers.emplace_back("Allow", std::string(allow));
    return as_caller(std::move(r));
  }
  if (request.has_accept && !AcceptsTaxii(request.accept)) {
    return as_caller(ErrorResponse(406, "Not acceptable",
                                   StrCat("this server answers only with ", kTaxiiMediaType)));
  }
  return as_caller(Dispatch(request, *caller, route));
}

HttpResponse Handler::Dispatch(const HttpRequest& request, const Caller& caller,
                               const Route& route) {
  switch (route.kind) {
    case Kind::kDiscovery:
      return Discovery(request);
    case Kind::kApiRoot:
      return ApiRootInfo(*route.root);
    case Kind::kStatus:
      return GetStatus(route, caller);
    case Kind::kCollections:
      return Collections(route, caller);
    case Kind::kCollection:
      return CollectionInfo(route, caller);
    case Kind::kObjects:
      if (request.method == "POST") return AddObjects(request, route, caller);
      return GetObjects(request, route, caller);
    case Kind::kObject:
      if (request.method == "DELETE") return DeleteObject(route, caller);
      return GetObjects(request, route, caller);
    case Kind::kVersions:
    case Kind::kManifest:
      return GetObjects(request, route, caller);
    default:
      return ErrorResponse(404, "Not found", "no such TAXII endpoint");
  }
}

HttpResponse Handler::Discovery(const HttpRequest& request) {
  // Section 4.1.1: api_roots and default are URLs. With a Host header they are absolute; without
  // one, absolute paths.
  std::string base;
  if (!request.host.empty()) base = StrCat(request.tls ? "https://" : "http://", request.host);
  json::Array roots;
  for (const ApiRootOptions& root : options_.api_roots) {
    roots.push_back(StrCat(base, "/", root.name, "/"));
  }
  json::Object o{{"title", options_.title}};
  if (!options_.description.empty()) o.emplace_back("description", options_.description);
  if (!options_.contact.empty()) o.emplace_back("contact", options_.contact);
  if (!roots.empty()) {
    o.emplace_back("default", roots.front());
    o.emplace_back("api_roots", std::move(roots));
  }
  return JsonResponse(200, o);
}

HttpResponse Handler::ApiRootInfo(const ApiRootOptions& root) {
  json::Object o{{"title", root.title.empty() ? root.name : root.title}};
  if (!root.description.empty()) o.emplace_back("description", root.description);
  o.emplace_back("versions", json::Array{std::string(kTaxiiMediaType)});
  o.emplace_back("max_content_length",
                 static_cast<int64_t>(root.max_content_length > 0 ? root.max_content_length
                                                                  : options_.max_content_length));
  return JsonResponse(200, o);
}

HttpResponse Handler::GetStatus(const Route& route, const Caller& caller) {
  (void)caller;  // any authenticated user may read a status: its id is an unguessable UUIDv4
  auto status = store_.GetStatus(route.status_id);
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return ErrorResponse(404, "Not found", "no such status resource");
    }
    return StoreError(status.status());
  }
  if (status->api_root != route.root->name) {
    return ErrorResponse(404, "Not found", "no such status resource");
  }
  return StatusResponse(200, *status);
}

namespace {

json::Value CollectionJson(const store::Collection& c, const store::Permission& p) {
  json::Object o{{"id", c.id}, {"title", c.title.empty() ? c.id : c.title}};
  if (!c.description.empty()) o.emplace_back("description", c.description);
  if (!c.alias.empty()) o.emplace_back("alias", c.alias);
  o.emplace_back("can_read", p.can_read);
  o.emplace_back("can_write", p.can_write);
  json::Array media;
  for (const std::string& m : c.media_types) media.push_back(m);
  if (media.empty()) media.push_back("application/stix+json;version=2.1");
  o.emplace_back("media_types", std::move(media));
  return o;
}

}  // namespace

// What the caller may do on a collection: admins everything, others their grants. A collection
// the caller may neither read nor write is reported as absent (section 5.2: 404 when the
// collection is not found "or the client does not have access").
static Result<store::Permission> PermissionOn(store::Store& store, std::string_view user,
                                              bool is_admin, std::string_view collection) {
  if (is_admin) return store::Permission{true, true};
  return store.EffectivePermission(collection, user);
}

HttpResponse Handler::Collections(const Route& route, const Caller& caller) {
  auto all = store_.ListCollections();
  if (!all.ok()) return StoreError(all.status());
  json::Array list;
  for (const store::Collection& c : *all) {
    if (c.api_root != route.root->name) continue;
    auto p = PermissionOn(store_, caller.user, caller.is_admin, c.id);
    if (!p.ok() || (!p->can_read && !p->can_write)) continue;
    list.push_back(CollectionJson(c, *p));
  }
  json::Object o;
  if (!list.empty()) o.emplace_back("collections", std::move(list));
  return JsonResponse(200, o);
}

bool Handler::FindCollection(const Route& route, const Caller& caller,
                             std::optional<store::Collection>& collection,
                             std::optional<store::Permission>& permission, HttpResponse& error) {
  auto c = store_.GetCollection(route.collection_id);
  if (!c.ok() && !absl::IsNotFound(c.status())) {
    error = StoreError(c.status());
    return false;
  }
  if (!c.ok() || c->api_root != route.root->name) {
    error = ErrorResponse(404, "Not found", "no such collection");
    return false;
  }
  auto p = PermissionOn(store_, caller.user, caller.is_admin, c->id);
  if (!p.ok() && !absl::IsNotFound(p.status())) {
    error = StoreError(p.status());
    return false;
  }
  if (!p.ok() || (!p->can_read && !p->can_write)) {
    error = ErrorResponse(404, "Not found", "no such collection");
    return false;
  }
  collection = *std::move(c);
  permission = *p;
  return true;
}

HttpResponse Handler::CollectionInfo(const Route& route, const Caller& caller) {
  std::optional<store::Collection> c;
  std::optional<store::Permission> p;
  HttpResponse error;
  if (!FindCollection(route, caller, c, p, error)) return error;
  return JsonResponse(200, CollectionJson(*c, *p));
}

HttpResponse Handler::GetObjects(const HttpRequest& request, const Route& route,
                                 const Caller& caller) {
  std::optional<store::Collection> c;
  std::optional<store::Permission> p;
  if (HttpResponse error; !FindCollection(route, caller, c, p, error)) return error;
  if (!p->can_read) {
    return ErrorResponse(403, "Forbidden", "no read access to this collection");
  }

  unsigned allowed = 0;
  switch (route.kind) {
    case Kind::kObjects:
    case Kind::kManifest:
      allowed =
          kAddedAfter | kLimit | kNext | kMatchId | kMatchType | kMatchVersion | kMatchSpecVersion;
      break;
    case Kind::kObject:
      allowed = kAddedAfter | kLimit | kNext | kMatchVersion | kMatchSpecVersion;
      break;
    default:  // versions
      allowed = kAddedAfter | kLimit | kNext | kMatchSpecVersion;
      break;
  }
  store::Filter filter;
  if (Status st = ParseFilter(route.query, allowed, filter); !st.ok()) {
    return ErrorResponse(400, "Bad request", ToStd(st.message()));
  }

  // A user acting for a partner sees the collection through the partner's release policy,
  // applied inside the paging loop (policy/partner_view.h); admins and users of no partner see
  // everything their permissions allow.
  const policy::Partner* partner = nullptr;
  if (options_.partners && !caller.is_admin) {
    store::User who;
    who.name = caller.user;
    who.groups = caller.groups;
    partner = options_.partners->ForUser(who);
  }
  Result<store::Page> page = absl::UnknownError("");
  policy::ReleaseDetails released;
  bool streaming = false;
  std::string streamed;  // with `streaming`: "[text,text,..." of the objects, as they came
  if (partner != nullptr) {
    const policy::Endpoint endpoint = route.kind == Kind::kObjects    ? policy::Endpoint::kObjects
                                      : route.kind == Kind::kObject   ? policy::Endpoint::kObject
                                      : route.kind == Kind::kManifest ? policy::Endpoint::kManifest
                                                                      : policy::Endpoint::kVersions;
    policy::PartnerView view(store_, c->id, *partner);
    // Read before the view's first query, so cached answers are never older than the stamp.
    if (auto stamp = store_.ObjectsStamp(c->id); stamp.ok()) {
      view.UseCache(visibility_, std::move(*stamp));
    }
    page = view.Query(endpoint, route.object_id, filter, &released);
  } else {
    switch (route.kind) {
      case Kind::kObjects:
        // The envelope is written as the store hands over each text (below).
        page = store_.QueryEach(c->id, filter, [&](std::string_view json) {
          if (streamed.empty()) streamed.reserve(64 * 1024);
          streamed += streamed.empty() ? '[' : ',';
          streamed += json;
        });
        streaming = true;
        break;
      case Kind::kManifest:
        page = store_.QueryManifest(c->id, filter);
        break;
      case Kind::kObject:
        page = store_.GetObject(c->id, route.object_id, filter);
        break;
      default:
        page = store_.QueryVersions(c->id, route.object_id, filter);
        break;
    }
  }
  if (!page.ok()) {
    if (absl::IsNotFound(page.status())) {
      return ErrorResponse(404, "Not found",
                           route.object_id.empty() ? "no such collection" : "no such object");
    }
    return StoreError(page.status());
  }

  HttpResponse r;
  r.content_type = std::string(kTaxiiMediaType);
  if (streaming) {
    // The same bytes as SerializeEnvelope: "more" (and "next") first, then the objects.
    if (streamed.empty() && !page->more) {
      r.body = "{}";
    } else {
      std::string head = page->more ? R"({"more":true)" : R"({"more":false)";
      if (page->more) StrAppend(&head, ",\"next\":", Quoted(page->next));
      if (!streamed.empty()) head += R"(,"objects":)";
      if (!streamed.empty()) streamed += ']';
      streamed += '}';
      // The head depends on the end of the page (more, next): put in front afterwards, at the
      // price of one move of the text (a few microseconds for 100 objects).
      streamed.insert(0, head);
      r.body = std::move(streamed);
    }
  } else if (route.kind == Kind::kObjects || route.kind == Kind::kObject) {
    std::vector<std::string_view> texts;
    texts.reserve(page->records.size());
    for (const store::ObjectRecord& rec : page->records) texts.push_back(rec.json);
    r.body = stix::SerializeEnvelope(std::span<const std::string_view>(texts), page->more,
                                     page->more ? std::string_view(page->next) : "");
  } else if (route.kind == Kind::kManifest) {
    // Section 5.6.1 manifest-record: id, date_added, version, media_type.
    std::string body = page->more ? R"({"more":true)" : R"({"more":false)";
    if (page->more) StrAppend(&body, ",\"next\":", Quoted(page->next));
    if (!page->records.empty()) {
      body += ",\"objects\":[";
      bool first = true;
      for (const store::ObjectRecord& rec : page->records) {
        if (!first) body += ',';
        first = false;
        StrAppend(&body, "{\"id\":", Quoted(rec.id),
                  ",\"date_added\":", Quoted(FormatDateAdded(rec.date_added)),
                  ",\"version\":", Quoted(VersionString(rec)),
                  ",\"media_type\":", Quoted(rec.media_type), "}");
      }
      body += ']';
    }
    body += '}';
    r.body = std::move(body);
  } else {
    // Section 5.8.1 versions resource.
    std::string body = page->more ? R"({"more":true)" : R"({"more":false)";
    if (page->more) StrAppend(&body, ",\"next\":", Quoted(page->next));
    if (!page->records.empty()) {
      body += ",\"versions\":[";
      bool first = true;
      for (const store::ObjectRecord& rec : page->records) {
        if (!first) body += ',';
        first = false;
        body += Quoted(VersionString(rec));
      }
      body += ']';
    }
    body += '}';
    r.body = std::move(body);
  }
  AddDateHeaders(*page, filter, r);
  // The release is recorded (durably, one chained entry per response) before anything leaves;
  // when the log cannot be written, nothing is released.
  if (partner != nullptr && !released.versions.empty() && request.method != "HEAD") {
    policy::ReleaseLog log(store_);
    auto logged = log.AppendRelease(partner->name, partner->policy_version, released);
    if (!logged.ok()) {
      return ErrorResponse(503, "Service unavailable", "the release log cannot be written");
    }
  }
  return r;
}

HttpResponse Handler::AddObjects(const HttpRequest& request, const Route& route,
                                 const Caller& caller) {
  std::optional<store::Collection> c;
  std::optional<store::Permission> p;
  if (HttpResponse error; !FindCollection(route, caller, c, p, error)) return error;
  if (!p->can_write) return ErrorResponse(403, "Forbidden", "no write access to this collection");
  // Section 5.5: the body is an envelope in the TAXII media type; anything else is 415.
  if (!request.has_content_type || !IsTaxiiContentType(request.content_type)) {
    return ErrorResponse(415, "Unsupported media type",
                         StrCat("send the envelope as ", kTaxiiMediaType));
  }

  auto split = stix::SplitObjects(request.body);
  if (!split.ok()) return ErrorResponse(400, "Bad request", ToStd(split.status().message()));
  if (split->form == stix::InputForm::kObject) {
    std::string_view text = split->objects.empty() ? "" : split->objects[0].json;
    std::string compact;
    stix::AppendCompactJson(text, compact);
    if (compact != "{}") {
      return ErrorResponse(400, "Bad request", "the body is not a TAXII envelope");
    }
    split->objects.clear();  // "{}": an envelope without objects
  } else if (split->form != stix::InputForm::kEnvelope && split->form != stix::InputForm::kBundle) {
    return ErrorResponse(400, "Bad request", "the body is not a TAXII envelope");
  }

  store::StatusResource status;
  // Time-ordered: the store keys status resources by id, and random ids put each POST's status
  // on a random page of that index (one more page written per POST; docs/taxii.md).
  status.id = Uuid::V7().ToString();
  status.api_root = route.root->name;
  // Microseconds, like date_added: common clients parse TAXII timestamps with Python's %f,
  // which stops at six fractional digits.
  const Timestamp now = Timestamp::Now();
  status.request_timestamp =
      Timestamp::FromUnixNanos(now.unix_seconds(), now.nanos() / 1000 * 1000);

  // Each object is validated on its own: a bad one is reported in `failures` while the good
  // ones land (DESIGN.md, data flow 1).
  // One validator per serving thread, made with this handler's options (a thread may in
  // principle serve several handlers, as in tests: the generation tells them apart).
  thread_local uint64_t validator_generation = 0;
  thread_local std::unique_ptr<stix::Validator> validator_for_thread;
  if (!validator_for_thread || validator_generation != generation_) {
    stix::ValidateOptions validate_options;
    validate_options.check_pattern = options_.check_stix_pattern;
    validator_for_thread = std::make_unique<stix::Validator>(std::move(validate_options));
    validator_generation = generation_;
  }
  stix::Validator& validator = *validator_for_thread;
  std::vector<stix::Object> valid;
  valid.reserve(split->objects.size());
  for (const stix::ObjectText& text : split->objects) {
    stix::Report report;
    // One parse per object: the validator extracts what ParseObject would (it leaves `parsed`
    // empty only for malformed JSON, where ParseObject reports the parse error).
    std::optional<Result<stix::Object>> parsed;
    validator.ValidateObject(text.json, text.pointer, report, &parsed);
    Result<stix::Object> object = parsed ? std::move(*parsed) : stix::ParseObject(text.json);
    if (report.errors == 0 && object.ok()) {
      // object->json is text.json already (ParseObject keeps the text, trimmed; SplitObjects'
      // elements are trimmed).
      valid.push_back(std::move(*object));
      continue;
    }
    // A failure: its entry names the object as far as it can be read.
    store::StatusDetail failure;
    if (object.ok()) {
      failure.id = object->id;
      if (auto v = object->version()) failure.version = v->ToString();
    } else if (auto tree = json::Parse(text.json); tree.ok()) {
      // ParseObject refuses values of the wrong type; the id still names the failure.
      if (const json::Value* id = tree->Find("id"); id && id->is_string()) {
        failure.id = id->as_string();
      }
      for (const char* name : {"modified", "created"}) {
        const json::Value* v = tree->Find(name);
        if (v && v->is_string() && Timestamp::Parse(v->as_string()).ok()) {
          failure.version = v->as_string();
          break;
        }
      }
    }
    std::string reason;
    for (const stix::Finding& f : report.findings) {
      if (f.severity != stix::Severity::kError) continue;
      reason = StrCat(f.pointer, ": ", f.message, " (", f.rule, ")");
      break;
    }
    if (reason.empty()) {
      reason = object.ok() ? "invalid STIX object" : std::string(object.status().message());
    }
    if (failure.version.empty()) failure.version = status.request_timestamp.ToString(6);
    failure.message = std::move(reason);
    status.failures.push_back(std::move(failure));
  }

  store::StatusResource written;
  if (valid.empty()) {
    status.status = "complete";
    status.total_count = static_cast<int64_t>(status.failures.size());
    status.failure_count = status.total_count;
    if (Status st = store_.PutStatus(status); !st.ok()) return StoreError(st);
    written = std::move(status);
  } else {
    store::AddOptions add_options;
    add_options.status = status;
    // Sync: a signed receipt for the sender, logged with the objects (one commit), and where
    // these versions came from.
    const PostObserver::Incoming incoming{caller.user, request.sender_key, c->id, status.id, valid};
    PostObserver::Prepared prepared;
    if (options_.post_observer) prepared = options_.post_observer->BeforeAdd(incoming);
    auto added = prepared.audit.empty()
                     ? store_.Add(c->id, valid, add_options)
                     : store_.AddWithAudit(c->id, valid, add_options, std::move(prepared.audit),
                                           prepared.chain);
    if (!added.ok()) return StoreError(added.status());
    written = added->status ? *added->status : status;
    if (options_.post_observer) {
      if (prepared.after_add) prepared.after_add();
      options_.post_observer->OnObjectsAdded(incoming, *added);
      HttpResponse r = StatusResponse(202, written);
      r.headers = std::move(prepared.headers);
      return r;
    }
  }
  return StatusResponse(202, written);
}

HttpResponse Handler::DeleteObject(const Route& route, const Caller& caller) {
  std::optional<store::Collection> c;
  std::optional<store::Permission> p;
  if (HttpResponse error; !FindCollection(route, caller, c, p, error)) return error;
  // Section 5.7: deleting needs both read and write access.
  if (!p->can_read || !p->can_write) {
    return ErrorResponse(403, "Forbidden", "deleting needs read and write access");
  }
  store::Filter filter;
  if (Status st = ParseFilter(route.query, kMatchVersion | kMatchSpecVersion, filter); !st.ok()) {
    return ErrorResponse(400, "Bad request", ToStd(st.message()));
  }
  store::DeleteFilter del;
  del.versions = std::move(filter.versions);
  del.spec_versions = std::move(filter.spec_versions);
  auto removed = store_.DeleteObject(c->id, route.object_id, del);
  if (!removed.ok()) {
    if (absl::IsNotFound(removed.status())) {
      return ErrorResponse(404, "Not found", "no such object");
    }
    return StoreError(removed.status());
  }
  HttpResponse r;
  r.status = 200;
  return r;
}

}  // namespace liaison::taxii::server
