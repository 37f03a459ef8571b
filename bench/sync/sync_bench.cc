// End-to-end sync throughput between two liaison servers on loopback (issue #6: >= 10,000
// objects/s for 1,000,000 objects). Server A holds N indicators (loaded straight into its store,
// not timed); B pulls them all over TAXII into its own SQLite store (BM_Pull), then pushes them
// to a third server C (BM_Push) through C's release policy (partner "c": TLP up to amber, no
// "military" label, which one indicator in ten carries), as `liaison sync` applies it. Each run
// checks that every version arrived (or was withheld by the policy) before reporting.
//
//   LIAISON_SYNC_BENCH_OBJECTS=1000000 build/release/bench/sync/sync_sync_bench
//
// The ctest smoke (LIAISON_BENCH_SMOKE=1) uses 2,000 objects.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/strings.h"
#include "policy/partner.h"
#include "policy/partner_view.h"
#include "stix/object.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "taxii/sync/sync.h"

namespace liaison::taxii::sync {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kCollection = "11111111-1111-4111-8111-111111111111";

size_t ObjectCount() {
  if (std::getenv("LIAISON_BENCH_SMOKE")) return 2'000;
  if (const char* n = std::getenv("LIAISON_SYNC_BENCH_OBJECTS"))
    return std::strtoull(n, nullptr, 10);
  return 1'000'000;
}

// The push side's release policy for peer "c" (docs/policy.md).
constexpr std::string_view kPolicy = R"(
[[partner]]
name = "c"
tlp = ["clear", "green", "amber"]
unmarked = "withhold"
deny_labels = ["military"]
)";

// The release filter `liaison sync` builds (app/commands/exchange_log.cc): the partner named as
// the peer decides each version, relationship ends cached by the collection's change stamp.
ReleaseFilter PolicyFilter(store::Store& db, std::shared_ptr<const policy::PartnerSet> partners) {
  auto cache = std::make_shared<policy::VisibilityCache>();
  return [&db, partners, cache](
             std::string_view peer,
             const store::ObjectRecord& record) -> Result<std::optional<std::string>> {
    const policy::Partner* partner = partners->Find(peer);
    if (partner == nullptr) return std::optional<std::string>();
    policy::PartnerView view(db, std::string(kCollection), *partner);
    if (auto stamp = db.ObjectsStamp(kCollection); stamp.ok()) {
      view.UseCache(*cache, std::move(*stamp));
    }
    return view.ReleasedText(record);
  };
}

struct Node {
  explicit Node(const std::string& name,
                std::shared_ptr<const policy::PartnerSet> partners = nullptr) {
    dir = fs::temp_directory_path() / StrCat("liaison_sync_bench_", ::getpid(), "_", name);
    fs::remove_all(dir);
    store::SqliteOptions so;
    so.path = dir / "liaison.db";
    db = std::move(*store::OpenSqliteStore(so));
    (void)db->CreateCollection({std::string(kCollection), "api", "bench", "", "", {}});
    (void)db->CreateUser({"peer", *HashPassword("pw", PasswordCost::kMinimum), true, {}});
    token = NewApiToken();
    (void)db->AddToken({HashApiToken(token), "peer", "", Timestamp::Now(), {}});
    signer = Signer::Ephemeral();
    EngineOptions eo;
    eo.signer = signer.get();
    if (partners != nullptr) eo.release = PolicyFilter(*db, partners);
    engine = std::make_unique<Engine>(*db, eo);
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.post_observer = engine->MakePostObserver({});
    server = std::move(*Server::Start(*db, o));
  }
  ~Node() {
    server->Stop();
    engine.reset();
    db.reset();
    fs::remove_all(dir);
  }
  PeerConfig PeerOf(const Node& other, const std::string& name, Direction d) const {
    PeerConfig p;
    p.name = name;
    p.collection_url =
        StrCat("http://127.0.0.1:", other.server->port(), "/api/collections/", kCollection, "/");
    p.client.token = other.token;
    p.direction = d;
    p.local_collection = std::string(kCollection);
    p.page_size = 1000;
    p.batch_size = 1000;  // the store caps a local page at max_page_size (1000)
    return p;
  }
  size_t Count() {
    store::Filter f;
    f.versions = {store::VersionMatch::All()};
    size_t n = 0;
    while (true) {
      auto page = db->QueryManifest(kCollection, f);
      if (!page.ok()) return 0;
      n += page->records.size();
      if (!page->more) return n;
      f.next = page->next;
    }
  }
  fs::path dir;
  std::unique_ptr<store::Store> db;
  std::string token;
  std::unique_ptr<Signer> signer;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Server> server;
};

// Realistic indicator objects (~450 bytes), distinct ids.
void Load(store::Store& db, size_t n) {
  std::vector<stix::Object> batch;
  for (size_t i = 0; i < n; ++i) {
    char uuid[37];
    std::snprintf(uuid, sizeof uuid, "6ba7b810-9dad-41d1-80b4-%012zx", i);
    std::string json = StrCat(
        R"({"type":"indicator","spec_version":"2.1","id":"indicator--)", uuid,
        R"(","created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z",)",
        R"("name":"C2 address )", i, R"(","indicator_types":["malicious-activity"],)",
        R"("pattern":"[ipv4-addr:value = '10.)", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255,
        R"(']","pattern_type":"stix","valid_from":"2024-03-01T10:00:00Z","labels":[")",
        i % 10 == 0 ? "military" : "c2", R"("],)",
        R"("object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]})");
    auto o = stix::ParseObject(json);
    o->json = std::move(json);
    batch.push_back(std::move(*o));
    if (batch.size() == 5000 || i + 1 == n) {
      (void)db.Add(kCollection, batch);
      batch.clear();
    }
  }
}

void BM_SyncPullThenPush(benchmark::State& state) {
  const size_t n = ObjectCount();
  auto partners = policy::ParsePartners(kPolicy, "sync_bench");
  if (!partners.ok()) return state.SkipWithError("policy");
  const size_t released = n - (n + 9) / 10;  // every tenth (i % 10 == 0) is "military"
  Node a("a"), b("b", std::make_shared<const policy::PartnerSet>(std::move(*partners))), c("c");
  Load(*a.db, n);
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto pull = b.engine->RunRound(b.PeerOf(a, "a", Direction::kPull));
    auto t1 = std::chrono::steady_clock::now();
    auto push = b.engine->RunRound(b.PeerOf(c, "c", Direction::kPush));
    auto t2 = std::chrono::steady_clock::now();
    if (!pull.ok() || !push.ok()) return state.SkipWithError("sync failed");
    if (pull->pulled_added != n || b.Count() != n || push->pushed != released ||
        push->push_withheld != n - released || c.Count() != released) {
      return state.SkipWithError("not every object arrived");
    }
    const double pull_s = std::chrono::duration<double>(t1 - t0).count();
    const double push_s = std::chrono::duration<double>(t2 - t1).count();
    state.SetIterationTime(pull_s + push_s);
    state.counters["objects"] = static_cast<double>(n);
    state.counters["pull_objects_per_s"] = n / pull_s;
    state.counters["push_objects_per_s"] = n / push_s;  // versions decided by the policy
    state.counters["push_released"] = static_cast<double>(released);
    state.counters["receipts"] = static_cast<double>(push->receipts);
  }
}
BENCHMARK(BM_SyncPullThenPush)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace
}  // namespace liaison::taxii::sync

BENCHMARK_MAIN();
