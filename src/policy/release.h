#pragma once

// The release decision: may this object version go to this partner, and in what form.
//
// One call decides one object version for one partner (TAXII GET paths, sync push, exports and
// the dry run all call it):
//
//   ReleasePolicy policy;
//   LIAISON_ASSIGN_OR_RETURN(Decision d, policy.Decide(object, json, partner, &ends));
//   switch (d.kind) { case kRelease: send json; case kSanitised: send d.json; case kWithhold: ... }
//
// Rules, in order (docs/policy.md has the long form); the first that fails withholds:
//   1. type allow/deny;  2. object markings: TLP (the most restrictive level present, or the
//   partner's `unmarked` level), and every other marking definition must be allowed;
//   3. created_by_ref allow/deny;  4. labels allow/deny;  5. confidence;  6. for relationships
//   and sightings, every referenced object must be visible to the partner (EndsCheck);
//   7. granular markings (STIX 2.1 section 7.2.3): properties and list items whose marking the
//   partner may not receive are removed. If a common property (id, type, spec_version,
//   created, modified) would go, or the sanitised object is no longer valid STIX (a required
//   property removed, a list left empty), the object is withheld instead.
// Marking-definition objects: the nine TLP definitions are always releasable (they are public);
// any other definition is released only when its id is an allowed marking.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "policy/partner.h"
#include "stix/object.h"
#include "store/store.h"

namespace liaison::policy {

struct Decision {
  enum class Kind { kRelease, kSanitised, kWithhold };
  Kind kind = Kind::kWithhold;
  // kSanitised: the JSON text to send instead of the original.
  std::string json;
  // kSanitised: the selectors (STIX 2.1 section 7.2.3.1 syntax) whose values were removed.
  std::vector<std::string> removed;
  // kWithhold: why, for the dry run and logs (never sent to the partner).
  std::string reason;
  // kWithhold by rule 6 alone: an object it references is not visible to the partner now. The
  // same version may be released later, without any change to it or to the policy, when that
  // object gets a visible version (sync push re-offers such versions, docs/sync.md).
  bool ends_invisible = false;

  bool released() const { return kind != Kind::kWithhold; }
};

// Whether the object with id `id` (an end of a relationship or sighting) is visible to the
// partner. Errors propagate out of Decide.
using EndsCheck = std::function<Result<bool>(std::string_view id)>;

class ReleasePolicy {
 public:
  // Decides `object` (parsed from `json`, its stored text) for `partner`. `ends` may be null:
  // then a relationship or sighting whose partner requires visible ends is withheld.
  // Errors: InvalidArgument when `json` is not a JSON object (a corrupt stored object).
  // Thread safe; costs one pass over the common properties, plus a JSON tree, a rewrite and a
  // validation of the result only for objects with granular markings to remove.
  Result<Decision> Decide(const stix::Object& object, std::string_view json, const Partner& partner,
                          const EndsCheck* ends = nullptr) const;

  // A first look at a stored version's text for scans: false when rules 1-5 (type, object
  // markings, creator, labels, confidence) certainly withhold it, true when Decide must decide.
  // Never false for a version Decide would release; reads the members on a simdjson document
  // without copying, so a scan drops what these rules withhold for a fraction of a full parse.
  bool MayRelease(std::string_view json, const Partner& partner) const;
};

// Rules 1-5 over stored release keys (store/release_key.h, docs/policy.md "Decision key"): the
// codes of the names the partner's rules mention, looked up once per store query, and a test
// that answers false only when rules 1-5 certainly withhold a version with that key. It is exact
// (false exactly when MayRelease is false) for a valid key whose names all fit the key's code
// spaces; for key 0 or an overflowed field it skips the rules it cannot decide, so it never
// drops what MayRelease would keep.
class ReleaseKeyRules {
 public:
  static Result<ReleaseKeyRules> Compile(const Partner& partner,
                                         const store::Store::KeyCodeFn& code);
  bool MayRelease(int64_t key) const;
  // Whether MayRelease(key) is exactly ReleasePolicy::MayRelease of the version's text: the key
  // is valid, no field overflowed, and the type is not marking-definition (whose own rule the
  // key does not apply). Then the text need not be read for rules 1-5.
  bool Exact(int64_t key) const;
  // For Store::QueryKeyed.
  static store::Store::KeyFilterFactory FilterFor(const Partner& partner);

 private:
  const ReleaseRules* rules_ = nullptr;
  uint64_t type_allow_ = 0;  // bit per type code (codes 0..62)
  uint64_t type_deny_ = 0;
  std::optional<int64_t> marking_definition_type_;
  std::vector<bool> creator_allow_;  // by creator code
  std::vector<bool> creator_deny_;
  bool creator_none_passes_ = true;  // rules.creators.Passes("")
  std::optional<Tlp> tlp_of_bit_[store::kKeyMarkingBits];
  uint32_t tlp_bits_ = 0;
  uint32_t other_allowed_bits_ = 0;  // non-TLP markings the partner may receive
  uint32_t label_allow_ = 0;
  uint32_t label_deny_ = 0;
};

// Whether objects of `type` point at other objects in a way that names them to the reader, so
// that the ends rule (6) applies: relationships and sightings (STIX 2.1 sections 5.1, 5.2), and
// the objects whose `object_refs` list what they are about: report, grouping, note, opinion
// (sections 4.16, 4.7, 4.13, 4.14).
bool HasReferencedEnds(std::string_view type);

// The ids such an object points to (source_ref, target_ref; sighting_of_ref,
// observed_data_refs, where_sighted_refs; object_refs); empty for other types.
std::vector<std::string> RelationshipEnds(const stix::Object& object, std::string_view json);
// The same from the type and text alone (a scan's first look, before any parse).
std::vector<std::string> RelationshipEnds(std::string_view type, std::string_view json);

}  // namespace liaison::policy
