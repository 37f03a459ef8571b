#pragma once

// A small blocking HTTP/1.1 client over Boost.Beast, the peer of the TAXII server in tests. It
// keeps its connection alive between requests and reconnects when the server closed it.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace liaison::taxii::testing {

// A response's headers with their names in lower case, in order.
template <typename Fields>
std::vector<std::pair<std::string, std::string>> LowerCaseHeaders(const Fields& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(name), std::string(field.value()));
  }
  return out;
}

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  // The first value of a header, or "" when absent.
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool HasHeader(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.first == name) return true;
    }
    return false;
  }
  size_t CountHeader(std::string_view name) const {
    size_t n = 0;
    for (const auto& h : headers) n += h.first == name;
    return n;
  }
};

class TestClient {
 public:
  explicit TestClient(uint16_t port) : port_(port) {}

  // Sends one request; `headers` are added as given. On a transport error returns status 0.
  ClientResponse Send(std::string_view method, std::string_view target,
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      std::string body = "") {
    namespace http = boost::beast::http;
    for (int attempt = 0; attempt < 2; ++attempt) {
      boost::beast::error_code ec;
      if (!stream_) Connect();
      http::request<http::string_body> req(http::string_to_verb(std::string(method)),
                                           std::string(target), 11);
      req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
      for (const auto& [n, v] : headers) req.insert(n, v);
      req.body() = body;
      if (!body.empty() || method == "POST") req.prepare_payload();
      http::write(*stream_, req, ec);
      if (ec) {
        stream_.reset();
        continue;
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(1 << 26);
      if (method == "HEAD") parser.skip(true);
      http::read(*stream_, buffer_, parser, ec);
      if (ec) {
        stream_.reset();
        buffer_.clear();
        continue;
      }
      auto& res = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(res.result_int());
      out.headers = LowerCaseHeaders(res);
      out.body = std::move(res.body());
      if (!res.keep_alive()) stream_.reset();
      return out;
    }
    return {};
  }

  // Writes raw bytes and reads one response (for malformed or partial requests).
  ClientResponse SendRaw(std::string_view bytes) {
    namespace http = boost::beast::http;
    stream_.reset();
    Connect();
    boost::beast::error_code ec;
    boost::asio::write(stream_->socket(), boost::asio::buffer(bytes.data(), bytes.size()), ec);
    http::response_parser<http::string_body> parser;
    http::read(*stream_, buffer_, parser, ec);
    ClientResponse out;
    if (ec && !parser.is_header_done()) {
      stream_.reset();
      return out;
    }
    out.status = static_cast<int>(parser.get().result_int());
    out.headers = LowerCaseHeaders(parser.get());
    out.body = parser.get().body();
    stream_.reset();
    return out;
  }

  bool connected() const { return stream_.has_value(); }

 private:
  void Connect() {
    buffer_.clear();
    stream_.emplace(ioc_);
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port_);
    stream_->connect(ep);
    stream_->expires_never();
  }

  uint16_t port_;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// One TAXII request on a fresh connection with a deadline, `auth` as the Authorization header
// and, for a POST, `body` as an envelope. Status 0 on any transport error instead of an
// exception: for the crash tests, whose server may be killed mid-request.
inline ClientResponse ExchangeOnce(uint16_t port, const std::string& auth,
                                   boost::beast::http::verb verb, const std::string& target,
                                   std::string body = "",
                                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
                 ec);
  if (ec) return {};
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::accept, "application/taxii+json;version=2.1");
  req.set(http::field::authorization, auth);
  if (verb == http::verb::post) {
    req.set(http::field::content_type, "application/taxii+json;version=2.1");
    req.body() = std::move(body);
    req.prepare_payload();
  }
  http::write(stream, req, ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return {};
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.headers = LowerCaseHeaders(res);
  out.body = std::move(res.body());
  return out;
}

}  // namespace liaison::taxii::testing
