#include "psi/http/http.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/cord.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison::psi {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;

constexpr std::string_view kOctetStream = "application/octet-stream";
constexpr std::string_view kTaxiiMediaType = "application/taxii+json;version=2.1";

struct CodeName {
  absl::StatusCode code;
  std::string_view name;
  int http;
};
constexpr CodeName kCodes[] = {
    {absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 400},
    {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED", 401},
    {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED", 403},
    {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE", 403},
    {absl::StatusCode::kNotFound, "NOT_FOUND", 404},
    {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS", 409},
    {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 409},
    {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 429},
    {absl::StatusCode::kUnavailable, "UNAVAILABLE", 503},
    {absl::StatusCode::kDataLoss, "DATA_LOSS", 500},
    {absl::StatusCode::kInternal, "INTERNAL", 500},
};

taxii::ExtraResponse Error(int status, std::string_view title, std::string_view description,
                           std::string_view code) {
  json::Object o{{"title", std::string(title)}, {"description", std::string(description)}};
  if (!code.empty()) o.emplace_back("error_code", std::string(code));
  o.emplace_back("http_status", std::to_string(status));
  taxii::ExtraResponse r;
  r.status = status;
  r.content_type = std::string(kTaxiiMediaType);
  r.body = json::Serialize(json::Value(std::move(o)));
  return r;
}

taxii::ExtraResponse ErrorFromStatus(const Status& st) {
  for (const CodeName& c : kCodes) {
    if (c.code != st.code()) continue;
    if (c.http == 500) break;
    std::string_view title = c.http == 429   ? "Too many requests"
                             : c.http == 403 ? "Forbidden"
                             : c.http == 404 ? "Not found"
                             : c.http == 409 ? "Conflict"
                             : c.http == 503 ? "Service unavailable"
                                             : "Bad request";
    taxii::ExtraResponse r = Error(c.http, title, ToStd(st.message()), c.name);
    if (auto retry = st.GetPayload(ToAbsl(kRetryAfterPayload)); retry.has_value()) {
      r.headers.emplace_back("Retry-After", std::string(*retry));  // RFC 9110 section 10.2.3
    }
    return r;
  }
  // Internal details stay on this server.
  return Error(500, "Internal error", "the PSI responder failed", "INTERNAL");
}

// Parses "http[s]://host[:port][/prefix]".
struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string prefix;
};

Result<Url> ParseUrl(std::string_view url) {
  Url u;
  if (url.substr(0, 8) == "https://") {
    u.tls = true;
    url.remove_prefix(8);
  } else if (url.substr(0, 7) == "http://") {
    url.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(
        StrCat("peer URL must start with https:// or http://: ", url));
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) u.prefix = std::string(url.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return absl::InvalidArgumentError("peer URL: unclosed '['");
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') u.port = std::string(authority.substr(1));
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return absl::InvalidArgumentError("peer URL has no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

std::string BasicCredentials(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string plain = StrCat(user, ":", password);
  std::string out;
  size_t i = 0;
  for (; i + 2 < plain.size(); i += 3) {
    const uint32_t v =
        (uint8_t(plain[i]) << 16) | (uint8_t(plain[i + 1]) << 8) | uint8_t(plain[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == plain.size()) {
    const uint32_t v = uint8_t(plain[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == plain.size()) {
    const uint32_t v = (uint8_t(plain[i]) << 16) | (uint8_t(plain[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

// Maps an error response back onto the responder's status.
Status StatusFromResponse(int http_status, const std::string& body) {
  std::string description = StrCat("HTTP ", http_status);
  absl::StatusCode code = http_status == 401   ? absl::StatusCode::kUnauthenticated
                          : http_status == 403 ? absl::StatusCode::kPermissionDenied
                          : http_status == 404 ? absl::StatusCode::kNotFound
                          : http_status == 409 ? absl::StatusCode::kAlreadyExists
                          : http_status == 429 ? absl::StatusCode::kResourceExhausted
                          : http_status == 400 || http_status == 413
                              ? absl::StatusCode::kInvalidArgument
                              : absl::StatusCode::kUnavailable;
  if (auto v = json::Parse(body); v.ok() && v->is_object()) {
    for (const auto& [key, value] : v->as_object()) {
      if (key == "description" && value.is_string()) description = value.as_string();
      if (key == "error_code" && value.is_string()) {
        for (const CodeName& c : kCodes) {
          if (c.name == value.as_string()) code = c.code;
        }
      }
    }
  }
  return Status(code, ToAbsl(StrCat("peer: ", description)));
}

class HttpTransport : public Transport {
 public:
  HttpTransport(Url url, std::string authorization, std::shared_ptr<ssl::context> tls,
                std::chrono::milliseconds timeout,
                std::shared_ptr<std::atomic<uint64_t>> wire_bytes)
      : url_(std::move(url)),
        authorization_(std::move(authorization)),
        tls_(std::move(tls)),
        timeout_(timeout),
        wire_bytes_(std::move(wire_bytes)) {}

  Result<std::string> Exchange(std::string_view message) override {
    // One retry on a fresh connection: the server may have closed an idle keep-alive one. A
    // message the responder did process is refused as a replay, never applied twice.
    Status last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = connected();
      if (!connected()) LIAISON_RETURN_IF_ERROR(Connect());
      auto reply = RoundTrip(message);
      if (reply.ok()) return reply;
      last = reply.status();
      Disconnect();
      if (last.code() != absl::StatusCode::kUnavailable || !reused) break;
    }
    return last;
  }

 private:
  bool connected() const { return !std::holds_alternative<std::monostate>(stream_); }
  void Disconnect() {
    stream_ = std::monostate{};
    buffer_.clear();
  }

  Status Connect() {
    beast::error_code ec;
    net::ip::tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) return absl::UnavailableError(StrCat("cannot resolve ", url_.host, ": ", ec.message()));
    if (tls_) {
      auto& s = stream_.emplace<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls_);
      beast::get_lowest_layer(s).expires_after(timeout_);
      beast::get_lowest_layer(s).connect(endpoints, ec);
      if (ec)
        return absl::UnavailableError(
            StrCat("cannot connect to ", url_.host, ":", url_.port, ": ", ec.message()));
      // SNI, and the certificate must name the host (RFC 6125 via OpenSSL's X509_check_host/ip).
      SSL_set_tlsext_host_name(s.native_handle(), url_.host.c_str());
      s.set_verify_callback(ssl::host_name_verification(url_.host));
      s.handshake(ssl::stream_base::client, ec);
      if (ec)
        return absl::UnavailableError(StrCat("TLS handshake with ", url_.host, ": ", ec.message()));
    } else {
      auto& s = stream_.emplace<beast::tcp_stream>(ioc_);
      s.expires_after(timeout_);
      s.connect(endpoints, ec);
      if (ec)
        return absl::UnavailableError(
            StrCat("cannot connect to ", url_.host, ":", url_.port, ": ", ec.message()));
      s.socket().set_option(net::ip::tcp::no_delay(true), ec);
    }
    return absl::OkStatus();
  }

  template <typename Stream>
  Result<std::string> RoundTripOn(Stream& stream, std::string_view message) {
    http::request<http::string_body> req(http::verb::post, url_.prefix + std::string(kPsiPath), 11);
    req.set(http::field::host, url_.host + ":" + url_.port);
    req.set(http::field::content_type, std::string(kOctetStream));
    req.set(http::field::accept, StrCat(kOctetStream, ", ", kTaxiiMediaType));
    req.set(http::field::authorization, authorization_);
    req.keep_alive(true);
    req.body() = std::string(message);
    req.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(timeout_);
    beast::error_code ec;
    const size_t written = http::write(stream, req, ec);
    if (wire_bytes_) *wire_bytes_ += written;
    if (ec) return absl::UnavailableError(StrCat("sending to the peer: ", ec.message()));
    http::response_parser<http::string_body> parser;
    parser.body_limit(size_t{1} << 31);
    const size_t read = http::read(stream, buffer_, parser, ec);
    if (wire_bytes_) *wire_bytes_ += read;
    if (ec) return absl::UnavailableError(StrCat("reading the peer's reply: ", ec.message()));
    auto& res = parser.get();
    if (!res.keep_alive()) Disconnect();
    if (res.result_int() != 200)
      return StatusFromResponse(static_cast<int>(res.result_int()), res.body());
    return std::move(res.body());
  }

  Result<std::string> RoundTrip(std::string_view message) {
    if (auto* s = std::get_if<beast::tcp_stream>(&stream_)) return RoundTripOn(*s, message);
    return RoundTripOn(std::get<beast::ssl_stream<beast::tcp_stream>>(stream_), message);
  }

  Url url_;
  std::string authorization_;
  std::shared_ptr<ssl::context> tls_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<std::atomic<uint64_t>> wire_bytes_;
  net::io_context ioc_;
  std::variant<std::monostate, beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

taxii::ExtraEndpoint MakePsiEndpoint(std::shared_ptr<Responder> responder) {
  taxii::ExtraEndpoint e;
  e.prefix = std::string(kPsiPathPrefix);
  e.handle = [responder](const taxii::ExtraRequest& request) -> taxii::ExtraResponse {
    if (request.path.size() != 2 || request.path[0] != "psi" || request.path[1] != "v1") {
      return Error(404, "Not found", "no such liaison endpoint", "NOT_FOUND");
    }
    if (request.method != "POST") {
      taxii::ExtraResponse r = Error(405, "Method not allowed", "use POST", "");
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    std::string_view type = request.content_type.substr(0, request.content_type.find(';'));
    if (type != kOctetStream) {
      return Error(415, "Unsupported media type", "a PSI message is application/octet-stream", "");
    }
    auto reply = responder->Handle({request.user, request.groups}, request.body);
    if (!reply.ok()) return ErrorFromStatus(reply.status());
    taxii::ExtraResponse r;
    r.content_type = std::string(kOctetStream);
    r.body = std::move(*reply);
    return r;
  };
  return e;
}

Result<TransportFactory> MakeHttpTransportFactory(const HttpPeer& peer) {
  LIAISON_ASSIGN_OR_RETURN(Url url, ParseUrl(peer.url));
  std::shared_ptr<ssl::context> tls;
  if (url.tls) {
    tls = std::make_shared<ssl::context>(ssl::context::tls_client);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (!peer.ca_file.empty()) {
      if (!std::filesystem::exists(peer.ca_file)) {
        return absl::NotFoundError(StrCat(peer.ca_file, ": no such CA file"));
      }
      tls->load_verify_file(peer.ca_file, ec);
    } else {
      tls->set_default_verify_paths(ec);
    }
    if (ec) return absl::InvalidArgumentError(StrCat("CA certificates: ", ec.message()));
    tls->set_verify_mode(ssl::verify_peer);
    if (peer.client_cert_file.empty() != peer.client_key_file.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate needs its key, and a key its certificate");
    }
    if (!peer.client_cert_file.empty()) {
      tls->use_certificate_chain_file(peer.client_cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            StrCat(peer.client_cert_file, ": client certificate: ", ec.message()));
      }
      tls->use_private_key_file(peer.client_key_file, ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            StrCat(peer.client_key_file, ": client key: ", ec.message()));
      }
    }
  } else if (!peer.user.empty() || !peer.token.empty()) {
    // Credentials over plain HTTP are allowed only to a loopback peer (tests, benchmarks).
    if (url.host != "127.0.0.1" && url.host != "localhost" && url.host != "::1") {
      return absl::InvalidArgumentError(
          "refusing to send credentials over plain HTTP to a non-loopback peer; use https://");
    }
  }
  const std::string authorization =
      !peer.token.empty() ? "Bearer " + peer.token : BasicCredentials(peer.user, peer.password);
  const auto timeout = peer.timeout;
  const auto wire_bytes = peer.wire_bytes;
  return TransportFactory(
      [url, authorization, tls, timeout, wire_bytes]() -> Result<std::unique_ptr<Transport>> {
        return std::make_unique<HttpTransport>(url, authorization, tls, timeout, wire_bytes);
      });
}

}  // namespace liaison::psi
