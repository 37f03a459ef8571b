// The HTTP(S) transport of the TAXII server: Boost.Beast sessions that parse requests within the
// limits of ServerOptions and hand them to server::Handler.
//
// Limits, and why each one is where it is:
//  * the header is read alone first (header_limit), so a Content-Length above
//    max_content_length is answered 413 before a byte of the body is read (TAXII 2.1 section
//    5.5: "the server MUST respond with 413 if the request exceeds max_content_length");
//  * body_limit catches chunked bodies that grow past the limit;
//  * every read has a deadline (idle_timeout while waiting for a request, request_timeout once
//    it started), so a slow client cannot hold a connection;
//  * connections beyond max_connections are closed at once.

#include "taxii/server.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/strings.h"
#include "taxii/server/handler.h"

namespace liaison::taxii {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Shared {
  Shared(store::Store& store, ServerOptions opts)
      : options(std::move(opts)), handler(store, options) {
    largest_content_length = options.max_content_length;
    for (const ApiRootOptions& root : options.api_roots) {
      largest_content_length = std::max(largest_content_length, root.max_content_length);
    }
    if (options.write_threads > 0) writes.emplace(options.write_threads);
  }
  ServerOptions options;
  server::Handler handler;
  // ServerOptions::write_threads; joined by ServerImpl::Stop before the store can go away.
  std::optional<net::thread_pool> writes;
  std::atomic<size_t> connections{0};
  // The largest max_content_length of any API root: the parser's limit before the target is
  // known; the target's own limit is checked once the header is in.
  size_t largest_content_length = 0;
};

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  Session(Shared& shared, Args&&... args)
      : shared_(shared), stream_(std::forward<Args>(args)...), timer_(stream_.get_executor()) {
    ++shared_.connections;
  }
  ~Session() { --shared_.connections; }

  void Run() {
    // The peer's address, looked up once: it is the same for every request of the connection
    // (a getpeername call per request and per log line otherwise).
    beast::error_code ignored;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
    if (!ignored) remote_address_ = endpoint.address().to_string();
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;
                                self->ReadClientCertificate();
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  // With `[tls] client_ca` the handshake only completes with a certificate that CA signed
  // (verify_peer | verify_fail_if_no_peer_cert); its fingerprint is read once per connection.
  void ReadClientCertificate() {
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      X509* cert = SSL_get0_peer_certificate(ssl);
      if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return;
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return;
      static constexpr char kHex[] = "0123456789abcdef";
      client_cert_sha256_.clear();
      for (unsigned int i = 0; i < len; ++i) {
        client_cert_sha256_.push_back(kHex[md[i] >> 4]);
        client_cert_sha256_.push_back(kHex[md[i] & 15]);
      }
    }
  }

  void ReadHeader() {
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<uint32_t>(shared_.options.max_header_bytes));
    header_parser_->body_limit(shared_.largest_content_length);
    beast::get_lowest_layer(stream_).expires_after(shared_.options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    method_.clear();
    target_.clear();
    if (header_parser_->is_header_done()) {
      method_ = std::string(header_parser_->get().method_string());
      target_ = std::string(header_parser_->get().target());
    }
    if (ec == http::error::header_limit) {
      return Fail(431, "Request header fields too large", "the request header is too large");
    }
    if (ec == http::error::body_limit) {
      // Beast checks Content-Length against body_limit while parsing the header.
      return Fail(413, "Content too large",
                  StrCat("the body exceeds max_content_length (",
                         MaxContentLengthFor(shared_.options, target_), " bytes)"));
    }
    if (ec) return Close();  // end of stream, timeout, malformed request: nothing to answer
    content_limit_ = MaxContentLengthFor(shared_.options, target_);
    auto length = header_parser_->content_length();
    if (length && *length > content_limit_) {
      return Fail(413, "Content too large",
                  StrCat("the body exceeds max_content_length (", content_limit_, " bytes)"));
    }
    body_parser_.emplace(std::move(*header_parser_));
    body_parser_->body_limit(content_limit_);
    if (length && *length > 0) {
      // Beast reads into the free capacity of buffer_ (at least 512 bytes): left as it is after
      // the header, a 60 KB envelope arrived in ~120 reads, each an async completion with its
      // own timer update and thread wake-up (a third of a POST's CPU). Room for the declared
      // body, capped so that a client announcing a large body it never sends does not make us
      // hold more than kMaxReadAhead per connection; the body string is reserved by Beast anyway.
      buffer_.reserve(buffer_.size() + std::min<size_t>(*length, kMaxReadAhead));
    }
    beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
    auto& req = body_parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // RFC 9110 section 10.1.1: tell the client to send the body it is holding back.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *body_parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Fail(413, "Content too large",
                  StrCat("the body exceeds max_content_length (", content_limit_, " bytes)"));
    }
    if (ec) return Close();
    beast::get_lowest_layer(stream_).expires_never();
    // The read-ahead room of a large body is not kept for the keep-alive wait that follows.
    if (buffer_.capacity() > kMaxIdleBuffer && buffer_.size() == 0) buffer_.shrink_to_fit();
    auto& req = body_parser_->get();
    server::HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.host = std::string(req[http::field::host]);
    request.tls = kTls;
    if (auto it = req.find(http::field::accept); it != req.end()) {
      request.has_accept = true;
      request.accept = std::string(it->value());
    }
    if (auto it = req.find(http::field::content_type); it != req.end()) {
      request.has_content_type = true;
      request.content_type = std::string(it->value());
    }
    request.authorization = std::string(req[http::field::authorization]);
    request.sender_key = std::string(req["X-Liaison-Sender-Key"]);
    request.remote_address = remote_address_;
    request.client_cert_sha256 = client_cert_sha256_;
    request.body = std::move(req.body());
    const bool head = req.method() == http::verb::head;
    const bool writes = req.method() == http::verb::post || req.method() == http::verb::delete_;
    keep_alive_ = req.keep_alive();
    version_ = req.version();

    if (writes && shared_.writes) {
      // Handled on the write pool (ServerOptions::write_threads); the answer is sent from this
      // connection's own thread, which meanwhile serves its other connections. The session
      // reads nothing more until then, so nothing else touches it.
      net::post(*shared_.writes, [self = this->shared_from_this(),
                                  request = std::move(request)]() mutable {
        server::HttpResponse response = self->shared_.handler.Handle(request);
        net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
          self->Send(std::move(response), false);
        });
      });
      return;
    }
    server::HttpResponse response = shared_.handler.Handle(request);
    Send(std::move(response), head);
  }

  // Answers and closes: the rest of the request (its body) is not read.
  void Fail(int status, std::string_view title, std::string_view description) {
    keep_alive_ = false;
    linger_ = true;
    version_ = 11;
    Send(server::ErrorResponse(status, title, description), false);
  }

  void Send(server::HttpResponse response, bool head) {
    log_status_ = response.status;
    log_bytes_ = head ? 0 : response.body.size();
    log_user_ = std::move(response.user);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "liaison");
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->insert(name, value);
    res->keep_alive(keep_alive_);
    const size_t length = response.body.size();
    if (!head) res->body() = std::move(response.body);
    res->content_length(length);
    if (response.delay.count() > 0) {
      // A throttled failed login: answer later without holding a serving thread.
      timer_.expires_after(response.delay);
      timer_.async_wait(
          [self = this->shared_from_this(), res](beast::error_code) { self->Write(res); });
      return;
    }
    Write(res);
  }

  void Write(std::shared_ptr<http::response<http::string_body>> res) {
    beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->LogRequest();
                        if (ec || !self->keep_alive_) return self->Close();
                        self->ReadHeader();
                      });
  }

  void LogRequest() {
    if (!shared_.options.request_log) return;
    RequestLogEntry entry;
    entry.method = method_;
    entry.target = target_;
    entry.user = log_user_;
    entry.remote_address = remote_address_;
    entry.status = log_status_;
    entry.bytes = log_bytes_;
    entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    shared_.options.request_log(entry);
  }

  void Close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().close(ignored);
      });
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      if (linger_) {
        // The client may still be sending the body we refused. Closing now with unread bytes
        // would make the kernel send a reset, which can destroy our error response before the
        // client reads it; so read and discard for a short while first ("lingering close").
        linger_ = false;
        stream_.expires_after(std::chrono::seconds(2));
        Drain();
        return;
      }
      stream_.socket().close(ignored);
    }
  }

  void Drain() {
    if constexpr (!kTls) {
      drain_buffer_.resize(16 * 1024);
      stream_.async_read_some(net::buffer(drain_buffer_), [self = this->shared_from_this()](
                                                              beast::error_code ec, size_t n) {
        self->drained_ += n;
        if (ec || self->drained_ > 2 * self->shared_.options.max_content_length + (1 << 20)) {
          beast::error_code ignored;
          self->stream_.socket().close(ignored);
          return;
        }
        self->Drain();
      });
    }
  }

  static constexpr size_t kMaxReadAhead = 1 << 20;
  static constexpr size_t kMaxIdleBuffer = 64 * 1024;

  Shared& shared_;
  Stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> body_parser_;
  bool keep_alive_ = false;
  bool linger_ = false;
  unsigned version_ = 11;
  std::vector<char> drain_buffer_;
  size_t drained_ = 0;
  size_t content_limit_ = 0;
  std::string remote_address_;      // "" when the socket could not tell
  std::string client_cert_sha256_;  // of the verified client certificate ("" when none)
  // For the access log.
  std::chrono::steady_clock::time_point started_;
  std::string method_;
  std::string target_;
  std::string log_user_;
  int log_status_ = 0;
  size_t log_bytes_ = 0;
};

class ServerImpl final : public Server {
 public:
  // One io_context per serving thread, each run by its thread alone, and each connection bound
  // to one of them for its life: a request is then read, handled and answered on one thread.
  // With one io_context shared by all threads, every completion of every read and write could
  // be picked up by another thread, and the wake-ups cost ~19 futex calls per GET (a sixth of
  // its CPU). The price: a request that blocks in the store holds up the other connections of
  // its thread (not those of the other threads), as a shared pool does once all its threads
  // are blocked.
  ServerImpl(store::Store& store, ServerOptions options)
      : shared_(store, std::move(options)),
        iocs_(MakeContexts(shared_.options.threads)),
        acceptor_(*iocs_.front()) {}

  ~ServerImpl() override { Stop(); }

  Status Open() {
    const ServerOptions& o = shared_.options;
    if (o.api_roots.empty()) return absl::InvalidArgumentError("no API root configured");
    beast::error_code ec;
    net::ip::address address = net::ip::make_address(o.address, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("listen address: ", o.address));
    const bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
    if (tls && (o.tls_cert_file.empty() || o.tls_key_file.empty())) {
      return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
    }
    if (!tls && !address.is_loopback() && !o.insecure) {
      return absl::FailedPreconditionError(
          StrCat("refusing to serve plain HTTP on ", o.address,
                 ": configure a TLS certificate and key, or opt out explicitly with --insecure"));
    }
    if (tls) {
      ssl_.emplace(ssl::context::tls_server);
      ssl_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use);
      ssl_->use_certificate_chain_file(o.tls_cert_file, ec);
      if (ec) return absl::InvalidArgumentError(StrCat("TLS certificate: ", ec.message()));
      ssl_->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError(StrCat("TLS key: ", ec.message()));
      if (!o.tls_client_ca_file.empty()) {
        ssl_->load_verify_file(o.tls_client_ca_file, ec);
        if (ec) return absl::InvalidArgumentError(StrCat("TLS client CA: ", ec.message()));
        ssl_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
    }
    tcp::endpoint endpoint(address, o.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          StrCat("cannot listen on ", o.address, ":", o.port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (auto& ioc : iocs_) {
      // Keeps run() from returning while the context has no connection yet.
      guards_.push_back(net::make_work_guard(*ioc));
      threads_.emplace_back([ctx = ioc.get()] { ctx->run(); });
    }
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    net::post(*iocs_.front(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    for (auto& ioc : iocs_) ioc->stop();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    // Writes in flight finish their store calls (their answers, posted to the stopped
    // contexts, are dropped with them; what they committed is durable either way).
    if (shared_.writes) shared_.writes->join();
  }

 private:
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(size_t threads) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
      out.push_back(std::make_unique<net::io_context>(1));  // 1: run by one thread
    }
    return out;
  }

  void Accept() {
    // Round robin over the serving threads; a connection's handlers all run on its context's
    // one thread, so they need no strand.
    net::io_context& ioc = *iocs_[next_context_++ % iocs_.size()];
    acceptor_.async_accept(ioc, [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (!acceptor_.is_open()) return;
      } else if (shared_.connections.load() >= shared_.options.max_connections) {
        beast::error_code ignored;
        s.close(ignored);  // over the connection limit: refuse rather than queue
      } else if (ssl_) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared_, std::move(s),
                                                                        *ssl_)
            ->Run();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(shared_, std::move(s))->Run();
      }
      Accept();
    });
  }

  Shared shared_;
  std::vector<std::unique_ptr<net::io_context>> iocs_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  size_t next_context_ = 0;  // only the accept handler (iocs_[0]'s thread) uses it
  std::optional<ssl::context> ssl_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace

size_t MaxContentLengthFor(const ServerOptions& options, std::string_view target) {
  // "/<root>/..." -> "<root>"; the query and any percent-escape leave it unmatched, which gives
  // the server's own limit.
  std::string_view path = target.substr(0, target.find('?'));
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string_view first = path.substr(0, path.find('/'));
  for (const ApiRootOptions& root : options.api_roots) {
    if (root.name == first && root.max_content_length > 0) return root.max_content_length;
  }
  return options.max_content_length;
}

Result<std::unique_ptr<Server>> Server::Start(store::Store& store, ServerOptions options) {
  auto server = std::make_unique<ServerImpl>(store, std::move(options));
  // Boost reports some failures by throwing; none may cross this function (STYLE.md section 4).
  try {
    if (Status st = server->Open(); !st.ok()) return st;
  } catch (const std::exception& e) {
    return absl::UnavailableError(StrCat("cannot start the server: ", e.what()));
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace liaison::taxii
