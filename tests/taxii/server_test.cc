// End-to-end tests of the TAXII 2.1 server over real sockets: an in-process server bound to
// 127.0.0.1 port 0 on an SQLite store in a temporary directory, and a Beast client as the peer.

#include "taxii/server.h"

#include <sodium.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/json.h"
#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pattern/check.h"
#include "store/faulty_store.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/test_client.h"

namespace liaison::taxii {
namespace {

using testing::ClientResponse;
using ::testing::HasSubstr;
using testing::TestClient;

constexpr std::string_view kMedia = "application/taxii+json;version=2.1";
constexpr std::string_view kRw = "11111111-1111-4111-8111-111111111111";
constexpr std::string_view kReadOnly = "22222222-2222-4222-8222-222222222222";
constexpr std::string_view kWriteOnly = "33333333-3333-4333-8333-333333333333";
constexpr std::string_view kHidden = "44444444-4444-4444-8444-444444444444";
constexpr std::string_view kEmpty = "55555555-5555-4555-8555-555555555555";

std::string Basic(std::string_view user, std::string_view password) {
  std::string plain = std::string(user) + ":" + std::string(password);
  std::string out(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return "Basic " + out;
}

std::string Indicator(std::string_view uuid, std::string_view modified,
                      std::string_view pattern = "[ipv4-addr:value = '203.0.113.1']") {
  return std::string(R"({"type":"indicator","spec_version":"2.1","id":"indicator--)") +
         std::string(uuid) + R"(","created":"2020-01-01T00:00:00.000Z","modified":")" +
         std::string(modified) + R"(","name":"x","pattern":")" + std::string(pattern) +
         R"(","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"})";
}

std::string Envelope(const std::vector<std::string>& objects) {
  std::string out = R"({"objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) out += ",";
    out += objects[i];
  }
  return out + "]}";
}

json::Value ParseJson(const std::string& body) {
  auto v = json::Parse(body);
  EXPECT_TRUE(v.ok()) << body;
  return v.ok() ? *v : json::Value();
}

const std::string kUuidA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const std::string kUuidB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const std::string kUuidC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";

class TaxiiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liaison_taxii_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store::SqliteOptions so;
    so.path = dir_ / "store.db";
    so.max_page_size = 5;
    auto store = store::OpenSqliteStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);

    for (auto [id, title] : {std::pair{kRw, "rw"},
                             {kReadOnly, "ro"},
                             {kWriteOnly, "wo"},
                             {kHidden, "hidden"},
                             {kEmpty, "empty"}}) {
      store::Collection c;
      c.id = std::string(id);
      c.api_root = "api";
      c.title = title;
      ASSERT_TRUE(store_->CreateCollection(c).ok());
    }
    auto admin_hash = HashPassword("admin-pw", PasswordCost::kMinimum);
    auto alice_hash = HashPassword("alice-pw", PasswordCost::kMinimum);
    ASSERT_TRUE(admin_hash.ok() && alice_hash.ok());
    ASSERT_TRUE(store_->CreateUser({"admin", *admin_hash, true, {}}).ok());
    ASSERT_TRUE(store_->CreateUser({"alice", *alice_hash, false, {"partners"}}).ok());
    ASSERT_TRUE(
        store_->SetPermission(kRw, store::Principal::UserNamed("alice"), {true, true}).ok());
    ASSERT_TRUE(
        store_->SetPermission(kReadOnly, store::Principal::GroupNamed("partners"), {true, false})
            .ok());
    ASSERT_TRUE(
        store_->SetPermission(kWriteOnly, store::Principal::UserNamed("alice"), {false, true})
            .ok());
    ASSERT_TRUE(
        store_->SetPermission(kEmpty, store::Principal::UserNamed("alice"), {true, true}).ok());
    token_ = NewApiToken();
    ASSERT_TRUE(
        store_->AddToken({HashApiToken(token_), "alice", "test", Timestamp::Now(), {}}).ok());

    ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.max_content_length = 64 * 1024;
    options.max_header_bytes = 8 * 1024;
    options.free_auth_failures = 3;
    options.base_auth_delay = std::chrono::milliseconds(200);
    options.max_auth_delay = std::chrono::milliseconds(400);
    options.api_roots = {{"api", "Test root", "for tests"}, {"other", "Other", ""}};
    ModifyOptions(options);
    auto server = Server::Start(*store_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<TestClient>(server_->port());
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  virtual void ModifyOptions(ServerOptions&) {}

  ClientResponse Get(std::string_view target, std::string auth = "") {
    if (auth.empty()) auth = Basic("admin", "admin-pw");
    return client_->Send("GET", target, {{"Accept", std::string(kMedia)}, {"Authorization", auth}});
  }
  ClientResponse Post(std::string_view target, std::string body, std::string auth = "") {
    if (auth.empty()) auth = Basic("admin", "admin-pw");
    return client_->Send("POST", target,
                         {{"Accept", std::string(kMedia)},
                          {"Content-Type", std::string(kMedia)},
                          {"Authorization", auth}},
                         std::move(body));
  }
  ClientResponse Delete(std::string_view target) {
    return client_->Send(
        "DELETE", target,
        {{"Accept", std::string(kMedia)}, {"Authorization", Basic("admin", "admin-pw")}});
  }
  std::string Objects(std::string_view collection) {
    return "/api/collections/" + std::string(collection) + "/objects/";
  }
  // Posts objects to the rw collection and checks they all landed.
  void Seed(const std::vector<std::string>& objects) {
    ClientResponse r = Post(Objects(kRw), Envelope(objects));
    ASSERT_EQ(r.status, 202) << r.body;
    json::Value s = ParseJson(r.body);
    ASSERT_EQ(s.Find("failure_count")->as_int(), 0) << r.body;
  }
  // The ids of an envelope's objects, in order.
  static std::vector<std::string> Ids(const ClientResponse& r) {
    std::vector<std::string> out;
    json::Value v = ParseJson(r.body);
    if (const json::Value* objects = v.Find("objects")) {
      for (const json::Value& o : objects->as_array()) {
        out.push_back(o.Find("id")->as_string() +
                      (o.Find("modified") ? "@" + o.Find("modified")->as_string() : ""));
      }
    }
    return out;
  }
  static void ExpectTaxiiError(const ClientResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), kMedia);
    json::Value v = ParseJson(r.body);
    ASSERT_TRUE(v.is_object()) << r.body;
    ASSERT_NE(v.Find("title"), nullptr) << r.body;
    ASSERT_NE(v.Find("http_status"), nullptr) << r.body;
    EXPECT_EQ(v.Find("http_status")->as_string(), std::to_string(status));
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
  std::string token_;
};

TEST_F(TaxiiServerTest, DiscoveryListsApiRootsAsUrls) {
  ClientResponse r = Get("/taxii2/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), kMedia);
  json::Value v = ParseJson(r.body);
  const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(v.Find("title")->as_string(), "liaison");
  EXPECT_EQ(v.Find("default")->as_string(), base + "/api/");
  ASSERT_EQ(v.Find("api_roots")->as_array().size(), 2u);
  EXPECT_EQ(v.Find("api_roots")->as_array()[1].as_string(), base + "/other/");
}

TEST_F(TaxiiServerTest, ApiRootAdvertisesVersionAndMaxContentLength) {
  ClientResponse r = Get("/api/");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value v = ParseJson(r.body);
  EXPECT_EQ(v.Find("title")->as_string(), "Test root");
  EXPECT_EQ(v.Find("versions")->as_array()[0].as_string(), kMedia);
  EXPECT_EQ(v.Find("max_content_length")->as_int(), 64 * 1024);
  ExpectTaxiiError(Get("/nope/"), 404);
}

TEST_F(TaxiiServerTest, HealthNeedsNoAuthentication) {
  ClientResponse r = client_->Send("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("ok"));
}

TEST_F(TaxiiServerTest, MissingCredentialsAre401WithChallengeAndTaxiiBody) {
  ClientResponse r = client_->Send("GET", "/taxii2/", {{"Accept", std::string(kMedia)}});
  ExpectTaxiiError(r, 401);
  EXPECT_EQ(r.CountHeader("www-authenticate"), 2u);
  EXPECT_THAT(r.Header("www-authenticate"), HasSubstr("Basic"));
  ExpectTaxiiError(Get("/taxii2/", Basic("admin", "wrong")), 401);
  ExpectTaxiiError(Get("/taxii2/", Basic("nobody", "x")), 401);
  ExpectTaxiiError(Get("/taxii2/", "Bearer lsn_not-a-token"), 401);
  ExpectTaxiiError(Get("/taxii2/", "Digest abc"), 401);
  ExpectTaxiiError(Get("/taxii2/", "Basic !!!"), 401);
}

TEST_F(TaxiiServerTest, BearerTokenAndBasicBothAuthenticate) {
  EXPECT_EQ(Get("/taxii2/", "Bearer " + token_).status, 200);
  EXPECT_EQ(Get("/taxii2/", Basic("alice", "alice-pw")).status, 200);
  // A second request is served from the credential cache; it must still check the password.
  EXPECT_EQ(Get("/taxii2/", Basic("alice", "alice-pw")).status, 200);
  EXPECT_EQ(Get("/taxii2/", Basic("alice", "alice-pw2")).status, 401);
}

TEST_F(TaxiiServerTest, ExpiredTokenIsRejected) {
  std::string token = NewApiToken();
  ASSERT_TRUE(store_
                  ->AddToken({HashApiToken(token), "alice", "old", Timestamp::FromUnixMillis(0),
                              Timestamp::FromUnixMillis(1000)})
                  .ok());
  ExpectTaxiiError(Get("/taxii2/", "Bearer " + token), 401);
}

TEST_F(TaxiiServerTest, RepeatedFailuresAreSlowedDown) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/taxii2/", Basic("admin", "bad")).status, 401);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("/taxii2/", Basic("admin", "bad")).status, 401);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // A success resets the count.
  EXPECT_EQ(Get("/taxii2/").status, 200);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("/taxii2/", Basic("admin", "bad")).status, 401);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST_F(TaxiiServerTest, CollectionsShowOnlyWhatTheCallerMayUse) {
  ClientResponse r = Get("/api/collections/", Basic("alice", "alice-pw"));
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value v = ParseJson(r.body);
  std::vector<std::string> seen;
  for (const json::Value& c : v.Find("collections")->as_array()) {
    seen.push_back(c.Find("title")->as_string() + ":" + (c.Find("can_read")->as_bool() ? "r" : "") +
                   (c.Find("can_write")->as_bool() ? "w" : ""));
    EXPECT_EQ(c.Find("media_types")->as_array()[0].as_string(),
              "application/stix+json;version=2.1");
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("rw:rw", "ro:r", "wo:w", "empty:rw"));
  // The admin sees every collection; the other API root has none.
  EXPECT_EQ(ParseJson(Get("/api/collections/").body).Find("collections")->as_array().size(), 5u);
  EXPECT_EQ(Get("/other/collections/").body, "{}");

  ClientResponse one =
      Get("/api/collections/" + std::string(kReadOnly) + "/", Basic("alice", "alice-pw"));
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(ParseJson(one.body).Find("id")->as_string(), kReadOnly);
  ExpectTaxiiError(
      Get("/api/collections/" + std::string(kHidden) + "/", Basic("alice", "alice-pw")), 404);
  ExpectTaxiiError(Get("/other/collections/" + std::string(kRw) + "/"), 404);
  ExpectTaxiiError(Get("/api/collections/no-such-collection/"), 404);
}

TEST_F(TaxiiServerTest, ContentNegotiation) {
  auto with_accept = [&](std::string accept) {
    return client_->Send("GET", "/api/",
                         {{"Accept", accept}, {"Authorization", Basic("admin", "admin-pw")}});
  };
  EXPECT_EQ(with_accept("application/taxii+json;version=2.1").status, 200);
  EXPECT_EQ(with_accept("application/taxii+json").status, 200);  // no version: the latest
  EXPECT_EQ(with_accept("application/json, application/taxii+json; version=2.1").status, 200);
  EXPECT_EQ(with_accept("*/*").status, 200);
  ExpectTaxiiError(with_accept("application/json"), 406);
  ExpectTaxiiError(with_accept("application/taxii+json;version=2.0"), 406);
  ExpectTaxiiError(with_accept("application/stix+json;version=2.1"), 406);
  ExpectTaxiiError(with_accept("application/taxii+json;version=2.1;q=0"), 406);
}

TEST_F(TaxiiServerTest, PostNeedsTheTaxiiContentType) {
  auto post = [&](std::string content_type) {
    return client_->Send("POST", Objects(kRw),
                         {{"Accept", std::string(kMedia)},
                          {"Content-Type", content_type},
                          {"Authorization", Basic("admin", "admin-pw")}},
                         Envelope({Indicator(kUuidA, "2021-01-01T00:00:00.000Z")}));
  };
  ExpectTaxiiError(post("application/json"), 415);
  ExpectTaxiiError(post("application/stix+json;version=2.1"), 415);
  ExpectTaxiiError(post("application/taxii+json;version=2.0"), 415);
  EXPECT_EQ(post("application/taxii+json").status, 202);
}

TEST_F(TaxiiServerTest, PermissionsAre403ForVisibleAnd404ForHiddenCollections) {
  const std::string alice = Basic("alice", "alice-pw");
  const std::string body = Envelope({Indicator(kUuidA, "2021-01-01T00:00:00.000Z")});
  ExpectTaxiiError(Post(Objects(kReadOnly), body, alice), 403);
  ExpectTaxiiError(Get(Objects(kWriteOnly), alice), 403);
  ExpectTaxiiError(Get("/api/collections/" + std::string(kWriteOnly) + "/manifest/", alice), 403);
  ExpectTaxiiError(Get(Objects(kHidden), alice), 404);
  ExpectTaxiiError(Post(Objects(kHidden), body, alice), 404);
  EXPECT_EQ(Post(Objects(kWriteOnly), body, alice).status, 202);
  EXPECT_EQ(Get(Objects(kReadOnly), alice).status, 200);
  // DELETE needs both read and write.
  ClientResponse del = client_->Send("DELETE", Objects(kWriteOnly) + "indicator--" + kUuidA + "/",
                                     {{"Accept", std::string(kMedia)}, {"Authorization", alice}});
  ExpectTaxiiError(del, 403);
}

TEST_F(TaxiiServerTest, PostReportsInvalidObjectsAsFailuresWhileValidOnesLand) {
  std::string invalid = R"({"type":"indicator","spec_version":"2.1","id":"indicator--)" + kUuidB +
                        R"(","created":"not a time","modified":"2021-01-01T00:00:00Z"})";
  ClientResponse r =
      Post(Objects(kRw), Envelope({Indicator(kUuidA, "2021-01-01T00:00:00.000Z"), invalid,
                                   Indicator(kUuidC, "2021-01-01T00:00:00.000Z")}));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.Header("content-type"), kMedia);
  json::Value s = ParseJson(r.body);
  EXPECT_EQ(s.Find("status")->as_string(), "complete");
  EXPECT_EQ(s.Find("total_count")->as_int(), 3);
  EXPECT_EQ(s.Find("success_count")->as_int(), 2);
  EXPECT_EQ(s.Find("failure_count")->as_int(), 1);
  EXPECT_EQ(s.Find("pending_count")->as_int(), 0);
  // Six fractional digits, as date_added: Python clients parse with %f, which stops at six.
  EXPECT_THAT(s.Find("request_timestamp")->as_string(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[.][0-9]{6}Z"));
  const json::Value& failure = s.Find("failures")->as_array().at(0);
  EXPECT_EQ(failure.Find("id")->as_string(), "indicator--" + kUuidB);
  EXPECT_THAT(failure.Find("message")->as_string(), HasSubstr("/objects/1"));

  // The status resource can be fetched again.
  ClientResponse again = Get("/api/status/" + s.Find("id")->as_string() + "/");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(ParseJson(again.body), s);
  ExpectTaxiiError(Get("/other/status/" + s.Find("id")->as_string() + "/"), 404);
  ExpectTaxiiError(Get("/api/status/00000000-0000-4000-8000-000000000000/"), 404);

  EXPECT_THAT(Ids(Get(Objects(kRw))), ::testing::UnorderedElementsAre(
                                          "indicator--" + kUuidA + "@2021-01-01T00:00:00.000Z",
                                          "indicator--" + kUuidC + "@2021-01-01T00:00:00.000Z"));
}

TEST_F(TaxiiServerTest, DuplicatesAreSuccessesNotErrors) {
  const std::string body = Envelope({Indicator(kUuidA, "2021-01-01T00:00:00.000Z")});
  ASSERT_EQ(Post(Objects(kRw), body).status, 202);
  ClientResponse r = Post(Objects(kRw), body);
  ASSERT_EQ(r.status, 202);
  json::Value s = ParseJson(r.body);
  EXPECT_EQ(s.Find("success_count")->as_int(), 1);
  EXPECT_EQ(s.Find("failure_count")->as_int(), 0);
  EXPECT_EQ(Ids(Get(Objects(kRw))).size(), 1u);
}

TEST_F(TaxiiServerTest, MalformedOrAllInvalidBodies) {
  ExpectTaxiiError(Post(Objects(kRw), "{not json"), 400);
  ExpectTaxiiError(Post(Objects(kRw), Indicator(kUuidA, "2021-01-01T00:00:00.000Z")), 400);
  ClientResponse empty = Post(Objects(kRw), "{}");
  ASSERT_EQ(empty.status, 202) << empty.body;
  EXPECT_EQ(ParseJson(empty.body).Find("total_count")->as_int(), 0);
  ClientResponse all_bad = Post(Objects(kRw), Envelope({R"({"type":"indicator"})"}));
  ASSERT_EQ(all_bad.status, 202) << all_bad.body;
  EXPECT_EQ(ParseJson(all_bad.body).Find("failure_count")->as_int(), 1);
}

TEST_F(TaxiiServerTest, PaginationWithLimitAndNextAndServerMaximum) {
  std::vector<std::string> objects;
  for (int i = 0; i < 12; ++i) {
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", i);
    objects.push_back(Indicator(uuid, "2021-01-01T00:00:00.000Z"));
  }
  Seed(objects);
  // No limit: the server's maximum page size (5) applies.
  ClientResponse first = Get(Objects(kRw));
  ASSERT_EQ(first.status, 200);
  json::Value v = ParseJson(first.body);
  EXPECT_EQ(v.Find("objects")->as_array().size(), 5u);
  EXPECT_TRUE(v.Find("more")->as_bool());
  // limit=4 across pages, following next.
  std::vector<std::string> all;
  std::string target = Objects(kRw) + "?limit=4";
  int pages = 0;
  std::string last_header;
  while (true) {
    ClientResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    for (auto& id : Ids(r)) all.push_back(id);
    ASSERT_TRUE(r.HasHeader("x-taxii-date-added-first"));
    ASSERT_TRUE(r.HasHeader("x-taxii-date-added-last"));
    EXPECT_LE(r.Header("x-taxii-date-added-first"), r.Header("x-taxii-date-added-last"));
    EXPECT_GT(r.Header("x-taxii-date-added-first"), last_header);
    last_header = r.Header("x-taxii-date-added-last");
    json::Value page = ParseJson(r.body);
    if (!page.Find("more")->as_bool()) {
      EXPECT_EQ(page.Find("next"), nullptr);
      break;
    }
    target = Objects(kRw) + "?limit=4&next=" + page.Find("next")->as_string();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all.size(), 12u);
  // Polling with added_after = the last header returns nothing new.
  ClientResponse after = Get(Objects(kRw) + "?added_after=" + last_header);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "{}");
  EXPECT_EQ(after.Header("x-taxii-date-added-last"), last_header);
  // Manifest pages the same way.
  ClientResponse manifest = Get("/api/collections/" + std::string(kRw) + "/manifest/?limit=3");
  json::Value m = ParseJson(manifest.body);
  EXPECT_EQ(m.Find("objects")->as_array().size(), 3u);
  EXPECT_TRUE(m.Find("more")->as_bool());
}

TEST_F(TaxiiServerTest, EmptyPagesCarryDateAddedHeaders) {
  for (std::string target :
       {Objects(kEmpty), "/api/collections/" + std::string(kEmpty) + "/manifest/"}) {
    ClientResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.Header("content-type"), kMedia);
    EXPECT_TRUE(r.HasHeader("x-taxii-date-added-first")) << target;
    EXPECT_TRUE(r.HasHeader("x-taxii-date-added-last")) << target;
  }
  EXPECT_EQ(Get(Objects(kEmpty)).body, "{}");
  Seed({Indicator(kUuidA, "2021-01-01T00:00:00.000Z")});
  ClientResponse filtered = Get("/api/collections/" + std::string(kRw) + "/objects/indicator--" +
                                kUuidA + "/?match[version]=1999-01-01T00:00:00Z");
  ASSERT_EQ(filtered.status, 200);
  EXPECT_TRUE(filtered.HasHeader("x-taxii-date-added-first"));
  ClientResponse versions = Get("/api/collections/" + std::string(kRw) + "/objects/indicator--" +
                                kUuidA + "/versions/?match[spec_version]=2.0");
  ASSERT_EQ(versions.status, 200);
  EXPECT_TRUE(versions.HasHeader("x-taxii-date-added-last"));
}

class FilterTest : public TaxiiServerTest {
 protected:
  void SetUp() override {
    TaxiiServerTest::SetUp();
    Seed({Indicator(kUuidA, "2021-01-01T00:00:00.000Z"),
          Indicator(kUuidA, "2021-02-01T00:00:00.000Z"),
          Indicator(kUuidA, "2021-03-01T00:00:00.000Z"),
          Indicator(kUuidB, "2021-01-01T00:00:00.000Z"),
          R"({"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--)" + kUuidC +
              R"(","value":"198.51.100.7"})"});
  }
  std::vector<std::string> Query(std::string query) {
    ClientResponse r = Get(Objects(kRw) + "?limit=100&" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    return Ids(r);
  }
  const std::string a_ = "indicator--" + kUuidA;
  const std::string b_ = "indicator--" + kUuidB;
  const std::string c_ = "ipv4-addr--" + kUuidC;
};

TEST_F(FilterTest, MatchVersion) {
  using ::testing::ElementsAre;
  using ::testing::UnorderedElementsAre;
  EXPECT_THAT(Query(""), UnorderedElementsAre(a_ + "@2021-03-01T00:00:00.000Z",
                                              b_ + "@2021-01-01T00:00:00.000Z", c_));
  EXPECT_THAT(Query("match[id]=" + a_ + "&match[version]=first"),
              ElementsAre(a_ + "@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(Query("match[id]=" + a_ + "&match[version]=all"),
              ElementsAre(a_ + "@2021-01-01T00:00:00.000Z", a_ + "@2021-02-01T00:00:00.000Z",
                          a_ + "@2021-03-01T00:00:00.000Z"));
  EXPECT_THAT(Query("match[id]=" + a_ + "&match[version]=2021-02-01T00:00:00Z"),
              ElementsAre(a_ + "@2021-02-01T00:00:00.000Z"));
  EXPECT_THAT(Query("match[id]=" + a_ + "&match[version]=first,last"),
              ElementsAre(a_ + "@2021-01-01T00:00:00.000Z", a_ + "@2021-03-01T00:00:00.000Z"));
}

TEST_F(FilterTest, MatchIdTypeSpecVersionAndAddedAfter) {
  using ::testing::ElementsAre;
  using ::testing::UnorderedElementsAre;
  EXPECT_THAT(Query("match[type]=ipv4-addr"), ElementsAre(c_));
  EXPECT_THAT(Query("match[type]=ipv4-addr,indicator&match[id]=" + b_),
              ElementsAre(b_ + "@2021-01-01T00:00:00.000Z"));
  EXPECT_THAT(Query("match[id]=" + b_ + "&match[id]=" + c_),
              UnorderedElementsAre(b_ + "@2021-01-01T00:00:00.000Z", c_));
  EXPECT_THAT(Query("match[spec_version]=2.0"), ElementsAre());
  EXPECT_EQ(Query("match[spec_version]=2.1").size(), 3u);
  EXPECT_THAT(Query("added_after=2000-01-01T00:00:00Z").size(), 3u);
  EXPECT_THAT(Query("added_after=2999-01-01T00:00:00%2B01:00"), ElementsAre());
  EXPECT_THAT(Query("match[tlp]=red").size(), 3u);  // unsupported filters are ignored
}

TEST_F(FilterTest, MalformedFiltersAre400) {
  for (std::string q : {"limit=0", "limit=-1", "limit=abc", "limit=", "added_after=yesterday",
                        "added_after=2021-13-01T00:00:00Z", "next=garbage", "match[version]=newest",
                        "match[id]=", "match[id]=%zz"}) {
    ClientResponse r = Get(Objects(kRw) + "?" + q);
    ExpectTaxiiError(r, 400);
    EXPECT_TRUE(r.HasHeader("content-type")) << q;
  }
  ExpectTaxiiError(Get("/api/collections/" + std::string(kRw) + "/manifest/?limit=x"), 400);
  ExpectTaxiiError(Get(Objects(kRw) + a_ + "/versions/?added_after=x"), 400);
  // A huge limit is clamped, not an error.
  EXPECT_EQ(Get(Objects(kRw) + "?limit=99999999999999999999999").status, 200);
}

TEST_F(FilterTest, ObjectVersionsAndManifestEndpoints) {
  ClientResponse object = Get(Objects(kRw) + a_ + "/");
  ASSERT_EQ(object.status, 200);
  EXPECT_THAT(Ids(object), ::testing::ElementsAre(a_ + "@2021-03-01T00:00:00.000Z"));
  EXPECT_TRUE(object.HasHeader("x-taxii-date-added-first"));
  ClientResponse all = Get(Objects(kRw) + a_ + "/?match[version]=all");
  EXPECT_EQ(Ids(all).size(), 3u);
  ExpectTaxiiError(Get(Objects(kRw) + "indicator--" + kUuidC + "/"), 404);

  ClientResponse versions = Get(Objects(kRw) + a_ + "/versions/");
  ASSERT_EQ(versions.status, 200);
  json::Value v = ParseJson(versions.body);
  EXPECT_EQ(v.Find("more")->as_bool(), false);
  ASSERT_EQ(v.Find("versions")->as_array().size(), 3u);
  EXPECT_EQ(v.Find("versions")->as_array()[0].as_string(), "2021-01-01T00:00:00.000Z");
  EXPECT_TRUE(versions.HasHeader("x-taxii-date-added-first"));
  ExpectTaxiiError(Get(Objects(kRw) + "indicator--" + kUuidC + "/versions/"), 404);

  ClientResponse manifest =
      Get("/api/collections/" + std::string(kRw) + "/manifest/?match[type]=ipv4-addr");
  ASSERT_EQ(manifest.status, 200);
  json::Value m = ParseJson(manifest.body);
  const json::Value& rec = m.Find("objects")->as_array().at(0);
  EXPECT_EQ(rec.Find("id")->as_string(), c_);
  EXPECT_EQ(rec.Find("media_type")->as_string(), "application/stix+json;version=2.1");
  // An SCO without created/modified: its version is its date_added.
  EXPECT_EQ(rec.Find("version")->as_string(), rec.Find("date_added")->as_string());
  EXPECT_EQ(manifest.Header("x-taxii-date-added-first"), rec.Find("date_added")->as_string());
}

TEST_F(FilterTest, DeleteWithoutMatchVersionRemovesEveryVersion) {
  ClientResponse r = Delete(Objects(kRw) + a_ + "/");
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectTaxiiError(Get(Objects(kRw) + a_ + "/"), 404);
  ExpectTaxiiError(Delete(Objects(kRw) + a_ + "/"), 404);
}

TEST_F(FilterTest, DeleteWithMatchVersionRemovesOnlyThoseVersions) {
  EXPECT_EQ(Delete(Objects(kRw) + a_ + "/?match[version]=last").status, 200);
  EXPECT_THAT(Ids(Get(Objects(kRw) + a_ + "/")),
              ::testing::ElementsAre(a_ + "@2021-02-01T00:00:00.000Z"));
  EXPECT_EQ(Delete(Objects(kRw) + a_ + "/?match[version]=2021-01-01T00:00:00.000Z").status, 200);
  EXPECT_THAT(Ids(Get(Objects(kRw) + a_ + "/?match[version]=all")),
              ::testing::ElementsAre(a_ + "@2021-02-01T00:00:00.000Z"));
  ExpectTaxiiError(Delete(Objects(kRw) + a_ + "/?match[version]=bogus"), 400);
}

TEST_F(TaxiiServerTest, UnknownEndpointsAndMethods) {
  ExpectTaxiiError(Get("/api/collections/" + std::string(kRw) + "/nothing/"), 404);
  ExpectTaxiiError(Get("/"), 404);
  ClientResponse put = client_->Send(
      "PUT", "/api/collections/",
      {{"Accept", std::string(kMedia)}, {"Authorization", Basic("admin", "admin-pw")}});
  ExpectTaxiiError(put, 405);
  EXPECT_THAT(put.Header("allow"), HasSubstr("GET"));
  ExpectTaxiiError(
      client_->Send("DELETE", Objects(kRw), {{"Authorization", Basic("admin", "admin-pw")}}), 405);
}

TEST_F(TaxiiServerTest, OversizedBodyIs413BeforeTheBodyIsRead) {
  // Only the header is sent: the server must answer without waiting for the body.
  const std::string header =
      "POST " + Objects(kRw) +
      " HTTP/1.1\r\nHost: x\r\nAuthorization: " + Basic("admin", "admin-pw") +
      "\r\nContent-Type: " + std::string(kMedia) + "\r\nContent-Length: 10000000\r\n\r\n";
  ClientResponse r = client_->SendRaw(header);
  ExpectTaxiiError(r, 413);
  // A chunked body that grows past the limit is cut off too.
  std::string big(70 * 1024, 'x');
  char size[32];
  std::snprintf(size, sizeof size, "%zx", big.size());
  ClientResponse chunked = client_->SendRaw(
      "POST " + Objects(kRw) + " HTTP/1.1\r\nHost: x\r\nAuthorization: " +
      Basic("admin", "admin-pw") + "\r\nContent-Type: " + std::string(kMedia) +
      "\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + big + "\r\n0\r\n\r\n");
  ExpectTaxiiError(chunked, 413);
}

TEST_F(TaxiiServerTest, OversizedHeaderIsRefused) {
  ClientResponse r = client_->SendRaw(
      "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10 * 1024, 'a') + "\r\n\r\n");
  ExpectTaxiiError(r, 431);
}

TEST_F(TaxiiServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Get("/api/").status, 200);
    EXPECT_TRUE(client_->connected());
  }
}

TEST_F(TaxiiServerTest, HeadAnswersWithoutBody) {
  ClientResponse r = client_->Send(
      "HEAD", "/api/",
      {{"Accept", std::string(kMedia)}, {"Authorization", Basic("admin", "admin-pw")}});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_NE(r.Header("content-length"), "0");
}

// A store that cannot answer while credentials are checked is the server's failure: 503, not
// 401 (which would tell the client its credentials are wrong and count a failure against it).
TEST(TaxiiServerAuth, StoreFailureDuringLoginIs503) {
  auto dir = std::filesystem::temp_directory_path() /
             ("liaison_taxii_auth503_" + std::to_string(::getpid()));
  store::SqliteOptions so;
  so.path = dir / "store.db";
  auto store = store::OpenSqliteStore(so);
  ASSERT_TRUE(store.ok()) << store.status();
  auto hash = HashPassword("admin-pw", PasswordCost::kMinimum);
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE((*store)->CreateUser({"admin", *hash, true, {}}).ok());
  store::FaultyStore faulty(**store);
  ServerOptions options;
  options.port = 0;
  auto server = Server::Start(faulty, options);
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client((*server)->port());
  const std::vector<std::pair<std::string, std::string>> basic = {
      {"Accept", std::string(kMedia)}, {"Authorization", Basic("admin", "admin-pw")}};
  const std::vector<std::pair<std::string, std::string>> bearer = {
      {"Accept", std::string(kMedia)}, {"Authorization", "Bearer some-token"}};
  faulty.FailOnCall(1, /*sticky=*/true);
  EXPECT_EQ(client.Send("GET", "/api/", basic).status, 503);
  EXPECT_EQ(client.Send("GET", "/api/", bearer).status, 503);
  faulty.FailOnCall(0);
  EXPECT_EQ(client.Send("GET", "/api/", basic).status, 200);
  EXPECT_EQ(client.Send("GET", "/api/", bearer).status, 401);
  server = absl::UnavailableError("");
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(TaxiiServerStart, RefusesPlainHttpOnNonLoopbackWithoutInsecure) {
  auto dir = std::filesystem::temp_directory_path() /
             ("liaison_taxii_start_" + std::to_string(::getpid()));
  store::SqliteOptions so;
  so.path = dir / "store.db";
  auto store = store::OpenSqliteStore(so);
  ASSERT_TRUE(store.ok());
  ServerOptions options;
  options.address = "0.0.0.0";
  options.port = 0;
  auto server = Server::Start(**store, options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  options.insecure = true;
  server = Server::Start(**store, options);
  EXPECT_TRUE(server.ok()) << server.status();
  options.insecure = false;
  options.tls_cert_file = (dir / "missing.pem").string();
  options.tls_key_file = (dir / "missing.key").string();
  EXPECT_FALSE(Server::Start(**store, options).ok());
  server = absl::UnavailableError("");
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liaison::taxii

namespace liaison::taxii {
namespace {

class TimeoutTest : public TaxiiServerTest {
 protected:
  void ModifyOptions(ServerOptions& options) override {
    options.idle_timeout = std::chrono::milliseconds(200);
    options.request_timeout = std::chrono::milliseconds(200);
  }
};

TEST_F(TimeoutTest, SlowClientIsDisconnected) {
  // Half a request line, then silence: the server must close the connection by itself.
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), server_->port()});
  net::write(socket, net::buffer(std::string_view("GET /taxii2/ HT")));
  char byte;
  boost::system::error_code ec;
  const auto start = std::chrono::steady_clock::now();
  socket.read_some(net::buffer(&byte, 1), ec);  // returns when the server closes
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The server still serves others.
  EXPECT_EQ(Get("/taxii2/").status, 200);
}

}  // namespace
}  // namespace liaison::taxii

namespace liaison::taxii {
namespace {

// Per-API-root max_content_length and the access log callback.
class PerRootLimitTest : public TaxiiServerTest {
 protected:
  void ModifyOptions(ServerOptions& options) override {
    options.api_roots[1].max_content_length = 1 << 20;  // "other": 1 MiB; "api": the global 64 KiB
    options.request_log = [this](const RequestLogEntry& e) {
      absl::MutexLock lock(&mu_);
      log_.push_back(StrCat(e.method, " ", e.target, " ", e.status, " ", e.bytes, " ", e.user));
    };
  }
  std::vector<std::string> Log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  absl::Mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(PerRootLimitTest, EachApiRootAdvertisesAndEnforcesItsOwnLimit) {
  EXPECT_EQ(ParseJson(Get("/api/").body).Find("max_content_length")->as_int(), 64 * 1024);
  EXPECT_EQ(ParseJson(Get("/other/").body).Find("max_content_length")->as_int(), 1 << 20);
  const std::string big(100 * 1024, ' ');
  // 100 KiB: over the limit of /api/, within that of /other/ (whose collection does not exist).
  ExpectTaxiiError(Post(Objects(kRw), "{\"objects\":[]}" + big), 413);
  ClientResponse r =
      Post("/other/collections/" + std::string(kRw) + "/objects/", "{\"objects\":[]}" + big);
  ExpectTaxiiError(r, 404);
}

TEST_F(PerRootLimitTest, EveryAnsweredRequestIsLogged) {
  ClientResponse r = Get("/api/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(client_->Send("GET", "/taxii2/", {{"Accept", std::string(kMedia)}}).status, 401);
  // The log entry is written after the response; wait for it briefly.
  for (int i = 0; i < 200 && Log().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], StrCat("GET /api/ 200 ", r.body.size(), " admin"));
  EXPECT_THAT(log[1], ::testing::StartsWith("GET /taxii2/ 401 "));
  EXPECT_THAT(log[1], ::testing::EndsWith(" "));  // no user
}

TEST_F(PerRootLimitTest, RefusalsAfterALoginNameTheUser) {
  // 404, 405 and 406 come after authentication: the log says who asked.
  const std::string auth = Basic("admin", "admin-pw");
  EXPECT_EQ(Get("/api/nothing/here/").status, 404);
  EXPECT_EQ(client_->Send("PUT", "/api/", {{"Authorization", auth}}).status, 405);
  EXPECT_EQ(
      client_->Send("GET", "/api/", {{"Accept", "text/html"}, {"Authorization", auth}}).status,
      406);
  for (int i = 0; i < 200 && Log().size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_THAT(log[0], ::testing::StartsWith("GET /api/nothing/here/ 404 "));
  EXPECT_THAT(log[1], ::testing::StartsWith("PUT /api/ 405 "));
  EXPECT_THAT(log[2], ::testing::StartsWith("GET /api/ 406 "));
  for (const std::string& line : log) EXPECT_THAT(line, ::testing::EndsWith(" admin"));
}

// With the pattern module's checker (as `liaison serve` wires it), an indicator whose STIX
// pattern cannot match is a failure with the reason; the valid ones land.
class PatternCheckTest : public TaxiiServerTest {
 protected:
  void ModifyOptions(ServerOptions& options) override {
    options.check_stix_pattern = pattern::CheckPatternText;
  }
};

TEST_F(PatternCheckTest, IndicatorsWithBadStixPatternsAreFailures) {
  ClientResponse r = Post(
      Objects(kRw), Envelope({Indicator(kUuidA, "2021-01-01T00:00:00.000Z"),
                              Indicator(kUuidB, "2021-01-01T00:00:00.000Z", "[ipv4-addr:value = "),
                              Indicator(kUuidC, "2021-01-01T00:00:00.000Z",
                                        "[file:hashes.MD5 = 'not-a-hash']")}));
  ASSERT_EQ(r.status, 202) << r.body;
  json::Value s = ParseJson(r.body);
  EXPECT_EQ(s.Find("success_count")->as_int(), 1);
  EXPECT_EQ(s.Find("failure_count")->as_int(), 2);
  const json::Array& failures = s.Find("failures")->as_array();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].Find("id")->as_string(), "indicator--" + kUuidB);
  EXPECT_THAT(failures[0].Find("message")->as_string(),
              HasSubstr("/objects/1/pattern: invalid STIX pattern: offset "));
  EXPECT_EQ(failures[1].Find("id")->as_string(), "indicator--" + kUuidC);
  EXPECT_THAT(failures[1].Find("message")->as_string(), HasSubstr("(pattern)"));
  EXPECT_THAT(Ids(Get(Objects(kRw))),
              ::testing::ElementsAre("indicator--" + kUuidA + "@2021-01-01T00:00:00.000Z"));
}

TEST(TaxiiStatusExpiry, StatusResourcesExpireAfterTheirTtl) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("liaison_status_ttl_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::atomic<int64_t> now{1'800'000'000'000'000};
  store::SqliteOptions so;
  so.path = dir / "store.db";
  so.status_ttl = std::chrono::hours(1);
  so.clock = [&now] { return store::FromUnixMicros(now.load()); };
  auto store = store::OpenSqliteStore(so);
  ASSERT_TRUE(store.ok()) << store.status();
  store::StatusResource s;
  s.id = "status-1";
  s.api_root = "api";
  s.status = "complete";
  s.request_timestamp = store::FromUnixMicros(now.load());
  ASSERT_TRUE((*store)->PutStatus(s).ok());
  now += int64_t{59} * 60 * 1'000'000;
  EXPECT_TRUE((*store)->GetStatus("status-1").ok());
  now += int64_t{2} * 60 * 1'000'000;
  EXPECT_TRUE(absl::IsNotFound((*store)->GetStatus("status-1").status()));
  // A later write prunes it (and leaves the new one).
  s.id = "status-2";
  s.request_timestamp = store::FromUnixMicros(now.load());
  ASSERT_TRUE((*store)->PutStatus(s).ok());
  EXPECT_TRUE((*store)->GetStatus("status-2").ok());
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liaison::taxii

namespace liaison::taxii {
namespace {

// A write waits in the store for its commit's fsync; on the write pool it must not hold up the
// other connections of the serving thread that read it. One serving thread, and a POST whose
// handling blocks (an extra endpoint that waits for the test): a GET on another connection is
// answered meanwhile. With write_threads = 0 the GET would queue behind the POST.
class WritePoolTest : public TaxiiServerTest {
 protected:
  void ModifyOptions(ServerOptions& options) override {
    options.threads = 1;
    options.write_threads = 2;
    ExtraEndpoint slow;
    slow.prefix = "slow";
    slow.handle = [this](const ExtraRequest&) {
      entered_.Notify();
      release_.WaitForNotification();
      ExtraResponse r;
      r.status = 201;
      return r;
    };
    options.extra_endpoints.push_back(std::move(slow));
  }
  absl::Notification entered_, release_;
};

TEST_F(WritePoolTest, ABlockedWriteDoesNotHoldUpReadsOnItsThread) {
  std::atomic<bool> post_answered{false};
  int post_status = 0;
  std::thread writer([&] {
    TestClient other(server_->port());
    post_status = other
                      .Send("POST", "/slow/x",
                            {{"Authorization", Basic("admin", "admin-pw")},
                             {"Content-Type", "application/json"}},
                            "{}")
                      .status;
    post_answered = true;
  });
  entered_.WaitForNotification();  // the POST is being handled, and blocks
  auto get = std::async(std::launch::async, [this] { return Get("/api/collections/"); });
  // The deadline only turns a server without the pool into a failure instead of a hang.
  EXPECT_EQ(get.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the GET waited for the blocked POST";
  EXPECT_FALSE(post_answered.load());
  release_.Notify();
  EXPECT_EQ(get.get().status, 200);
  writer.join();
  EXPECT_EQ(post_status, 201);
  // Writes through the pool still land and answer as before.
  Seed({Indicator(kUuidA, "2020-01-01T00:00:00.000Z")});
  EXPECT_THAT(Ids(Get(Objects(kRw))),
              ::testing::ElementsAre("indicator--" + kUuidA + "@2020-01-01T00:00:00.000Z"));
}

}  // namespace
}  // namespace liaison::taxii
