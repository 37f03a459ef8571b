#include "policy/release.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "simdjson.h"
#include "stix/validate.h"
#include "store/release_key.h"

// Sanitisation, in brief. Selectors (STIX 2.1 section 7.2.3.1) name a property ("description"),
// a nested property ("x.y") or a list item ("labels.[1]", "external_references.[0].url"), all
// in the coordinates of the object as stored. To remove several of them without one removal
// shifting the index another one names, removals run in descending path order (a list item
// before its predecessors, a child before its parent). The granular markings that stay are then
// rewritten into the new coordinates: a selector inside a removed value goes, and an index
// drops by the number of removed items before it in the same list.

namespace liaison::policy {
namespace {

using Segment = std::variant<std::string, size_t>;  // property name or list index
using Path = std::vector<Segment>;

std::optional<Path> ParseSelector(std::string_view s) {
  Path path;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string_view step = s.substr(start, dot == s.npos ? s.npos : dot - start);
    if (step.empty()) return std::nullopt;
    if (step.size() >= 3 && step.front() == '[' && step.back() == ']') {
      if (path.empty()) return std::nullopt;
      size_t index = 0;
      std::string_view digits = step.substr(1, step.size() - 2);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
      path.emplace_back(index);
    } else {
      path.emplace_back(std::string(step));
    }
    if (dot == s.npos) break;
    start = dot + 1;
  }
  return path;
}

std::string FormatSelector(const Path& path) {
  std::string out;
  for (const Segment& seg : path) {
    if (!out.empty()) out += '.';
    if (const size_t* i = std::get_if<size_t>(&seg)) {
      StrAppend(&out, "[", *i, "]");
    } else {
      out += std::get<std::string>(seg);
    }
  }
  return out;
}

// Segment order: indices numerically; a name and an index never share a parent in valid JSON.
int CompareSegment(const Segment& a, const Segment& b) {
  if (a.index() != b.index()) return a.index() < b.index() ? -1 : 1;
  if (const size_t* i = std::get_if<size_t>(&a)) {
    const size_t j = std::get<size_t>(b);
    return *i < j ? -1 : (*i > j ? 1 : 0);
  }
  return std::get<std::string>(a).compare(std::get<std::string>(b));
}

bool PathLess(const Path& a, const Path& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (int c = CompareSegment(a[i], b[i]); c != 0) return c < 0;
  }
  return a.size() < b.size();
}

bool IsPrefix(const Path& prefix, const Path& path) {
  if (prefix.size() > path.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (CompareSegment(prefix[i], path[i]) != 0) return false;
  }
  return true;
}

// Removes the value at `path`; returns false when it does not exist.
bool RemovePath(json::Value& root, const Path& path) {
  json::Value* cur = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (const size_t* idx = std::get_if<size_t>(&path[i])) {
      if (!cur->is_array() || *idx >= cur->as_array().size()) return false;
      cur = &cur->as_array()[*idx];
    } else {
      cur = cur->Find(std::get<std::string>(path[i]));
      if (cur == nullptr) return false;
    }
  }
  const Segment& last = path.back();
  if (const size_t* idx = std::get_if<size_t>(&last)) {
    if (!cur->is_array() || *idx >= cur->as_array().size()) return false;
    cur->as_array().erase(cur->as_array().begin() + static_cast<std::ptrdiff_t>(*idx));
    return true;
  }
  return cur->is_object() && cur->Erase(std::get<std::string>(last));
}

const json::Value* Lookup(const json::Value& root, const Path& path) {
  const json::Value* cur = &root;
  for (const Segment& seg : path) {
    if (const size_t* idx = std::get_if<size_t>(&seg)) {
      if (!cur->is_array() || *idx >= cur->as_array().size()) return nullptr;
      cur = &cur->as_array()[*idx];
    } else {
      cur = cur->Find(std::get<std::string>(seg));
      if (cur == nullptr) return nullptr;
    }
  }
  return cur;
}

// The selector in post-removal coordinates, or nullopt when it points into a removed value.
std::optional<Path> Remap(const Path& selector, const std::vector<Path>& removed) {
  for (const Path& r : removed) {
    if (IsPrefix(r, selector)) return std::nullopt;
  }
  Path out = selector;
  for (size_t k = 0; k < selector.size(); ++k) {
    const size_t* idx = std::get_if<size_t>(&selector[k]);
    if (idx == nullptr) continue;
    size_t before = 0;
    for (const Path& r : removed) {
      if (r.size() != k + 1) continue;
      const size_t* ridx = std::get_if<size_t>(&r[k]);
      if (ridx == nullptr || *ridx >= *idx) continue;
      bool same_list = true;
      for (size_t i = 0; i < k && same_list; ++i)
        same_list = CompareSegment(r[i], selector[i]) == 0;
      before += same_list;
    }
    out[k] = *idx - before;
  }
  return out;
}

bool IsCommonProperty(const Segment& first) {
  const std::string* name = std::get_if<std::string>(&first);
  if (name == nullptr) return true;
  return *name == "id" || *name == "type" || *name == "spec_version" || *name == "created" ||
         *name == "modified" || *name == "granular_markings" || *name == "object_marking_refs";
}

Decision Withhold(std::string reason) {
  Decision d;
  d.kind = Decision::Kind::kWithhold;
  d.reason = std::move(reason);
  return d;
}

// Whether a marking-definition id may reach the partner; sets `why` when not.
bool MarkingAllowed(std::string_view marking, const ReleaseRules& rules, std::string& why) {
  if (std::optional<Tlp> tlp = TlpOfMarking(marking)) {
    if (!TlpMayLeave(*tlp)) {
      why = StrCat("TLP:", TlpName(*tlp), " never leaves the organisation");
      return false;
    }
    if (std::find(rules.tlp.begin(), rules.tlp.end(), *tlp) == rules.tlp.end()) {
      why = StrCat("TLP:", TlpName(*tlp), " is not released to this partner");
      return false;
    }
    return true;
  }
  // Unlike types or labels, an empty allow list does not mean "any": a marking definition we do
  // not know may restrict sharing (a statement, a custom handling caveat), so it must be named.
  if (!rules.markings.Passes(marking) || rules.markings.allow.empty()) {
    why = StrCat("marking ", marking, " is not among the partner's allowed markings");
    return false;
  }
  return true;
}

std::string DescribeLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& l : labels) StrAppend(&out, out.empty() ? "" : ", ", l);
  return out;
}

}  // namespace

bool HasReferencedEnds(std::string_view type) {
  return type == "relationship" || type == "sighting" || type == "report" || type == "grouping" ||
         type == "note" || type == "opinion";
}

std::vector<std::string> RelationshipEnds(const stix::Object& object, std::string_view json) {
  return RelationshipEnds(object.type, json);
}

std::vector<std::string> RelationshipEnds(std::string_view type, std::string_view json) {
  std::vector<std::string> ends;
  if (!HasReferencedEnds(type)) return ends;
  // simdjson's DOM rather than a json::Value tree: this runs for every relationship a partner's
  // page scans (twice: the prefetch of ends and the decision), and only five members are read.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != simdjson::SUCCESS) {
    return ends;
  }
  for (const char* key : {"source_ref", "target_ref", "sighting_of_ref"}) {
    std::string_view v;
    if (obj[key].get_string().get(v) == simdjson::SUCCESS) ends.emplace_back(v);
  }
  for (const char* key : {"observed_data_refs", "where_sighted_refs", "object_refs"}) {
    simdjson::dom::array list;
    if (obj[key].get_array().get(list) != simdjson::SUCCESS) continue;
    for (simdjson::dom::element item : list) {
      std::string_view v;
      if (item.get_string().get(v) == simdjson::SUCCESS) ends.emplace_back(v);
    }
  }
  return ends;
}

namespace {

// The members rules 1-5 read: the same reader (store::ReadReleaseFacts) serves the scan's
// first look and the stored release keys, so the two always see the same values.
using CommonFields = store::ReleaseFacts;

// Rules 1-5. True when they pass; otherwise false, with the reason in `*why` when `why` is
// given (reasons are built only then: the scan's first look needs none).
bool PassesCommonRules(const CommonFields& f, const ReleaseRules& rules, std::string* why) {
  std::string scratch;
  auto fail = [&](auto&&... parts) {
    if (why != nullptr) *why = StrCat(parts...);
    return false;
  };
  // 1. Type.
  if (!rules.types.Passes(f.type)) {
    return fail("type ", f.type, " is not released to this partner");
  }
  // Marking definitions themselves: TLP ones are public; others only when allowed.
  if (f.type == "marking-definition" && !TlpOfMarking(f.id)) {
    if (!rules.markings.Passes(f.id) || rules.markings.allow.empty()) {
      return fail("marking definition not among the partner's allowed markings");
    }
  }

  // 2. Object markings (STIX 2.1 section 7.2.2): the most restrictive TLP level applies.
  std::optional<Tlp> level;
  for (std::string_view m : f.markings) {
    if (std::optional<Tlp> tlp = TlpOfMarking(m)) {
      if (!level || *tlp > *level) level = tlp;
      continue;
    }
    if (!MarkingAllowed(m, rules, scratch)) return fail(scratch);
  }
  if (!level) {
    if (!rules.unmarked) return fail("no TLP marking, and this partner gets no unmarked objects");
    level = rules.unmarked;
  }
  if (!TlpMayLeave(*level)) {
    return fail("TLP:", TlpName(*level), " never leaves the organisation");
  }
  if (std::find(rules.tlp.begin(), rules.tlp.end(), *level) == rules.tlp.end()) {
    return fail("TLP:", TlpName(*level), " is not released to this partner");
  }

  // 3. Creator.
  if (!rules.creators.Passes(f.created_by_ref)) {
    if (f.created_by_ref.empty()) {
      return fail("no created_by_ref, and this partner needs an allowed creator");
    }
    return fail("creator ", f.created_by_ref, " is not released to this partner");
  }

  // 4. Labels.
  for (std::string_view l : f.labels) {
    for (const std::string& d : rules.labels.deny) {
      if (l == d) return fail("label \"", l, "\" is denied to this partner");
    }
  }
  if (!rules.labels.allow.empty()) {
    bool any = false;
    for (std::string_view l : f.labels) any = any || rules.labels.Passes(l);
    if (!any) {
      if (f.labels.empty()) return fail("no labels, and this partner gets only allowed labels");
      std::string list;
      for (std::string_view l : f.labels) StrAppend(&list, list.empty() ? "" : ", ", l);
      return fail("none of the labels (", list, ") is allowed for this partner");
    }
  }

  // 5. Confidence (STIX 2.1 section 3.2, 0-100).
  if (f.confidence) {
    if (rules.min_confidence && *f.confidence < *rules.min_confidence) {
      return fail("confidence ", *f.confidence, " is below the partner's minimum ",
                  *rules.min_confidence);
    }
  } else if (rules.require_confidence) {
    return fail("no confidence, and this partner requires one");
  }
  return true;
}

}  // namespace

bool ReleasePolicy::MayRelease(std::string_view json, const Partner& partner) const {
  // The same rules as Decide, over the same members as stix::ParseObject reads them; anything
  // unusual (not an object, a member of an unexpected type) answers true, leaving the verdict to
  // Decide, so this never withholds what Decide would release.
  const std::optional<CommonFields> f = store::ReadReleaseFacts(json);
  if (!f) return true;
  return PassesCommonRules(*f, partner.rules, nullptr);
}

Result<ReleaseKeyRules> ReleaseKeyRules::Compile(const Partner& partner,
                                                 const store::Store::KeyCodeFn& code) {
  const ReleaseRules& rules = partner.rules;
  ReleaseKeyRules k;
  k.rules_ = &rules;
  using store::KeyKind;
  // The codes of `names` that fit the key (a name without one appears in no key, or only as its
  // kind's overflow value, which the test skips).
  auto codes = [&](KeyKind kind, const std::vector<std::string>& names,
                   int64_t limit) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (const std::string& name : names) {
      LIAISON_ASSIGN_OR_RETURN(std::optional<int64_t> c, code(kind, name));
      if (c && *c >= 0 && *c < limit) out.push_back(*c);
    }
    return out;
  };
  const int64_t type_limit = static_cast<int64_t>(store::kKeyTypeOverflow);
  LIAISON_ASSIGN_OR_RETURN(auto type_allow, codes(KeyKind::kType, rules.types.allow, type_limit));
  for (int64_t c : type_allow) k.type_allow_ |= uint64_t{1} << c;
  LIAISON_ASSIGN_OR_RETURN(auto type_deny, codes(KeyKind::kType, rules.types.deny, type_limit));
  for (int64_t c : type_deny) k.type_deny_ |= uint64_t{1} << c;
  LIAISON_ASSIGN_OR_RETURN(k.marking_definition_type_, code(KeyKind::kType, "marking-definition"));

  const int64_t creator_limit = static_cast<int64_t>(store::kKeyCreatorOverflow) - 1;
  k.creator_allow_.assign(creator_limit, false);
  k.creator_deny_.assign(creator_limit, false);
  LIAISON_ASSIGN_OR_RETURN(auto creator_allow,
                           codes(KeyKind::kCreator, rules.creators.allow, creator_limit));
  for (int64_t c : creator_allow) k.creator_allow_[c] = true;
  LIAISON_ASSIGN_OR_RETURN(auto creator_deny,
                           codes(KeyKind::kCreator, rules.creators.deny, creator_limit));
  for (int64_t c : creator_deny) k.creator_deny_[c] = true;
  k.creator_none_passes_ = rules.creators.Passes("");

  for (std::string_view id : {kTlp2Clear, kTlp2Green, kTlp2Amber, kTlp2AmberStrict, kTlp2Red,
                              kTlp1White, kTlp1Green, kTlp1Amber, kTlp1Red}) {
    LIAISON_ASSIGN_OR_RETURN(std::optional<int64_t> c, code(KeyKind::kMarking, id));
    if (!c || *c < 0 || *c >= store::kKeyMarkingBits) continue;
    k.tlp_of_bit_[*c] = TlpOfMarking(id);
    k.tlp_bits_ |= 1u << *c;
  }
  // A non-TLP marking passes when allowed (a non-empty allow list naming it) and not denied
  // (MarkingAllowed); every other non-TLP bit certainly fails.
  for (const std::string& m : rules.markings.allow) {
    if (TlpOfMarking(m) || !rules.markings.Passes(m)) continue;
    LIAISON_ASSIGN_OR_RETURN(std::optional<int64_t> c, code(KeyKind::kMarking, m));
    if (c && *c >= 0 && *c < store::kKeyMarkingBits) k.other_allowed_bits_ |= 1u << *c;
  }

  LIAISON_ASSIGN_OR_RETURN(auto label_allow,
                           codes(KeyKind::kLabel, rules.labels.allow, store::kKeyLabelBits));
  for (int64_t c : label_allow) k.label_allow_ |= 1u << c;
  LIAISON_ASSIGN_OR_RETURN(auto label_deny,
                           codes(KeyKind::kLabel, rules.labels.deny, store::kKeyLabelBits));
  for (int64_t c : label_deny) k.label_deny_ |= 1u << c;
  return k;
}

bool ReleaseKeyRules::MayRelease(int64_t key) const {
  // Mirrors PassesCommonRules rule by rule; a field the key cannot tell (overflow) skips the
  // rule, which can only keep more. The marking-definition rule is skipped too (it only
  // withholds more, and MayRelease applies it to what passes).
  const store::DecodedReleaseKey d = store::DecodeReleaseKey(key);
  if (!d.valid) return true;
  const ReleaseRules& rules = *rules_;

  // 1. Type.
  if (d.type_code) {
    const uint64_t bit = uint64_t{1} << *d.type_code;
    if (!rules.types.allow.empty() && (type_allow_ & bit) == 0) return false;
    if ((type_deny_ & bit) != 0) return false;
  }

  // 2. Object markings: a non-TLP marking the partner may not receive fails whatever else is
  // present; the TLP level needs the whole set (no overflow).
  if ((d.markings & ~tlp_bits_ & ~other_allowed_bits_) != 0) return false;
  if (!d.markings_overflow) {
    std::optional<Tlp> level;
    for (uint32_t bits = d.markings & tlp_bits_; bits != 0; bits &= bits - 1) {
      const Tlp tlp = *tlp_of_bit_[__builtin_ctz(bits)];
      if (!level || tlp > *level) level = tlp;
    }
    if (!level) {
      if (!rules.unmarked) return false;
      level = rules.unmarked;
    }
    if (!TlpMayLeave(*level)) return false;
    if (std::find(rules.tlp.begin(), rules.tlp.end(), *level) == rules.tlp.end()) return false;
  }

  // 3. Creator.
  if (d.creator) {
    if (*d.creator == 0) {
      if (!creator_none_passes_) return false;
    } else {
      const size_t c = static_cast<size_t>(*d.creator - 1);
      if (creator_deny_[c]) return false;
      if (!rules.creators.allow.empty() && !creator_allow_[c]) return false;
    }
  }

  // 4. Labels: a denied label present fails even with overflow; the allow list needs them all.
  if ((d.labels & label_deny_) != 0) return false;
  if (!rules.labels.allow.empty() && !d.labels_overflow && (d.labels & label_allow_) == 0) {
    return false;
  }

  // 5. Confidence.
  if (d.confidence) {
    if (rules.min_confidence && *d.confidence < *rules.min_confidence) return false;
  } else if (rules.require_confidence) {
    return false;
  }
  return true;
}

bool ReleaseKeyRules::Exact(int64_t key) const {
  const store::DecodedReleaseKey d = store::DecodeReleaseKey(key);
  return d.valid && d.type_code && d.type_code != marking_definition_type_ && d.creator &&
         !d.markings_overflow && !d.labels_overflow;
}

store::Store::KeyFilterFactory ReleaseKeyRules::FilterFor(const Partner& partner) {
  return [&partner](const store::Store::KeyCodeFn& code) -> Result<store::Store::KeyFilterFn> {
    LIAISON_ASSIGN_OR_RETURN(ReleaseKeyRules rules, Compile(partner, code));
    return store::Store::KeyFilterFn(
        [rules = std::move(rules)](int64_t key) { return rules.MayRelease(key); });
  };
}

Result<Decision> ReleasePolicy::Decide(const stix::Object& object, std::string_view json,
                                       const Partner& partner, const EndsCheck* ends) const {
  const ReleaseRules& rules = partner.rules;
  std::string why;

  // Rules 1-5: type, object markings, creator, labels, confidence.
  CommonFields f;
  f.type = object.type;
  f.id = object.id;
  f.created_by_ref = object.created_by_ref;
  f.markings.assign(object.object_marking_refs.begin(), object.object_marking_refs.end());
  f.labels.assign(object.labels.begin(), object.labels.end());
  f.confidence = object.confidence;
  if (!PassesCommonRules(f, rules, &why)) return Withhold(std::move(why));

  // 6. Relationship and sighting ends, and the object_refs of reports, groupings, notes and
  // opinions: a withheld object must look absent, and an object naming it would reveal its id.
  if (rules.require_visible_ends && HasReferencedEnds(object.type)) {
    std::vector<std::string> refs = RelationshipEnds(object, json);
    if (refs.empty()) return Withhold(StrCat(object.type, " without readable ends"));
    for (const std::string& ref : refs) {
      bool visible = false;
      if (ends != nullptr && *ends) {
        LIAISON_ASSIGN_OR_RETURN(visible, (*ends)(ref));
      }
      if (!visible) {
        Decision d = Withhold(StrCat("references ", ref, ", which this partner cannot see"));
        d.ends_invisible = true;
        return d;
      }
    }
  }

  // 7. Granular markings.
  std::vector<Path> to_remove;
  std::vector<std::string> removed_selectors;
  for (const stix::GranularMarking& g : object.granular_markings) {
    if (g.marking_ref.empty()) continue;  // a language marking restricts nothing
    if (MarkingAllowed(g.marking_ref, rules, why)) continue;
    for (const std::string& s : g.selectors) {
      std::optional<Path> path = ParseSelector(s);
      if (!path) return Withhold(StrCat("unreadable granular marking selector \"", s, "\""));
      if (IsCommonProperty(path->front())) {
        return Withhold(StrCat("granular marking on ", s, ": ", why));
      }
      to_remove.push_back(std::move(*path));
      removed_selectors.push_back(s);
    }
  }
  Decision d;
  if (to_remove.empty()) {
    d.kind = Decision::Kind::kRelease;
    return d;
  }

  auto tree = json::Parse(json);
  if (!tree.ok() || !tree->is_object()) {
    return absl::InvalidArgumentError(StrCat(object.id, ": stored text is not a JSON object"));
  }
  std::sort(to_remove.begin(), to_remove.end(), PathLess);
  to_remove.erase(
      std::unique(to_remove.begin(), to_remove.end(),
                  [](const Path& a, const Path& b) { return !PathLess(a, b) && !PathLess(b, a); }),
      to_remove.end());
  // A list left empty goes as a whole (STIX lists must not be empty): add its path, unless a
  // shorter path already removes it.
  std::vector<Path> removed = to_remove;
  for (auto it = to_remove.rbegin(); it != to_remove.rend(); ++it) RemovePath(*tree, *it);
  for (const Path& p : to_remove) {
    if (p.size() < 2 || !std::holds_alternative<size_t>(p.back())) continue;
    Path parent(p.begin(), p.end() - 1);
    if (std::holds_alternative<size_t>(parent.back())) continue;  // lists of lists: kept
    const json::Value* list = Lookup(*tree, parent);
    if (list != nullptr && list->is_array() && list->as_array().empty()) {
      RemovePath(*tree, parent);
      removed.push_back(parent);
    }
  }

  // Rewrite the granular markings that stay; drop the ones whose marking was refused.
  json::Array kept;
  for (const stix::GranularMarking& g : object.granular_markings) {
    const bool refused = !g.marking_ref.empty() && !MarkingAllowed(g.marking_ref, rules, why);
    if (refused) continue;
    json::Array selectors;
    for (const std::string& s : g.selectors) {
      std::optional<Path> path = ParseSelector(s);
      if (!path) continue;
      if (std::optional<Path> moved = Remap(*path, removed)) {
        selectors.emplace_back(FormatSelector(*moved));
      }
    }
    if (selectors.empty()) continue;
    json::Object entry;
    if (!g.marking_ref.empty()) entry.emplace_back("marking_ref", g.marking_ref);
    if (!g.lang.empty()) entry.emplace_back("lang", g.lang);
    entry.emplace_back("selectors", std::move(selectors));
    kept.emplace_back(std::move(entry));
  }
  if (kept.empty()) {
    tree->Erase("granular_markings");
  } else {
    tree->Set("granular_markings", std::move(kept));
  }

  d.kind = Decision::Kind::kSanitised;
  d.json = json::Serialize(*tree);
  d.removed = std::move(removed_selectors);
  // The sanitised object must still be valid STIX: otherwise a required property went.
  thread_local stix::Validator validator(stix::ValidateOptions{.warnings = false});
  stix::Report report;
  validator.ValidateObject(d.json, "", report);
  if (report.errors > 0) {
    std::string first;
    for (const stix::Finding& f : report.findings) {
      if (f.severity == stix::Severity::kError) {
        first = StrCat(f.pointer, ": ", f.message);
        break;
      }
    }
    return Withhold(StrCat("removing granular-marked properties (", DescribeLabels(d.removed),
                           ") would leave an invalid object (", first, ")"));
  }
  return d;
}

}  // namespace liaison::policy
