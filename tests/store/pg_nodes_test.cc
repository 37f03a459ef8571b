// Several stateless `liaison serve` nodes on one PostgreSQL database (issue #8), end to end:
//  * objects POSTed to one node are served by the other, with the same pages and the same `next`
//    cursors (a cursor obtained from one node pages on the other);
//  * a reader polling one node with added_after while both nodes ingest never misses an object
//    and never sees one twice (the concurrent-writer date_added race, over HTTP);
//  * a node SIGKILLed mid-ingest, again and again, loses no acknowledged object and leaves no
//    envelope half stored, while the other node keeps ingesting;
//  * the database server crashing mid-ingest, again and again, loses no acknowledged object and
//    breaks no receipt chain, and both nodes serve again by themselves once it is back.
// Each test gets a fresh database in a throwaway cluster (tests/store/pg_test_cluster.h).
// LIAISON_PG_NODES_KILLS sets the number of kills (default 5).

#include <libpq-fe.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "gtest/gtest.h"
#include "pg_test_cluster.h"
#include "policy/release_log.h"
#include "store/postgres/postgres_store.h"
#include "taxii/auth.h"
#include "taxii/test_client.h"

namespace liaison::store {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// The DSN's host (the cluster's socket directory) and port, as a postgres:// URL for the config
// (liaison's `store` setting takes URLs only).
std::string StoreUrl(const std::string& dbname) {
  std::string host, port;
  for (const std::string& kv : {std::string("host="), std::string("port=")}) {
    const std::string& dsn = testing::PgDsn();
    size_t at = dsn.find(kv);
    if (at == std::string::npos) continue;
    at += kv.size();
    std::string value = dsn.substr(at, dsn.find(' ', at) - at);
    (kv == "host=" ? host : port) = value;
  }
  // A socket directory goes in the query string (an URL host cannot hold a path).
  std::string url = absl::StrCat("postgresql://postgres@/", dbname, "?host=", host);
  if (!port.empty()) absl::StrAppend(&url, "&port=", port);
  return url;
}

// Runs one statement on the cluster's maintenance database.
bool AdminSql(const std::string& sql) {
  PGconn* c = PQconnectdb(testing::PgDsn().c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) std::fprintf(stderr, "%s: %s", sql.c_str(), PQresultErrorMessage(r));
    PQclear(r);
  }
  PQfinish(c);
  return ok;
}

using taxii::testing::ClientResponse;
using taxii::testing::ExchangeOnce;

std::string ObjectId(size_t writer, size_t envelope, size_t index) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "indicator--%08zx-%04zx-4000-8000-%012zx", envelope, writer,
                index);
  return buf;
}

std::string EnvelopeBody(size_t writer, size_t envelope, size_t objects) {
  std::string out = R"({"objects":[)";
  for (size_t i = 0; i < objects; ++i) {
    if (i > 0) out += ',';
    out += R"({"type":"indicator","spec_version":"2.1","id":")" + ObjectId(writer, envelope, i) +
           R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
           R"("pattern":"[ipv4-addr:value = '198.51.100.)" +
           std::to_string(i % 250) +
           R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"})";
  }
  return out + "]}";
}

// True when a POST reply is a status that says every object was stored.
bool AllStored(const ClientResponse& r, size_t objects, std::string* status_id = nullptr) {
  if (r.status != 202) return false;
  auto v = json::Parse(r.body);
  if (!v.ok()) return false;
  const json::Value* count = v->Find("success_count");
  const json::Value* id = v->Find("id");
  if (count == nullptr || !count->is_int() || count->as_int() != static_cast<int64_t>(objects)) {
    return false;
  }
  if (status_id != nullptr && id != nullptr && id->is_string()) *status_id = id->as_string();
  return true;
}

// The ids of a TAXII envelope's objects, and its `next`.
void ReadEnvelope(const std::string& body, std::vector<std::string>* ids, std::string* next) {
  auto v = json::Parse(body);
  ASSERT_TRUE(v.ok()) << body;
  if (const json::Value* objects = v->Find("objects"); objects != nullptr) {
    ASSERT_TRUE(objects->is_array());
    for (const json::Value& o : objects->as_array()) ids->push_back(o.Find("id")->as_string());
  }
  next->clear();
  if (const json::Value* n = v->Find("next"); n != nullptr && n->is_string()) {
    *next = n->as_string();
  }
}

// One `liaison serve` node: its own data directory (keys, logs), the shared database.
class Node {
 public:
  // `extra` is appended to the node's liaison.toml.
  Node(std::filesystem::path dir, const std::string& store_url, const std::string& extra = "")
      : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "liaison.toml") << "store = \"" << store_url << "\"\n" << extra;
  }
  ~Node() { Kill(); }

  // Starts the node on a free port; returns the port, 0 when it did not come up.
  uint16_t Start() {
    const std::filesystem::path port_file = dir_ / "port";
    std::filesystem::remove(port_file);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = (dir_ / "server.log").string();
      std::FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      setenv("LIAISON_ADMIN_PASSWORD", "nodes-pw", 1);
      const std::string config = (dir_ / "liaison.toml").string();
      const std::string data = (dir_ / "data").string();
      const std::string pf = port_file.string();
      execl(LIAISON_BINARY, "liaison", "serve", "--config", config.c_str(), "--data", data.c_str(),
            "--listen", "127.0.0.1:0", "--port-file", pf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 6000; ++i) {
      std::ifstream in(port_file);
      unsigned port = 0;
      if (in >> port && port != 0) return port_ = static_cast<uint16_t>(port);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }
  std::filesystem::path log() const { return dir_ / "server.log"; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

class PgNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    db_ = absl::StrCat("nodes_", ::getpid(), "_", std::string(info->name()).substr(0, 30));
    for (char& ch : db_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    ASSERT_TRUE(AdminSql(absl::StrCat("CREATE DATABASE ", db_)));
    dir_ = std::filesystem::temp_directory_path() / db_;
    std::filesystem::remove_all(dir_);
    a_ = std::make_unique<Node>(dir_ / "a", StoreUrl(db_));
    b_ = std::make_unique<Node>(dir_ / "b", StoreUrl(db_));
    // A first, so that one node bootstraps the database (collection, admin); then B.
    ASSERT_NE(a_->Start(), 0) << "node A did not start; see " << a_->log();
    ASSERT_NE(b_->Start(), 0) << "node B did not start; see " << b_->log();
    // A Bearer token, added straight to the shared store (Basic would cost an Argon2id
    // verification per request).
    PostgresOptions o;
    o.conninfo = StoreUrl(db_);
    auto st = OpenPostgresStore(o);
    ASSERT_TRUE(st.ok()) << st.status();
    const std::string token = taxii::NewApiToken();
    ASSERT_TRUE(
        (*st)
            ->AddToken({taxii::HashApiToken(token), "admin", "nodes test", Timestamp::Now(), {}})
            .ok());
    auth_ = "Bearer " + token;
    auto collections = (*st)->ListCollections();
    ASSERT_TRUE(collections.ok() && collections->size() == 1) << "expected one collection";
    collection_ = collections->front().id;
    store_ = std::move(*st);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    store_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    AdminSql(absl::StrCat("DROP DATABASE IF EXISTS ", db_, " WITH (FORCE)"));
  }
  // Every envelope of `acknowledged` ((writer, envelope) pairs) is whole in the shared store,
  // and of the `attempted` envelopes of each writer every other one is whole or absent: none is
  // partly stored, and nothing else got in. Sets `whole` to the number of whole envelopes.
  void ExpectAcknowledgedWhole(const std::vector<std::pair<size_t, size_t>>& acknowledged,
                               std::array<size_t, 2> attempted, size_t per_envelope,
                               size_t& whole) {
    // A node killed between reserving date_added values and committing leaves its reservation
    // open, and readers stop below it until a sweep finds its backend gone (every second, on
    // every node): objects committed above it meanwhile come into view then. So the read is
    // repeated until every acknowledged object is seen or 10 s have passed; a lost object never
    // shows.
    absl::flat_hash_set<std::string> stored;
    auto all_acknowledged_seen = [&] {
      for (const auto& [w, e] : acknowledged) {
        for (size_t i = 0; i < per_envelope; ++i) {
          if (!stored.contains(ObjectId(w, e, i))) return false;
        }
      }
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      stored.clear();
      Filter filter;
      filter.limit = 1000;
      for (;;) {
        auto page = store_->QueryManifest(collection_, filter);
        ASSERT_TRUE(page.ok()) << page.status();
        for (const ObjectRecord& r : page->records) stored.insert(r.id);
        if (!page->more) break;
        filter.next = page->next;
      }
      if (all_acknowledged_seen()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
    for (const auto& [w, e] : acknowledged) {
      for (size_t i = 0; i < per_envelope; ++i) {
        ASSERT_TRUE(stored.contains(ObjectId(w, e, i)))
            << "acknowledged envelope " << w << "/" << e << " lost object " << i;
      }
    }
    whole = 0;
    for (size_t w = 0; w < 2; ++w) {
      for (size_t e = 0; e < attempted[w]; ++e) {
        size_t present = 0;
        for (size_t i = 0; i < per_envelope; ++i) present += stored.contains(ObjectId(w, e, i));
        EXPECT_TRUE(present == 0 || present == per_envelope)
            << "envelope " << w << "/" << e << " is partly stored: " << present;
        whole += present == per_envelope;
      }
    }
    EXPECT_EQ(stored.size(), whole * per_envelope);
  }

  std::string ObjectsPath() const {
    return absl::StrCat("/api/collections/", collection_, "/objects/");
  }

  std::string db_;
  std::filesystem::path dir_;
  std::unique_ptr<Node> a_, b_;
  std::unique_ptr<Store> store_;
  std::string auth_;
  std::string collection_;
};

TEST_F(PgNodesTest, ObjectsPostedToOneNodeAreServedByTheOtherWithTheSameCursors) {
  constexpr size_t kPerEnvelope = 25;
  std::set<std::string> posted;
  std::vector<std::string> status_ids;
  for (size_t e = 0; e < 6; ++e) {
    Node& node = e < 4 ? *a_ : *b_;
    ClientResponse r = ExchangeOnce(node.port(), auth_, http::verb::post, ObjectsPath(),
                                    EnvelopeBody(0, e, kPerEnvelope));
    std::string status_id;
    ASSERT_TRUE(AllStored(r, kPerEnvelope, &status_id)) << r.status << " " << r.body;
    status_ids.push_back(status_id);
    for (size_t i = 0; i < kPerEnvelope; ++i) posted.insert(ObjectId(0, e, i));
  }
  // Status resources are in the shared store too.
  for (const std::string& id : status_ids) {
    for (Node* node : {a_.get(), b_.get()}) {
      ClientResponse s =
          ExchangeOnce(node->port(), auth_, http::verb::get, absl::StrCat("/api/status/", id, "/"));
      EXPECT_EQ(s.status, 200) << s.body;
    }
  }
  // Page through with limit=10, taking each page from alternate nodes and the cursor from the
  // previous page's node: both nodes must give the very same page for the same cursor.
  std::vector<std::string> ids;
  std::string next;
  for (int page = 0; page < 100; ++page) {
    const std::string target =
        absl::StrCat(ObjectsPath(), "?limit=10", next.empty() ? "" : "&next=", next);
    ClientResponse here =
        ExchangeOnce((page % 2 == 0 ? *a_ : *b_).port(), auth_, http::verb::get, target);
    ClientResponse there =
        ExchangeOnce((page % 2 == 0 ? *b_ : *a_).port(), auth_, http::verb::get, target);
    ASSERT_EQ(here.status, 200) << here.body;
    ASSERT_EQ(there.status, 200) << there.body;
    EXPECT_EQ(here.body, there.body) << "page " << page << " differs between the nodes";
    EXPECT_EQ(here.Header("x-taxii-date-added-last"), there.Header("x-taxii-date-added-last"));
    ASSERT_NO_FATAL_FAILURE(ReadEnvelope(here.body, &ids, &next));
    if (next.empty()) break;
  }
  EXPECT_EQ(ids.size(), posted.size());
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), posted);
}

// `store_writers` sets how many groups of Adds a node commits at once (1 to 64): out of range is
// refused; a node committing one group at a time stores what it acknowledges, and the other node
// serves it.
TEST_F(PgNodesTest, StoreWritersIsCheckedAndOneWriterStoresWhatItAcknowledges) {
  Node bad(dir_ / "bad-writers", StoreUrl(db_), "store_writers = 0\n");
  EXPECT_EQ(bad.Start(), 0) << "store_writers = 0 must be refused";
  Node one(dir_ / "one", StoreUrl(db_), "store_writers = 1\n");
  ASSERT_NE(one.Start(), 0) << "the node did not start; see " << one.log();
  std::set<std::string> posted;
  for (size_t e = 0; e < 3; ++e) {
    ClientResponse r =
        ExchangeOnce(one.port(), auth_, http::verb::post, ObjectsPath(), EnvelopeBody(3, e, 10));
    ASSERT_TRUE(AllStored(r, 10, nullptr)) << r.status << " " << r.body;
    for (size_t i = 0; i < 10; ++i) posted.insert(ObjectId(3, e, i));
  }
  ClientResponse r =
      ExchangeOnce(a_->port(), auth_, http::verb::get, absl::StrCat(ObjectsPath(), "?limit=100"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> ids;
  std::string next;
  ASSERT_NO_FATAL_FAILURE(ReadEnvelope(r.body, &ids, &next));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), posted);
}

// `store_text_cache_mb` sizes the node's cache of JSON texts (docs/store.md, session 7); 0 turns
// it off, a negative size is refused. Over HTTP, a node without it serves the same bodies as one
// with it, read cold and warm (the store-level tests cover the shapes and deletions).
TEST_F(PgNodesTest, NodesWithAndWithoutTheTextCacheServeTheSamePages) {
  Node bad(dir_ / "bad-text", StoreUrl(db_), "store_text_cache_mb = -1\n");
  EXPECT_EQ(bad.Start(), 0) << "a negative store_text_cache_mb must be refused";
  Node c(dir_ / "c", StoreUrl(db_), "store_text_cache_mb = 0\n");
  ASSERT_NE(c.Start(), 0) << "node C did not start; see " << c.log();
  for (size_t e = 0; e < 2; ++e) {
    ClientResponse r =
        ExchangeOnce(a_->port(), auth_, http::verb::post, ObjectsPath(), EnvelopeBody(1, e, 20));
    ASSERT_TRUE(AllStored(r, 20, nullptr)) << r.status << " " << r.body;
  }
  for (const char* query : {"?limit=7", "?limit=100", "?limit=5&match[version]=all"}) {
    const std::string target = absl::StrCat(ObjectsPath(), query);
    for (int round = 0; round < 3; ++round) {
      ClientResponse with = ExchangeOnce(a_->port(), auth_, http::verb::get, target);
      ClientResponse without = ExchangeOnce(c.port(), auth_, http::verb::get, target);
      ASSERT_EQ(with.status, 200) << with.body;
      EXPECT_EQ(with.body, without.body) << query << " round " << round;
    }
  }
}

// The nodes cache users, tokens, collections and grants for PostgresOptions::cache_ttl (1 s by
// default, docs/store.md): a permission revoked or a token deleted elsewhere (here through a
// third opening of the store, as `liaison user ...` or another node would) must stop working on
// both nodes once that bound has passed, although both served the caller just before.
TEST_F(PgNodesTest, RevocationElsewhereTakesEffectOnBothNodesWithinTheCacheBound) {
  const auto kBound = PostgresOptions().cache_ttl;
  ASSERT_TRUE(store_->CreateUser({"partner", "unused-hash", false, {}}).ok());
  const std::string token = taxii::NewApiToken();
  ASSERT_TRUE(
      store_->AddToken({taxii::HashApiToken(token), "partner", "", Timestamp::Now(), {}}).ok());
  const std::string auth = "Bearer " + token;
  ASSERT_TRUE(
      store_->SetPermission(collection_, Principal::UserNamed("partner"), {true, false}).ok());
  const std::string target = absl::StrCat(ObjectsPath(), "?limit=1");
  auto get = [&](Node& node) {
    return ExchangeOnce(node.port(), auth, http::verb::get, target).status;
  };
  for (Node* node : {a_.get(), b_.get()}) ASSERT_EQ(get(*node), 200);

  ASSERT_TRUE(store_->SetPermission(collection_, Principal::UserNamed("partner"), {}).ok());
  auto deadline = std::chrono::steady_clock::now() + kBound;
  // Both nodes keep serving the caller (from their caches or not) until the bound...
  while (std::chrono::steady_clock::now() < deadline) {
    for (Node* node : {a_.get(), b_.get()}) {
      const int status = get(*node);
      ASSERT_TRUE(status == 200 || status == 404) << status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // ... and not after it: a collection the caller may not read is "not found" (section 5.2).
  for (Node* node : {a_.get(), b_.get()}) EXPECT_EQ(get(*node), 404);

  ASSERT_TRUE(
      store_->SetPermission(collection_, Principal::UserNamed("partner"), {true, false}).ok());
  std::this_thread::sleep_for(kBound);
  for (Node* node : {a_.get(), b_.get()}) ASSERT_EQ(get(*node), 200);
  ASSERT_TRUE(store_->DeleteToken(taxii::HashApiToken(token)).ok());
  deadline = std::chrono::steady_clock::now() + kBound;
  while (std::chrono::steady_clock::now() < deadline) {
    for (Node* node : {a_.get(), b_.get()}) (void)get(*node);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (Node* node : {a_.get(), b_.get()}) EXPECT_EQ(get(*node), 401);
}

// `store_cache_ms = 0` turns the node cache off: a revocation made elsewhere is honoured by the
// very next request. A negative bound is a configuration error.
TEST_F(PgNodesTest, WithoutTheCacheARevocationElsewhereIsHonouredAtOnce) {
  Node bad(dir_ / "bad", StoreUrl(db_), "store_cache_ms = -1\n");
  EXPECT_EQ(bad.Start(), 0) << "a negative store_cache_ms must be refused";
  Node c(dir_ / "c", StoreUrl(db_), "store_cache_ms = 0\n");
  ASSERT_NE(c.Start(), 0) << "node C did not start; see " << c.log();
  ASSERT_TRUE(store_->CreateUser({"partner", "unused-hash", false, {}}).ok());
  const std::string token = taxii::NewApiToken();
  ASSERT_TRUE(
      store_->AddToken({taxii::HashApiToken(token), "partner", "", Timestamp::Now(), {}}).ok());
  ASSERT_TRUE(
      store_->SetPermission(collection_, Principal::UserNamed("partner"), {true, false}).ok());
  const std::string target = absl::StrCat(ObjectsPath(), "?limit=1");
  auto get = [&] {
    return ExchangeOnce(c.port(), "Bearer " + token, http::verb::get, target).status;
  };
  ASSERT_EQ(get(), 200);
  ASSERT_EQ(get(), 200);  // a cache, were there one, now holds the grant
  ASSERT_TRUE(store_->SetPermission(collection_, Principal::UserNamed("partner"), {}).ok());
  EXPECT_EQ(get(), 404);
  ASSERT_TRUE(
      store_->SetPermission(collection_, Principal::UserNamed("partner"), {true, false}).ok());
  EXPECT_EQ(get(), 200);
  ASSERT_TRUE(store_->DeleteToken(taxii::HashApiToken(token)).ok());
  EXPECT_EQ(get(), 401);
}

// Four writers (two per node) POST while a reader polls node B with added_after set to the last
// X-TAXII-Date-Added-Last it got, as TAXII clients do: it must see every object exactly once.
TEST_F(PgNodesTest, PollingReaderMissesNothingWhileBothNodesIngest) {
  constexpr size_t kWriters = 4, kEnvelopes = 12, kPerEnvelope = 10;
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < kWriters; ++w) {
    const uint16_t port = (w % 2 == 0 ? *a_ : *b_).port();
    threads.emplace_back([&, w, port] {
      for (size_t e = 0; e < kEnvelopes; ++e) {
        ClientResponse r = ExchangeOnce(port, auth_, http::verb::post, ObjectsPath(),
                                        EnvelopeBody(w + 1, e, kPerEnvelope));
        if (!AllStored(r, kPerEnvelope)) ++failed;
      }
      --writers_left;
    });
  }
  std::vector<std::string> seen;
  std::string after;
  auto poll = [&] {
    std::string target = absl::StrCat(ObjectsPath(), "?limit=7");
    if (!after.empty()) absl::StrAppend(&target, "&added_after=", after);
    ClientResponse r = ExchangeOnce(b_->port(), auth_, http::verb::get, target);
    ASSERT_EQ(r.status, 200) << r.body;
    std::string next;
    const size_t before = seen.size();
    ASSERT_NO_FATAL_FAILURE(ReadEnvelope(r.body, &seen, &next));
    if (seen.size() > before) after = r.Header("x-taxii-date-added-last");
  };
  while (writers_left > 0) ASSERT_NO_FATAL_FAILURE(poll());
  for (auto& t : threads) t.join();
  for (size_t before = SIZE_MAX; before != seen.size();) {
    before = seen.size();
    ASSERT_NO_FATAL_FAILURE(poll());
  }
  EXPECT_EQ(failed.load(), 0);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an object was seen twice";
  EXPECT_EQ(seen.size(), kWriters * kEnvelopes * kPerEnvelope) << "the reader missed objects";
}

// Node A is SIGKILLed at random moments and restarted while clients POST to both nodes; node B
// keeps serving. Afterwards every acknowledged envelope is whole in the shared store, no
// envelope is partly stored, and nothing else got in.
TEST_F(PgNodesTest, NodeKilledMidIngestLosesNoAcknowledgedObject) {
  constexpr size_t kPerEnvelope = 25;
  int kills = 5;
  if (const char* env = std::getenv("LIAISON_PG_NODES_KILLS")) kills = std::atoi(env);
  std::mutex mu;
  std::vector<std::pair<size_t, size_t>> acknowledged;  // (writer, envelope)
  std::atomic<size_t> attempted[2] = {0, 0};
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<int> run_ms(200, 900);
  std::atomic<bool> stop_b{false};
  // Writer 1 posts to node B for the whole test.
  std::thread to_b([&] {
    while (!stop_b) {
      const size_t e = attempted[1]++;
      ClientResponse r = ExchangeOnce(b_->port(), auth_, http::verb::post, ObjectsPath(),
                                      EnvelopeBody(1, e, kPerEnvelope));
      if (AllStored(r, kPerEnvelope)) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.emplace_back(1, e);
      }
    }
  });
  for (int cycle = 0; cycle < kills; ++cycle) {
    if (cycle > 0) {
      ASSERT_NE(a_->Start(), 0) << "node A did not restart; see " << a_->log();
    }
    const uint16_t port = a_->port();
    std::atomic<bool> stop{false};
    std::thread to_a([&] {
      while (!stop) {
        const size_t e = attempted[0]++;
        ClientResponse r = ExchangeOnce(port, auth_, http::verb::post, ObjectsPath(),
                                        EnvelopeBody(0, e, kPerEnvelope));
        if (AllStored(r, kPerEnvelope)) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.emplace_back(0, e);
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    a_->Kill();
    stop = true;
    to_a.join();
  }
  stop_b = true;
  to_b.join();
  size_t acknowledged_by_a = 0;
  for (const auto& [w, e] : acknowledged) acknowledged_by_a += w == 0;
  ASSERT_GT(acknowledged_by_a, 0u) << "node A never acknowledged an envelope";
  size_t whole = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedWhole(
      acknowledged, {attempted[0].load(), attempted[1].load()}, kPerEnvelope, whole));
  std::printf(
      "pg nodes: %d kills of node A, %zu + %zu envelopes sent, %zu acknowledged (%zu by A), "
      "%zu stored\n",
      kills, attempted[0].load(), attempted[1].load(), acknowledged.size(), acknowledged_by_a,
      whole);
}

// The database server crashes (killed without a checkpoint or a goodbye to its clients, then
// started again on the same port: WAL recovery) several times while clients POST to both nodes.
// Afterwards every acknowledged envelope is whole and none is partly stored, the release log
// (a receipt per acknowledged POST) is one chain that verifies, and both nodes acknowledged
// POSTs again after the last crash without being restarted themselves.
TEST_F(PgNodesTest, DatabaseCrashMidIngestLosesNoAcknowledgedObject) {
  if (const char* dsn = std::getenv("LIAISON_PG_DSN"); dsn != nullptr && *dsn != '\0') {
    GTEST_SKIP() << "crashes the database server: only with the test's own cluster";
  }
  const std::string& dsn = testing::PgDsn();
  const size_t host = dsn.find("host=") + 5;
  const std::string cluster_dir = dsn.substr(host, dsn.find(' ', host) - host);
  constexpr size_t kPerEnvelope = 25;
  constexpr int kCrashes = 3;
  std::mutex mu;
  std::vector<std::pair<size_t, size_t>> acknowledged;  // (writer, envelope)
  std::atomic<size_t> attempted[2] = {0, 0};
  std::atomic<size_t> since_last_crash[2] = {0, 0};  // acknowledged after the last crash
  std::atomic<bool> crashed_last{false}, stop{false};
  std::vector<std::thread> writers;
  for (size_t w = 0; w < 2; ++w) {
    const uint16_t port = (w == 0 ? a_ : b_)->port();
    writers.emplace_back([&, w, port] {
      while (!stop) {
        const size_t e = attempted[w]++;
        ClientResponse r = ExchangeOnce(port, auth_, http::verb::post, ObjectsPath(),
                                        EnvelopeBody(w, e, kPerEnvelope));
        if (AllStored(r, kPerEnvelope)) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.emplace_back(w, e);
          if (crashed_last) ++since_last_crash[w];
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the database is down
        }
      }
    });
  }
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> run_ms(200, 700);
  for (int crash = 0; crash < kCrashes; ++crash) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    std::string out;
    ASSERT_EQ(testing::RunPgClusterScript(absl::StrCat("crash ", cluster_dir), &out), 0) << out;
  }
  crashed_last = true;
  // Both nodes serve again on their own (their pools drop the connections the crash ended).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((since_last_crash[0] == 0 || since_last_crash[1] == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  EXPECT_GT(since_last_crash[0].load(), 0u) << "node A did not recover; see " << a_->log();
  EXPECT_GT(since_last_crash[1].load(), 0u) << "node B did not recover; see " << b_->log();

  size_t whole = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedWhole(
      acknowledged, {attempted[0].load(), attempted[1].load()}, kPerEnvelope, whole));
  auto verified = policy::ReleaseLog(*store_).Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << "seq " << verified->first_bad << ": " << verified->problem;
  EXPECT_GE(static_cast<size_t>(verified->entries), acknowledged.size());
  std::printf(
      "pg nodes: %d database crashes, %zu + %zu envelopes sent, %zu acknowledged, %zu stored, "
      "%lld audit entries\n",
      kCrashes, attempted[0].load(), attempted[1].load(), acknowledged.size(), whole,
      static_cast<long long>(verified->entries));
}

}  // namespace
}  // namespace liaison::store

int main(int argc, char** argv) { return liaison::store::testing::RunWithPgCluster(argc, argv); }
