// Durability of acknowledged writes (issue #3, DESIGN.md "invariants"): a client posts envelopes
// in a loop to a real `liaison serve` process, which is killed with SIGKILL at random moments and
// restarted, many times. Afterwards, opening the store directly:
//  * every object of every envelope whose status said success is there, and its status
//    resource too;
//  * no envelope is partially stored: each one's objects are all there or none are (an
//    envelope in flight at the kill may go either way).
//
// LIAISON_DURABILITY_CYCLES sets the number of kills (default 12, ~30 s under ASan);
// scripts/soak-taxii-durability.sh runs hundreds.

#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "gtest/gtest.h"
#include "policy/release_log.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/test_client.h"

namespace liaison::taxii {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr size_t kObjectsPerEnvelope = 25;
constexpr char kPassword[] = "durability-pw";

// A Bearer token for admin, added to the store beside the running server (a SHA-256 lookup per
// request; Basic would cost one Argon2id verification per restarted process).
std::string AddToken(const std::filesystem::path& db) {
  store::SqliteOptions options;
  options.path = db;
  options.create_if_missing = false;
  auto st = store::OpenSqliteStore(options);
  if (!st.ok()) return "";
  const std::string token = NewApiToken();
  if (!(*st)
           ->AddToken({HashApiToken(token), "admin", "durability test", Timestamp::Now(), {}})
           .ok()) {
    return "";
  }
  return "Bearer " + token;
}

std::string ObjectId(size_t envelope, size_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "indicator--%08zx-0000-4000-8000-%012zx", envelope, index);
  return buf;
}

std::string EnvelopeBody(size_t envelope) {
  std::string out = R"({"objects":[)";
  for (size_t i = 0; i < kObjectsPerEnvelope; ++i) {
    if (i > 0) out += ',';
    out += R"({"type":"indicator","spec_version":"2.1","id":")" + ObjectId(envelope, i) +
           R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)"
           R"("pattern":"[ipv4-addr:value = '198.51.100.)" +
           std::to_string(i) + R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"})";
  }
  return out + "]}";
}

// One blocking HTTP/1.1 exchange on a fresh connection; status 0 on any transport error (the
// server is being killed, so they are expected).
using taxii::testing::ClientResponse;

ClientResponse Exchange(uint16_t port, const std::string& auth, http::verb verb,
                        const std::string& target, std::string body) {
  return taxii::testing::ExchangeOnce(port, auth, verb, target, std::move(body),
                                      std::chrono::seconds(30));
}

class ServerProcess {
 public:
  explicit ServerProcess(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~ServerProcess() { Kill(); }

  // Starts `liaison serve` on a free port and waits until it has written its port file.
  uint16_t Start() {
    const std::filesystem::path port_file = dir_ / "port";
    std::filesystem::remove(port_file);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = (dir_ / "server.log").string();
      std::FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      setenv("LIAISON_ADMIN_PASSWORD", kPassword, 1);
      const std::string data = (dir_ / "data").string();
      const std::string pf = port_file.string();
      execl(LIAISON_BINARY, "liaison", "serve", "--data", data.c_str(), "--listen", "127.0.0.1:0",
            "--port-file", pf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 6000; ++i) {
      std::ifstream in(port_file);
      unsigned port = 0;
      if (in >> port && port != 0) return static_cast<uint16_t>(port);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return 0;  // died at start
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

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

TEST(TaxiiDurability, AcknowledgedEnvelopesSurviveKillNine) {
  ASSERT_GE(sodium_init(), 0);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("liaison_durability_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  int cycles = 12;
  if (const char* env = std::getenv("LIAISON_DURABILITY_CYCLES")) cycles = std::atoi(env);

  ServerProcess server(dir);
  std::string collection;
  std::string auth;
  std::vector<size_t> acknowledged;     // envelopes whose status said complete success
  std::vector<std::string> status_ids;  // their status resources
  size_t attempted = 0;                 // envelopes 0..attempted-1 were sent (or tried)
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<int> run_ms(150, 900);

  for (int cycle = 0; cycle <= cycles; ++cycle) {
    const uint16_t port = server.Start();
    ASSERT_NE(port, 0) << "liaison serve did not start; see " << (dir / "server.log");
    if (collection.empty()) {
      auth = AddToken(dir / "data" / "liaison.db");
      ASSERT_FALSE(auth.empty());
      ClientResponse r = Exchange(port, auth, http::verb::get, "/api/collections/", "");
      ASSERT_EQ(r.status, 200) << r.body;
      auto v = json::Parse(r.body);
      ASSERT_TRUE(v.ok());
      const json::Value* list = v->Find("collections");
      ASSERT_TRUE(list != nullptr && list->is_array() && !list->as_array().empty());
      collection = list->as_array()[0].Find("id")->as_string();
    }
    if (cycle == cycles) {
      server.Kill();  // the last start only proves the store still opens
      break;
    }
    std::atomic<bool> stop{false};
    std::thread client([&] {
      const std::string target = "/api/collections/" + collection + "/objects/";
      while (!stop.load()) {
        const size_t n = attempted++;
        ClientResponse r = Exchange(port, auth, http::verb::post, target, EnvelopeBody(n));
        if (r.status != 202) continue;  // killed mid-request: outcome unknown
        auto v = json::Parse(r.body);
        if (!v.ok()) continue;
        const json::Value* count = v->Find("success_count");
        const json::Value* id = v->Find("id");
        if (count && count->is_int() && count->as_int() == int64_t{kObjectsPerEnvelope} && id &&
            id->is_string()) {
          acknowledged.push_back(n);
          status_ids.push_back(id->as_string());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    server.Kill();
    stop = true;
    client.join();
  }
  ASSERT_FALSE(acknowledged.empty()) << "no envelope was ever acknowledged";

  // Every stored object id, read directly from the store.
  store::SqliteOptions options;
  options.path = dir / "data" / "liaison.db";
  options.create_if_missing = false;
  auto opened = store::OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store::Store& st = **opened;
  absl::flat_hash_set<std::string> stored;
  store::Filter filter;
  filter.limit = 1000;
  for (;;) {
    auto page = st.Query(collection, filter);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const store::ObjectRecord& r : page->records) stored.insert(r.id);
    if (!page->more) break;
    filter.next = page->next;
  }

  for (size_t k = 0; k < acknowledged.size(); ++k) {
    for (size_t i = 0; i < kObjectsPerEnvelope; ++i) {
      ASSERT_TRUE(stored.contains(ObjectId(acknowledged[k], i)))
          << "acknowledged envelope " << acknowledged[k] << " lost object " << i;
    }
    auto status = st.GetStatus(status_ids[k]);
    ASSERT_TRUE(status.ok()) << "status of acknowledged envelope " << acknowledged[k] << ": "
                             << status.status();
    EXPECT_EQ(status->success_count, int64_t{kObjectsPerEnvelope});
  }
  size_t whole = 0;
  for (size_t n = 0; n < attempted; ++n) {
    size_t present = 0;
    for (size_t i = 0; i < kObjectsPerEnvelope; ++i) present += stored.contains(ObjectId(n, i));
    EXPECT_TRUE(present == 0 || present == kObjectsPerEnvelope)
        << "envelope " << n << " is partially stored: " << present << " of " << kObjectsPerEnvelope;
    whole += present == kObjectsPerEnvelope;
  }
  // Nothing else got in either.
  EXPECT_EQ(stored.size(), whole * kObjectsPerEnvelope);

  // Each POST's signed receipt is on the release log with its objects' commit (the SQLite store
  // keeps it pending beside them until it is chained): every acknowledged envelope's receipt is
  // there, once, and the chain verifies, whatever the kills interrupted.
  policy::ReleaseLog log(st);
  auto verified = log.Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->problem << " at " << verified->first_bad;
  auto entries = log.Read(std::nullopt, std::nullopt);
  ASSERT_TRUE(entries.ok()) << entries.status();
  absl::flat_hash_map<std::string, int> receipts;  // status id -> entries
  for (const store::AuditRecord& e : *entries) {
    if (e.kind != "receipt") continue;
    auto details = json::Parse(e.details);
    ASSERT_TRUE(details.ok()) << e.details;
    const json::Value* receipt = details->Find("receipt");
    ASSERT_NE(receipt, nullptr) << e.details;
    const json::Value* status_id = receipt->Find("status_id");
    ASSERT_TRUE(status_id != nullptr && status_id->is_string()) << e.details;
    ++receipts[status_id->as_string()];
  }
  for (const auto& [id, n] : receipts) EXPECT_EQ(n, 1) << "receipt of status " << id << " twice";
  for (size_t k = 0; k < acknowledged.size(); ++k) {
    EXPECT_TRUE(receipts.contains(status_ids[k]))
        << "acknowledged envelope " << acknowledged[k] << " has no receipt on the release log";
  }
  EXPECT_LE(receipts.size(), attempted);
  std::printf("durability: %d kills, %zu envelopes sent, %zu acknowledged, %zu stored\n", cycles,
              attempted, acknowledged.size(), whole);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liaison::taxii
