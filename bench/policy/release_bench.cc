// The cost of the release policy on a TAXII GET page (issue #6: <= +20 % over the same GET with
// an allow-all policy, measured in the same run). Both partners go through the same code path
// (PartnerView, the release log append); only the rules differ. Run:
//   build/release/bench/policy/policy_release_bench --benchmark_min_time=2
// docs/policy.md records the figures.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "core/strings.h"
#include "policy/markings.h"
#include "policy/partner.h"
#include "policy/partner_view.h"
#include "policy/release.h"
#include "stix/object.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "taxii/server/handler.h"

namespace liaison::policy {
namespace {

constexpr std::string_view kCollection = "99999999-9999-4999-8999-999999999999";
const std::vector<std::string> kLabels = {"terrorism", "cybercrime", "fraud", "military"};

std::string Hex(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "0123456789abcdef"[rng() % 16];
  return s;
}
std::string Uuid(std::mt19937_64& rng) {
  return StrCat(Hex(rng, 8), "-", Hex(rng, 4), "-4", Hex(rng, 3), "-8", Hex(rng, 3), "-",
                Hex(rng, 12));
}

// A realistic mix: 80 % indicators, 20 % relationships between them; TLP CLEAR/GREEN/AMBER;
// labels; confidence; three creators; 10 % with a granular AMBER description.
std::vector<stix::Object> MakeObjects(size_t n) {
  std::mt19937_64 rng(7);
  const std::string tlps[] = {std::string(kTlp2Clear), std::string(kTlp2Green),
                              std::string(kTlp2Amber), std::string(kTlp1Green)};
  std::vector<std::string> indicators;
  std::vector<stix::Object> out;
  for (size_t i = 0; i < n; ++i) {
    std::string json;
    const std::string creator =
        StrCat("identity--0000000", rng() % 3, "-0000-4000-8000-000000000000");
    const std::string marking = tlps[rng() % 4];
    if (indicators.size() > 10 && rng() % 5 == 0) {
      json =
          StrCat(R"({"type":"relationship","spec_version":"2.1","id":"relationship--)", Uuid(rng),
                 R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
                 R"("relationship_type":"related-to","source_ref":")",
                 indicators[rng() % indicators.size()], R"(","target_ref":")",
                 indicators[rng() % indicators.size()], R"(","created_by_ref":")", creator,
                 R"(","object_marking_refs":[")", marking, R"("]})");
    } else {
      const std::string id = StrCat("indicator--", Uuid(rng));
      indicators.push_back(id);
      json = StrCat(
          R"({"type":"indicator","spec_version":"2.1","id":")", id,
          R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
          R"("name":"C2 server","description":"seen in campaign )", i,
          R"(","pattern":"[ipv4-addr:value = '198.51.)", rng() % 256, ".", rng() % 256,
          R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z",)", R"("labels":[")",
          kLabels[rng() % 4], R"("],"confidence":)", rng() % 101, R"(,"created_by_ref":")", creator,
          R"(","object_marking_refs":[")", marking, R"("])");
      if (rng() % 10 == 0) {
        StrAppend(&json, R"(,"granular_markings":[{"marking_ref":")", kTlp2Amber,
                  R"(","selectors":["description"]}])");
      }
      json += "}";
    }
    auto o = stix::ParseObject(json);
    if (!o.ok()) std::abort();
    o->json = json;
    out.push_back(std::move(*o));
  }
  return out;
}

ReleaseRules AllowAll() {
  ReleaseRules r;
  r.tlp = {Tlp::kClear, Tlp::kGreen, Tlp::kAmber};
  r.unmarked = Tlp::kClear;
  r.require_visible_ends = false;
  return r;
}

// What a CERT would give a foreign partner: CLEAR/GREEN only (AMBER descriptions removed),
// counter-terrorism and cybercrime, never military, a minimum confidence, visible ends.
ReleaseRules Realistic() {
  ReleaseRules r;
  r.tlp = {Tlp::kClear, Tlp::kGreen, Tlp::kAmber};
  r.types.allow = {"indicator", "relationship", "identity", "malware", "attack-pattern"};
  r.labels.deny = {"military"};
  r.creators.deny = {"identity--00000002-0000-4000-8000-000000000000"};
  r.min_confidence = 20;
  r.require_visible_ends = true;
  return r;
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<taxii::ServerOptions> options;
  std::unique_ptr<taxii::server::Handler> handler;
  std::string allow_token, realistic_token;

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("liaison_policy_bench_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    store::SqliteOptions so;
    so.path = dir / "store.db";
    store = std::move(*store::OpenSqliteStore(so));
    store::Collection c;
    c.id = std::string(kCollection);
    c.api_root = "api";
    c.title = "bench";
    (void)store->CreateCollection(c);
    const size_t n = std::getenv("LIAISON_BENCH_SMOKE") ? 2'000 : 20'000;
    std::vector<stix::Object> objects = MakeObjects(n);
    for (size_t i = 0; i < objects.size(); i += 1000) {
      std::span<const stix::Object> batch(objects.data() + i, std::min<size_t>(1000, n - i));
      (void)store->Add(kCollection, batch);
    }
    std::vector<Partner> partners(2);
    partners[0].name = "allow-all";
    partners[0].groups = {"g-allow"};
    partners[0].rules = AllowAll();
    partners[1].name = "realistic";
    partners[1].groups = {"g-real"};
    partners[1].rules = Realistic();
    options = std::make_unique<taxii::ServerOptions>();
    options->partners = std::make_shared<const PartnerSet>(*PartnerSet::Create(partners));
    for (auto [user, group, token] : {std::tuple{"ua", "g-allow", &allow_token},
                                      std::tuple{"ur", "g-real", &realistic_token}}) {
      (void)store->CreateUser({user, "x", false, {group}});
      (void)store->SetPermission(kCollection, store::Principal::GroupNamed(group), {true, false});
      *token = taxii::NewApiToken();
      (void)store->AddToken({taxii::HashApiToken(*token), user, "", Timestamp::Now(), {}});
    }
    handler = std::make_unique<taxii::server::Handler>(*store, *options);
  }
  ~Fixture() {
    handler.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

// Never destroyed (static destruction order); its directory is removed at exit, with the store
// still open, as the process ends.
Fixture& Shared() {
  static Fixture* f = [] {
    auto* made = new Fixture();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Shared().dir, ec);
    });
    return made;
  }();
  return *f;
}

// Pages through the collection (limit 100), one GET per iteration, wrapping around at the end.
void RunPages(benchmark::State& state, const std::string& token) {
  Fixture& f = Shared();
  taxii::server::HttpRequest req;
  req.method = "GET";
  req.authorization = "Bearer " + token;
  req.remote_address = "127.0.0.1";
  std::string next;
  size_t objects = 0, bytes = 0;
  for (auto _ : state) {
    req.target = StrCat("/api/collections/", kCollection, "/objects/?limit=100");
    if (!next.empty()) StrAppend(&req.target, "&next=", next);
    taxii::server::HttpResponse r = f.handler->Handle(req);
    if (r.status != 200) {
      state.SkipWithError("GET failed");
      return;
    }
    bytes += r.body.size();
    // The envelope's `next`, if any (objects are counted by their ids).
    size_t pos = r.body.rfind("\"next\":\"");
    next =
        pos == std::string::npos ? "" : r.body.substr(pos + 8, r.body.find('"', pos + 8) - pos - 8);
    for (size_t p = r.body.find("\"id\":"); p != std::string::npos;
         p = r.body.find("\"id\":", p + 1)) {
      ++objects;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(objects));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_GetPage_AllowAll(benchmark::State& state) { RunPages(state, Shared().allow_token); }
void BM_GetPage_Realistic(benchmark::State& state) { RunPages(state, Shared().realistic_token); }

// The policy alone (no HTTP handling, no release log): one PartnerView page, with a visibility
// cache shared across pages as the server keeps one.
void RunView(benchmark::State& state, const char* name) {
  Fixture& f = Shared();
  const Partner* p = f.options->partners->Find(name);
  store::Filter filter;
  filter.limit = 100;
  std::string next;
  VisibilityCache cache;
  for (auto _ : state) {
    PartnerView view(*f.store, std::string(kCollection), *p);
    auto stamp = f.store->ObjectsStamp(kCollection);
    if (stamp.ok()) view.UseCache(cache, *stamp);
    filter.next = next;
    auto page = view.Query(Endpoint::kObjects, "", filter);
    if (!page.ok()) {
      state.SkipWithError("query failed");
      return;
    }
    next = page->more ? page->next : "";
    benchmark::DoNotOptimize(page->records.size());
  }
}
void BM_PartnerView_AllowAll(benchmark::State& state) { RunView(state, "allow-all"); }
void BM_PartnerView_Realistic(benchmark::State& state) { RunView(state, "realistic"); }

// One decision on a typical indicator.
void BM_Decide_Indicator(benchmark::State& state) {
  std::vector<stix::Object> objects = MakeObjects(200);
  Partner p;
  p.rules = Realistic();
  ReleasePolicy policy;
  EndsCheck ends = [](std::string_view) -> Result<bool> { return true; };
  size_t i = 0, released = 0;
  for (auto _ : state) {
    const stix::Object& o = objects[i++ % objects.size()];
    auto d = policy.Decide(o, o.json, p, &ends);
    released += d.ok() && d->released();
  }
  benchmark::DoNotOptimize(released);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_GetPage_AllowAll)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_GetPage_Realistic)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PartnerView_AllowAll)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PartnerView_Realistic)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Decide_Indicator);

}  // namespace
}  // namespace liaison::policy

BENCHMARK_MAIN();
