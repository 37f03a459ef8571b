#include "stix/upgrade.h"

// Each rule below cites the STIX 2.1 specification (OASIS Standard, 10 June 2021) by section
// title. Where the specification leaves a choice, the choice and its reason are in
// docs/upgrade.md; the facts about other tools (OASIS's own 2.0 -> 2.1 stepper, MITRE's 2.1
// release of ATT&CK) that informed them are cited there too.
//
// Invariants:
// - An object whose spec_version is "2.1" is never rewritten: UpgradeContent copies its text.
// - The SCOs made from an observed-data container are emitted before the observed-data, each id
//   once per input; their references, and the observed-data's object_refs, use the new ids.

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "simdjson.h"
#include "stix/ids.h"
#include "stix/internal/spec.h"
#include "stix/parse.h"
#include "stix/serialize.h"

namespace liaison::stix {
namespace {

using json::Value;

// ---------------------------------------------------------------------------------------------
// Tables

// A standard SCO type (STIX 2.1 section "STIX Cyber-observable Objects"). In 2.0 these lived
// only inside observed-data, so a top-level object of one of these types is 2.1 content.
bool IsScoType(std::string_view type) {
  const internal::TypeSpec* spec = internal::FindType(type);
  return spec != nullptr && spec->category == internal::Category::kSco;
}

// SCO properties STIX 2.1 renamed (the property tables of File, Directory, Process, User Account
// and Windows Registry Key, against the same objects in STIX 2.0 Part 4).
struct PropertyRename {
  std::string_view type, from, to;
};
constexpr PropertyRename kScoRenames[] = {
    {"file", "created", "ctime"},
    {"file", "modified", "mtime"},
    {"file", "accessed", "atime"},
    {"directory", "created", "ctime"},
    {"directory", "modified", "mtime"},
    {"directory", "accessed", "atime"},
    {"process", "created", "created_time"},
    {"process", "binary_ref", "image_ref"},
    {"user-account", "password_last_changed", "credential_last_changed"},
    {"windows-registry-key", "modified", "modified_time"},
};

// 2.0 SCO properties with no 2.1 counterpart. `extension` is empty for a property of the object
// itself. (File encryption moved to Artifact, which describes the encrypted bytes; Process lost
// name and arguments in favour of command_line and image_ref.)
struct RemovedProperty {
  std::string_view type, extension, property;
};
constexpr RemovedProperty kScoRemoved[] = {
    {"file", "", "is_encrypted"},
    {"file", "", "encryption_algorithm"},
    {"file", "", "decryption_key"},
    {"file", "archive-ext", "version"},
    {"file", "raster-image-ext", "image_compression_algorithm"},
    {"network-traffic", "socket-ext", "protocol_family"},
    {"process", "", "name"},
    {"process", "", "arguments"},
};

// The SDOs whose required 2.0 `labels` classified the object (open vocabularies indicator-label-ov,
// malware-label-ov, report-label-ov, threat-actor-label-ov, tool-label-ov). STIX 2.1 moved that
// meaning to `*_types` (vocabularies *-type-ov, supersets of the 2.0 ones) and made `labels`
// plain tags.
struct LabelsToTypes {
  std::string_view type, property;
};
constexpr LabelsToTypes kLabelsToTypes[] = {
    {"indicator", "indicator_types"}, {"malware", "malware_types"},
    {"report", "report_types"},       {"threat-actor", "threat_actor_types"},
    {"tool", "tool_types"},
};

// The four TLP marking definitions, which STIX 2.1 section "TLP Marking" fixes object for object
// (with the same ids and `created` as 2.0, plus spec_version and name).
struct Tlp {
  std::string_view id, name, color;
};
constexpr Tlp kTlp[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE", "white"},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN", "green"},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER", "amber"},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED", "red"},
};
constexpr std::string_view kTlpCreated = "2017-01-20T00:00:00.000Z";

// ---------------------------------------------------------------------------------------------
// Member helpers on json::Object, which keeps document order

size_t IndexOf(const json::Object& o, std::string_view key) {
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i].first == key) return i;
  }
  return o.size();
}

// Inserts key/value after member `after`, or at the end when `after` is absent.
void InsertAfter(json::Object& o, std::string_view after, std::string_view key, Value value) {
  size_t i = IndexOf(o, after);
  i = i == o.size() ? o.size() : i + 1;
  o.insert(o.begin() + i, json::Member(std::string(key), std::move(value)));
}

// Renames a member in place. No-op (false) when `from` is absent or `to` already exists.
bool RenameMember(json::Object& o, std::string_view from, std::string_view to) {
  const size_t i = IndexOf(o, from);
  if (i == o.size() || IndexOf(o, to) != o.size()) return false;
  o[i].first = std::string(to);
  return true;
}

const std::string* StringMember(const Value& v, std::string_view key) {
  const Value* m = v.Find(key);
  return m != nullptr && m->is_string() ? &m->as_string() : nullptr;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ---------------------------------------------------------------------------------------------
// The upgrade of one object

struct Context {
  const UpgradeOptions& options;
  UpgradeReport& report;
  std::string_view line;     // "line 7: " for NDJSON input, else empty
  std::string_view pointer;  // of the object being upgraded in the input ("/objects/3"), or ""

  void Count(std::string_view change) { ++report.changes[std::string(change)]; }
  // `where` is a JSON pointer relative to the object ("/pattern"), or "" for the object itself.
  std::string Where(std::string_view where) const {
    return StrCat(line, pointer.empty() && where.empty() ? "/" : "", pointer, where);
  }
  void Warn(std::string_view where, std::string_view message) {
    report.warnings.push_back(StrCat(Where(where), ": ", message));
  }
  Status Error(std::string_view where, std::string_view message) const {
    return absl::InvalidArgumentError(StrCat(Where(where), ": ", message));
  }
};

// STIX 2.1 section "Common Properties": created and modified are precise to at least the
// millisecond; 2.0 content sometimes stops at the second. Padding with zeros keeps the instant
// (and so the version identity, which liaison compares as instants).
void PadTimestamps(json::Object& o, Context& ctx) {
  for (std::string_view key : {"created", "modified"}) {
    const size_t i = IndexOf(o, key);
    if (i == o.size() || !o[i].second.is_string()) continue;
    std::string text = o[i].second.as_string();
    auto ts = Timestamp::Parse(text);
    if (!ts.ok() || ts->precision() >= 3) continue;  // invalid ones are the validator's to report
    const size_t z = text.size() - 1;                // Parse guarantees the final 'Z'
    if (ts->precision() == 0) {
      text.insert(z, ".000");
    } else {
      text.insert(z, std::string(3 - ts->precision(), '0'));
    }
    o[i].second = Value(std::move(text));
    ctx.Count("created/modified: padded to millisecond precision");
  }
}

// STIX 2.1 hash-algorithm-ov spells the 2.0 "ssdeep" as "SSDEEP" (section "Hashing Algorithm
// Vocabulary"). Applies to every `hashes` dictionary at any depth (SCOs, their extensions,
// external references).
void UpgradeHashNames(Value& v, Context& ctx) {
  if (v.is_array()) {
    for (Value& item : v.as_array()) UpgradeHashNames(item, ctx);
    return;
  }
  if (!v.is_object()) return;
  for (auto& [key, member] : v.as_object()) {
    if (key == "hashes" && member.is_object()) {
      if (RenameMember(member.as_object(), "ssdeep", "SSDEEP")) {
        ctx.Count("hashes: ssdeep -> SSDEEP");
      }
    } else {
      UpgradeHashNames(member, ctx);
    }
  }
}

void SetSpecVersion(json::Object& o, Context& ctx) {
  const size_t i = IndexOf(o, "spec_version");
  if (i != o.size()) {
    o[i].second = Value("2.1");
    ctx.Count("spec_version: \"2.0\" -> \"2.1\"");
  } else {
    InsertAfter(o, "type", "spec_version", Value("2.1"));
    ctx.Count("spec_version: \"2.1\" added");
  }
}

// 2.0 `labels` -> 2.1 `*_types`. A label that only repeats the object's own type ("malware" on a
// malware, "tool" on a tool) is in no 2.1 vocabulary and says nothing the type does not: it is
// dropped, as MITRE did in ATT&CK's 2.1 release.
void MoveLabels(json::Object& o, std::string_view type, std::string_view property, Context& ctx) {
  const size_t i = IndexOf(o, "labels");
  if (i == o.size() || !o[i].second.is_array()) return;
  if (IndexOf(o, property) != o.size()) {
    ctx.Warn("/labels", StrCat("left as is: the object already has ", property));
    return;
  }
  json::Array types;
  bool dropped = false;
  for (Value& label : o[i].second.as_array()) {
    if (label.is_string() && label.as_string() == type) {
      dropped = true;
    } else {
      types.push_back(std::move(label));
    }
  }
  if (dropped) ctx.Count(StrCat(type, ": label \"", type, "\" dropped (repeats the type)"));
  if (types.empty()) {
    o.erase(o.begin() + i);
    return;
  }
  o[i] = json::Member(std::string(property), Value(std::move(types)));
  ctx.Count(StrCat(type, ": labels -> ", property));
}

void UpgradeIndicator(json::Object& o, Context& ctx) {
  // Section "Indicator": pattern_type is required; 2.0 patterns are STIX patterns.
  if (IndexOf(o, "pattern_type") == o.size()) {
    InsertAfter(o, "pattern", "pattern_type", Value("stix"));
    ctx.Count("indicator: pattern_type \"stix\" added");
  }
  const size_t i = IndexOf(o, "pattern");
  if (i == o.size() || !o[i].second.is_string()) return;
  std::string pattern = o[i].second.as_string();
  std::vector<std::string> removed;
  if (UpgradePatternPaths(pattern, &removed) > 0) {
    o[i].second = Value(std::move(pattern));
    ctx.Count("indicator: pattern paths renamed");
  }
  for (const std::string& path : removed) {
    ctx.Warn("/pattern",
             StrCat("uses ", path, ", which STIX 2.1 removed: that comparison can never match"));
  }
}

void UpgradeTlp(Value& object, Context& ctx) {
  const std::string* id = StringMember(object, "id");
  const std::string* definition_type = StringMember(object, "definition_type");
  if (id == nullptr || definition_type == nullptr || *definition_type != "tlp") return;
  for (const Tlp& tlp : kTlp) {
    if (*id != tlp.id) continue;
    const Value* definition = object.Find("definition");
    const std::string* color = definition != nullptr ? StringMember(*definition, "tlp") : nullptr;
    if (color == nullptr || *color != tlp.color) {
      ctx.Warn("/definition", StrCat("the id of ", tlp.name, " with another definition; kept"));
      return;
    }
    object = Value(json::Object{{"type", "marking-definition"},
                                {"spec_version", "2.1"},
                                {"id", tlp.id},
                                {"created", kTlpCreated},
                                {"definition_type", "tlp"},
                                {"name", tlp.name},
                                {"definition", json::Object{{"tlp", tlp.color}}}});
    ctx.Count("marking-definition: TLP definition replaced by its 2.1 form");
    return;
  }
}

// Renames and removals of STIX 2.0 cyber observable properties, before the object becomes an
// SCO. `where` is the container entry's pointer, relative to the observed-data.
void UpgradeCyberObservable(json::Object& o, std::string_view type, std::string_view where,
                            Context& ctx) {
  for (const PropertyRename& r : kScoRenames) {
    if (r.type == type && RenameMember(o, r.from, r.to)) {
      ctx.Count(StrCat(type, ": ", r.from, " -> ", r.to));
    }
  }
  for (const RemovedProperty& r : kScoRemoved) {
    if (r.type != type) continue;
    json::Object* holder = &o;
    std::string path = StrCat(where, "/", r.property);
    if (!r.extension.empty()) {
      Value* extensions = nullptr;
      const size_t e = IndexOf(o, "extensions");
      if (e != o.size()) extensions = &o[e].second;
      Value* extension = extensions != nullptr ? extensions->Find(r.extension) : nullptr;
      if (extension == nullptr || !extension->is_object()) continue;
      holder = &extension->as_object();
      path = StrCat(where, "/extensions/", r.extension, "/", r.property);
    }
    const size_t i = IndexOf(*holder, r.property);
    if (i == holder->size()) continue;
    std::string value = json::Serialize(holder->at(i).second);
    if (value.size() > 80) value = StrCat(value.substr(0, 77), "...");
    ctx.Warn(path, StrCat("dropped: STIX 2.1 has no such property (the value was ", value, ")"));
    holder->erase(holder->begin() + i);
    ctx.Count(StrCat(type, ": ", r.extension.empty() ? "" : StrCat(r.extension, "."), r.property,
                     " dropped (not in 2.1)"));
  }
}

// Rewrites every `*_ref` string and `*_refs` list at any depth of `v` through `map`. Returns
// false when `unresolved` is given and a reference names an entry of it (an entry whose new id
// is not known yet). References to keys outside `map` are left alone and reported in `dangling`.
bool RewriteRefs(Value& v, const absl::flat_hash_map<std::string, std::string>& map,
                 const absl::flat_hash_set<std::string>* unresolved,
                 std::vector<std::string>* dangling) {
  auto rewrite = [&](Value& ref) {
    if (!ref.is_string()) return true;
    const std::string& key = ref.as_string();
    if (unresolved != nullptr && unresolved->contains(key)) return false;
    auto it = map.find(key);
    if (it != map.end()) {
      ref = Value(it->second);
    } else if (dangling != nullptr) {
      dangling->push_back(key);
    }
    return true;
  };
  if (v.is_array()) {
    for (Value& item : v.as_array()) {
      if (!RewriteRefs(item, map, unresolved, dangling)) return false;
    }
    return true;
  }
  if (!v.is_object()) return true;
  for (auto& [key, member] : v.as_object()) {
    if (EndsWith(key, "_ref")) {
      if (!rewrite(member)) return false;
    } else if (EndsWith(key, "_refs") && member.is_array()) {
      for (Value& ref : member.as_array()) {
        if (!rewrite(ref)) return false;
      }
    } else if (!RewriteRefs(member, map, unresolved, dangling)) {
      return false;
    }
  }
  return true;
}

// One entry of an observed-data container on its way to becoming an SCO.
struct Entry {
  std::string key;
  std::string type;
  Value sco;
  std::string id;  // empty until known
};

// The SCO's id (STIX 2.1 section "Identifier" and each SCO's "ID Contributing Properties"),
// computed by ids.h over the entry's contributing properties with their references already
// rewritten to final ids. nullopt while a contributing reference points at an entry whose id is
// not known yet. UUIDv4 when the type has no contributing properties or none is present (and
// when they are malformed, which the validator then reports).
std::optional<std::string> ScoId(const Entry& entry,
                                 const absl::flat_hash_map<std::string, std::string>& ids,
                                 const absl::flat_hash_set<std::string>& unresolved) {
  Value contributing(json::Object{{"type", entry.type}});
  const internal::TypeSpec* spec = internal::FindType(entry.type);
  if (spec != nullptr && spec->category == internal::Category::kSco) {
    for (std::string_view property : spec->id_contributing) {
      const Value* v = entry.sco.Find(property);
      if (v == nullptr) continue;
      Value holder(json::Object{{std::string(property), *v}});
      if (!RewriteRefs(holder, ids, &unresolved, nullptr)) return std::nullopt;
      contributing.as_object().push_back(std::move(holder.as_object().front()));
    }
  }
  auto id = DeterministicScoId(json::Serialize(contributing));
  if (id.ok() && id->has_value()) return **id;
  return StrCat(entry.type, "--", Uuid::V4().ToString());
}

// Section "Observed Data": `objects` (the 2.0 cyber observable container) is deprecated and
// mutually exclusive with `object_refs`, which references SCOs that are top-level objects.
// Turns the container into SCOs (appended to `scos`) and the observed-data's object_refs.
Status UpgradeContainer(json::Object& od, Context& ctx, std::vector<Value>& scos) {
  const size_t at = IndexOf(od, "objects");
  if (at == od.size()) return absl::OkStatus();
  if (IndexOf(od, "object_refs") != od.size()) {
    return ctx.Error("/objects", "observed-data has both objects and object_refs");
  }
  Value& container = od[at].second;  // replaced by object_refs below: its members can move
  if (!container.is_object() || container.as_object().empty()) {
    return ctx.Error("/objects", "expected a non-empty dictionary of cyber observable objects");
  }

  std::vector<Entry> entries;
  absl::flat_hash_map<std::string, size_t> index;
  for (auto& [key, value] : container.as_object()) {
    const std::string* type = StringMember(value, "type");
    if (!value.is_object() || type == nullptr) {
      return ctx.Error(StrCat("/objects/", key), "expected a cyber observable object with a type");
    }
    Entry e{key, *type, Value(), ""};
    e.sco = std::move(value);
    e.sco.Erase("id");  // 2.0 observables have no id; the container key named them
    UpgradeCyberObservable(e.sco.as_object(), e.type, StrCat("/objects/", key), ctx);
    index.emplace(key, entries.size());
    entries.push_back(std::move(e));
  }

  // Ids: an entry whose contributing references point at other entries waits for their ids.
  // Each pass resolves at least one entry unless the rest reference each other in a cycle.
  absl::flat_hash_map<std::string, std::string> ids;
  absl::flat_hash_set<std::string> unresolved;
  for (const Entry& e : entries) unresolved.insert(e.key);
  for (bool progress = true; progress && !unresolved.empty();) {
    progress = false;
    for (Entry& e : entries) {
      if (!e.id.empty()) continue;
      std::optional<std::string> id = ScoId(e, ids, unresolved);
      if (!id) continue;
      e.id = *std::move(id);
      ids.emplace(e.key, e.id);
      unresolved.erase(e.key);
      progress = true;
    }
  }
  for (Entry& e : entries) {
    if (!e.id.empty()) continue;
    e.id = StrCat(e.type, "--", Uuid::V4().ToString());
    ids.emplace(e.key, e.id);
    ctx.Warn(StrCat("/objects/", e.key), "references form a cycle: given a random (v4) id");
  }

  // Markings: the container was part of the observed-data, so its markings covered the
  // observables. As separate SCOs they carry them themselves (section "Data Markings"):
  // object_marking_refs are copied, and granular selectors into "objects.<key>..." move to the SCO
  // they select (selectors into a missing `objects` would no longer resolve).
  std::vector<json::Array> sco_object_markings(entries.size());
  std::vector<json::Array> sco_granular(entries.size());
  const size_t omr_at = IndexOf(od, "object_marking_refs");
  if (omr_at != od.size() && od[omr_at].second.is_array()) {
    for (json::Array& markings : sco_object_markings) markings = od[omr_at].second.as_array();
    ctx.Count("observed-data: object_marking_refs copied to its SCOs");
  }
  const size_t gm_at = IndexOf(od, "granular_markings");
  if (gm_at != od.size() && od[gm_at].second.is_array()) {
    json::Array kept;
    for (Value& marking : od[gm_at].second.as_array()) {
      const std::string* ref = StringMember(marking, "marking_ref");
      Value* selectors = marking.Find("selectors");
      if (ref == nullptr || selectors == nullptr || !selectors->is_array()) {
        kept.push_back(std::move(marking));
        continue;
      }
      json::Array kept_selectors;
      for (Value& selector : selectors->as_array()) {
        std::string_view s = selector.is_string() ? std::string_view(selector.as_string()) : "";
        if (s != "objects" && s.substr(0, 8) != "objects.") {
          kept_selectors.push_back(std::move(selector));
          continue;
        }
        ctx.Count("observed-data: granular marking selectors moved to its SCOs");
        if (s == "objects") {
          for (json::Array& markings : sco_object_markings) markings.push_back(Value(*ref));
          continue;
        }
        std::string_view rest = s.substr(8);
        const size_t dot = rest.find('.');
        auto it = index.find(ToAbsl(rest.substr(0, dot)));
        if (it == index.end()) {
          ctx.Warn("/granular_markings", StrCat("selector \"", s, "\" selects nothing; dropped"));
          continue;
        }
        if (dot == std::string_view::npos) {
          sco_object_markings[it->second].push_back(Value(*ref));
        } else {
          sco_granular[it->second].push_back(Value(json::Object{
              {"marking_ref", *ref}, {"selectors", json::Array{Value(rest.substr(dot + 1))}}}));
        }
      }
      if (!kept_selectors.empty()) {
        *selectors = Value(std::move(kept_selectors));
        kept.push_back(std::move(marking));
      }
    }
    if (kept.empty()) {
      od.erase(od.begin() + gm_at);
    } else {
      od[gm_at].second = Value(std::move(kept));
    }
  }

  // The SCOs, in container order, each id once; object_refs lists them in the same order.
  json::Array object_refs;
  absl::flat_hash_set<std::string> seen;
  for (size_t n = 0; n < entries.size(); ++n) {
    Entry& e = entries[n];
    std::vector<std::string> dangling;
    RewriteRefs(e.sco, ids, nullptr, &dangling);
    for (const std::string& key : dangling) {
      ctx.Warn(StrCat("/objects/", e.key),
               StrCat("reference \"", key, "\" names no object of the container; left as is"));
    }
    if (!seen.insert(e.id).second) continue;  // the same observable twice: one SCO
    object_refs.push_back(Value(e.id));
    json::Object sco{{"type", e.type}, {"spec_version", "2.1"}, {"id", e.id}};
    for (auto& member : e.sco.as_object()) {
      if (member.first != "type") sco.push_back(std::move(member));
    }
    auto add_markings = [&sco](std::string_view key, json::Array markings) {
      if (markings.empty()) return;
      const size_t i = IndexOf(sco, key);
      if (i == sco.size()) {
        sco.emplace_back(std::string(key), Value(std::move(markings)));
      } else if (sco[i].second.is_array()) {
        for (Value& m : markings) sco[i].second.as_array().push_back(std::move(m));
      }
    };
    // Unique object markings, in order.
    json::Array unique;
    for (Value& m : sco_object_markings[n]) {
      if (std::find(unique.begin(), unique.end(), m) == unique.end()) unique.push_back(m);
    }
    add_markings("object_marking_refs", std::move(unique));
    add_markings("granular_markings", std::move(sco_granular[n]));
    scos.push_back(Value(std::move(sco)));
  }
  ctx.Count("observed-data: objects -> object_refs");
  od[at] = json::Member("object_refs", Value(std::move(object_refs)));
  return absl::OkStatus();
}

enum class Version { k20, k21 };

Result<Version> VersionOf(const Value& object, std::string_view type, const Context& ctx) {
  const Value* spec_version = object.Find("spec_version");
  if (spec_version == nullptr) {
    // Section "Common Properties", spec_version: absent means 2.0, except for SCOs (2.1).
    return IsScoType(type) ? Version::k21 : Version::k20;
  }
  if (!spec_version->is_string()) return ctx.Error("/spec_version", "expected a string");
  if (spec_version->as_string() == "2.1") return Version::k21;
  if (spec_version->as_string() == "2.0") return Version::k20;
  return ctx.Error("/spec_version",
                   StrCat("unsupported spec_version \"", spec_version->as_string(), "\""));
}

// Upgrades `object` into `out` (SCOs first, then the object). An object already 2.1 is moved
// to `out` unchanged and `*current` is set.
Status UpgradeOne(Value object, Context& ctx, std::vector<Value>& out, bool& current) {
  if (!object.is_object()) return ctx.Error("", "expected a JSON object");
  const std::string* type_member = StringMember(object, "type");
  if (type_member == nullptr) return ctx.Error("/type", "expected a string");
  const std::string type = *type_member;
  ++ctx.report.objects;
  LIAISON_ASSIGN_OR_RETURN(Version version, VersionOf(object, type, ctx));
  current = version == Version::k21;
  if (current) {
    ++ctx.report.unchanged;
    out.push_back(std::move(object));
    return absl::OkStatus();
  }
  ++ctx.report.upgraded;

  json::Object& o = object.as_object();
  SetSpecVersion(o, ctx);
  PadTimestamps(o, ctx);
  UpgradeHashNames(object, ctx);
  for (const LabelsToTypes& l : kLabelsToTypes) {
    if (l.type == type) MoveLabels(o, type, l.property, ctx);
  }
  std::vector<Value> scos;
  if (type == "indicator") {
    UpgradeIndicator(o, ctx);
  } else if (type == "malware") {
    // Section "Malware": is_family is required.
    if (IndexOf(o, "is_family") == o.size()) {
      const size_t after =
          IndexOf(o, "malware_types") < o.size() ? IndexOf(o, "malware_types") : IndexOf(o, "name");
      o.insert(o.begin() + std::min(after + 1, o.size()),
               json::Member("is_family", Value(ctx.options.malware_is_family)));
      ctx.Count(ctx.options.malware_is_family ? "malware: is_family true added"
                                              : "malware: is_family false added");
    }
  } else if (type == "observed-data") {
    LIAISON_RETURN_IF_ERROR(UpgradeContainer(o, ctx, scos));
    ctx.report.scos_created += scos.size();
  } else if (type == "marking-definition") {
    UpgradeTlp(object, ctx);
  }
  for (Value& sco : scos) out.push_back(std::move(sco));
  out.push_back(std::move(object));
  return absl::OkStatus();
}

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// ---------------------------------------------------------------------------------------------
// Whole inputs

// Reads the top-level members of a bundle or envelope that the output keeps.
struct ContainerHeader {
  std::string id;
  bool has_spec_version = false;
  bool more = false;
  std::string next;
};

Result<ContainerHeader> ReadContainerHeader(std::string_view text) {
  ContainerHeader header;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("malformed JSON");
  }
  std::string_view s;
  if (root["id"].get_string().get(s) == simdjson::SUCCESS) header.id = std::string(s);
  header.has_spec_version = root["spec_version"].error() == simdjson::SUCCESS;
  bool more = false;
  if (root["more"].get_bool().get(more) == simdjson::SUCCESS) header.more = more;
  if (root["next"].get_string().get(s) == simdjson::SUCCESS) header.next = std::string(s);
  return header;
}

}  // namespace

void UpgradeReport::Merge(const UpgradeReport& other) {
  objects += other.objects;
  upgraded += other.upgraded;
  unchanged += other.unchanged;
  scos_created += other.scos_created;
  for (const auto& [change, count] : other.changes) changes[change] += count;
  warnings.insert(warnings.end(), other.warnings.begin(), other.warnings.end());
}

int UpgradePatternPaths(std::string& pattern, std::vector<std::string>* removed) {
  std::string out;
  out.reserve(pattern.size() + 16);
  int rewrites = 0;
  const std::string_view p = pattern;
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\'') {  // a string literal, with \' and \\ escapes: copied as is
      size_t j = i + 1;
      while (j < p.size() && p[j] != '\'') j += p[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, p.size());
      out.append(p.substr(i, j - i));
      i = j;
      continue;
    }
    if (!IsPathChar(c)) {
      out += c;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < p.size() && IsPathChar(p[j])) ++j;
    const std::string_view token = p.substr(i, j - i);
    out.append(token);
    i = j;
    std::string_view last = token;  // the path component just written
    if (i < p.size() && p[i] == ':') {
      // An object path <type>:<property>...; only the first property can have been renamed.
      size_t k = i + 1;
      while (k < p.size() && IsPathChar(p[k]) && p[k] != '-') ++k;
      const std::string_view property = p.substr(i + 1, k - i - 1);
      last = property;
      for (const PropertyRename& r : kScoRenames) {
        if (r.type == token && r.from == property) last = r.to;
      }
      for (const RemovedProperty& r : kScoRemoved) {
        if (removed != nullptr && r.type == token && r.extension.empty() &&
            r.property == property) {
          removed->push_back(StrCat(token, ":", property));
        }
      }
      if (last != property) ++rewrites;
      out += ':';
      out.append(last);
      i = k;
    }
    if (last == "hashes" && i < p.size() && p[i] == '.') {
      // hashes.ssdeep or hashes.'ssdeep' -> SSDEEP (section "Hashing Algorithm Vocabulary").
      const std::string_view rest = p.substr(i + 1);
      for (std::string_view from : {"ssdeep", "'ssdeep'"}) {
        if (rest.substr(0, from.size()) == from &&
            (rest.size() == from.size() || !IsPathChar(rest[from.size()]))) {
          out += from.front() == '\'' ? ".'SSDEEP'" : ".SSDEEP";
          i += 1 + from.size();
          ++rewrites;
          break;
        }
      }
    }
  }
  pattern = std::move(out);
  return rewrites;
}

Result<UpgradeResult> UpgradeObject(const Value& object, const UpgradeOptions& options) {
  UpgradeResult result;
  Context ctx{options, result.report, "", ""};
  bool current = false;
  LIAISON_RETURN_IF_ERROR(UpgradeOne(object, ctx, result.objects, current));
  return result;
}

Result<UpgradedContent> UpgradeContent(std::string_view text, const UpgradeOptions& options) {
  LIAISON_ASSIGN_OR_RETURN(SplitResult split, SplitObjects(text));
  UpgradedContent content;
  switch (split.form) {
    case InputForm::kBundle:
      content.form = UpgradedContent::Form::kBundle;
      break;
    case InputForm::kEnvelope:
      content.form = UpgradedContent::Form::kEnvelope;
      break;
    case InputForm::kNdjson:
      content.form = UpgradedContent::Form::kNdjson;
      break;
    case InputForm::kObject:
    case InputForm::kUnknown:
      content.form = UpgradedContent::Form::kObject;
      break;
  }
  if (split.form == InputForm::kBundle || split.form == InputForm::kEnvelope) {
    LIAISON_ASSIGN_OR_RETURN(ContainerHeader header, ReadContainerHeader(text));
    content.bundle_id = std::move(header.id);
    content.more = header.more;
    content.next = std::move(header.next);
    // Section "Bundle": a 2.1 bundle has no spec_version (2.0 required "2.0").
    if (split.form == InputForm::kBundle && header.has_spec_version) {
      ++content.report.changes["bundle: spec_version removed"];
    }
  }

  json::ParseOptions parse_options;
  parse_options.max_depth = options.max_depth;
  absl::flat_hash_map<std::string, size_t> sco_at;  // id -> index in content.objects
  std::vector<Value> upgraded;
  content.objects.reserve(split.objects.size());
  for (const ObjectText& t : split.objects) {
    const std::string line =
        split.form == InputForm::kNdjson ? StrCat("line ", t.line, ": ") : std::string();
    Context ctx{options, content.report, line, t.pointer};
    auto value = json::Parse(t.json, parse_options);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          StrCat(line, t.pointer.empty() ? "" : StrCat(t.pointer, ": "), value.status().message()));
    }
    upgraded.clear();
    bool current = false;
    LIAISON_RETURN_IF_ERROR(UpgradeOne(*std::move(value), ctx, upgraded, current));
    if (current) {
      content.objects.emplace_back(t.json);
      continue;
    }
    for (size_t n = 0; n < upgraded.size(); ++n) {
      std::string out = json::Serialize(upgraded[n]);
      if (n + 1 < upgraded.size()) {
        // An SCO made from a container: once per input, even when several observed-data saw it.
        const std::string& id = upgraded[n].Find("id")->as_string();
        auto [it, inserted] = sco_at.emplace(id, content.objects.size());
        if (!inserted) {
          --content.report.scos_created;
          ctx.Count("observed-data: SCO seen before, written once");
          if (content.objects[it->second] != out) {
            ctx.Warn("/objects", StrCat(id,
                                        " differs from the SCO of the same id made earlier; "
                                        "the first is kept"));
          }
          continue;
        }
      }
      content.objects.push_back(std::move(out));
    }
  }
  return content;
}

std::string WriteUpgradedContent(const UpgradedContent& content) {
  const std::span<const std::string> objects = content.objects;
  switch (content.form) {
    case UpgradedContent::Form::kBundle:
      return SerializeBundle(objects, content.bundle_id);
    case UpgradedContent::Form::kEnvelope:
      return SerializeEnvelope(objects, content.more, content.next);
    case UpgradedContent::Form::kNdjson:
      return SerializeNdjson(objects);
    case UpgradedContent::Form::kObject:
      break;
  }
  if (objects.size() == 1) return objects.front();
  return SerializeBundle(objects);
}

Result<std::string> UpgradeInput(std::string_view text, const UpgradeOptions& options,
                                 UpgradeReport* report) {
  LIAISON_ASSIGN_OR_RETURN(UpgradedContent content, UpgradeContent(text, options));
  if (report != nullptr) report->Merge(content.report);
  return WriteUpgradedContent(content);
}

}  // namespace liaison::stix
