// The TAXII server over TLS: a self-signed certificate generated in the test, a Beast TLS client.

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "testing/tls_certs.h"

namespace liaison::taxii {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;

TEST(TaxiiTls, ServesDiscoveryOverTls) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("liaison_taxii_tls_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(liaison::testing::WriteSelfSignedCert(dir / "cert.pem", dir / "key.pem"));
  store::SqliteOptions so;
  so.path = dir / "store.db";
  auto store = store::OpenSqliteStore(so);
  ASSERT_TRUE(store.ok()) << store.status();
  auto hash = HashPassword("pw", PasswordCost::kMinimum);
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE((*store)->CreateUser({"admin", *hash, true, {}}).ok());

  ServerOptions options;
  options.port = 0;
  options.threads = 1;
  options.tls_cert_file = (dir / "cert.pem").string();
  options.tls_key_file = (dir / "key.pem").string();
  auto server = Server::Start(**store, options);
  ASSERT_TRUE(server.ok()) << server.status();

  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);  // self-signed; the test checks the protocol, not PKI
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), (*server)->port()));
  stream.handshake(ssl::stream_base::client);
  http::request<http::empty_body> req(http::verb::get, "/taxii2/", 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::accept, "application/taxii+json;version=2.1");
  req.set(http::field::authorization, "Basic YWRtaW46cHc=");  // admin:pw
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("https://127.0.0.1/api/"), std::string::npos) << res.body();

  // A plain-HTTP request to the TLS port gets no HTTP answer.
  beast::tcp_stream plain(ioc);
  plain.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), (*server)->port()));
  http::write(plain, req);
  http::response<http::string_body> plain_res;
  beast::error_code ec;
  beast::flat_buffer plain_buffer;
  http::read(plain, plain_buffer, plain_res, ec);
  EXPECT_TRUE(ec);

  (*server)->Stop();
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liaison::taxii
