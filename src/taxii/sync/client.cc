// The TAXII 2.1 client. Synchronous Beast calls with per-operation deadlines (tcp_stream
// expires_after), one connection kept alive between requests, retries with back-off.

#include "taxii/sync/client.h"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <random>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "simdjson.h"

namespace liaison::taxii::sync {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::string_view kTaxiiMediaType = "application/taxii+json;version=2.1";

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// RFC 3986 percent-encoding of a query value. ':' is encoded too: some servers decode '+' in
// "+00:00" as a space, and an encoded timestamp is safe everywhere.
void AppendEncoded(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 15];
    }
  }
}

std::string QueryString(const ObjectsQuery& q) {
  std::string out;
  auto param = [&](std::string_view name, std::string_view value) {
    out += out.empty() ? '?' : '&';
    AppendEncoded(name, out);
    out += '=';
    AppendEncoded(value, out);
  };
  auto list = [&](std::string_view name, const std::vector<std::string>& values) {
    if (values.empty()) return;
    std::string joined;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) joined += ',';
      joined += values[i];
    }
    param(name, joined);
  };
  if (q.added_after) param("added_after", q.added_after->ToString(6));
  if (q.limit) param("limit", std::to_string(*q.limit));
  if (!q.next.empty()) param("next", q.next);
  list("match[id]", q.ids);
  list("match[type]", q.types);
  list("match[version]", q.versions);
  list("match[spec_version]", q.spec_versions);
  return out;
}

Status HttpError(int status, std::string_view what, std::string_view body) {
  // The TAXII error message (section 3.6.1) says why; keep its title/description short.
  std::string detail;
  if (auto v = json::Parse(body); v.ok() && v->is_object()) {
    for (const char* key : {"title", "description"}) {
      if (const json::Value* f = v->Find(key); f && f->is_string()) {
        if (!detail.empty()) detail += ": ";
        detail += f->as_string().substr(0, 300);
      }
    }
  }
  std::string msg = StrCat(what, ": HTTP ", status, detail.empty() ? "" : " (", detail,
                           detail.empty() ? "" : ")");
  if (status == 400) return absl::InvalidArgumentError(msg);
  if (status == 401) return absl::UnauthenticatedError(msg);
  if (status == 403) return absl::PermissionDeniedError(msg);
  if (status == 404) return absl::NotFoundError(msg);
  if (status == 408 || status == 429 || status >= 500) return absl::UnavailableError(msg);
  return absl::FailedPreconditionError(msg);
}

std::optional<Timestamp> HeaderTimestamp(std::string_view value) {
  if (value.empty()) return std::nullopt;
  auto t = Timestamp::ParseRfc3339(value);
  if (!t.ok()) return std::nullopt;
  return *t;
}

struct Response {
  int status = 0;
  std::string body;
  std::string date_added_first;
  std::string date_added_last;
  std::string server;
  std::string receipt;
};

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(ClientOptions options)
      : options_(std::move(options)),
        ssl_(ssl::context::tls_client),
        rng_(std::random_device{}()) {}

  Status Init() {
    if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
    if (!options_.token.empty()) {
      auth_ = StrCat("Bearer ", options_.token);
    } else if (!options_.username.empty()) {
      std::string plain = StrCat(options_.username, ":", options_.password);
      std::string b64(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL),
                      '\0');
      sodium_bin2base64(b64.data(), b64.size(),
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      b64.resize(b64.size() - 1);
      sodium_memzero(plain.data(), plain.size());
      auth_ = StrCat("Basic ", b64);
    }
    beast::error_code ec;
    ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (options_.insecure_skip_verify) {
      ssl_.set_verify_mode(ssl::verify_none);
    } else {
      ssl_.set_verify_mode(ssl::verify_peer);
      if (!options_.ca_file.empty()) {
        ssl_.load_verify_file(options_.ca_file, ec);
        if (ec)
          return absl::InvalidArgumentError(
              StrCat("ca_file ", options_.ca_file, ": ", ec.message()));
      } else {
        ssl_.set_default_verify_paths(ec);
      }
    }
    if (!options_.client_cert_file.empty() || !options_.client_key_file.empty()) {
      if (options_.client_cert_file.empty() || options_.client_key_file.empty()) {
        return absl::InvalidArgumentError("mTLS needs both a client certificate and a key");
      }
      ssl_.use_certificate_chain_file(options_.client_cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            StrCat("client certificate ", options_.client_cert_file, ": ", ec.message()));
      }
      ssl_.use_private_key_file(options_.client_key_file, ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            StrCat("client key ", options_.client_key_file, ": ", ec.message()));
      }
    }
    return absl::OkStatus();
  }

  ~ClientImpl() override {
    Disconnect();
    sodium_memzero(auth_.data(), auth_.size());
  }

  Result<json::Value> GetJson(std::string_view url) override {
    LIAISON_ASSIGN_OR_RETURN(Response r, Request(http::verb::get, url, "", {}));
    auto v = json::Parse(r.body);
    if (!v.ok()) {
      return absl::DataLossError(
          StrCat("GET ", url, ": the response is not JSON: ", ToStd(v.status().message())));
    }
    return std::move(*v);
  }

  Result<ObjectsPage> GetObjects(std::string_view collection_url,
                                 const ObjectsQuery& query) override {
    const std::string url = StrCat(StrJoinUrl(collection_url, "objects/"), QueryString(query));
    LIAISON_ASSIGN_OR_RETURN(Response r, Request(http::verb::get, url, "", {}));
    ObjectsPage page;
    page.date_added_first = HeaderTimestamp(r.date_added_first);
    page.date_added_last = HeaderTimestamp(r.date_added_last);
    page.server = std::move(r.server);
    if (Status st = ParseEnvelope(r.body, page); !st.ok()) {
      return absl::DataLossError(StrCat("GET ", url, ": ", ToStd(st.message())));
    }
    return page;
  }

  Result<ManifestPage> GetManifest(std::string_view collection_url,
                                   const ObjectsQuery& query) override {
    const std::string url = StrCat(StrJoinUrl(collection_url, "manifest/"), QueryString(query));
    LIAISON_ASSIGN_OR_RETURN(Response r, Request(http::verb::get, url, "", {}));
    ManifestPage page;
    page.date_added_last = HeaderTimestamp(r.date_added_last);
    auto bad = [&](std::string_view why) {
      return absl::DataLossError(StrCat("GET ", url, ": not a manifest: ", why));
    };
    auto v = json::Parse(r.body);
    if (!v.ok() || !v->is_object()) return bad("not a JSON object");
    if (const json::Value* more = v->Find("more"); more && more->is_bool())
      page.more = more->as_bool();
    if (const json::Value* next = v->Find("next"); next && next->is_string())
      page.next = next->as_string();
    if (const json::Value* objects = v->Find("objects")) {
      if (!objects->is_array()) return bad("objects is not a list");
      for (const json::Value& o : objects->as_array()) {
        const json::Value* id = o.Find("id");
        const json::Value* version = o.Find("version");
        const json::Value* added = o.Find("date_added");
        if (!id || !id->is_string() || !added || !added->is_string())
          return bad("a record lacks id or date_added");
        ManifestRecord rec;
        rec.id = id->as_string();
        if (version && version->is_string()) rec.version = version->as_string();
        auto t = Timestamp::ParseRfc3339(added->as_string());
        if (!t.ok()) return bad("bad date_added");
        rec.date_added = *t;
        page.objects.push_back(std::move(rec));
      }
    }
    return page;
  }

  Result<StatusResult> AddObjects(
      std::string_view collection_url, std::string_view envelope,
      const std::vector<std::pair<std::string, std::string>>& extra_headers) override {
    const std::string url = StrJoinUrl(collection_url, "objects/");
    LIAISON_ASSIGN_OR_RETURN(Response r, Request(http::verb::post, url, envelope, extra_headers));
    LIAISON_ASSIGN_OR_RETURN(StatusResult s, ParseStatus(url, r.body));
    s.receipt = std::move(r.receipt);
    return s;
  }

  Result<StatusResult> GetStatus(std::string_view api_root_url, std::string_view id) override {
    const std::string url = StrJoinUrl(api_root_url, StrCat("status/", id, "/"));
    LIAISON_ASSIGN_OR_RETURN(Response r, Request(http::verb::get, url, "", {}));
    return ParseStatus(url, r.body);
  }

 private:
  static Result<StatusResult> ParseStatus(std::string_view url, std::string_view body) {
    auto bad = [&](std::string_view why) {
      return absl::DataLossError(StrCat(url, ": not a status resource: ", why));
    };
    auto v = json::Parse(body);
    if (!v.ok() || !v->is_object()) return bad("not a JSON object");
    StatusResult s;
    auto str = [&](const char* key, std::string& out) {
      if (const json::Value* f = v->Find(key); f && f->is_string()) out = f->as_string();
    };
    auto num = [&](const char* key, int64_t& out) {
      if (const json::Value* f = v->Find(key); f && f->is_int()) out = f->as_int();
    };
    str("id", s.id);
    str("status", s.status);
    if (s.id.empty() || s.status.empty()) return bad("no id or status");
    num("total_count", s.total_count);
    num("success_count", s.success_count);
    num("failure_count", s.failure_count);
    num("pending_count", s.pending_count);
    auto details = [&](const char* key, std::vector<StatusResult::Detail>& out) {
      const json::Value* list = v->Find(key);
      if (!list || !list->is_array()) return;
      for (const json::Value& d : list->as_array()) {
        StatusResult::Detail detail;
        if (const json::Value* f = d.Find("id"); f && f->is_string()) detail.id = f->as_string();
        if (const json::Value* f = d.Find("version"); f && f->is_string()) {
          detail.version = f->as_string();
        }
        if (const json::Value* f = d.Find("message"); f && f->is_string()) {
          detail.message = f->as_string();
        }
        out.push_back(std::move(detail));
      }
    };
    details("successes", s.successes);
    details("failures", s.failures);
    details("pendings", s.pendings);
    return s;
  }

  // Envelope (section 3.7): more, next, objects. Object texts are copied out verbatim
  // (simdjson raw_json), so what the peer sent is what the local store keeps.
  Status ParseEnvelope(std::string_view body, ObjectsPage& page) {
    simdjson::padded_string padded(body);
    simdjson::ondemand::document doc;
    if (parser_.iterate(padded).get(doc) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("the response is not JSON");
    }
    simdjson::ondemand::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("the envelope is not a JSON object");
    }
    for (auto field : root) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("malformed envelope");
      }
      if (key == "more") {
        bool more = false;
        if (field.value().get_bool().get(more) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("envelope: more is not a boolean");
        }
        page.more = more;
      } else if (key == "next") {
        std::string_view next;
        if (field.value().get_string().get(next) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("envelope: next is not a string");
        }
        page.next = std::string(next);
      } else if (key == "objects") {
        simdjson::ondemand::array objects;
        if (field.value().get_array().get(objects) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("envelope: objects is not a list");
        }
        for (auto element : objects) {
          simdjson::ondemand::object object;
          if (element.get_object().get(object) != simdjson::SUCCESS) {
            return absl::InvalidArgumentError(
                StrCat("envelope: /objects/", page.objects.size(), " is not an object"));
          }
          std::string_view raw;
          if (object.raw_json().get(raw) != simdjson::SUCCESS) {
            return absl::InvalidArgumentError(
                StrCat("envelope: /objects/", page.objects.size(), " is malformed"));
          }
          page.objects.emplace_back(raw);
        }
      } else {
        // Unknown members are ignored (section 3.7 allows extensions); skip the value.
        simdjson::ondemand::value ignored;
        if (field.value().get(ignored) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("malformed envelope");
        }
      }
    }
    return absl::OkStatus();
  }

  Result<Response> Request(http::verb method, std::string_view url_text, std::string_view body,
                           const std::vector<std::pair<std::string, std::string>>& extra) {
    LIAISON_ASSIGN_OR_RETURN(Url url, Url::Parse(url_text));
    const std::string what = StrCat(method == http::verb::post ? "POST " : "GET ", url_text);
    Status last;
    const int attempts = std::max(1, options_.max_attempts);
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) Backoff(attempt);
      Result<Response> r = Once(method, url, body, extra, what);
      if (r.ok()) {
        if (r->status >= 200 && r->status < 300) return r;
        last = HttpError(r->status, what, r->body);
      } else {
        last = r.status();
      }
      if (!absl::IsUnavailable(last)) return last;
    }
    return absl::UnavailableError(
        StrCat(ToStd(last.message()), " (gave up after ", attempts, " attempts)"));
  }

  // Exponential back-off with full jitter: a random wait in [0, min(max, initial * 2^attempt)],
  // so that many clients retrying a recovering server spread out.
  void Backoff(int attempt) {
    const int64_t cap = std::min<int64_t>(
        options_.max_backoff.count(), options_.initial_backoff.count() << std::min(attempt, 20));
    std::uniform_int_distribution<int64_t> wait(0, std::max<int64_t>(cap, 0));
    std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng_)));
  }

  void Disconnect() {
    beast::error_code ignored;
    if (tls_stream_) {
      beast::get_lowest_layer(*tls_stream_).socket().close(ignored);
      tls_stream_.reset();
    }
    if (plain_stream_) {
      plain_stream_->socket().close(ignored);
      plain_stream_.reset();
    }
    connected_origin_.clear();
  }

  Status Connect(const Url& url, std::string_view what) {
    Disconnect();
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec)
      return absl::UnavailableError(
          StrCat(what, ": cannot resolve ", url.host, ": ", ec.message()));
    if (url.tls) {
      tls_stream_.emplace(ioc_, ssl_);
      auto& lowest = beast::get_lowest_layer(*tls_stream_);
      lowest.expires_after(options_.connect_timeout);
      lowest.connect(endpoints, ec);
      if (ec) return absl::UnavailableError(StrCat(what, ": cannot connect: ", ec.message()));
      lowest.socket().set_option(tcp::no_delay(true), ec);  // requests are whole messages
      // SNI and host name verification (RFC 6125) unless verification is off.
      if (!SSL_set_tlsext_host_name(tls_stream_->native_handle(), url.host.c_str())) {
        return absl::UnavailableError(StrCat(what, ": cannot set the TLS server name"));
      }
      if (!options_.insecure_skip_verify) {
        tls_stream_->set_verify_callback(ssl::host_name_verification(url.host));
      }
      tls_stream_->handshake(ssl::stream_base::client, ec);
      if (ec) {
        Disconnect();
        // A certificate the client refuses will not get better by retrying.
        return absl::FailedPreconditionError(StrCat(what, ": TLS handshake: ", ec.message()));
      }
    } else {
      plain_stream_.emplace(ioc_);
      plain_stream_->expires_after(options_.connect_timeout);
      plain_stream_->connect(endpoints, ec);
      if (ec) return absl::UnavailableError(StrCat(what, ": cannot connect: ", ec.message()));
      // Each request is written whole; Nagle would only delay it behind a delayed ACK.
      plain_stream_->socket().set_option(tcp::no_delay(true), ec);
    }
    connected_origin_ = url.Origin();
    return absl::OkStatus();
  }

  template <class Stream>
  Result<Response> Exchange(Stream& stream, http::request<http::string_body>& req,
                            std::string_view what) {
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(options_.request_timeout);
    http::write(stream, req, ec);
    if (ec) return absl::UnavailableError(StrCat(what, ": sending the request: ", ec.message()));
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(64 * 1024);
    http::read(stream, buffer_, parser, ec);
    if (ec == http::error::body_limit) {
      return absl::ResourceExhaustedError(
          StrCat(what, ": the response exceeds ", options_.max_response_bytes, " bytes"));
    }
    if (ec) return absl::UnavailableError(StrCat(what, ": reading the response: ", ec.message()));
    auto& res = parser.get();
    Response out;
    out.status = static_cast<int>(res.result_int());
    out.date_added_first = std::string(res["X-TAXII-Date-Added-First"]);
    out.date_added_last = std::string(res["X-TAXII-Date-Added-Last"]);
    out.server = std::string(res[http::field::server]);
    out.receipt = std::string(res["X-Liaison-Receipt"]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) Disconnect();
    return out;
  }

  Result<Response> Once(http::verb method, const Url& url, std::string_view body,
                        const std::vector<std::pair<std::string, std::string>>& extra,
                        std::string_view what) {
    // Boost may throw (allocation, resolver corner cases); nothing crosses this function.
    try {
      const bool reused = connected_origin_ == url.Origin();
      if (!reused) LIAISON_RETURN_IF_ERROR(Connect(url, what));
      http::request<http::string_body> req(method, url.path, 11);
      req.set(http::field::host,
              url.port == (url.tls ? 443 : 80) ? url.host : StrCat(url.host, ":", url.port));
      req.set(http::field::accept, std::string(kTaxiiMediaType));
      req.set(http::field::user_agent, "liaison-sync");
      if (!auth_.empty()) req.set(http::field::authorization, auth_);
      for (const auto& [name, value] : extra) req.set(name, value);
      if (method == http::verb::post) {
        req.set(http::field::content_type, std::string(kTaxiiMediaType));
        req.body() = std::string(body);
      }
      req.keep_alive(true);
      req.prepare_payload();
      Result<Response> r =
          tls_stream_ ? Exchange(*tls_stream_, req, what) : Exchange(*plain_stream_, req, what);
      if (!r.ok()) {
        Disconnect();
        // A kept-alive connection the server closed meanwhile fails on first use: try once more
        // on a fresh connection before counting it as a failed attempt.
        if (reused && absl::IsUnavailable(r.status())) {
          LIAISON_RETURN_IF_ERROR(Connect(url, what));
          r = tls_stream_ ? Exchange(*tls_stream_, req, what) : Exchange(*plain_stream_, req, what);
          if (!r.ok()) Disconnect();
        }
      }
      return r;
    } catch (const std::exception& e) {
      Disconnect();
      return absl::UnavailableError(StrCat(what, ": ", e.what()));
    }
  }

  ClientOptions options_;
  net::io_context ioc_;
  ssl::context ssl_;
  std::optional<beast::tcp_stream> plain_stream_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  std::string connected_origin_;
  beast::flat_buffer buffer_;
  std::string auth_;
  std::mt19937_64 rng_;
  simdjson::ondemand::parser parser_;
};

}  // namespace

Result<Url> Url::Parse(std::string_view text) {
  Url url;
  std::string_view rest;
  if (text.substr(0, 8) == "https://") {
    url.tls = true;
    rest = text.substr(8);
  } else if (text.substr(0, 7) == "http://") {
    rest = text.substr(7);
  } else {
    return absl::InvalidArgumentError(StrCat("url \"", text, "\": expected http:// or https://"));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  url.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("url \"", text, "\": credentials belong in the peer's config, not the URL"));
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:6543
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return absl::InvalidArgumentError(StrCat("url \"", text, "\": bad host"));
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port_text = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return absl::InvalidArgumentError(StrCat("url \"", text, "\": no host"));
  url.port = url.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(StrCat("url \"", text, "\": bad port"));
    }
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

std::string Url::Origin() const { return StrCat(tls ? "https://" : "http://", host, ":", port); }

std::string Client::StrJoinUrl(std::string_view base, std::string_view rest) {
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  out += rest;
  return out;
}

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  auto client = std::make_unique<ClientImpl>(std::move(options));
  try {
    LIAISON_RETURN_IF_ERROR(client->Init());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("TLS setup: ", e.what()));
  }
  return std::unique_ptr<Client>(std::move(client));
}

Result<std::pair<std::string, std::string>> SplitCollectionUrl(std::string_view url) {
  std::string_view u = url;
  while (!u.empty() && u.back() == '/') u.remove_suffix(1);
  const size_t slash = u.rfind('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("\"", url, "\" is not a collection URL"));
  }
  std::string id(u.substr(slash + 1));
  std::string_view head = u.substr(0, slash);
  constexpr std::string_view kCollections = "/collections";
  if (id.empty() || head.size() < kCollections.size() ||
      head.substr(head.size() - kCollections.size()) != kCollections) {
    return absl::InvalidArgumentError(
        StrCat("\"", url, "\" is not a collection URL (.../<api-root>/collections/<id>/)"));
  }
  std::string root(head.substr(0, head.size() - kCollections.size() + 1));
  return std::make_pair(std::move(root), std::move(id));
}

}  // namespace liaison::taxii::sync
