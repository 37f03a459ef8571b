// The TAXII client against an in-process liaison server, plus URL parsing and failure paths.

#include "taxii/sync/client.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "testing/tls_certs.h"

namespace liaison::taxii::sync {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kCollection = "11111111-1111-4111-8111-111111111111";

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("liaison_sync_client_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store::SqliteOptions so;
    so.path = dir_ / "store.db";
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateCollection({std::string(kCollection), "api", "c", "", "", {}}).ok());
    auto hash = HashPassword("secret", PasswordCost::kMinimum);
    ASSERT_TRUE(store_->CreateUser({"alice", *hash, true, {}}).ok());
    token_ = NewApiToken();
    ASSERT_TRUE(store_->AddToken({HashApiToken(token_), "alice", "", Timestamp::Now(), {}}).ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Start(ServerOptions o = {}) {
    o.port = 0;
    o.threads = 1;
    auto s = Server::Start(*store_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  std::string Base(bool tls = false) const {
    return StrCat(tls ? "https" : "http", "://127.0.0.1:", server_->port(), "/");
  }
  std::string CollectionUrl(bool tls = false) const {
    return StrCat(Base(tls), "api/collections/", kCollection, "/");
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Server> server_;
  std::string token_;
};

std::string Indicator(int i) {
  return StrCat(
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-)",
      std::string(12 - std::to_string(i).size(), '0'), i,
      R"(","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"x","pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"})");
}

TEST(Url, ParsesAndRefuses) {
  auto u = Url::Parse("https://taxii.example.org/api/collections/x/");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/api/collections/x/");
  u = Url::Parse("http://[::1]:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/");
  EXPECT_FALSE(Url::Parse("ftp://x/").ok());
  EXPECT_FALSE(Url::Parse("http://user:pw@x/").ok());
  EXPECT_FALSE(Url::Parse("http://x:99999/").ok());
  EXPECT_FALSE(Url::Parse("http://:80/").ok());
  auto split = SplitCollectionUrl("http://h/api/collections/abc/");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->first, "http://h/api/");
  EXPECT_EQ(split->second, "abc");
  EXPECT_FALSE(SplitCollectionUrl("http://h/api/abc/").ok());
}

TEST_F(ClientTest, PostsPagesAndPollsStatusWithBearerAndBasic) {
  Start();
  ClientOptions o;
  o.token = token_;
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  auto discovery = (*client)->Discovery(Base());
  ASSERT_TRUE(discovery.ok()) << discovery.status();
  EXPECT_NE(discovery->Find("api_roots"), nullptr);
  std::string envelope = "{\"objects\":[";
  for (int i = 0; i < 25; ++i) envelope += (i ? "," : "") + Indicator(i);
  envelope += "]}";
  auto status = (*client)->AddObjects(CollectionUrl(), envelope);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status, "complete");
  EXPECT_EQ(status->success_count, 25);
  auto again = (*client)->GetStatus(Base() + "api/", status->id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->success_count, 25);

  ObjectsQuery q;
  q.limit = 10;
  size_t seen = 0, pages = 0;
  std::optional<Timestamp> last;
  while (true) {
    auto page = (*client)->GetObjects(CollectionUrl(), q);
    ASSERT_TRUE(page.ok()) << page.status();
    seen += page->objects.size();
    ++pages;
    ASSERT_TRUE(page->date_added_last.has_value());
    last = page->date_added_last;
    EXPECT_EQ(page->server, "liaison");
    if (!page->more) break;
    q.next = page->next;
  }
  EXPECT_EQ(seen, 25u);
  EXPECT_EQ(pages, 3u);
  // added_after the last header: nothing new.
  ObjectsQuery after;
  after.added_after = last;
  auto empty = (*client)->GetObjects(CollectionUrl(), after);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());

  ClientOptions basic;
  basic.username = "alice";
  basic.password = "secret";
  auto c2 = Client::Create(basic);
  ASSERT_TRUE(c2.ok());
  ObjectsQuery ids;
  ids.ids = {"indicator--00000000-0000-4000-8000-000000000003"};
  auto one = (*c2)->GetObjects(CollectionUrl(), ids);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->objects.size(), 1u);
  auto manifest = (*c2)->GetManifest(CollectionUrl(), ObjectsQuery{});
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->objects.size(), 25u);
}

TEST_F(ClientTest, MapsErrorsAndGivesUpAfterBoundedRetries) {
  Start();
  ClientOptions o;
  o.token = "lsn_wrong";
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->GetObjects(CollectionUrl(), {});
  EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("/objects/"));

  ClientOptions good;
  good.token = token_;
  auto c2 = Client::Create(good);
  ObjectsQuery bad;
  bad.next = "garbage";
  r = (*c2)->GetObjects(CollectionUrl(), bad);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  r = (*c2)->GetObjects(StrCat(Base(), "api/collections/nope/"), {});
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();

  // A closed port: connection refused, retried with back-off, then Unavailable.
  const std::string url = CollectionUrl();
  server_->Stop();
  server_.reset();
  ClientOptions retry;
  retry.max_attempts = 3;
  retry.initial_backoff = std::chrono::milliseconds(20);
  auto c3 = Client::Create(retry);
  const auto start = std::chrono::steady_clock::now();
  r = (*c3)->GetObjects(url, {});
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("3 attempts"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ClientTest, MutualTlsNeedsTheClientCertificate) {
  ASSERT_TRUE(
      liaison::testing::WriteSelfSignedCert(dir_ / "server.pem", dir_ / "server.key", "127.0.0.1"));
  ASSERT_TRUE(liaison::testing::WriteSelfSignedCert(dir_ / "client.pem", dir_ / "client.key",
                                                    "peer-client"));
  ServerOptions so;
  so.tls_cert_file = (dir_ / "server.pem").string();
  so.tls_key_file = (dir_ / "server.key").string();
  so.tls_client_ca_file = (dir_ / "client.pem").string();
  Start(so);

  ClientOptions o;
  o.token = token_;
  o.ca_file = (dir_ / "server.pem").string();
  o.client_cert_file = (dir_ / "client.pem").string();
  o.client_key_file = (dir_ / "client.key").string();
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok()) << client.status();
  auto r = (*client)->GetObjects(CollectionUrl(true), {});
  EXPECT_TRUE(r.ok()) << r.status();

  ClientOptions no_cert = o;
  no_cert.client_cert_file.clear();
  no_cert.client_key_file.clear();
  no_cert.max_attempts = 1;
  auto c2 = Client::Create(no_cert);
  ASSERT_TRUE(c2.ok());
  EXPECT_FALSE((*c2)->GetObjects(CollectionUrl(true), {}).ok());

  ClientOptions wrong_ca = o;
  wrong_ca.ca_file = (dir_ / "client.pem").string();  // does not vouch for the server
  auto c3 = Client::Create(wrong_ca);
  ASSERT_TRUE(c3.ok());
  auto refused = (*c3)->GetObjects(CollectionUrl(true), {});
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
}

}  // namespace
}  // namespace liaison::taxii::sync
