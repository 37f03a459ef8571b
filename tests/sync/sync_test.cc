// Sync between real TAXII servers on loopback: in-process liaison servers (taxii::Server on an
// SQLite store in a temporary directory) exchanging MITRE ATT&CK ICS content from ../shared.

#include "taxii/sync/sync.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stix/object.h"
#include "stix/parse.h"
#include "store/faulty_store.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "testing/shared_data.h"

namespace liaison::taxii::sync {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCollection = "11111111-1111-4111-8111-111111111111";

std::atomic<int> dir_counter{0};

// One liaison server: store, signing key, TAXII server with a token for user "peer".
struct Node {
  explicit Node(std::string node_name) : name(std::move(node_name)) {
    dir = fs::temp_directory_path() /
          StrCat("liaison_sync_", ::getpid(), "_", dir_counter++, "_", name);
    fs::remove_all(dir);
    store::SqliteOptions so;
    so.path = dir / "liaison.db";
    auto s = store::OpenSqliteStore(so);
    EXPECT_TRUE(s.ok()) << s.status();
    db = std::move(*s);
    EXPECT_TRUE(db->CreateCollection({std::string(kCollection), "api", "shared", "", "", {}}).ok());
    auto hash = HashPassword("pw", PasswordCost::kMinimum);
    EXPECT_TRUE(db->CreateUser({"peer", *hash, true, {}}).ok());
    token = NewApiToken();
    EXPECT_TRUE(db->AddToken({HashApiToken(token), "peer", "", Timestamp::Now(), {}}).ok());
    auto k = Signer::LoadOrCreate(dir);
    EXPECT_TRUE(k.ok()) << k.status();
    signer = std::move(*k);
  }
  ~Node() {
    StopServer();
    engine.reset();
    db.reset();
    fs::remove_all(dir);
  }

  store::Store& local() { return faulty ? static_cast<store::Store&>(*faulty) : *db; }

  // Starts serving; peers that push here authenticate as "peer" and are mapped by inbound_user.
  void StartServer(std::vector<PeerConfig> inbound = {}) {
    MakeEngine();
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.title = name;
    o.post_observer = engine->MakePostObserver(std::move(inbound));
    auto s = Server::Start(*db, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server = std::move(*s);
  }
  void StopServer() {
    if (server) server->Stop();
    server.reset();
  }
  void MakeEngine(ReleaseFilter release = nullptr,
                  std::function<std::string(std::string_view)> release_version = nullptr) {
    EngineOptions eo;
    eo.signer = signer.get();
    eo.server_name = name;
    eo.release = std::move(release);
    eo.release_version = std::move(release_version);
    engine = std::make_unique<Engine>(local(), eo);
  }

  std::string CollectionUrl() const {
    return StrCat("http://127.0.0.1:", server->port(), "/api/collections/", kCollection, "/");
  }

  // A peer entry pointing at `other`.
  PeerConfig PeerOf(const Node& other, Direction direction) const {
    PeerConfig p;
    p.name = other.name;
    p.collection_url = other.CollectionUrl();
    p.client.token = other.token;
    p.client.max_attempts = 2;
    p.client.initial_backoff = std::chrono::milliseconds(10);
    p.direction = direction;
    p.local_collection = std::string(kCollection);
    p.page_size = 200;
    p.batch_size = 150;
    p.inbound_user = "peer";
    return p;
  }

  // Every stored (id, version) and how often it appears.
  std::multiset<std::string> Versions() {
    std::multiset<std::string> out;
    store::Filter f;
    f.versions = {store::VersionMatch::All()};
    f.spec_versions = {"2.0", "2.1"};
    while (true) {
      auto page = db->QueryManifest(kCollection, f);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& r : page->records) {
        out.insert(StrCat(r.id, "|", r.version ? r.version->ToString(6) : ""));
      }
      if (!page->more) break;
      f.next = page->next;
    }
    return out;
  }

  std::string name;
  fs::path dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<store::FaultyStore> faulty;
  std::string token;
  std::unique_ptr<Signer> signer;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Server> server;
};

std::vector<stix::Object> LoadBundle(const fs::path& path) {
  std::string text = testing::ReadFileOrDie(path);
  auto split = stix::SplitObjects(text);
  EXPECT_TRUE(split.ok()) << split.status();
  std::vector<stix::Object> out;
  for (const auto& t : split->objects) {
    auto o = stix::ParseObject(t.json);
    EXPECT_TRUE(o.ok());
    o->json = std::string(t.json);
    out.push_back(std::move(*o));
  }
  return out;
}

void AddAll(store::Store& s, const std::vector<stix::Object>& objects) {
  for (size_t i = 0; i < objects.size(); i += 500) {
    std::span<const stix::Object> part(objects.data() + i,
                                       std::min<size_t>(500, objects.size() - i));
    auto r = s.Add(kCollection, part);
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

// How a server knows a peer that pushes to it: the user it authenticates as.
PeerConfig Inbound(std::string name) {
  PeerConfig p;
  p.name = std::move(name);
  p.inbound_user = "peer";
  return p;
}

bool NoDuplicates(const std::multiset<std::string>& s) {
  return std::set<std::string>(s.begin(), s.end()).size() == s.size();
}

std::string Indicator(std::string_view uuid, std::string_view modified, bool revoked = false) {
  return StrCat(
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--)", uuid,
      R"(","created":"2020-01-01T00:00:00.000Z","modified":")", modified,
      R"(","name":"x","pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix",)",
      R"("valid_from":"2020-01-01T00:00:00Z")", revoked ? R"(,"revoked":true)" : "", "}");
}

stix::Object Obj(const std::string& json) {
  auto o = stix::ParseObject(json);
  EXPECT_TRUE(o.ok());
  o->json = json;
  return *o;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = liaison::testing::SharedDir();
    if (!shared) {
      if (std::getenv("LIAISON_REQUIRE_SHARED")) FAIL() << "../shared is required";
      GTEST_SKIP() << "../shared is absent";
    }
    ics17_ = LoadBundle(*shared / "data/stix/mitre-attack/ics-attack-17.1.json");
    ics18_ = LoadBundle(*shared / "data/stix/mitre-attack/ics-attack-18.1.json");
  }
  std::vector<stix::Object> ics17_, ics18_;
};

TEST_F(SyncTest, PullCopiesEveryVersionAndIsIdempotent) {
  Node a("a"), b("b");
  AddAll(*a.db, ics17_);
  a.StartServer();
  b.MakeEngine();
  PeerConfig peer = b.PeerOf(a, Direction::kPull);
  auto r = b.engine->RunRound(peer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pulled_added, a.Versions().size());
  EXPECT_EQ(r->pulled_invalid, 0u);
  EXPECT_EQ(b.Versions(), a.Versions());
  EXPECT_GT(r->pulled_pages, 2u);

  auto again = b.engine->RunRound(peer);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->pulled_added, 0u);
  EXPECT_EQ(again->pulled_duplicates, 0u) << "a liaison peer needs no overlap re-read";
  EXPECT_EQ(b.Versions(), a.Versions());

  // The 18.1 release adds new versions; the next round fetches only what changed.
  AddAll(*a.db, ics18_);
  auto next = b.engine->RunRound(peer);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(next->pulled_added, 0u);
  EXPECT_EQ(b.Versions(), a.Versions());
  EXPECT_TRUE(NoDuplicates(b.Versions()));
}

TEST_F(SyncTest, RevocationsAndDeletionsPropagate) {
  Node a("a"), b("b");
  const std::string uuid = "aaaaaaaa-0000-4000-8000-000000000001";
  auto add = a.db->Add(
      kCollection, std::vector<stix::Object>{Obj(Indicator(uuid, "2021-01-01T00:00:00.000Z")),
                                             Obj(Indicator("aaaaaaaa-0000-4000-8000-000000000002",
                                                           "2021-01-01T00:00:00.000Z"))});
  ASSERT_TRUE(add.ok());
  a.StartServer();
  b.MakeEngine();
  PeerConfig peer = b.PeerOf(a, Direction::kPull);
  peer.propagate_deletions = true;
  ASSERT_TRUE(b.engine->RunRound(peer).ok());
  ASSERT_EQ(b.Versions().size(), 2u);

  // A revocation is a new version with revoked: true.
  ASSERT_TRUE(a.db->Add(kCollection, std::vector<stix::Object>{Obj(
                                         Indicator(uuid, "2022-01-01T00:00:00.000Z", true))})
                  .ok());
  ASSERT_TRUE(b.engine->RunRound(peer).ok());
  store::Filter latest;
  auto page = b.db->GetObject(kCollection, StrCat("indicator--", uuid), latest);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_THAT(page->records[0].json, ::testing::HasSubstr("\"revoked\":true"));

  // A deletion on the peer is found by comparing manifests.
  ASSERT_TRUE(
      a.db->DeleteObject(kCollection, "indicator--aaaaaaaa-0000-4000-8000-000000000002", {}).ok());
  auto r = b.engine->RunRound(peer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted, 1u);
  EXPECT_EQ(b.Versions(), a.Versions());

  // Local objects that never came from the peer are not touched.
  ASSERT_TRUE(b.db->Add(kCollection,
                        std::vector<stix::Object>{Obj(Indicator(
                            "bbbbbbbb-0000-4000-8000-000000000003", "2021-01-01T00:00:00.000Z"))})
                  .ok());
  r = b.engine->RunRound(peer);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deleted, 0u);
  EXPECT_EQ(b.Versions().size(), a.Versions().size() + 1);
}

TEST_F(SyncTest, PullResumesAfterLocalFailureWithoutLossOrDuplicates) {
  Node a("a"), b("b");
  AddAll(*a.db, ics17_);
  a.StartServer();
  // The local store fails mid-round (the 9th call: a few pages in), as a crash would stop it.
  b.faulty = std::make_unique<store::FaultyStore>(*b.db, 9, absl::StatusCode::kUnavailable, true);
  b.MakeEngine();
  PeerConfig peer = b.PeerOf(a, Direction::kPull);
  auto r = b.engine->RunRound(peer);
  ASSERT_FALSE(r.ok());
  const size_t partial = b.Versions().size();
  EXPECT_GT(partial, 0u);
  EXPECT_LT(partial, a.Versions().size());

  b.faulty->FailOnCall(0);
  auto resumed = b.engine->RunRound(peer);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(b.Versions(), a.Versions());
  EXPECT_TRUE(NoDuplicates(b.Versions()));
  // Resumed from the saved cursor, not from the start.
  EXPECT_LT(resumed->pulled_added + resumed->pulled_duplicates, a.Versions().size());
}

TEST_F(SyncTest, PeerGoingDownMidSyncLosesNothing) {
  Node a("a"), b("b");
  AddAll(*a.db, ics17_);
  // The peer's store fails after a few pages: the server answers 503 and the round stops.
  a.faulty = std::make_unique<store::FaultyStore>(*a.db, 12, absl::StatusCode::kUnavailable, true);
  a.MakeEngine();
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  auto s = Server::Start(*a.faulty, o);
  ASSERT_TRUE(s.ok());
  a.server = std::move(*s);
  b.MakeEngine();
  PeerConfig peer = b.PeerOf(a, Direction::kPull);
  auto r = b.engine->RunRound(peer);
  // The failing peer answers 503 (or 401 when the failure hits its token lookup).
  ASSERT_FALSE(r.ok());
  EXPECT_GT(b.Versions().size(), 0u);
  EXPECT_LT(b.Versions().size(), a.Versions().size());

  // The peer restarts (a new process would have a new port) and the next round completes.
  const uint16_t old_port = a.server->port();
  a.StopServer();
  auto again = b.engine->RunRound(peer);
  EXPECT_TRUE(absl::IsUnavailable(again.status())) << again.status();  // connection refused
  a.StartServer();
  peer.collection_url = a.CollectionUrl();
  (void)old_port;
  auto done = b.engine->RunRound(peer);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(b.Versions(), a.Versions());
  EXPECT_TRUE(NoDuplicates(b.Versions()));
}

TEST_F(SyncTest, PushAppliesReleaseFilterAndExchangesSignedReceipts) {
  Node a("a"), b("b");
  AddAll(*a.db, ics17_);
  b.StartServer({Inbound("a")});  // inbound: a pushes as "peer"
  a.MakeEngine([](std::string_view peer,
                  const store::ObjectRecord& rec) -> Result<std::optional<std::string>> {
    EXPECT_EQ(peer, "b");
    if (rec.type == "relationship") return std::optional<std::string>();  // withheld
    return std::optional<std::string>(rec.json);
  });
  // a needs no server to push, but the peer entry refers to b's.
  PeerConfig peer = a.PeerOf(b, Direction::kPush);
  auto r = a.engine->RunRound(peer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->push_withheld, 0u);
  EXPECT_EQ(r->push_failed, 0u);
  EXPECT_EQ(r->bad_receipts, 0u);
  EXPECT_GT(r->receipts, 0u);
  std::multiset<std::string> expected;
  for (const std::string& v : a.Versions()) {
    if (v.rfind("relationship--", 0) != 0) expected.insert(v);
  }
  EXPECT_EQ(b.Versions(), expected);

  // Both sides kept the receipts; the receiver's are signed with its key.
  auto sent = a.db->ListSyncState("receipt/b/sent/", 1000);
  auto received = b.db->ListSyncState("receipt/a/received/", 1000);
  ASSERT_TRUE(sent.ok() && received.ok());
  EXPECT_EQ(sent->size(), r->receipts);
  EXPECT_EQ(received->size(), r->receipts);
  auto rec = json::Parse((*sent)[0].second);
  ASSERT_TRUE(rec.ok());
  auto receipt = Receipt::FromJson(rec->Find("receipt")->as_string());
  ASSERT_TRUE(receipt.ok());
  EXPECT_TRUE(receipt->SignatureValid());
  EXPECT_EQ(receipt->receiver_key, b.signer->public_key());
  EXPECT_EQ(receipt->sender_key, a.signer->public_key());
  receipt->count += 1;  // tampering breaks the signature
  EXPECT_FALSE(receipt->SignatureValid());

  // Idempotent: nothing new to push.
  auto again = a.engine->RunRound(peer);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pushed, 0u);
}

TEST_F(SyncTest, PolicyChangeResendsVersionsWithheldBefore) {
  Node a("a"), b("b");
  AddAll(*a.db, ics17_);
  b.StartServer({Inbound("a")});
  // Policy v1 withholds relationships; v2 releases everything. The engine only sees the filter
  // and its version, as `liaison sync` gives them (app/commands/exchange_log.cc).
  std::string policy = "v1";
  auto filter = [&policy](std::string_view,
                          const store::ObjectRecord& rec) -> Result<std::optional<std::string>> {
    if (policy == "v1" && rec.type == "relationship") return std::optional<std::string>();
    return std::optional<std::string>(rec.json);
  };
  a.MakeEngine(filter, [&policy](std::string_view peer) {
    EXPECT_EQ(peer, "b");
    return policy;
  });
  PeerConfig peer = a.PeerOf(b, Direction::kPush);
  auto r1 = a.engine->RunRound(peer);
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_GT(r1->push_withheld, 0u);
  EXPECT_EQ(r1->push_restarts, 0u);
  std::multiset<std::string> without_relationships;
  for (const std::string& v : a.Versions()) {
    if (v.rfind("relationship--", 0) != 0) without_relationships.insert(v);
  }
  EXPECT_EQ(b.Versions(), without_relationships);
  // Same policy: nothing moves.
  auto r2 = a.engine->RunRound(peer);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->pushed + r2->push_withheld + r2->push_restarts, 0u);

  // v2: the round starts over and the relationships withheld under v1 arrive; what b had comes
  // back as duplicates (b stores no second copy).
  policy = "v2";
  auto r3 = a.engine->RunRound(peer);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->push_restarts, 1u);
  EXPECT_EQ(r3->push_withheld, 0u);
  EXPECT_EQ(b.Versions(), a.Versions());
  EXPECT_EQ(r3->bad_receipts, 0u);
  // And then nothing again, also after the engine restarts (the version is in the cursor).
  a.MakeEngine(filter, [&policy](std::string_view) { return policy; });
  auto r4 = a.engine->RunRound(peer);
  ASSERT_TRUE(r4.ok()) << r4.status();
  EXPECT_EQ(r4->pushed + r4->push_restarts, 0u);
  EXPECT_EQ(b.Versions(), a.Versions());
}

// A relationship withheld because its end was invisible reaches the peer once the end gets a
// visible version, under the same policy (EngineOptions::withheld_for_ends, docs/sync.md "Ends
// that become visible"). The filter and the hook stand in for the release policy: the end's
// first version is withheld, its second released, and the relationship released only while
// the end's latest version is.
TEST_F(SyncTest, RelationshipWithheldForAnInvisibleEndIsOfferedAgainWhenTheEndBecomesVisible) {
  Node a("a"), b("b");
  const std::string x_uuid = "dddddddd-0000-4000-8000-000000000001";
  const std::string y_uuid = "dddddddd-0000-4000-8000-000000000002";
  const std::string rel_id = "relationship--dddddddd-0000-4000-8000-000000000003";
  const std::string rel =
      StrCat(R"({"type":"relationship","spec_version":"2.1","id":")", rel_id,
             R"(","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z",)",
             R"("relationship_type":"related-to","source_ref":"indicator--)", x_uuid,
             R"(","target_ref":"indicator--)", y_uuid, R"("})");
  ASSERT_TRUE(a.db->Add(kCollection,
                        std::vector<stix::Object>{
                            Obj(Indicator(x_uuid, "2021-01-01T00:00:00.000Z")),
                            Obj(Indicator(y_uuid, "2021-01-01T00:00:00.000Z")), Obj(rel)})
                  .ok());
  b.StartServer({Inbound("a")});
  const std::string y_id = StrCat("indicator--", y_uuid);
  // Whether y's latest version in a's store is its visible second version.
  auto y_visible = [&a, &y_id]() {
    store::Filter f;
    auto page = a.db->GetObject(kCollection, y_id, f);
    return page.ok() && !page->records.empty() &&
           page->records.back().version->ToString(3) == "2022-01-01T00:00:00.000Z";
  };
  auto filter = [&](std::string_view,
                    const store::ObjectRecord& rec) -> Result<std::optional<std::string>> {
    if (rec.id == y_id && rec.version->ToString(3) == "2021-01-01T00:00:00.000Z") {
      return std::optional<std::string>();
    }
    if (rec.type == "relationship" && !y_visible()) return std::optional<std::string>();
    return std::optional<std::string>(rec.json);
  };
  a.MakeEngine(filter, [](std::string_view) { return std::string("v1"); });
  int hook_calls = 0;
  EngineOptions eo;
  eo.signer = a.signer.get();
  eo.server_name = a.name;
  eo.release = filter;
  eo.release_version = [](std::string_view) { return std::string("v1"); };
  eo.withheld_for_ends = [&](std::string_view, const store::ObjectRecord& rec) -> Result<bool> {
    ++hook_calls;
    return rec.type == "relationship" && !y_visible();
  };
  a.engine = std::make_unique<Engine>(a.local(), eo);
  PeerConfig peer = a.PeerOf(b, Direction::kPush);

  auto r1 = a.engine->RunRound(peer);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->pushed, 1u);  // x
  EXPECT_EQ(r1->push_withheld, 2u);
  EXPECT_EQ(hook_calls, 2);
  auto waiting = a.db->GetSyncState(StrCat("pushwait/b/", kCollection));
  ASSERT_TRUE(waiting.ok() && waiting->has_value());
  EXPECT_THAT(**waiting, ::testing::HasSubstr(rel_id));
  EXPECT_THAT(**waiting, ::testing::Not(::testing::HasSubstr(y_id)));
  EXPECT_EQ(b.Versions().count(StrCat(rel_id, "|2021-01-01T00:00:00.000000Z")), 0u);

  // Same policy, nothing new: the relationship is decided again and still waits.
  auto r2 = a.engine->RunRound(peer);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->pushed, 0u);
  EXPECT_EQ(r2->push_reoffered, 1u);

  // y gets a visible version: it is pushed as new, and the relationship is offered again.
  ASSERT_TRUE(a.db->Add(kCollection, std::vector<stix::Object>{Obj(
                                         Indicator(y_uuid, "2022-01-01T00:00:00.000Z"))})
                  .ok());
  auto r3 = a.engine->RunRound(peer);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->push_reoffered, 1u);
  EXPECT_EQ(r3->pushed, 2u);  // y's second version and the relationship
  EXPECT_EQ(r3->push_restarts, 0u);
  EXPECT_EQ(b.Versions().count(StrCat(rel_id, "|2021-01-01T00:00:00.000000Z")), 1u);
  waiting = a.db->GetSyncState(StrCat("pushwait/b/", kCollection));
  ASSERT_TRUE(waiting.ok() && waiting->has_value());
  EXPECT_THAT(**waiting, ::testing::Not(::testing::HasSubstr(rel_id)));

  // Then nothing moves.
  auto r4 = a.engine->RunRound(peer);
  ASSERT_TRUE(r4.ok()) << r4.status();
  EXPECT_EQ(r4->pushed + r4->push_reoffered + r4->push_withheld, 0u);
}

TEST_F(SyncTest, PushRecordsRefusedObjectsAndRetriesThem) {
  Node a("a"), b("b");
  // An object b's validator refuses (no pattern) gets into a's store directly.
  std::string bad =
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--cccccccc-0000-4000-8000-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"})";
  ASSERT_TRUE(a.db->Add(kCollection,
                        std::vector<stix::Object>{
                            Obj(bad), Obj(Indicator("cccccccc-0000-4000-8000-000000000002",
                                                    "2021-01-01T00:00:00.000Z"))})
                  .ok());
  b.StartServer();
  a.MakeEngine();
  PeerConfig peer = a.PeerOf(b, Direction::kPush);
  auto r = a.engine->RunRound(peer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pushed, 1u);
  EXPECT_EQ(r->push_failed, 1u);
  auto failures = a.db->GetSyncState("pushfail/b/" + std::string(kCollection));
  ASSERT_TRUE(failures.ok() && failures->has_value());
  EXPECT_THAT(**failures, ::testing::HasSubstr("cccccccc-0000-4000-8000-000000000001"));
  // Retried on the next round (and still refused).
  auto again = a.engine->RunRound(peer);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->push_failed, 1u);
  EXPECT_EQ(again->pushed, 0u);
}

TEST_F(SyncTest, NeverPushesBackToTheSourceInBothDirections) {
  Node a("a"), b("b");
  AddAll(*a.db, std::vector<stix::Object>(ics17_.begin(), ics17_.begin() + 300));
  AddAll(*b.db, std::vector<stix::Object>(ics17_.begin() + 300, ics17_.begin() + 500));
  a.StartServer({Inbound("b")});
  b.StartServer({Inbound("a")});
  PeerConfig a_to_b = a.PeerOf(b, Direction::kBoth);
  PeerConfig b_to_a = b.PeerOf(a, Direction::kBoth);
  auto r1 = a.engine->RunRound(a_to_b);  // pulls b's 200, pushes its own 300 only
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->pulled_added, 200u);
  EXPECT_EQ(r1->pushed, 300u);
  EXPECT_EQ(r1->push_not_returned, 200u);
  // a's 300 arrived at b by push: b neither pulls them again nor sends them back. It does offer
  // its own 200, which a pulled already (b cannot know who read its collection): duplicates there.
  auto r2 = b.engine->RunRound(b_to_a);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->pulled_added, 0u);
  EXPECT_EQ(r2->push_not_returned, 300u);
  EXPECT_EQ(r2->pushed, 200u);
  auto r3 = a.engine->RunRound(a_to_b);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->pulled_added + r3->pushed, 0u);
  EXPECT_EQ(a.Versions(), b.Versions());
  EXPECT_EQ(a.Versions().size(), 500u);
}

TEST_F(SyncTest, RingOfThreeConvergesWithoutDuplicatesOrPingPong) {
  Node a("a"), b("b"), c("c");
  AddAll(*a.db, std::vector<stix::Object>(ics17_.begin(), ics17_.begin() + 250));
  AddAll(*b.db, std::vector<stix::Object>(ics17_.begin() + 150, ics17_.begin() + 400));
  // Overlaps with both, with newer versions of some objects.
  const std::vector<stix::Object> c_objects(ics18_.begin(), ics18_.begin() + 400);
  AddAll(*c.db, c_objects);
  a.StartServer();
  b.StartServer();
  c.StartServer();
  // A -> B -> C -> A by push, and C <- B <- A <- C by pull.
  std::vector<std::pair<Node*, PeerConfig>> links = {
      {&a, a.PeerOf(b, Direction::kPush)}, {&b, b.PeerOf(c, Direction::kPush)},
      {&c, c.PeerOf(a, Direction::kPush)}, {&a, a.PeerOf(c, Direction::kPull)},
      {&b, b.PeerOf(a, Direction::kPull)}, {&c, c.PeerOf(b, Direction::kPull)}};
  size_t moved = 1;
  int rounds = 0;
  while (moved > 0 && rounds < 10) {
    moved = 0;
    ++rounds;
    for (auto& [node, peer] : links) {
      auto r = node->engine->RunRound(peer);
      ASSERT_TRUE(r.ok()) << node->name << "->" << peer.name << ": " << r.status();
      moved += r->pulled_added + r->pushed;
    }
  }
  EXPECT_LE(rounds, 4) << "the ring must go quiet, not ping-pong";
  EXPECT_EQ(a.Versions(), b.Versions());
  EXPECT_EQ(b.Versions(), c.Versions());
  EXPECT_TRUE(NoDuplicates(a.Versions()));
  std::set<std::string> all;
  const std::vector<const std::vector<stix::Object>*> sources = {&ics17_, &c_objects};
  for (const std::vector<stix::Object>* set : sources) {
    for (size_t i = 0; i < set->size(); ++i) {
      if (set == &ics17_ && i >= 400) break;
      all.insert(
          StrCat((*set)[i].id, "|", (*set)[i].version() ? (*set)[i].version()->ToString(6) : ""));
    }
  }
  const std::multiset<std::string> versions = a.Versions();
  EXPECT_EQ(std::set<std::string>(versions.begin(), versions.end()), all);
}

TEST(Signer, KeyFileIsCreatedPrivateAndReloaded) {
  const fs::path dir = fs::temp_directory_path() / StrCat("liaison_sync_key_", ::getpid());
  fs::remove_all(dir);
  auto k1 = Signer::LoadOrCreate(dir);
  ASSERT_TRUE(k1.ok()) << k1.status();
  const auto perms = fs::status(dir / "sync_ed25519.key").permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  auto k2 = Signer::LoadOrCreate(dir);
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ((*k1)->public_key(), (*k2)->public_key());
  const std::string sig = (*k1)->Sign("hello");
  EXPECT_TRUE(VerifySignature((*k2)->public_key(), "hello", sig));
  EXPECT_FALSE(VerifySignature((*k2)->public_key(), "hellO", sig));
  fs::permissions(dir / "sync_ed25519.key", fs::perms::others_read, fs::perm_options::add);
  auto k3 = Signer::LoadOrCreate(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(k3.status())) << k3.status();
  fs::remove_all(dir);
}

TEST(Receipt, DigestIgnoresOrderAndDuplicates) {
  EXPECT_EQ(ReceiptDigest({{"a", "1"}, {"b", "2"}}),
            ReceiptDigest({{"b", "2"}, {"a", "1"}, {"a", "1"}}));
  EXPECT_NE(ReceiptDigest({{"a", "1"}}), ReceiptDigest({{"a", "2"}}));
  EXPECT_FALSE(Receipt::FromHeader("not base64!").ok());
}

// The digest is SHA-256 of the sorted lines "id|version\n" (the receipt format peers verify):
// the value is `printf 'a|1\nb|2\n' | sha256sum`, whichever SHA-256 implementation computes it.
TEST(Receipt, DigestIsSha256OfTheSortedLines) {
  constexpr char kExpected[] = "3f98daaa5ee0487d42a1db85a6084925ad6dcbf2646e475a98921e4039bdd3d7";
  EXPECT_EQ(ReceiptDigest({{"b", "2"}, {"a", "1"}}), kExpected);
  const std::string a = "a", one = "1", b = "b", two = "2";
  EXPECT_EQ(ReceiptDigestViews({{b, two}, {a, one}, {b, two}}), kExpected);
}

}  // namespace
}  // namespace liaison::taxii::sync
