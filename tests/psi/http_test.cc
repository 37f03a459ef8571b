// PSI over the TAXII server's authenticated channel: an in-process server on 127.0.0.1 port 0
// with the PSI endpoint, and the requester's HTTP(S) transport as the peer.

#include "psi/http/http.h"

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "psi/psi.h"
#include "psi/psi_testing.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "testing/tls_certs.h"

namespace liaison::psi {
namespace {

using ::testing::HasSubstr;

class PsiHttpTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liaison_psi_http_" + std::to_string(::getpid()) + "_" + std::to_string(GetParam()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions so;
    so.path = dir_ / "store.db";
    store_ = std::move(*store::OpenSqliteStore(so));
    auto hash = taxii::HashPassword("bob-pw", taxii::PasswordCost::kMinimum);
    ASSERT_TRUE(hash.ok());
    ASSERT_TRUE(store_->CreateUser({"bob", *hash, false, {"cert-x"}}).ok());
    ASSERT_TRUE(store_->CreateUser({"eve", *hash, false, {"nobody"}}).ok());

    lists_ = testing::RandomLists(300, 200, 40, 21);
    ResponderOptions ro;
    ro.lists.push_back({"watch", lists_.b});
    PartnerPolicy p;
    p.partner = "cert-x";
    p.lists = {"watch"};
    p.min_set_size = 10;
    p.max_runs = 3;
    p.cooldown = std::chrono::seconds(0);
    ro.partners.push_back(p);
    responder_ =
        std::shared_ptr<Responder>(std::move(*Responder::Create(std::move(ro), recorder_)));

    taxii::ServerOptions options;
    options.port = 0;
    options.threads = 4;
    if (GetParam()) {
      ASSERT_TRUE(liaison::testing::WriteSelfSignedCert(dir_ / "cert.pem", dir_ / "key.pem"));
      options.tls_cert_file = (dir_ / "cert.pem").string();
      options.tls_key_file = (dir_ / "key.pem").string();
    }
    options.extra_endpoints.push_back(MakePsiEndpoint(responder_));
    server_ = std::move(*taxii::Server::Start(*store_, options));
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpPeer Peer(std::string user = "bob") {
    HttpPeer peer;
    peer.url =
        (GetParam() ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(server_->port());
    peer.user = std::move(user);
    peer.password = "bob-pw";
    if (GetParam()) peer.ca_file = (dir_ / "cert.pem").string();
    return peer;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  testing::MemoryRecorder recorder_;
  testing::ListPair lists_;
  std::shared_ptr<Responder> responder_;
  std::unique_ptr<taxii::Server> server_;
};

// A partner server that demands a client certificate (mTLS): the requester presents the one
// its [[peer]] names, and without it the handshake fails.
TEST_P(PsiHttpTest, PresentsTheClientCertificateTheServerDemands) {
  if (!GetParam()) GTEST_SKIP() << "client certificates need TLS";
  server_->Stop();
  server_.reset();
  taxii::ServerOptions options;
  options.port = 0;
  options.tls_cert_file = (dir_ / "cert.pem").string();
  options.tls_key_file = (dir_ / "key.pem").string();
  options.tls_client_ca_file = (dir_ / "cert.pem").string();  // self-signed: its own CA
  options.extra_endpoints.push_back(MakePsiEndpoint(responder_));
  server_ = std::move(*taxii::Server::Start(*store_, options));
  RequestOptions ro;
  ro.chunk_items = 64;

  auto without = MakeHttpTransportFactory(Peer());
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(RunRequester(lists_.a, ro, *without).ok());

  HttpPeer peer = Peer();
  peer.client_cert_file = (dir_ / "cert.pem").string();
  EXPECT_EQ(MakeHttpTransportFactory(peer).status().code(), absl::StatusCode::kInvalidArgument)
      << "a certificate without its key";
  peer.client_key_file = (dir_ / "key.pem").string();
  auto with = MakeHttpTransportFactory(peer);
  ASSERT_TRUE(with.ok()) << with.status();
  auto result = RunRequester(lists_.a, ro, *with);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->cardinality, 40u);
}

TEST_P(PsiHttpTest, RunsEveryModeOverTheAuthenticatedChannel) {
  auto factory = MakeHttpTransportFactory(Peer());
  ASSERT_TRUE(factory.ok()) << factory.status();
  for (Mode mode : {Mode::kMutual, Mode::kOneSided, Mode::kCardinality}) {
    RequestOptions options;
    options.mode = mode;
    options.chunk_items = 32;
    auto result = RunRequester(lists_.a, options, *factory);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->cardinality, 40u);
    if (mode != Mode::kCardinality) {
      std::vector<std::string> got = result->intersection;
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, lists_.expected);
    }
  }
  // The policy allows 3 runs per period: the fourth is refused with 429 and Retry-After.
  auto fourth = RunRequester(lists_.a, {}, *factory);
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(fourth.status().message()), HasSubstr("3 runs per"));
  const auto records = recorder_.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].user, "bob");
  EXPECT_EQ(records[0].partner, "cert-x");
  EXPECT_EQ(records[0].result_size, 40u);
  EXPECT_THAT(records[3].outcome, HasSubstr("refused"));
}

TEST_P(PsiHttpTest, RefusesStrangersBadCredentialsAndSmallSets) {
  auto stranger = RunRequester(lists_.a, {}, *MakeHttpTransportFactory(Peer("eve")));
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kPermissionDenied);
  HttpPeer bad = Peer();
  bad.password = "wrong";
  auto unauthenticated = RunRequester(lists_.a, {}, *MakeHttpTransportFactory(bad));
  EXPECT_EQ(unauthenticated.status().code(), absl::StatusCode::kUnauthenticated);
  auto small_list = testing::RandomLists(5, 0, 0, 3).a;
  auto small = RunRequester(small_list, {}, *MakeHttpTransportFactory(Peer()));
  EXPECT_EQ(small.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(small.status().message()), HasSubstr("minimum of 10"));
}

TEST_P(PsiHttpTest, RateLimitIsA429WithATaxiiErrorBody) {
  if (GetParam()) GTEST_SKIP() << "the plain-HTTP variant checks the raw response";
  // Open a session, then ask for a second one while it is open.
  ASSERT_TRUE(responder_
                  ->Handle({"bob", {"cert-x"}},
                           [] {
                             std::string m = std::string("LPSI\x01\x01", 6) +
                                             std::string(16, '\0') + std::string(4, '\0');
                             m += std::string("\x02\x06", 2) +
                                  std::string("\0\0\0\0\0\0\0\x64", 8) +
                                  std::string("\0\0\0\x10", 4);
                             m += std::string(16, 'n') + std::string(2, '\0');
                             return m;
                           }())
                  .ok());
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::string_body> req(http::verb::post, "/liaison/psi/v1", 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/octet-stream");
  req.set(http::field::authorization, "Basic Ym9iOmJvYi1wdw==");  // bob:bob-pw
  std::string hello = std::string("LPSI\x01\x01", 6) + std::string(16, '\0') + std::string(4, '\0');
  hello += std::string("\x02\x06", 2) + std::string("\0\0\0\0\0\0\0\x64", 8) +
           std::string("\0\0\0\x10", 4);
  hello += std::string(16, 'm') + std::string(2, '\0');
  req.body() = hello;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res[http::field::content_type], "application/taxii+json;version=2.1");
  EXPECT_FALSE(res[http::field::retry_after].empty());
  EXPECT_THAT(res.body(), HasSubstr(R"("title":"Too many requests")"));
  EXPECT_THAT(res.body(), HasSubstr(R"("http_status":"429")"));
  EXPECT_THAT(res.body(), HasSubstr("already open"));
  // No credentials: the TAXII server's 401.
  req.erase(http::field::authorization);
  http::write(stream, req);
  http::response<http::string_body> res401;
  http::read(stream, buffer, res401);
  EXPECT_EQ(res401.result_int(), 401u);
}

TEST(PsiHttp, RefusesPlainHttpCredentialsToARemotePeer) {
  HttpPeer peer;
  peer.url = "http://partner.example:6543";
  peer.user = "bob";
  EXPECT_EQ(MakeHttpTransportFactory(peer).status().code(), absl::StatusCode::kInvalidArgument);
  peer.url = "ftp://partner.example";
  EXPECT_EQ(MakeHttpTransportFactory(peer).status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Transport, PsiHttpTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Https" : "Http"; });

}  // namespace
}  // namespace liaison::psi
