// Property test of issue #6: for random objects (types, TLP 1.0/2.0 and statement markings,
// granular markings, labels, confidence, creators, versions, relationships and sightings) and
// random partner policies, nothing outside the policy ever reaches the partner through any GET
// path: objects, object, versions, manifest, the date headers, `more`/`next` pagination. A
// withheld object must look exactly like one that does not exist.
//
// The expected outcome comes from a naive reference written from docs/policy.md's rules over the
// generator's own description of each object (not from the JSON, and not from the policy code).
// Two drivers: PartnerView in-process (many seeds, fast) and the real server over HTTP.
// Reproduce a failure with LIAISON_POLICY_SEED=<seed printed in the failure>.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "gtest/gtest.h"
#include "policy/markings.h"
#include "policy/partner.h"
#include "policy/partner_view.h"
#include "stix/object.h"
#include "stix/validate.h"
#include "store/sqlite/sqlite_store.h"
#include "taxii/auth.h"
#include "taxii/server.h"
#include "taxii/server/handler.h"
#include "taxii/test_client.h"

namespace liaison::policy {
namespace {

const std::vector<std::string> kOtherMarkings = {
    "marking-definition--11111111-1111-4111-8111-111111111111",  // statements
    "marking-definition--22222222-2222-4222-8222-222222222222",
    "marking-definition--33333333-3333-4333-8333-333333333333",  // custom
};
const std::vector<std::string> kTlpIds = {
    std::string(kTlp2Clear),       std::string(kTlp2Green), std::string(kTlp2Amber),
    std::string(kTlp2AmberStrict), std::string(kTlp2Red),   std::string(kTlp1White),
    std::string(kTlp1Green),       std::string(kTlp1Amber), std::string(kTlp1Red)};
const std::vector<std::string> kLabels = {"terrorism", "cybercrime", "military", "political"};
const std::vector<std::string> kCreators = {"identity--c0000000-0000-4000-8000-000000000001",
                                            "identity--c0000000-0000-4000-8000-000000000002",
                                            "identity--c0000000-0000-4000-8000-000000000003"};
const std::vector<std::string> kTypes = {"indicator", "attack-pattern", "campaign",
                                         "identity",  "relationship",   "sighting"};

// Where a granular marking points; each target value carries a unique token so that a leak of
// the value is a substring search.
enum class Target { kDescription, kName, kPattern, kExternalUrl, kLabel };

struct GranularSpec {
  std::string marking;
  Target target;
  size_t index = 0;  // kLabel, kExternalUrl
};

struct VersionSpec {
  std::string id;
  std::string type;
  std::string modified;  // the version
  std::string created_by;
  std::vector<std::string> labels;
  std::optional<int> confidence;
  std::vector<std::string> markings;
  std::vector<GranularSpec> granular;
  std::vector<std::string> ends;
  std::map<std::string, std::set<std::string>> tokens;  // token -> markings protecting it
  std::string json;
};

std::string Uuid(std::mt19937_64& rng) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : s) {
    if (c == 'x') c = kHex[rng() % 16];
  }
  return s;
}

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[rng() % v.size()];
}

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(s, out);
  return out;
}

// Builds the JSON of a version from its spec, placing tokens in the granular-marked values.
void Render(VersionSpec& v, int& token_counter) {
  auto token = [&](const std::string& marking) {
    std::string t = StrCat("tok", token_counter++, "z");
    v.tokens[t].insert(marking);
    return t;
  };
  // Tokens per target, so two markings on one value protect the same token.
  std::map<std::pair<int, size_t>, std::string> target_token;
  auto token_for = [&](Target t, size_t index, const std::string& marking) {
    auto key = std::make_pair(static_cast<int>(t), index);
    auto it = target_token.find(key);
    if (it == target_token.end()) {
      it = target_token.emplace(key, token(marking)).first;
    } else {
      v.tokens[it->second].insert(marking);
    }
    return it->second;
  };
  std::string description = "plain description", name = "plain name";
  std::string pattern_value = "198.51.100.7";
  std::vector<std::string> urls = {"https://ref.example/a", "https://ref.example/b"};
  for (const GranularSpec& g : v.granular) {
    switch (g.target) {
      case Target::kDescription:
        description = "secret " + token_for(g.target, 0, g.marking);
        break;
      case Target::kName:
        name = "name " + token_for(g.target, 0, g.marking);
        break;
      case Target::kPattern:
        pattern_value = token_for(g.target, 0, g.marking) + ".example";
        break;
      case Target::kExternalUrl:
        urls[g.index] = "https://" + token_for(g.target, g.index, g.marking) + ".example/";
        break;
      case Target::kLabel:
        break;
    }
  }
  std::string s =
      StrCat("{\"type\":", Quoted(v.type), ",\"spec_version\":\"2.1\",\"id\":", Quoted(v.id),
             ",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":", Quoted(v.modified));
  if (!v.created_by.empty()) StrAppend(&s, ",\"created_by_ref\":", Quoted(v.created_by));
  if (v.type == "indicator") {
    StrAppend(&s, ",\"name\":", Quoted(name), ",\"pattern\":",
              Quoted(pattern_value.find(".example") != std::string::npos
                         ? "[domain-name:value = '" + pattern_value + "']"
                         : "[ipv4-addr:value = '" + pattern_value + "']"),
              ",\"pattern_type\":\"stix\",\"valid_from\":\"2020-01-01T00:00:00Z\"");
  } else if (v.type == "identity") {
    StrAppend(&s, ",\"name\":", Quoted(name), ",\"identity_class\":\"organization\"");
  } else if (v.type == "attack-pattern" || v.type == "campaign") {
    StrAppend(&s, ",\"name\":", Quoted(name));
  } else if (v.type == "relationship") {
    StrAppend(&s, ",\"relationship_type\":\"related-to\",\"source_ref\":", Quoted(v.ends[0]),
              ",\"target_ref\":", Quoted(v.ends[1]));
  } else if (v.type == "sighting") {
    StrAppend(&s, ",\"sighting_of_ref\":", Quoted(v.ends[0]), ",\"where_sighted_refs\":[",
              Quoted(v.ends[1]), "]");
  }
  StrAppend(&s, ",\"description\":", Quoted(description));
  // external_id keeps each reference valid when its url is removed (STIX 2.1 section 2.5).
  StrAppend(&s, ",\"external_references\":[{\"source_name\":\"a\",\"url\":", Quoted(urls[0]),
            ",\"external_id\":\"A-1\"},{\"source_name\":\"b\",\"url\":", Quoted(urls[1]),
            ",\"external_id\":\"B-2\"}]");
  if (!v.labels.empty()) {
    s += ",\"labels\":[";
    for (size_t i = 0; i < v.labels.size(); ++i) StrAppend(&s, i ? "," : "", Quoted(v.labels[i]));
    s += "]";
  }
  if (v.confidence) StrAppend(&s, ",\"confidence\":", *v.confidence);
  if (!v.markings.empty()) {
    s += ",\"object_marking_refs\":[";
    for (size_t i = 0; i < v.markings.size(); ++i) {
      StrAppend(&s, i ? "," : "", Quoted(v.markings[i]));
    }
    s += "]";
  }
  if (!v.granular.empty()) {
    s += ",\"granular_markings\":[";
    for (size_t i = 0; i < v.granular.size(); ++i) {
      const GranularSpec& g = v.granular[i];
      std::string selector;
      switch (g.target) {
        case Target::kDescription:
          selector = "description";
          break;
        case Target::kName:
          selector = "name";
          break;
        case Target::kPattern:
          selector = "pattern";
          break;
        case Target::kExternalUrl:
          selector = StrCat("external_references.[", g.index, "].url");
          break;
        case Target::kLabel:
          selector = StrCat("labels.[", g.index, "]");
          break;
      }
      StrAppend(&s, i ? "," : "", "{\"marking_ref\":", Quoted(g.marking), ",\"selectors\":[",
                Quoted(selector), "]}");
    }
    s += "]";
  }
  s += "}";
  v.json = std::move(s);
}

struct Universe {
  std::vector<VersionSpec> versions;                 // in the order they are added to the store
  std::map<std::string, std::vector<size_t>> by_id;  // id -> indices, ascending version
  std::vector<std::string> missing_ids;              // referenced but never stored
};

Universe Generate(std::mt19937_64& rng, size_t objects) {
  Universe u;
  int token_counter = 0;
  std::vector<std::string> sdo_ids, identity_ids;
  std::vector<VersionSpec> all;
  for (size_t i = 0; i < objects; ++i) {
    std::string type = Pick(rng, kTypes);
    const bool sro = type == "relationship" || type == "sighting";
    if (sro && sdo_ids.size() < 2) type = "indicator";
    const std::string id = StrCat(type, "--", Uuid(rng));
    std::vector<std::string> ends;
    if (type == "relationship" || type == "sighting") {
      ends.push_back(Pick(rng, sdo_ids));
      // where_sighted_refs must name identities (or locations): a stored one, or a dangling one.
      if (type == "sighting" && !identity_ids.empty() && rng() % 5) {
        ends.push_back(Pick(rng, identity_ids));
      } else if (type == "sighting" || rng() % 6 == 0) {
        std::string missing = StrCat("identity--", Uuid(rng));
        u.missing_ids.push_back(missing);
        ends.push_back(missing);
      } else {
        ends.push_back(Pick(rng, sdo_ids));
      }
    }
    const int nversions = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < nversions; ++k) {
      VersionSpec v;
      v.id = id;
      v.type = type;
      v.modified = StrCat("2021-0", 1 + k, "-01T00:00:00.000Z");
      v.ends = ends;
      if (rng() % 4) v.created_by = Pick(rng, kCreators);
      for (const std::string& l : kLabels) {
        if (rng() % 3 == 0) v.labels.push_back(l);
      }
      if (rng() % 2) v.confidence = static_cast<int>(rng() % 101);
      const int nmarks = static_cast<int>(rng() % 3);
      for (int m = 0; m < nmarks; ++m) {
        std::string mk = rng() % 4 ? Pick(rng, kTlpIds) : Pick(rng, kOtherMarkings);
        if (std::find(v.markings.begin(), v.markings.end(), mk) == v.markings.end()) {
          v.markings.push_back(mk);
        }
      }
      const int ngran = static_cast<int>(rng() % 4);
      for (int g = 0; g < ngran; ++g) {
        GranularSpec gs;
        gs.marking = rng() % 3 ? Pick(rng, kTlpIds) : Pick(rng, kOtherMarkings);
        const int t = static_cast<int>(rng() % 5);
        gs.target = static_cast<Target>(t);
        if (gs.target == Target::kName && (type == "relationship" || type == "sighting")) {
          gs.target = Target::kDescription;
        }
        if (gs.target == Target::kPattern && type != "indicator") gs.target = Target::kDescription;
        if (gs.target == Target::kLabel) {
          if (v.labels.empty()) {
            gs.target = Target::kExternalUrl;
          } else {
            gs.index = rng() % v.labels.size();
          }
        }
        if (gs.target == Target::kExternalUrl) gs.index = rng() % 2;
        v.granular.push_back(gs);
      }
      Render(v, token_counter);
      all.push_back(std::move(v));
    }
    if (!sro) sdo_ids.push_back(id);
    if (type == "identity") identity_ids.push_back(id);
  }
  // Interleave versions across objects, keeping each object's versions in order (so the store's
  // date_added order differs from the id order).
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::map<std::string, std::vector<size_t>> positions;
  for (size_t i = 0; i < all.size(); ++i) positions[all[i].id].push_back(i);
  // Stable per-id ordering: assign the k-th appearance of an id its k-th version.
  std::map<std::string, size_t> seen;
  for (size_t pos : order) {
    const std::string& id = all[pos].id;
    size_t k = seen[id]++;
    u.versions.push_back(all[positions[id][k]]);
    u.by_id[id].push_back(u.versions.size() - 1);
  }
  return u;
}

ReleaseRules RandomRules(std::mt19937_64& rng) {
  ReleaseRules r;
  r.tlp.clear();
  for (Tlp t : {Tlp::kClear, Tlp::kGreen, Tlp::kAmber}) {
    if (rng() % 2) r.tlp.push_back(t);
  }
  switch (rng() % 3) {
    case 0:
      r.unmarked.reset();
      break;
    case 1:
      r.unmarked = Tlp::kClear;
      break;
    default:
      r.unmarked = Tlp::kAmber;
  }
  for (const std::string& t : kTypes) {
    if (rng() % 8 == 0) r.types.deny.push_back(t);
  }
  if (rng() % 5 == 0) r.types.allow = {"indicator", "relationship", "identity", "sighting"};
  for (const std::string& l : kLabels) {
    const int x = static_cast<int>(rng() % 6);
    if (x == 0) r.labels.deny.push_back(l);
    if (x == 1) r.labels.allow.push_back(l);
  }
  for (const std::string& c : kCreators) {
    const int x = static_cast<int>(rng() % 6);
    if (x == 0) r.creators.deny.push_back(c);
    if (x == 1) r.creators.allow.push_back(c);
  }
  for (const std::string& m : kOtherMarkings) {
    const int x = static_cast<int>(rng() % 3);
    if (x == 0) r.markings.allow.push_back(m);
    if (x == 1) r.markings.deny.push_back(m);
  }
  if (rng() % 2) r.min_confidence = static_cast<int>(rng() % 80);
  r.require_confidence = rng() % 5 == 0;
  r.require_visible_ends = rng() % 4 != 0;
  return r;
}

// ---- The reference: docs/policy.md's rules over the generator's description ---------------

bool InList(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::optional<int> RefTlpLevel(const std::string& id) {
  static const std::map<std::string, int> kLevels = {
      {std::string(kTlp2Clear), 0},       {std::string(kTlp1White), 0},
      {std::string(kTlp2Green), 1},       {std::string(kTlp1Green), 1},
      {std::string(kTlp2Amber), 2},       {std::string(kTlp1Amber), 2},
      {std::string(kTlp2AmberStrict), 3}, {std::string(kTlp2Red), 4},
      {std::string(kTlp1Red), 4}};
  auto it = kLevels.find(id);
  if (it == kLevels.end()) return std::nullopt;
  return it->second;
}

bool RefLevelAllowed(int level, const ReleaseRules& r) {
  if (level > 2) return false;
  for (Tlp t : r.tlp) {
    if (static_cast<int>(t) == level) return true;
  }
  return false;
}

bool RefMarkingAllowed(const std::string& m, const ReleaseRules& r) {
  if (auto level = RefTlpLevel(m)) return RefLevelAllowed(*level, r);
  return InList(r.markings.allow, m) && !InList(r.markings.deny, m);
}

bool RefPasses(const AllowDeny& ad, const std::string& v) {
  if (InList(ad.deny, v)) return false;
  return ad.allow.empty() || InList(ad.allow, v);
}

struct Reference {
  const Universe& u;
  const ReleaseRules& r;

  bool Released(const VersionSpec& v, bool check_ends = true) const {
    if (!RefPasses(r.types, v.type)) return false;
    int level = -1;
    for (const std::string& m : v.markings) {
      if (auto l = RefTlpLevel(m)) {
        level = std::max(level, *l);
      } else if (!RefMarkingAllowed(m, r)) {
        return false;
      }
    }
    if (level < 0) {
      if (!r.unmarked) return false;
      level = static_cast<int>(*r.unmarked);
    }
    if (!RefLevelAllowed(level, r)) return false;
    if (!RefPasses(r.creators, v.created_by)) return false;
    for (const std::string& l : v.labels) {
      if (InList(r.labels.deny, l)) return false;
    }
    if (!r.labels.allow.empty()) {
      bool any = false;
      for (const std::string& l : v.labels) any = any || InList(r.labels.allow, l);
      if (!any) return false;
    }
    if (v.confidence) {
      if (r.min_confidence && *v.confidence < *r.min_confidence) return false;
    } else if (r.require_confidence) {
      return false;
    }
    if (r.require_visible_ends && !v.ends.empty()) {
      if (!check_ends) return false;
      for (const std::string& end : v.ends) {
        auto it = u.by_id.find(end);
        if (it == u.by_id.end()) return false;
        const VersionSpec& latest = u.versions[it->second.back()];
        if (!Released(latest, /*check_ends=*/false)) return false;
      }
    }
    for (const GranularSpec& g : v.granular) {
      if (RefMarkingAllowed(g.marking, r)) continue;
      // Required properties of the generated types: pattern (indicator), name (all but
      // indicator, where it is optional).
      if (g.target == Target::kPattern) return false;
      if (g.target == Target::kName && v.type != "indicator") return false;
    }
    return true;
  }

  // Tokens the partner must never see in this version's released form.
  std::vector<std::string> ForbiddenTokens(const VersionSpec& v) const {
    std::vector<std::string> out;
    for (const auto& [token, markings] : v.tokens) {
      for (const std::string& m : markings) {
        if (!RefMarkingAllowed(m, r)) {
          out.push_back(token);
          break;
        }
      }
    }
    return out;
  }
};

// ---- Drivers ---------------------------------------------------------------------------------

struct Item {
  std::string id;
  std::string version;
  std::string date_added;  // manifest only
  std::string json;        // objects/object only
};

struct Response {
  int status = 0;
  bool more = false;
  std::string next;
  std::vector<Item> items;
  std::string first, last;  // X-TAXII-Date-Added-First/Last
  std::string raw;          // everything the partner received, for leak searches
};

class Driver {
 public:
  virtual ~Driver() = default;
  // endpoint: "objects", "manifest", "object", "versions"; query: "limit=3&next=..." etc.
  virtual Response Get(std::string_view endpoint, std::string_view object_id,
                       const std::vector<std::pair<std::string, std::string>>& query) = 0;
};

std::string Canon(std::string_view version) {
  auto t = Timestamp::Parse(version);
  return t.ok() ? t->ToString(3) : std::string(version);
}

class InProcessDriver : public Driver {
 public:
  InProcessDriver(store::Store& store, std::string collection, const Partner& partner)
      : store_(store), collection_(std::move(collection)), partner_(partner) {}

  Response Get(std::string_view endpoint, std::string_view object_id,
               const std::vector<std::pair<std::string, std::string>>& query) override {
    store::Filter f;
    for (const auto& [k, v] : query) {
      if (k == "limit") f.limit = std::stoul(v);
      if (k == "next") f.next = v;
      if (k == "match[version]" && v == "all") f.versions = {store::VersionMatch::All()};
      if (k == "match[version]" && v == "first") f.versions = {store::VersionMatch::First()};
    }
    const Endpoint e = endpoint == "objects"    ? Endpoint::kObjects
                       : endpoint == "manifest" ? Endpoint::kManifest
                       : endpoint == "object"   ? Endpoint::kObject
                                                : Endpoint::kVersions;
    PartnerView view(store_, collection_, partner_);
    auto page = view.Query(e, object_id, f);
    Response r;
    if (!page.ok()) {
      r.status = absl::IsNotFound(page.status()) ? 404 : 500;
      r.raw = "not found";  // the handler's 404 body does not depend on the object
      return r;
    }
    r.status = 200;
    r.more = page->more;
    r.next = page->next;
    if (page->date_added_first) r.first = page->date_added_first->ToString(6);
    if (page->date_added_last) r.last = page->date_added_last->ToString(6);
    for (const store::ObjectRecord& rec : page->records) {
      Item it{rec.id, Canon(VersionText(rec)), rec.date_added.ToString(6), rec.json};
      StrAppend(&r.raw, rec.id, " ", it.version, " ", rec.json, "\n");
      r.items.push_back(std::move(it));
    }
    return r;
  }

 private:
  store::Store& store_;
  std::string collection_;
  const Partner& partner_;
};

class HttpDriver : public Driver {
 public:
  HttpDriver(uint16_t port, std::string collection, std::string token)
      : client_(port), collection_(std::move(collection)), token_(std::move(token)) {}

  Response Get(std::string_view endpoint, std::string_view object_id,
               const std::vector<std::pair<std::string, std::string>>& query) override {
    std::string target = StrCat("/api/collections/", collection_, "/");
    if (endpoint == "objects") target += "objects/";
    if (endpoint == "manifest") target += "manifest/";
    if (endpoint == "object") StrAppend(&target, "objects/", object_id, "/");
    if (endpoint == "versions") StrAppend(&target, "objects/", object_id, "/versions/");
    for (size_t i = 0; i < query.size(); ++i) {
      StrAppend(&target, i ? "&" : "?", query[i].first, "=", query[i].second);
    }
    auto res = client_.Send(
        "GET", target,
        {{"Authorization", "Bearer " + token_}, {"Accept", "application/taxii+json;version=2.1"}});
    Response r;
    r.status = res.status;
    r.first = res.Header("x-taxii-date-added-first");
    r.last = res.Header("x-taxii-date-added-last");
    r.raw = res.body;
    for (const auto& [n, v] : res.headers) StrAppend(&r.raw, "\n", n, ": ", v);
    if (r.status != 200) return r;
    auto body = json::Parse(res.body);
    if (!body.ok()) {
      r.status = -1;
      return r;
    }
    if (const json::Value* m = body->Find("more"); m && m->is_bool()) r.more = m->as_bool();
    if (const json::Value* n = body->Find("next"); n && n->is_string()) r.next = n->as_string();
    if (endpoint == "versions") {
      if (const json::Value* vs = body->Find("versions")) {
        for (const json::Value& v : vs->as_array()) {
          r.items.push_back({std::string(object_id), Canon(v.as_string()), "", ""});
        }
      }
      return r;
    }
    if (const json::Value* objs = body->Find("objects")) {
      for (const json::Value& o : objs->as_array()) {
        Item it;
        it.id = o.Find("id")->as_string();
        if (endpoint == "manifest") {
          it.version = Canon(o.Find("version")->as_string());
          it.date_added = o.Find("date_added")->as_string();
        } else {
          const json::Value* mod = o.Find("modified");
          it.version = mod ? Canon(mod->as_string()) : "";
          it.json = json::Serialize(o);
        }
        r.items.push_back(std::move(it));
      }
    }
    return r;
  }

 private:
  taxii::testing::TestClient client_;
  std::string collection_;
  std::string token_;
};

// ---- The checks --------------------------------------------------------------------------------

using VersionSet = std::set<std::pair<std::string, std::string>>;

// Pages through an endpoint, checking page invariants; returns all items.
std::vector<Item> PageThrough(Driver& d, std::string_view endpoint, std::string_view object_id,
                              std::vector<std::pair<std::string, std::string>> query, size_t limit,
                              std::string& raw, const std::string& trace) {
  std::vector<Item> all;
  std::string next;
  for (int guard = 0; guard < 100000; ++guard) {
    auto q = query;
    q.emplace_back("limit", std::to_string(limit));
    if (!next.empty()) q.emplace_back("next", next);
    Response r = d.Get(endpoint, object_id, q);
    raw += r.raw;
    if (r.status != 200) {
      ADD_FAILURE() << trace << " " << endpoint << " status " << r.status;
      return all;
    }
    // A short page with more=true would reveal withheld versions past it.
    if (r.more) {
      EXPECT_EQ(r.items.size(), limit) << trace << " " << endpoint << ": short page with more";
      EXPECT_FALSE(r.next.empty()) << trace;
    } else {
      EXPECT_LE(r.items.size(), limit) << trace;
    }
    if (!r.items.empty() && !r.items.front().date_added.empty()) {
      EXPECT_EQ(r.first, r.items.front().date_added) << trace << " " << endpoint;
      EXPECT_EQ(r.last, r.items.back().date_added) << trace << " " << endpoint;
    }
    for (Item& it : r.items) all.push_back(std::move(it));
    if (!r.more) break;
    next = r.next;
  }
  return all;
}

VersionSet Versions(const std::vector<Item>& items) {
  VersionSet out;
  for (const Item& it : items) out.emplace(it.id, it.version);
  return out;
}

// Explains, for a failure report, why the implementation decided a version as it did.
using Explain = std::function<std::string(const VersionSpec&)>;

void CheckPartner(Driver& d, const Universe& u, const ReleaseRules& rules, std::mt19937_64& rng,
                  const std::string& trace, const Explain& explain = nullptr) {
  Reference ref{u, rules};
  // match[version]=last (the default) and first select among the released versions: the latest
  // (earliest) version the partner may see, whatever newer (older) versions are withheld.
  VersionSet expected_all, expected_last, expected_first;
  std::set<std::string> visible_ids, referenced;
  std::vector<std::string> forbidden;
  for (const auto& [id, idx] : u.by_id) {
    for (size_t i : idx) {
      const VersionSpec& v = u.versions[i];
      if (ref.Released(v)) {
        // With require_visible_ends = false the operator chose to release SROs whose ends the
        // partner may not see: their ids are then expected in the released text.
        if (!rules.require_visible_ends) referenced.insert(v.ends.begin(), v.ends.end());
        expected_all.emplace(id, Canon(v.modified));
        visible_ids.insert(id);
        for (std::string& t : ref.ForbiddenTokens(v)) forbidden.push_back(std::move(t));
      } else {
        for (const auto& [token, markings] : v.tokens) forbidden.push_back(token);
      }
    }
    for (auto i = idx.rbegin(); i != idx.rend(); ++i) {
      if (!ref.Released(u.versions[*i])) continue;
      expected_last.emplace(id, Canon(u.versions[*i].modified));
      break;
    }
    for (size_t i : idx) {
      if (!ref.Released(u.versions[i])) continue;
      expected_first.emplace(id, Canon(u.versions[i].modified));
      break;
    }
  }
  // A token forbidden in one version may be allowed nowhere else: tokens are unique per version.
  std::string raw;
  const size_t limit = 1 + rng() % 7;

  auto all = PageThrough(d, "objects", "", {{"match[version]", "all"}}, limit, raw, trace);
  EXPECT_EQ(Versions(all), expected_all) << trace << " objects?match[version]=all";
  EXPECT_EQ(all.size(), expected_all.size()) << trace << " duplicates across pages";
  if (explain && Versions(all) != expected_all) {
    const VersionSet got = Versions(all);
    int shown = 0;
    for (const VersionSpec& v : u.versions) {
      const bool want = expected_all.count({v.id, Canon(v.modified)}) > 0;
      if (want == (got.count({v.id, Canon(v.modified)}) > 0) || shown++ >= 3) continue;
      ADD_FAILURE() << trace << (want ? " missing " : " unexpected ") << v.json << "\n"
                    << explain(v);
    }
  }
  auto last = PageThrough(d, "objects", "", {}, limit, raw, trace);
  EXPECT_EQ(Versions(last), expected_last) << trace << " objects (latest)";
  auto first = PageThrough(d, "objects", "", {{"match[version]", "first"}}, limit, raw, trace);
  EXPECT_EQ(Versions(first), expected_first) << trace << " objects?match[version]=first";
  auto manifest_last = PageThrough(d, "manifest", "", {}, limit, raw, trace);
  EXPECT_EQ(Versions(manifest_last), expected_last) << trace << " manifest (latest)";
  auto manifest = PageThrough(d, "manifest", "", {{"match[version]", "all"}}, limit, raw, trace);
  EXPECT_EQ(Versions(manifest), expected_all) << trace << " manifest";

  // Released objects carry no refused granular marking.
  for (const Item& it : all) {
    auto obj = stix::ParseObject(it.json);
    ASSERT_TRUE(obj.ok()) << trace << it.json;
    for (const stix::GranularMarking& g : obj->granular_markings) {
      EXPECT_TRUE(RefMarkingAllowed(g.marking_ref, rules)) << trace << " " << it.json;
    }
    EXPECT_EQ(stix::ValidateObjectText(it.json).errors, 0u) << trace << " " << it.json;
  }

  // Object and versions endpoints: a sample of ids, plus ids that never existed.
  Response absent = d.Get("object", "indicator--00000000-0000-4000-8000-000000000000", {});
  EXPECT_EQ(absent.status, 404) << trace;
  std::vector<std::string> ids;
  for (const auto& [id, idx] : u.by_id) ids.push_back(id);
  std::shuffle(ids.begin(), ids.end(), rng);
  if (ids.size() > 40) ids.resize(40);
  for (const std::string& m : u.missing_ids) ids.push_back(m);
  for (const std::string& id : ids) {
    const bool visible = visible_ids.count(id) > 0;
    Response obj = d.Get("object", id, {});
    Response vers = d.Get("versions", id, {});
    raw += obj.raw + vers.raw;
    if (!visible) {
      EXPECT_EQ(obj.status, 404) << trace << " object " << id;
      EXPECT_EQ(vers.status, 404) << trace << " versions " << id;
      // Byte for byte the answer for an id that never existed.
      EXPECT_EQ(obj.raw.substr(0, obj.raw.find('\n')), absent.raw.substr(0, absent.raw.find('\n')))
          << trace;
      continue;
    }
    EXPECT_EQ(obj.status, 200) << trace << " object " << id;
    VersionSet want_obj, want_vers;
    for (const auto& [vid, ver] : expected_last) {
      if (vid == id) want_obj.emplace(vid, ver);
    }
    for (const auto& [vid, ver] : expected_all) {
      if (vid == id) want_vers.emplace(vid, ver);
    }
    EXPECT_EQ(Versions(obj.items), want_obj) << trace << " object " << id;
    EXPECT_EQ(vers.status, 200) << trace;
    EXPECT_EQ(Versions(vers.items), want_vers) << trace << " versions " << id;
  }

  // Nothing withheld leaks: no refused value, no id of an object the partner cannot see.
  for (const std::string& t : forbidden) {
    EXPECT_EQ(raw.find(t), std::string::npos) << trace << " leaked token " << t;
  }
  for (const auto& [id, idx] : u.by_id) {
    if (!visible_ids.count(id) && !referenced.count(id)) {
      EXPECT_EQ(raw.find(id), std::string::npos) << trace << " leaked id " << id;
    }
  }
}

uint64_t BaseSeed() {
  if (const char* s = std::getenv("LIAISON_POLICY_SEED"); s && *s) return std::stoull(s);
  return 20261130;
}

class PolicyPropertyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liaison_policy_property_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store::SqliteOptions o;
    o.path = dir_ / "store.db";
    o.max_page_size = 50;
    auto s = store::OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Stores the universe in a new collection; returns its id.
  std::string Load(const Universe& u, std::mt19937_64& rng) {
    store::Collection c;
    c.id = Uuid(rng);
    c.api_root = "api";
    c.title = "t";
    EXPECT_TRUE(store_->CreateCollection(c).ok());
    std::vector<stix::Object> batch;
    for (const VersionSpec& v : u.versions) {
      EXPECT_EQ(stix::ValidateObjectText(v.json).errors, 0u) << v.json;
      auto o = stix::ParseObject(v.json);
      EXPECT_TRUE(o.ok()) << v.json;
      o->json = v.json;
      batch.push_back(std::move(*o));
      if (batch.size() == 37) {  // several commits, so date_added groups vary
        EXPECT_TRUE(store_->Add(c.id, batch).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      EXPECT_TRUE(store_->Add(c.id, batch).ok());
    }
    return c.id;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(PolicyPropertyTest, InProcessNothingOutsideThePolicyReachesThePartner) {
  const uint64_t base = BaseSeed();
  const int rounds =
      std::getenv("LIAISON_POLICY_ROUNDS") ? std::atoi(std::getenv("LIAISON_POLICY_ROUNDS")) : 8;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t seed = base + static_cast<uint64_t>(round);
    std::mt19937_64 rng(seed);
    Universe u = Generate(rng, 250);
    const std::string collection = Load(u, rng);
    for (int p = 0; p < 4; ++p) {
      Partner partner;
      partner.name = "p";
      partner.rules = RandomRules(rng);
      partner.policy_version = ComputePolicyVersion(partner.rules);
      InProcessDriver driver(*store_, collection, partner);
      Explain explain = [&](const VersionSpec& v) {
        store::Filter f;
        f.ids = {v.id};
        f.versions = {store::VersionMatch::All()};
        auto page = store_->Query(collection, f);
        if (!page.ok()) return std::string("query failed");
        PartnerView view(*store_, collection, partner);
        for (const store::ObjectRecord& rec : page->records) {
          if (Canon(VersionText(rec)) != Canon(v.modified)) continue;
          auto d = view.Decide(rec);
          if (!d.ok()) return std::string(d.status().message());
          return StrCat("implementation: ", d->released() ? "released" : "withheld: ", d->reason);
        }
        return std::string("not stored");
      };
      CheckPartner(driver, u, partner.rules, rng,
                   StrCat("[LIAISON_POLICY_SEED=", seed, " partner ", p, " rules ",
                          CanonicalRules(partner.rules), "]"),
                   explain);
      if (HasFailure()) return;
    }
  }
}

TEST_F(PolicyPropertyTest, OverHttpNothingOutsideThePolicyReachesThePartner) {
  const uint64_t seed = BaseSeed() + 1000;
  std::mt19937_64 rng(seed);
  Universe u = Generate(rng, 200);
  const std::string collection = Load(u, rng);
  std::vector<Partner> partners;
  std::vector<std::string> tokens;
  for (int p = 0; p < 3; ++p) {
    Partner partner;
    partner.name = StrCat("partner", p);
    partner.groups = {StrCat("group", p)};
    partner.rules = RandomRules(rng);
    partners.push_back(partner);
    ASSERT_TRUE(store_->CreateUser({StrCat("user", p), "x", false, {StrCat("group", p)}}).ok());
    ASSERT_TRUE(store_
                    ->SetPermission(collection, store::Principal::GroupNamed(StrCat("group", p)),
                                    {true, false})
                    .ok());
    tokens.push_back(taxii::NewApiToken());
    ASSERT_TRUE(
        store_
            ->AddToken(
                {taxii::HashApiToken(tokens.back()), StrCat("user", p), "t", Timestamp::Now(), {}})
            .ok());
  }
  auto set = PartnerSet::Create(partners);
  ASSERT_TRUE(set.ok()) << set.status();
  taxii::ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.partners = std::make_shared<const PartnerSet>(std::move(*set));
  auto server = taxii::Server::Start(*store_, options);
  ASSERT_TRUE(server.ok()) << server.status();
  for (int p = 0; p < 3; ++p) {
    HttpDriver driver((*server)->port(), collection, tokens[p]);
    CheckPartner(driver, u, options.partners->partners()[p].rules, rng,
                 StrCat("[http LIAISON_POLICY_SEED=", BaseSeed(), " partner ", p, " rules ",
                        CanonicalRules(options.partners->partners()[p].rules), "]"));
  }
  // Every 200 with objects was logged, in one intact chain.
  ReleaseLog log(*store_);
  auto v = log.Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_GT(v->entries, 0);
  (*server)->Stop();
}

// match[version] selects among released versions (docs/policy.md "Version selection"): the
// newest version is withheld (label "military"), so `last` is the newest released one, `first`
// the oldest released one, and nothing in any answer shows that the withheld version exists.
// The versions are stored newest first, so date_added order is not version order.
TEST_F(PolicyPropertyTest, OnlyStix20And21ContentIsReleasedOnEveryPath) {
  // Store::Add does not validate; a writer that skips validation could store another spec
  // version. Relative queries scan match[spec_version]=2.0,2.1 only, so every other path must
  // withhold such versions too, or `all` and `last` would disagree.
  const std::string collection = "11111111-2222-4333-8444-666666666666";
  store::Collection c;
  c.id = collection;
  c.api_root = "api";
  c.title = "t";
  ASSERT_TRUE(store_->CreateCollection(c).ok());
  const std::string odd = "indicator--0c6f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c";
  const std::string good = "indicator--1c6f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c";
  std::vector<stix::Object> batch;
  for (auto [id, spec] : {std::pair{odd, "2.2"}, std::pair{good, "2.1"}}) {
    const std::string text = StrCat(
        R"({"type":"indicator","spec_version":")", spec, R"(","id":")", id,
        R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
        R"("pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix",)",
        R"("valid_from":"2024-01-01T00:00:00Z","object_marking_refs":[")", kTlp2Green, R"("]})");
    auto o = stix::ParseObject(text);
    ASSERT_TRUE(o.ok()) << o.status();
    o->json = text;
    batch.push_back(std::move(*o));
  }
  ASSERT_TRUE(store_->Add(collection, batch).ok());
  Partner partner;
  partner.name = "p";
  partner.rules.tlp = {Tlp::kClear, Tlp::kGreen};
  partner.policy_version = ComputePolicyVersion(partner.rules);
  for (const store::VersionMatch& version :
       {store::VersionMatch::Last(), store::VersionMatch::First(), store::VersionMatch::All()}) {
    SCOPED_TRACE(static_cast<int>(version.kind));
    PartnerView view(*store_, collection, partner);
    store::Filter f;
    f.versions = {version};
    auto page = view.Query(Endpoint::kObjects, "", f);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->records.size(), 1u);
    EXPECT_EQ(page->records[0].id, good);
  }
  PartnerView view(*store_, collection, partner);
  EXPECT_EQ(view.Query(Endpoint::kVersions, odd, {}).status().code(), absl::StatusCode::kNotFound);
  auto stored = store_->QueryVersions(collection, odd, {});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->records.size(), 1u);
  auto rec = store_->Query(collection, [&] {
    store::Filter f;
    f.ids = {odd};
    f.spec_versions = {"2.2"};
    return f;
  }());
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->records.size(), 1u);
  auto pushed = view.ReleasedText(rec->records[0]);  // sync push
  ASSERT_TRUE(pushed.ok());
  EXPECT_FALSE(pushed->has_value());
}

TEST_F(PolicyPropertyTest, VersionSelectionIsAmongReleasedVersions) {
  const std::string collection = "11111111-2222-4333-8444-555555555555";
  store::Collection c;
  c.id = collection;
  c.api_root = "api";
  c.title = "t";
  ASSERT_TRUE(store_->CreateCollection(c).ok());
  const std::string id = "indicator--6a1f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c";
  auto version = [&](int day, std::string_view label, std::string_view name) {
    return StrCat(R"({"type":"indicator","spec_version":"2.1","id":")", id,
                  R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-0)", day,
                  R"(T00:00:00.000Z","name":")", name,
                  R"(","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix",)",
                  R"("valid_from":"2024-01-01T00:00:00Z","labels":[")", label,
                  R"("],"object_marking_refs":[")", kTlp2Green, R"("]})");
  };
  // Stored newest first: day 4 (withheld), day 3, day 2 (withheld), day 1.
  for (auto [day, label, name] :
       {std::tuple{4, "military", "secret-name-4"}, std::tuple{3, "cybercrime", "name-3"},
        std::tuple{2, "military", "secret-name-2"}, std::tuple{1, "cybercrime", "name-1"}}) {
    std::vector<stix::Object> batch;
    const std::string text = version(day, label, name);
    auto o = stix::ParseObject(text);
    ASSERT_TRUE(o.ok()) << o.status();
    o->json = text;
    batch.push_back(std::move(*o));
    ASSERT_TRUE(store_->Add(collection, batch).ok());
  }
  Partner partner;
  partner.name = "p";
  partner.rules.tlp = {Tlp::kClear, Tlp::kGreen};
  partner.rules.labels.deny = {"military"};
  partner.policy_version = ComputePolicyVersion(partner.rules);
  InProcessDriver d(*store_, collection, partner);
  std::string raw;
  auto versions_of = [](const std::vector<Item>& items) {
    std::vector<std::string> out;
    for (const Item& it : items) out.push_back(it.version);
    return out;
  };
  const std::string v1 = "2024-01-01T00:00:00.000Z", v3 = "2024-01-03T00:00:00.000Z";
  for (size_t limit : {1, 5}) {
    EXPECT_EQ(versions_of(PageThrough(d, "objects", "", {}, limit, raw, "last")),
              std::vector<std::string>{v3});
    EXPECT_EQ(versions_of(PageThrough(d, "objects", "", {{"match[version]", "first"}}, limit, raw,
                                      "first")),
              std::vector<std::string>{v1});
    EXPECT_EQ(versions_of(PageThrough(d, "manifest", "", {}, limit, raw, "manifest")),
              std::vector<std::string>{v3});
    EXPECT_EQ(
        versions_of(PageThrough(d, "objects", "", {{"match[version]", "all"}}, limit, raw, "all")),
        (std::vector<std::string>{v3, v1}));  // date_added order
  }
  Response obj = d.Get("object", id, {});
  ASSERT_EQ(obj.status, 200);
  EXPECT_EQ(versions_of(obj.items), std::vector<std::string>{v3});
  raw += obj.raw;
  // The page's date_added is the released version's own, not the withheld one's.
  auto all = store_->QueryVersions(collection, id, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->records.size(), 4u);
  EXPECT_EQ(obj.first, all->records[1].date_added.ToString(6));  // day 3, stored second
  for (std::string_view secret : {"secret-name-4", "secret-name-2", "2024-01-04", "2024-01-02"}) {
    EXPECT_EQ(raw.find(secret), std::string::npos) << secret;
  }

  // Over HTTP, through the handler: the default GET and the object endpoint give day 3.
  taxii::ServerOptions options;
  options.partners = std::make_shared<const PartnerSet>(*PartnerSet::Create({partner}));
  (void)store_->CreateUser({"u", "x", false, {"g"}});
  partner.groups = {"g"};
  options.partners = std::make_shared<const PartnerSet>(*PartnerSet::Create({partner}));
  ASSERT_TRUE(
      store_->SetPermission(collection, store::Principal::GroupNamed("g"), {true, false}).ok());
  const std::string token = taxii::NewApiToken();
  ASSERT_TRUE(store_->AddToken({taxii::HashApiToken(token), "u", "", Timestamp::Now(), {}}).ok());
  taxii::server::Handler handler(*store_, options);
  taxii::server::HttpRequest req;
  req.method = "GET";
  req.authorization = "Bearer " + token;
  req.remote_address = "127.0.0.1";
  for (int round = 0; round < 2; ++round) {  // the second round answers from the caches
    req.target = StrCat("/api/collections/", collection, "/objects/");
    taxii::server::HttpResponse r = handler.Handle(req);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("name-3"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("2024-01-04"), std::string::npos) << r.body;
  }
  // A new released version (day 5) is the latest at once; the caches follow the store.
  {
    std::vector<stix::Object> batch;
    const std::string text = version(5, "cybercrime", "name-5");
    auto o = stix::ParseObject(text);
    ASSERT_TRUE(o.ok());
    o->json = text;
    batch.push_back(std::move(*o));
    ASSERT_TRUE(store_->Add(collection, batch).ok());
  }
  taxii::server::HttpResponse r = handler.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("name-5"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("name-3"), std::string::npos) << r.body;
  // Deleting it brings day 3 back (a deletion moves the store's stamp too).
  auto day5 = Timestamp::Parse("2024-01-05T00:00:00.000Z");
  ASSERT_TRUE(day5.ok());
  store::DeleteFilter del;
  del.versions = {store::VersionMatch::At(*day5)};
  ASSERT_TRUE(store_->DeleteObject(collection, id, del).ok());
  r = handler.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("name-3"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("name-5"), std::string::npos) << r.body;
}

// Relationship ends cached across requests follow the store: when the end's latest version
// becomes withheld, the relationship is withheld on the next request, and back again when a
// released version follows.
TEST_F(PolicyPropertyTest, CachedEndVisibilityFollowsNewVersions) {
  const std::string collection = "21111111-2222-4333-8444-555555555555";
  store::Collection c;
  c.id = collection;
  c.api_root = "api";
  c.title = "t";
  ASSERT_TRUE(store_->CreateCollection(c).ok());
  const std::string a = "indicator--0a1f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c";
  const std::string b = "indicator--0b1f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c";
  auto indicator = [&](const std::string& id, int day, std::string_view label) {
    return StrCat(R"({"type":"indicator","spec_version":"2.1","id":")", id,
                  R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-0)", day,
                  R"(T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']",)",
                  R"("pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","labels":[")", label,
                  R"("],"object_marking_refs":[")", kTlp2Green, R"("]})");
  };
  const std::string rel = StrCat(
      R"({"type":"relationship","spec_version":"2.1","id":"relationship--0c1f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c",)",
      R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",)",
      R"("relationship_type":"related-to","source_ref":")", a, R"(","target_ref":")", b,
      R"(","object_marking_refs":[")", kTlp2Green, R"("]})");
  auto add = [&](const std::string& text) {
    std::vector<stix::Object> batch;
    auto o = stix::ParseObject(text);
    ASSERT_TRUE(o.ok()) << o.status();
    o->json = text;
    batch.push_back(std::move(*o));
    ASSERT_TRUE(store_->Add(collection, batch).ok());
  };
  add(indicator(a, 1, "cybercrime"));
  add(indicator(b, 1, "cybercrime"));
  add(rel);
  Partner partner;
  partner.name = "p";
  partner.groups = {"g"};
  partner.rules.tlp = {Tlp::kClear, Tlp::kGreen};
  partner.rules.labels.deny = {"military"};
  partner.policy_version = ComputePolicyVersion(partner.rules);
  taxii::ServerOptions options;
  options.partners = std::make_shared<const PartnerSet>(*PartnerSet::Create({partner}));
  (void)store_->CreateUser({"u", "x", false, {"g"}});
  ASSERT_TRUE(
      store_->SetPermission(collection, store::Principal::GroupNamed("g"), {true, false}).ok());
  const std::string token = taxii::NewApiToken();
  ASSERT_TRUE(store_->AddToken({taxii::HashApiToken(token), "u", "", Timestamp::Now(), {}}).ok());
  taxii::server::Handler handler(*store_, options);
  taxii::server::HttpRequest req;
  req.method = "GET";
  req.authorization = "Bearer " + token;
  req.remote_address = "127.0.0.1";
  auto get = [&](std::string_view path) {
    req.target = StrCat("/api/collections/", collection, path);
    return handler.Handle(req);
  };
  const std::string rel_path = "/objects/relationship--0c1f3c2e-0b9d-4e7a-9c55-2d4e8f1a7b3c/";
  EXPECT_EQ(get(rel_path).status, 200);
  EXPECT_NE(get("/objects/").body.find("relationship--"), std::string::npos);
  add(indicator(b, 2, "military"));  // b's latest version is now withheld
  EXPECT_EQ(get(rel_path).status, 404);
  EXPECT_EQ(get("/objects/").body.find("relationship--"), std::string::npos);
  add(indicator(b, 3, "cybercrime"));
  EXPECT_EQ(get(rel_path).status, 200);
  EXPECT_NE(get("/objects/").body.find("relationship--"), std::string::npos);
}

// Release keys (docs/policy.md "Decision key"): the key filter the store runs on its index must
// agree with the full decision. Soundness: a key the filter drops belongs to a version that
// MayRelease and Decide withhold. Exactness: where the key says it is exact, its verdict is
// MayRelease's. Run twice: with the universe's names coded in the key, and in a store whose key
// dictionaries were first filled by other names, so that some of the universe's names overflow
// (then the filter must skip what it cannot tell, and the whole property check still holds).
void FillKeyDictionaries(store::Store& store, std::mt19937_64& rng) {
  store::Collection c;
  c.id = Uuid(rng);
  c.api_root = "api";
  c.title = "filler";
  ASSERT_TRUE(store.CreateCollection(c).ok());
  std::vector<stix::Object> batch;
  // 60 of 63 type codes, 1020 of 1022 creator codes, 10 of 15 marking and 19 of 21 label codes:
  // the universe's names land on both sides of each limit.
  for (int i = 0; i < 1020; ++i) {
    std::string json = StrCat(R"({"type":"x-filler-)", i % 60, R"(","id":"x-filler-)", i % 60, "--",
                              Uuid(rng), R"(","created_by_ref":"identity--f)", i,
                              R"(","object_marking_refs":["marking-definition--f)", i % 10,
                              R"("],"labels":["filler-)", i % 19, R"("]})");
    auto o = stix::ParseObject(json);
    ASSERT_TRUE(o.ok()) << json;
    batch.push_back(std::move(*o));
  }
  ASSERT_TRUE(store.Add(c.id, batch).ok());
}

void CheckKeysAgainstDecisions(store::Store& store, const std::string& collection,
                               const Partner& partner, bool expect_overflow,
                               const std::string& trace) {
  ReleasePolicy policy;
  std::optional<ReleaseKeyRules> rules;
  const store::Store::KeyFilterFactory factory =
      [&](const store::Store::KeyCodeFn& code) -> Result<store::Store::KeyFilterFn> {
    LIAISON_ASSIGN_OR_RETURN(rules, ReleaseKeyRules::Compile(partner, code));
    // Keep every row, so each version's key and text reach the check below.
    return store::Store::KeyFilterFn([](int64_t) { return true; });
  };
  size_t checked = 0, exact = 0, dropped = 0, kept_by_key = 0;
  const EndsCheck ends = [](std::string_view) -> Result<bool> { return true; };
  const store::Store::KeepFn keep = [&](const store::Store::RecordView& v) {
    ++checked;
    EXPECT_NE(v.release_key, 0) << trace << " no key for " << v.id;
    const bool by_key = rules->MayRelease(v.release_key);
    const bool first_look = policy.MayRelease(v.json, partner);
    if (rules->Exact(v.release_key)) {
      ++exact;
      EXPECT_EQ(by_key, first_look) << trace << " exact key disagrees for " << v.json;
    }
    if (!by_key) {
      ++dropped;
      EXPECT_FALSE(first_look) << trace << " key drops what the first look keeps: " << v.json;
      auto o = stix::ParseObject(v.json);
      EXPECT_TRUE(o.ok());
      if (o.ok()) {
        auto d = policy.Decide(*o, v.json, partner, &ends);
        EXPECT_TRUE(d.ok() && !d->released()) << trace << " key drops a released " << v.json;
      }
    } else {
      ++kept_by_key;
    }
    return true;
  };
  store::Filter f;
  f.versions = {store::VersionMatch::All()};
  for (;;) {
    auto page = store.QueryKeyed(collection, f, factory, keep, 10'000);
    ASSERT_TRUE(page.ok()) << page.status();
    if (!page->more) break;
    f.next = page->next;
  }
  EXPECT_GT(checked, 0u) << trace;
  if (expect_overflow) {
    EXPECT_LT(exact, checked) << trace << " no key overflowed: the test does not test overflow";
  } else {
    EXPECT_EQ(exact, checked) << trace << " every name fits, so every key should be exact";
  }
}

TEST_F(PolicyPropertyTest, ReleaseKeysAgreeWithTheFullDecision) {
  for (bool overflow : {false, true}) {
    TearDown();
    SetUp();
    const uint64_t seed = BaseSeed() + 2000 + (overflow ? 1 : 0);
    std::mt19937_64 rng(seed);
    if (overflow) FillKeyDictionaries(*store_, rng);
    Universe u = Generate(rng, 250);
    const std::string collection = Load(u, rng);
    for (int p = 0; p < 6; ++p) {
      Partner partner;
      partner.name = "p";
      partner.rules = RandomRules(rng);
      partner.policy_version = ComputePolicyVersion(partner.rules);
      const std::string trace =
          StrCat("[LIAISON_POLICY_SEED=", seed - 2000 - overflow, " overflow ", overflow,
                 " partner ", p, " rules ", CanonicalRules(partner.rules), "]");
      CheckKeysAgainstDecisions(*store_, collection, partner, overflow, trace);
      // And the whole property through the key path, names overflowed or not.
      InProcessDriver driver(*store_, collection, partner);
      Explain explain = [](const VersionSpec&) { return std::string(); };
      CheckPartner(driver, u, partner.rules, rng, trace, explain);
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace liaison::policy
